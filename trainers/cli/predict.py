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
from keras_bert.trainers.programs.options import PredictOptions

FLAGS = flags.FLAGS

cli.define_flags(PredictOptions, __name__)


def main(argv):
    name = "keras-bert predict"
    cli.start(name, argv, required=("output_dir", "predict_file"))
    cli.run_or_exit(name, prediction.run_predict, cli.options_from_flags(PredictOptions))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
