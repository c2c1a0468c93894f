"""`keras-bert encode`: text in, BERT vectors out.

With `--init_checkpoint` (an original Google or a Hugging Face BERT
directory), loads encoder and vocabulary from it. Without, builds a
`BertEncoder` of `--preset` size with random weights and a WordPiece
vocabulary learned from the sentences themselves — the machinery working,
not meaning. Either way `BertPreprocessor` tokenizes in the graph and packs
each sentence as `[CLS] sentence [SEP]`; the shapes and the start of every
pooled vector are printed.
"""

import os
import sys
import tempfile

from absl import flags

from keras_bert import io

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "init_checkpoint", None,
    "Pretrained BERT directory (original or Hugging Face); default: random weights.",
)
flags.DEFINE_string("preset", "tiny", "Encoder size without --init_checkpoint: tiny ... large.")
flags.DEFINE_multi_string("sentence", None, "A sentence to encode (repeatable).")
flags.DEFINE_string("input_file", None, "UTF-8 text file, one sentence per line.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase and strip accents (without --init_checkpoint).")
flags.DEFINE_integer("max_seq_length", 128, "Packed sequence length, [CLS] and [SEP] included.")
flags.DEFINE_integer("seed", 0, "Seed of the random weights.")

DEFAULT_SENTENCES = (
    "BERT reads the whole sentence at once.",
    "Fine-tuning adds one output layer to a pretrained encoder.",
    "The quick brown fox jumps over the lazy dog.",
)


def read_sentences(input_file, sentences):
    if input_file:
        import tensorflow as tf

        try:
            with tf.io.gfile.GFile(input_file, "rb") as f:
                data = f.read()
        except tf.errors.OpError as e:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: {io.error_reason(e)}")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: not UTF-8 ({e.reason})")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: no sentences in it")
        return lines
    return list(sentences or DEFAULT_SENTENCES)


def random_encoder(sentences, preset, lowercase, seq_length, seed, workdir):
    """A random-weight encoder and a preprocessor whose vocab is learned from `sentences`."""
    import keras

    import keras_bert
    from keras_bert.text import vocabulary

    vocab_file = os.path.join(workdir, "vocab.txt")
    vocab = vocabulary.learn_vocabulary(sentences, vocab_size=4000, lowercase=lowercase)
    vocabulary.write_vocabulary(vocab, vocab_file)
    keras.utils.set_random_seed(seed)
    config = keras_bert.BertConfig.from_preset(preset, vocab_size=len(vocab))
    preprocessor = keras_bert.BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=seq_length)
    return keras_bert.BertEncoder(config), preprocessor


def encode(sentences, encoder, preprocessor):
    """Returns (wordpiece counts, encoder outputs) for `sentences`."""
    import tensorflow as tf

    strings = tf.constant(sentences)
    counts = preprocessor.tokenize(strings).merge_dims(1, 2).row_lengths().numpy()
    return counts, encoder(preprocessor(strings), training=False)


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"keras-bert encode: unexpected arguments {argv[1:]}")
    import keras_bert

    sentences = read_sentences(FLAGS.input_file, FLAGS.sentence)
    with tempfile.TemporaryDirectory() as workdir:
        if FLAGS.init_checkpoint:
            try:
                encoder, preprocessor = keras_bert.from_pretrained(
                    FLAGS.init_checkpoint, seq_length=FLAGS.max_seq_length
                )
            except ValueError as e:
                raise SystemExit(f"keras-bert encode: --init_checkpoint: {e}")
            weights = FLAGS.init_checkpoint
        else:
            encoder, preprocessor = random_encoder(
                sentences, FLAGS.preset, FLAGS.do_lower_case, FLAGS.max_seq_length, FLAGS.seed, workdir
            )
            weights = f"preset={FLAGS.preset}, random weights"
        counts, outputs = encode(sentences, encoder, preprocessor)
    pooled = outputs["pooled_output"].numpy()
    print(f"BertEncoder ({weights}), {len(sentences)} sentences")
    print(f"sequence_output {tuple(outputs['sequence_output'].shape)}  "
          f"pooled_output {tuple(pooled.shape)}  "
          f"encoder_outputs {len(outputs['encoder_outputs'])} x "
          f"{tuple(outputs['encoder_outputs'][0].shape)}")
    for sentence, count, vector in zip(sentences, counts, pooled):
        head = " ".join(f"{v:+.3f}" for v in vector[:4])
        print(f"{count:4d} wordpieces  pooled[:4] = {head}  {sentence[:60]}")
    sys.stdout.flush()


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
