"""`keras-bert quickstart`: vocabulary, pretraining, fine-tuning, export and a
served prediction, in a few minutes on a CPU, offline.

    keras-bert quickstart                                  # ./keras_bert_quickstart
    keras-bert quickstart --output_dir=/tmp/qs --overwrite
    keras-bert quickstart --corpus_files='books/*.txt' --train_file=reviews/train.tsv \
        --dev_file=reviews/dev.tsv --text_a_column=review --label_column=stars \
        --model_size=mini --pretrain_steps=5000 --finetune_epochs=3

With no flags: a WordPiece vocabulary and a tiny BERT pretrained on the
docstrings of Python's standard library (no network, nothing downloaded), a
sentiment classifier fine-tuned on the labelled remarks that ship in
`trainers/programs/quickstart_data/`, exported for TF Serving, reloaded in a process
that imports only tensorflow and tensorflow_text. The flags point each step
at your own files and sizes. See `keras_bert.trainers.programs.quickstart`.
"""

import os

from absl import flags

from keras_bert.trainers import cli

FLAGS = flags.FLAGS

flags.DEFINE_string("output_dir", "keras_bert_quickstart", "Where everything goes (refused if not empty, unless "
                    "--overwrite).")
flags.DEFINE_bool("overwrite", False, "Replace what an earlier quickstart wrote in --output_dir (a directory with "
                  "its quickstart.json; other files there are left alone).")
flags.DEFINE_string("corpus_files", None, "Pretraining text instead of the standard library's docstrings: "
                    "comma-separated files or glob patterns, UTF-8, one paragraph (or sentence) per line, a blank "
                    "line between documents.")
flags.DEFINE_string("train_file", None, "Labelled training data (TSV, CSV or JSON Lines; default: the shipped "
                    "trainers/programs/quickstart_data/train.tsv). Needs --dev_file.")
flags.DEFINE_string("dev_file", None, "Labelled dev data, same layout as --train_file (default: the shipped dev.tsv).")
flags.DEFINE_enum("file_format", None, ["tsv", "csv", "jsonl"], "Format of --train_file/--dev_file (default: by "
                  "extension).")
flags.DEFINE_string("text_a_column", "sentence", "Column (header name or 0-based index) of the text.")
flags.DEFINE_string("text_b_column", None, "Column of the second text, for pairs.")
flags.DEFINE_string("label_column", "label", "Column of the label.")
flags.DEFINE_bool("do_lower_case", True, "Uncased vocabulary and model.")
flags.DEFINE_string("model_size", "tiny", "BERT size: tiny (2 layers x 128, default), mini, small, medium, base, "
                    "large. Above tiny, raise --pretrain_steps and expect hours, not minutes, on a CPU.")
flags.DEFINE_integer("vocab_size", 4000, "WordPiece vocabulary size (special and [unused] tokens included).")
flags.DEFINE_integer("vocab_num_iterations", 4, "WordPiece learner iterations (`keras-bert vocab --num_iterations`; "
                     "1 is about 4x faster).")
flags.DEFINE_integer("max_seq_length", 64, "Sequence length for pretraining and fine-tuning.")
flags.DEFINE_integer("max_predictions_per_seq", 10, "Masked LM predictions per pretraining sequence.")
flags.DEFINE_integer("dupe_factor", 5, "Copies of the pretraining corpus, each with different masks.")
flags.DEFINE_integer("pretrain_steps", 600, "Pretraining steps. Below a few hundred the encoder may still be in "
                     "the early stage that predicts the frequent words everywhere, which fine-tunes worse than "
                     "random weights.")
flags.DEFINE_integer("pretrain_batch_size", 32, "Pretraining batch size.")
flags.DEFINE_float("pretrain_learning_rate", 2e-3, "Pretraining peak learning rate.")
flags.DEFINE_float("finetune_epochs", 15.0, "Fine-tuning epochs (the best epoch on the dev set is kept).")
flags.DEFINE_integer("finetune_batch_size", 16, "Fine-tuning batch size.")
flags.DEFINE_float("finetune_learning_rate", 1e-3, "Fine-tuning peak learning rate.")
flags.DEFINE_multi_string("sentence", None, "A sentence for the exported model to classify at the end (repeatable; "
                          "default: four built-in remarks).")
flags.DEFINE_string("model_name", "quickstart", "TF Serving model name (in the docker and curl lines).")
flags.DEFINE_integer("random_seed", 12345, "Seed of the pretraining data and the input order.")


def main(argv):
    name = "keras-bert quickstart"
    cli.start(name, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # Before TensorFlow loads: no CUDA probing chatter.
    from keras_bert.trainers.programs import quickstart
    from keras_bert.trainers.engine import training_loop

    overrides = {"sentences": tuple(FLAGS.sentence)} if FLAGS.sentence else {}
    cli.run_or_exit(name, quickstart.run_quickstart, cli.options_from_flags(quickstart.QuickstartOptions, **overrides),
                    errors=(ValueError, training_loop.TrainingError))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
