"""`keras-bert predict`: predictions of a model fine-tuned by `keras-bert finetune`.

    keras-bert predict --output_dir=sst2_out --predict_file=sst2/test.tsv
        # -> sst2_out/predictions.tsv: guid, label, class probabilities
    keras-bert predict --output_dir=sst2_out --predict_file=reviews.jsonl \
        --text_a_column=review --output_file=reviews.pred.jsonl \
        --long_text_stride=64 --long_text_pooling=mean
    keras-bert predict --output_dir=squad_out --predict_file=dev-v2.0.json
        # -> predictions.json, nbest_predictions.json, null_odds.json (2.0)

The task, labels, columns, `--max_seq_length`, casing, long-text and SQuAD
settings are those of the training run (task.json); a flag given here
overrides them. See `keras_bert.trainers.programs.prediction`.
"""


from absl import flags

from keras_bert.trainers import cli
from keras_bert.trainers.programs import prediction

FLAGS = flags.FLAGS

flags.DEFINE_string("output_dir", None, "The output directory of `keras-bert finetune` (task.json, best/ ...).")
flags.DEFINE_string("predict_file", None, "Data to predict (labels not needed).")
flags.DEFINE_string("output_file", None, "Where predictions go (default: <output_dir>/predictions.tsv|.jsonl; "
                    "SQuAD: <output_dir>/predictions.json, the name must end in predictions.json).")
flags.DEFINE_enum("prediction_format", None, ["tsv", "jsonl"],
                  "Format of the predictions (default: jsonl for an --output_file ending in .jsonl, else tsv).")
flags.DEFINE_integer("predict_batch_size", 32, "Prediction batch size.")
flags.DEFINE_enum("file_format", None, ["tsv", "csv", "jsonl"], "Format of --predict_file (default: by extension).")
flags.DEFINE_bool("skip_invalid_rows", False, "Skip (and count) malformed rows instead of stopping.")
# Default None: the training run's value, from task.json.
flags.DEFINE_integer("max_seq_length", None, "Longest packed sequence (default: the training run's).")
flags.DEFINE_bool("do_lower_case", None, "Lowercase input (default: the training run's).")
flags.DEFINE_string("text_a_column", None, "Column (header name or 0-based index) of the first text.")
flags.DEFINE_string("text_b_column", None, "Column of the second text, for pairs.")
flags.DEFINE_string("choice_columns", None, "Multiple choice: comma-separated columns of the choices, or one "
                    "column holding a list (JSON Lines).")
flags.DEFINE_integer("long_text_stride", None, "Texts longer than --max_seq_length as windows of text_a this many "
                     "wordpieces apart, their logits pooled (0 = truncate).")
flags.DEFINE_enum("long_text_pooling", None, ["mean", "max"], "How window logits (scores) are pooled per text.")
flags.DEFINE_integer("doc_stride", None, "SQuAD: pieces between the starts of consecutive context windows.")
flags.DEFINE_integer("max_query_length", None, "SQuAD: questions keep this many pieces.")
flags.DEFINE_integer("n_best_size", None, "SQuAD: candidate answers considered per question.")
flags.DEFINE_integer("max_answer_length", None, "SQuAD: longest answer, in pieces.")
flags.DEFINE_bool("version_2_with_negative", None, "SQuAD 2.0 (unanswerable questions).")
flags.DEFINE_float("null_score_diff_threshold", None, "SQuAD 2.0: predict no answer above this null score margin.")


def main(argv):
    name = "keras-bert predict"
    cli.start(name, argv, required=("output_dir", "predict_file"))
    cli.run_or_exit(name, prediction.run_predict, cli.options_from_flags(prediction.PredictOptions))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
