"""`keras-bert create-pretraining-data`: masked LM / next sentence TFRecords.

    keras-bert create-pretraining-data --input_file=corpus/*.txt \
        --output_file=out/train-0.tfrecord,out/train-1.tfrecord \
        --vocab_file=vocab.txt --do_lower_case --max_seq_length=128 \
        --max_predictions_per_seq=20 --dupe_factor=10

google-research/bert's create_pretraining_data.py (same flags, same algorithm,
same features): input is one sentence per line with a blank line between
documents. With --input_format=paragraphs it is plain paragraphs, one per
line, split into sentences by rule (WikiText's ` = Title = ` lines start
articles). With --pack, several instances share each record (packed rows,
a format of our own that only `keras-bert pretrain` reads). See
`keras_bert.trainers.data.pretraining_data`.
"""

import sys

from absl import flags

from keras_bert.trainers.data import pretraining_data

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "input_file", None,
    "Input raw text file (or comma-separated list of files, glob patterns allowed); "
    "one sentence per line, blank line between documents.",
)
flags.DEFINE_enum(
    "input_format", "sentences", ["sentences", "paragraphs"],
    "sentences: one sentence per line, blank line between documents (the original format). "
    "paragraphs: one paragraph per line, split into sentences by rule; a blank line ends a "
    "document, and a WikiText title line ' = Title = ' starts one that runs to the next title.",
)
flags.DEFINE_string("output_file", None, "Output TFRecord file (or comma-separated list of shards).")
flags.DEFINE_string("vocab_file", None, "The vocab.txt the BERT model will be trained on.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase and strip accents (uncased models).")
flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words instead of single wordpieces.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum number of masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
flags.DEFINE_integer("dupe_factor", 10, "Number of times to duplicate the input data (with different masks).")
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
flags.DEFINE_float(
    "short_seq_prob", 0.1,
    "Probability of creating sequences which are shorter than the maximum length.",
)

flags.DEFINE_bool(
    "pack", False,
    "Write packed rows: the same instances, several whole ones back to back in each record of "
    "max_seq_length (numbered in input_mask), next_sentence_labels and sequence_mask per sequence, the "
    "masked LM positions counted in the row. Only keras-bert pretrain reads them (google-research/bert's "
    "run_pretraining.py cannot).",
)
flags.DEFINE_integer(
    "max_sequences_per_row", pretraining_data.DEFAULT_MAX_SEQUENCES_PER_ROW,
    "With --pack: the most instances in one row. The default fits real text: on WikiText-2 + Grimm at "
    "max_seq_length=128 instances average 121 of 128 tokens and no packed row took more than 2; at 512 rows "
    "took up to 5 and a cap of 3 packed as well as none. Each one more costs a masked LM entry per row "
    "(the output line says how many a row has).",
)


def main(argv):
    name = "keras-bert create-pretraining-data"
    if len(argv) > 1:
        raise SystemExit(f"{name}: unexpected arguments {argv[1:]}")
    for flag in ("input_file", "output_file", "vocab_file"):
        if not getattr(FLAGS, flag):
            raise SystemExit(f"{name}: --{flag} is required")

    try:
        created = pretraining_data.create_pretraining_data(
            FLAGS.input_file,
            FLAGS.output_file,
            FLAGS.vocab_file,
            do_lower_case=FLAGS.do_lower_case,
            do_whole_word_mask=FLAGS.do_whole_word_mask,
            max_seq_length=FLAGS.max_seq_length,
            max_predictions_per_seq=FLAGS.max_predictions_per_seq,
            random_seed=FLAGS.random_seed,
            dupe_factor=FLAGS.dupe_factor,
            masked_lm_prob=FLAGS.masked_lm_prob,
            short_seq_prob=FLAGS.short_seq_prob,
            input_format=FLAGS.input_format,
            pack=FLAGS.pack,
            max_sequences_per_row=FLAGS.max_sequences_per_row,
        )
    except ValueError as e:
        raise SystemExit(f"{name}: {e}")
    if FLAGS.pack:
        print(f"wrote {created.examples} examples from {created.documents} documents to {FLAGS.output_file} in "
              f"{created.records} packed rows ({created.efficiency:.1%} of the tokens real; "
              f"{created.max_predictions} masked LM entries per row)")
    else:
        print(f"wrote {created.examples} examples from {created.documents} documents to {FLAGS.output_file}")
    sys.stdout.flush()


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
