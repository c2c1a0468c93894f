"""Where a fine-tuning train step's time goes: TensorFlow profiler op statistics of keras_bert's train
function, by op type, in one precision.

    python benchmarks/train_step_profile.py [--preset mini] [--batch 32] [--precision float32|mixed_bfloat16]
        [--steps 4] [--top 22] [--without_training_kernels]

The step is the finetuning_step section's keras_bert contender (`finetuning_step.keras_bert_trainer`:
the classification Trainer's train function, no XLA, S=128, every token real). After 3 warm-up steps,
`--steps` steps run untraced (examples/s) and `--steps` under `tf.profiler.experimental`; the trace's
framework op statistics (TensorFlow's `framework_op_stats` tool) give each op type's self time summed
over both cores, per step, IDLE included (a core waiting). Not a suite section (no peers): a profile
to read beside the section's figures (issue 22).

The element-wise work of the step runs as XLA-compiled kernels (`keras_bert.training_kernels`), which
are not TensorFlow op kernels: the op statistics leave their time out, and a core running them counts
as IDLE. `--without_training_kernels` traces the step inside `training_kernels.disabled()` (TensorFlow's
own element-wise ops, each listed by type), as the finetuning_step section's "keras_bert TF ops" row.
"""

import collections
import glob
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import common  # noqa: E402


def op_type_self_times(xplane_path):
    """{op type: (kernels, self microseconds)} from a profiler trace (framework op statistics)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as profiler_plugin

    data, ok = profiler_plugin.xspace_to_tools_data([xplane_path], "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"{xplane_path}: the profiler could not read its op statistics")
    table = json.loads(data.decode() if isinstance(data, bytes) else data)[0]
    columns = [c["id"] for c in table["cols"]]
    kind, count, self_time = (columns.index(c) for c in ("type", "occurrences", "total_self_time"))
    found = collections.defaultdict(lambda: [0, 0.0])
    for row in table["rows"]:
        values = [cell.get("v") if cell else None for cell in row["c"]]
        found[values[kind]][0] += values[count]
        found[values[kind]][1] += values[self_time]
    return {k: tuple(v) for k, v in found.items()}


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--top", type=int, default=22)
    parser.add_argument("--without_training_kernels", action="store_true",
                        help="TensorFlow's element-wise ops instead of the XLA-fused training kernels")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.batch, args.steps = "tiny", 4, 1

    import tensorflow as tf

    import keras_bert
    from benchmarks import finetuning_step

    config = keras_bert.BertConfig.from_preset(args.preset)
    batch = finetuning_step.make_batch(config, args.batch)
    trainer = finetuning_step.keras_bert_trainer(finetuning_step.reference_classifier(config), args.batch,
                                                 jit=False, precision=args.precision)
    run = finetuning_step.trainer_steps(trainer, lambda _: tf.data.Dataset.from_tensors(batch).repeat())
    if args.without_training_kernels:
        run = finetuning_step.without_training_kernels(run)
    run(3)
    start = time.perf_counter()
    run(args.steps)
    speed = args.steps * args.batch / (time.perf_counter() - start)
    logdir = tempfile.mkdtemp(prefix="train_step_profile_")
    tf.profiler.experimental.start(logdir)
    run(args.steps)
    tf.profiler.experimental.stop()
    by_type = op_type_self_times(sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1])
    total = sum(micros for _, micros in by_type.values())
    kernels = "TensorFlow's element-wise ops" if args.without_training_kernels else "fused training kernels (as IDLE)"
    print(f"{args.preset}, batch {args.batch}, S={finetuning_step.SEQ_LENGTH}, {args.precision}, {kernels}: "
          f"{speed:.1f} examples/s untraced; {common.machine()}")
    print(f"{'op type':<34} {'kernels/step':>12} {'ms/step':>9} {'share':>7}  (self time over all cores)")
    for op, (count, micros) in sorted(by_type.items(), key=lambda item: -item[1][1])[: args.top]:
        print(f"{op:<34} {count / args.steps:>12.0f} {micros / args.steps / 1000:>9.1f} {micros / total:>7.1%}")
    return {"examples_per_second": speed, "by_type": by_type}


if __name__ == "__main__":
    main()
