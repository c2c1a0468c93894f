"""`keras-bert finetune`: fine-tune a pretrained BERT on a labelled task.

    keras-bert finetune --task=classification --init_checkpoint=uncased_L-12_H-768_A-12 \
        --train_file=sst2/train.tsv --eval_file=sst2/dev.tsv \
        --text_a_column=sentence --label_column=label \
        --do_train --do_eval --output_dir=out --max_seq_length=128 \
        --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3

    keras-bert finetune --task=classification ... --text_a_column="#1 String" \
        --text_b_column="#2 String" --label_column=Quality          # pairs (MRPC)
    keras-bert finetune --task=tagging --train_file=conll/train.txt ...  # CoNLL NER
    keras-bert finetune --task=squad --train_file=train-v2.0.json --eval_file=dev-v2.0.json \
        --max_seq_length=384 --doc_stride=128 ...                      # SQuAD 1.1 / 2.0
    keras-bert finetune --task=multiple_choice --train_file=swag/train.csv --eval_file=swag/val.csv \
        --text_a_column=sent1 --text_b_column=sent2 --label_column=label \
        --choice_columns=ending0,ending1,ending2,ending3 ...          # SWAG (JSONL: a list column)
    keras-bert finetune --task=classification ... --do_predict --predict_file=reviews.tsv \
        --long_text_stride=64 --long_text_pooling=mean   # long texts: windows, pooled logits

Flag names follow google-research/bert's `run_classifier.py`; the strategy
and precision flags are those of `keras-bert pretrain`. See
`keras_bert.trainers.programs.finetuning`.
"""


from absl import flags

from keras_bert.trainers import cli
from keras_bert.trainers.engine import distribution
from keras_bert.trainers import tasks
from keras_bert.trainers.programs import finetuning
from keras_bert.trainers.engine import optimization

FLAGS = flags.FLAGS

flags.DEFINE_enum("task", None, list(tasks.TASKS), "The task family.")
flags.DEFINE_string("output_dir", None, "Where checkpoints, the best model, eval_results.txt and predictions go.")
flags.DEFINE_string("train_file", None, "Training data: TSV, CSV, JSON Lines (classification/regression) or CoNLL.")
flags.DEFINE_string("eval_file", None, "Dev data, scored after every checkpoint; the best model is kept.")
flags.DEFINE_string("predict_file", None, "Data to predict (labels not needed).")
flags.DEFINE_enum("file_format", None, ["tsv", "csv", "jsonl"], "Data format (default: by file extension).")
flags.DEFINE_string("text_a_column", None, "Column (header name or 0-based index) of the first text.")
flags.DEFINE_string("text_b_column", None, "Column of the second text, for pairs.")
flags.DEFINE_string("label_column", None, "Column of the label (multiple choice: the right choice's index).")
flags.DEFINE_string("choice_columns", None, "Multiple choice: comma-separated columns, one per choice "
                    "(ending0,ending1,...), or one JSON Lines column holding a list; --text_a_column is the "
                    "context, --text_b_column a prefix of every choice (SWAG's sent2).")
flags.DEFINE_string("label_list", None, "Comma-separated labels (default: those of --train_file, sorted).")
flags.DEFINE_bool("skip_invalid_rows", False, "Skip (and count) malformed rows instead of stopping.")
flags.DEFINE_string("init_checkpoint", None, "Original or Hugging Face BERT directory, or a keras-bert output_dir.")
flags.DEFINE_string("bert_config_file", None, "Model config (default: the init checkpoint's).")
flags.DEFINE_string("bert_config_preset", None, "Model size without a checkpoint: tiny ... large.")
flags.DEFINE_string("vocab_file", None, "vocab.txt (default: the init checkpoint's).")
flags.DEFINE_bool("do_lower_case", None, "Lowercase input (default: what the checkpoint says, else True).")
flags.DEFINE_integer("max_seq_length", 128, "Longest packed sequence; longer inputs are truncated.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Score --eval_file; write eval_results.txt.")
flags.DEFINE_bool("do_predict", False, "Predict --predict_file.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 32, "Evaluation batch size.")
flags.DEFINE_integer("predict_batch_size", 32, "Prediction batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0, "Epochs.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the steps with linear warmup.")
flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS), "AdamW or LAMB.")
flags.DEFINE_float("weight_decay_rate", 0.01, "Decoupled weight decay (not on LayerNorm and biases).")
flags.DEFINE_float("layerwise_lr_decay", 1.0, "< 1: lower layers learn slower by this factor per layer.")
flags.DEFINE_bool("train_encoder", True, "False: freeze the encoder, train only the task head.")
flags.DEFINE_float("dropout", None, "Dropout before the head (default: the config's hidden_dropout_prob).")
flags.DEFINE_float("clip_norm", 1.0, "Clip the global gradient norm (0 = off).")
flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per step.")
flags.DEFINE_integer("save_checkpoints_steps", None, "Checkpoint and score the dev set this often (default: each epoch).")
flags.DEFINE_integer("keep_checkpoint_max", 1, "Training checkpoints kept (the best model is kept apart).")
flags.DEFINE_string("best_metric", None, "Dev metric choosing the best model (accuracy, f1, mcc, pearson, ...).")
flags.DEFINE_integer("steps_per_execution", 1, "Train steps per tf.function call.")
flags.DEFINE_integer("log_steps", 50, "Progress line every this many steps.")
flags.DEFINE_enum("distribution_strategy", "off", list(distribution.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU address for --distribution_strategy=tpu.")
flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all visible).")
flags.DEFINE_enum("mixed_precision", "auto", list(distribution.PRECISIONS), "Precision policy.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_integer("random_seed", 12345, "Seed of the new weights (task head), dropout and the data order.")
flags.DEFINE_bool(
    "deterministic", False,
    "TensorFlow op determinism: reruns and resumed runs give bit-identical weights (slower on GPUs).",
)
flags.DEFINE_enum("prediction_format", "tsv", ["tsv", "jsonl"], "Format of predictions.* (SQuAD: always JSON).")
# SQuAD: run_squad.py's flags.
flags.DEFINE_integer("doc_stride", 128, "SQuAD: pieces between the starts of consecutive context windows.")
flags.DEFINE_integer("max_query_length", 64, "SQuAD: questions keep this many pieces.")
flags.DEFINE_integer("n_best_size", 20, "SQuAD: candidate answers considered per question.")
flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer, in pieces.")
flags.DEFINE_bool("version_2_with_negative", None, "SQuAD 2.0 (unanswerable questions); default: from the file.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD 2.0: predict no answer above this null score margin.")
# Long texts (classification, regression).
flags.DEFINE_integer("long_text_stride", 0, "Eval/predict texts longer than --max_seq_length as windows of text_a "
                     "this many wordpieces apart, their logits pooled (0 = truncate; training truncates).")
flags.DEFINE_enum("long_text_pooling", "mean", ["mean", "max"], "How window logits (scores) are pooled per text.")


def main(argv):
    name = "keras-bert finetune"
    cli.start(name, argv, required=("task", "output_dir"))
    from keras_bert.trainers.engine import training_loop

    cli.run_or_exit(name, finetuning.run_finetuning, cli.options_from_flags(finetuning.FinetuningOptions),
                    errors=(ValueError, training_loop.TrainingError))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
