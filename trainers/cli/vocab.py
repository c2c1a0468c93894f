"""`keras-bert vocab`: learn a WordPiece vocab.txt from raw text files.

    keras-bert vocab --input_file=corpus/*.txt --output_file=vocab.txt \
        --vocab_size=30522 --do_lower_case

The layout is original BERT's: `[PAD]` 0, `[unused0..N-1]`, `[UNK]`, `[CLS]`,
`[SEP]`, `[MASK]`, then the learned pieces. Words come from the same basic
tokenization `keras_bert.BertPreprocessor` runs; the file is written
atomically (temporary file, then rename).
"""

import sys

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "input_file", None,
    "Input raw text file (or comma-separated list of files, glob patterns allowed); "
    "one sentence or paragraph per line.",
)
flags.DEFINE_string("output_file", None, "Output vocab.txt (one token per line).")
flags.DEFINE_string("vocab_file", None, "Same as --output_file (google-research/bert's name).")
flags.DEFINE_integer("vocab_size", 30522, "Target vocabulary size, special and [unused] tokens included.")
flags.DEFINE_bool("do_lower_case", True, "Learn from lowercased, accent-stripped text (uncased model).")
flags.DEFINE_integer("num_unused", 99, "Number of [unusedK] reserve slots after [PAD].")
flags.DEFINE_integer("min_count", 1, "Ignore words seen fewer times.")
flags.DEFINE_integer("max_lines_per_file", 0, "Read at most this many lines of each file (0: all).")
flags.DEFINE_integer("num_iterations", 4, "WordPiece learner iterations.")
flags.DEFINE_integer(
    "max_unique_chars", 1000,
    "At most this many single characters enter the vocabulary (a multilingual one needs thousands).",
)


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"keras-bert vocab: unexpected arguments {argv[1:]}")
    if not FLAGS.input_file:
        raise SystemExit("keras-bert vocab: --input_file is required")
    output_file = FLAGS.output_file or FLAGS.vocab_file
    if not output_file:
        raise SystemExit("keras-bert vocab: --output_file (or --vocab_file) is required")
    if FLAGS.output_file and FLAGS.vocab_file and FLAGS.output_file != FLAGS.vocab_file:
        raise SystemExit(
            f"keras-bert vocab: --output_file={FLAGS.output_file} and "
            f"--vocab_file={FLAGS.vocab_file} disagree; give one"
        )
    from keras_bert.text import vocabulary

    try:
        vocab = vocabulary.build_vocabulary_file(
            FLAGS.input_file,
            output_file,
            FLAGS.vocab_size,
            lowercase=FLAGS.do_lower_case,
            num_unused=FLAGS.num_unused,
            max_lines_per_file=FLAGS.max_lines_per_file or None,
            min_count=FLAGS.min_count,
            num_iterations=FLAGS.num_iterations,
            max_unique_chars=FLAGS.max_unique_chars,
        )
    except ValueError as e:
        raise SystemExit(f"keras-bert vocab: {e}")
    print(f"wrote {output_file}: {len(vocab)} tokens "
          f"({'uncased' if FLAGS.do_lower_case else 'cased'}, {FLAGS.num_unused} unused slots)")
    sys.stdout.flush()


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
