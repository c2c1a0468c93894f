"""Choosing the `tf.distribute` strategy and the precision that goes with it.

The strategy names are Model Garden's (`--distribution_strategy`): `tpu`
(with `--tpu`, a `grpc://` address, a TPU name, or "" / "local"),
`mirrored`, `multi_worker_mirrored` (cluster from `TF_CONFIG`),
`one_device`, `off` (the default strategy). Model Garden's
`distribute_utils` builds them; one addition: `mirrored` without GPUs
mirrors over every *logical* CPU device when there are several (how the
tests run two replicas on one machine).

Precision (`--mixed_precision`, `resolve_precision`): `auto` picks
`mixed_bfloat16` on TPUs and on x86 CPUs with bfloat16 matmul instructions
(the `avx512_bf16` or `amx_bf16` flag of `/proc/cpuinfo`; oneDNN's bf16
kernels run a mini training step about 1.6x faster than float32 on AMD Zen 4),
but `float32` there when the step is XLA-compiled (`--jit_compile`): XLA's
CPU bfloat16 dots do not use those kernels, and every XLA step measured on
an AMX Xeon ran slower in bf16 than in float32 (BENCHMARKS.md, 2026-12-07:
mini fine-tuning step 44.8 vs 49.9 examples/s, pretraining step 31.0 vs
36.5, packed SST-2 epoch 222 vs 291); `mixed_float16` (loss scaling) on
GPUs, `float32` elsewhere (bf16 is emulated, and slower, without those
instructions). Variables stay float32 under every policy (Keras' mixed
policies), so checkpoints do too.
"""

import contextlib

import keras
import tensorflow as tf
from official.common import distribute_utils

from keras_bert import cpu_features

STRATEGIES = ("tpu", "mirrored", "multi_worker_mirrored", "one_device", "off")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
BF16_CPU_FLAGS = cpu_features.BF16_CPU_FLAGS
CPUINFO = cpu_features.CPUINFO


def get_strategy(name, tpu_address=None, num_gpus=None, all_reduce_alg=None):
    """The strategy called `name` (see the module docstring).

    Args:
      name: one of `STRATEGIES`.
      tpu_address: for `tpu`: the `--tpu` flag.
      num_gpus: GPUs to use; None = all visible.
      all_reduce_alg: passed to Model Garden (`nccl`, `ring`, ...).
    """
    if name not in STRATEGIES:
        raise ValueError(f"--distribution_strategy={name!r}: must be one of {', '.join(STRATEGIES)}")
    if name == "tpu" and tpu_address is None:
        raise ValueError("--distribution_strategy=tpu needs --tpu (an address, a TPU name, or '' for a local TPU)")
    if num_gpus is None:
        num_gpus = len(tf.config.list_physical_devices("GPU"))
    if name == "mirrored" and num_gpus == 0:
        cpus = tf.config.list_logical_devices("CPU")
        if len(cpus) > 1:
            return tf.distribute.MirroredStrategy(
                [d.name for d in cpus], cross_device_ops=tf.distribute.ReductionToOneDevice()
            )
    if name == "tpu" and tpu_address == "local":
        tpu_address = ""
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=name,
        num_gpus=num_gpus,
        all_reduce_alg=all_reduce_alg,
        tpu_address=tpu_address,
    )


def is_tpu(strategy):
    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))


def is_chief(strategy):
    """True on the worker that writes checkpoints, summaries and results."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or is_tpu(strategy):
        return True
    task_type = resolver.task_type
    if task_type is None:
        return True
    return task_type == "chief" or (task_type == "worker" and resolver.task_id == 0)


def read_cpu_flags(cpuinfo=CPUINFO):
    """`keras_bert.cpu_features.read_cpu_flags`, looked up when called (tests replace it there)."""
    return cpu_features.read_cpu_flags(cpuinfo)


def choose_precision(precision, device, cpu_flags=(), jit_compile=False):
    """The Keras dtype policy for `--mixed_precision`, and why (see the module docstring).

    Args:
      precision: str, the flag: one of `PRECISIONS`.
      device: str, what the run computes on: "TPU", "GPU" or "CPU".
      cpu_flags: iterable of str, the CPU's `/proc/cpuinfo` flags (read for
        `auto` on "CPU" only).
      jit_compile: bool, whether the train step is XLA-compiled (`auto` on a
        CPU then keeps float32).

    Returns:
      (policy, reason): policy `float32`, `mixed_bfloat16` or
      `mixed_float16`; reason a str for the log and the output directory,
      e.g. "auto: CPU has AVX512_BF16, AMX".

    Raises:
      ValueError: naming the flag when `precision` is not one of `PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"--mixed_precision={precision!r}: must be one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision, f"--mixed_precision={precision}"
    if device == "TPU":
        return "mixed_bfloat16", "auto: TPU"
    if device == "GPU":
        return "mixed_float16", "auto: GPU, with loss scaling"
    found = cpu_features.bf16_instructions(cpu_flags)
    if found and jit_compile:
        return "float32", (f"auto: CPU has {', '.join(found)}, but --jit_compile: XLA's CPU bfloat16 steps "
                           "are slower than float32")
    if found:
        return "mixed_bfloat16", f"auto: CPU has {', '.join(found)}"
    return "float32", f"auto: CPU without {' or '.join(BF16_CPU_FLAGS.values())} bfloat16 instructions"


def resolve_precision(precision, strategy, jit_compile=False):
    """`choose_precision` for a run on `strategy` on this machine (its CPU flags read now),
    its train step XLA-compiled or not (`jit_compile`).

    Returns:
      (policy, reason), as `choose_precision`.
    """
    if is_tpu(strategy):
        device = "TPU"
    elif tf.config.list_physical_devices("GPU"):
        device = "GPU"
    else:
        device = "CPU"
    return choose_precision(precision, device, read_cpu_flags() if device == "CPU" and precision == "auto" else (),
                            jit_compile=jit_compile)


@contextlib.contextmanager
def dtype_policy(policy):
    """Keras' global dtype policy set to `policy` (a name such as
    "mixed_bfloat16", or a `keras.DTypePolicy`) inside the block, the
    previous one restored after it (models built inside take it)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
