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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # Before TensorFlow loads: no CUDA probing chatter.

from absl import flags  # noqa: E402

from keras_bert.trainers import cli  # noqa: E402
from keras_bert.trainers.engine import training_loop  # noqa: E402
from keras_bert.trainers.programs import quickstart  # noqa: E402

FLAGS = flags.FLAGS

cli.define_flags(quickstart.QuickstartOptions, __name__, skip=("sentences",))
flags.DEFINE_multi_string("sentence", None, "A sentence for the exported model to classify at the end (repeatable; "
                          "default: four built-in remarks).")


def main(argv):
    name = "keras-bert quickstart"
    cli.start(name, argv)

    overrides = {"sentences": tuple(FLAGS.sentence)} if FLAGS.sentence else {}
    cli.run_or_exit(name, quickstart.run_quickstart, cli.options_from_flags(quickstart.QuickstartOptions, **overrides),
                    errors=(ValueError, training_loop.TrainingError))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
