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
from keras_bert.trainers.programs import finetuning
from keras_bert.trainers.programs.options import FinetuningOptions

FLAGS = flags.FLAGS

cli.define_flags(FinetuningOptions, __name__)


def main(argv):
    name = "keras-bert finetune"
    cli.start(name, argv, required=("task", "output_dir"))
    from keras_bert.trainers.engine import training_loop

    cli.run_or_exit(name, finetuning.run_finetuning, cli.options_from_flags(FinetuningOptions),
                    errors=(ValueError, training_loop.TrainingError))
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
