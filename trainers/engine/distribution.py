"""Choosing the `tf.distribute` strategy and the precision that goes with it.

The strategy names are Model Garden's (`--distribution_strategy`): `tpu`
(with `--tpu`, a `grpc://` address, a TPU name, or "" / "local"),
`mirrored`, `multi_worker_mirrored` (cluster from `TF_CONFIG`),
`one_device`, `off` (the default strategy). Model Garden's
`distribute_utils` builds them; one addition: `mirrored` without GPUs
mirrors over every *logical* CPU device when there are several (how the
tests run two replicas on one machine).
"""

import tensorflow as tf
from official.common import distribute_utils

STRATEGIES = ("tpu", "mirrored", "multi_worker_mirrored", "one_device", "off")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


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


def resolve_precision(precision, strategy):
    """The Keras dtype policy name for `--mixed_precision` (`auto` picks by device).

    auto: `mixed_bfloat16` on TPU, `mixed_float16` with GPUs, `float32`
    otherwise (on CPU bf16 is slower than fp32 on most machines).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"--mixed_precision={precision!r}: must be one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if is_tpu(strategy):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "float32"
