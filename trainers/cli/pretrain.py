"""`keras-bert pretrain`: masked LM + next sentence pretraining.

    keras-bert pretrain --input_file=data/train-*.tfrecord --output_dir=out \
        --bert_config_file=bert_config.json --do_train --do_eval \
        --train_batch_size=256 --max_seq_length=128 --max_predictions_per_seq=20 \
        --num_train_steps=900000 --num_warmup_steps=10000 --learning_rate=1e-4 \
        --distribution_strategy=tpu --tpu=grpc://10.0.0.2:8470 --steps_per_execution=1000

Flags have the names of google-research/bert's `run_pretraining.py`
(`--iterations_per_loop` is accepted for `--steps_per_execution`); the
strategy flags are Model Garden's. Input is the TFRecords of
`keras-bert create-pretraining-data` or of the original script. Running
again with the same `--output_dir` resumes from its newest checkpoint.
Two-phase training: run phase 2 with `--init_checkpoint=PHASE1_OUTPUT_DIR`
and the longer `--max_seq_length` (and its own data and `--output_dir`).
See `keras_bert.trainers.programs.pretraining`.
"""


from absl import flags

from keras_bert.trainers import cli
from keras_bert.trainers.programs.options import PretrainingOptions

FLAGS = flags.FLAGS

cli.define_flags(PretrainingOptions, __name__)
flags.DEFINE_integer("iterations_per_loop", None, "Alias of --steps_per_execution (the original name).")


def main(argv):
    name = "keras-bert pretrain"
    cli.start(name, argv)
    from keras_bert.trainers.programs import pretraining
    from keras_bert.trainers.engine import training_loop

    overrides = {}
    if FLAGS.iterations_per_loop is not None:
        if FLAGS["steps_per_execution"].present:
            raise SystemExit(f"{name}: give --steps_per_execution or --iterations_per_loop, not both")
        overrides["steps_per_execution"] = FLAGS.iterations_per_loop
    options = cli.options_from_flags(PretrainingOptions, **overrides)
    try:
        results = pretraining.run_pretraining(options)
    except ValueError as e:
        raise SystemExit(f"{name}: {e}")
    except training_loop.TrainingError as e:
        raise SystemExit(f"{name}: {e}")
    if results.get("train", {}).get("preempted"):
        print(f"{name}: stopped by SIGTERM after a checkpoint; run again to resume", flush=True)
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
