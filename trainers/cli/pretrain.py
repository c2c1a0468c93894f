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
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import optimization

FLAGS = flags.FLAGS

# google-research/bert run_pretraining.py flags.
flags.DEFINE_string("bert_config_file", None, "Model config: an original bert_config.json, a Hugging Face config.json or ours.")
flags.DEFINE_string("input_file", None, "Input TFRecord file(s): comma-separated, glob patterns allowed.")
flags.DEFINE_string("output_dir", None, "Where checkpoints, summaries, eval_results.txt and the final model go.")
flags.DEFINE_string(
    "init_checkpoint", None,
    "Initial weights: an original or Hugging Face BERT directory (heads included), or the output_dir "
    "(or a ckpt-N prefix) of an earlier keras-bert pretrain run.",
)
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the input TFRecords.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked LM predictions per sequence in the input TFRecords.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate and write eval_results.txt.")
flags.DEFINE_integer("train_batch_size", 32, "Global batch size for training.")
flags.DEFINE_integer("eval_batch_size", 8, "Global batch size for evaluation.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every this many steps.")
flags.DEFINE_integer("iterations_per_loop", None, "Alias of --steps_per_execution (the original name).")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval batches.")
# Ours / Model Garden's.
flags.DEFINE_string("bert_config_preset", None, "Model size instead of --bert_config_file: tiny, mini, small, medium, base, large.")
flags.DEFINE_string("vocab_file", None, "vocab.txt: needed by --dynamic_masking; copied into the saved model.")
flags.DEFINE_bool("do_lower_case", True, "Recorded in the saved Hugging Face tokenizer config.")
flags.DEFINE_string("eval_input_file", None, "Evaluation TFRecords (default: --input_file, as the original).")
flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS), "AdamW (the original) or LAMB.")
flags.DEFINE_float("weight_decay_rate", 0.01, "Decoupled weight decay (not on LayerNorm and biases).")
flags.DEFINE_float("end_learning_rate", 0.0, "Learning rate at num_train_steps.")
flags.DEFINE_float("lr_decay_power", 1.0, "Polynomial decay power after warmup (1 = linear).")
flags.DEFINE_float("clip_norm", 1.0, "Clip the global gradient norm to this (0 = off).")
flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per step (each train_batch_size / k).")
flags.DEFINE_integer("steps_per_execution", 1, "Train steps per tf.function call (the TPU loop).")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.")
flags.DEFINE_integer("log_steps", 100, "Progress line and TensorBoard scalars every this many steps.")
flags.DEFINE_enum("distribution_strategy", "off", list(distribution.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU address or name for --distribution_strategy=tpu ('local' for a local TPU).")
flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all visible).")
flags.DEFINE_enum(
    "mixed_precision", "auto", list(distribution.PRECISIONS),
    "auto: mixed_bfloat16 on TPU, mixed_float16 (loss scaling) on GPU, float32 on CPU.",
)
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step (TPUs always do).")
flags.DEFINE_bool("dynamic_masking", False, "Re-draw the masked LM targets in tf.data, fresh every epoch.")
flags.DEFINE_bool("do_whole_word_mask", False, "With --dynamic_masking: mask whole words.")
flags.DEFINE_float("masked_lm_prob", 0.15, "With --dynamic_masking: fraction of wordpieces to predict.")
flags.DEFINE_integer("random_seed", 12345, "Seed of the initial weights, dropout, the input order and dynamic masks.")
flags.DEFINE_bool(
    "deterministic", False,
    "TensorFlow op determinism: reruns and resumed runs give bit-identical weights (slower on GPUs).",
)
flags.DEFINE_integer("shuffle_buffer_size", 10000, "Examples in the shuffle buffer.")
flags.DEFINE_string(
    "save_pretrained_format", "hf",
    "After training, save the model (encoder and heads) as output_dir/pretrained_FORMAT: "
    "comma-separated hf, original; or none.",
)


def main(argv):
    name = "keras-bert pretrain"
    cli.start(name, argv)
    from keras_bert.trainers.programs import pretraining
    from keras_bert.trainers.engine import training_loop

    values = {field: getattr(FLAGS, field) for field in pretraining.PretrainingOptions.__dataclass_fields__
              if field in FLAGS}
    if FLAGS.iterations_per_loop is not None:
        if FLAGS["steps_per_execution"].present:
            raise SystemExit(f"{name}: give --steps_per_execution or --iterations_per_loop, not both")
        values["steps_per_execution"] = FLAGS.iterations_per_loop
    options = pretraining.PretrainingOptions(**values)
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
