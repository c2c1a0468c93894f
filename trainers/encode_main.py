"""`keras-bert encode`: text in, BERT vectors out.

Builds a `BertEncoder` of a preset size, tokenizes the sentences in the graph
with tensorflow-text (BERT normalization + WordPiece), packs each as
`[CLS] sentence [SEP]`, runs the encoder and prints the shapes and the start
of every pooled vector.

Until checkpoint loading arrives, the weights are randomly initialized and
the WordPiece vocabulary is learned from the sentences themselves, so the vectors show the
machinery working, not meaning.
"""

import sys

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_string("preset", "tiny", "Encoder size: tiny, mini, small, medium, base or large.")
flags.DEFINE_multi_string("sentence", None, "A sentence to encode (repeatable).")
flags.DEFINE_string("input_file", None, "UTF-8 text file, one sentence per line.")
flags.DEFINE_bool("do_lower_case", True, "Lowercase and strip accents before WordPiece.")
flags.DEFINE_integer("max_seq_length", 128, "Longest packed sequence, [CLS] and [SEP] included.")
flags.DEFINE_integer("seed", 0, "Seed of the random weights.")

DEFAULT_SENTENCES = (
    "BERT reads the whole sentence at once.",
    "Fine-tuning adds one output layer to a pretrained encoder.",
    "The quick brown fox jumps over the lazy dog.",
)
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_sentences(input_file, sentences):
    if input_file:
        try:
            with open(input_file, encoding="utf-8-sig") as f:
                lines = [line.strip() for line in f]
        except OSError as e:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: {e.strerror}")
        except UnicodeDecodeError as e:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: not UTF-8 ({e.reason})")
        lines = [line for line in lines if line]
        if not lines:
            raise SystemExit(f"keras-bert encode: --input_file={input_file}: no sentences in it")
        return lines
    return list(sentences or DEFAULT_SENTENCES)


def encode(sentences, preset="tiny", lowercase=True, max_seq_length=128, seed=0):
    """Returns (wordpiece counts, encoder outputs) for `sentences`."""
    import keras
    import tensorflow as tf
    import tensorflow_text as tf_text

    import keras_bert

    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

    vocab = bert_vocab_from_dataset.bert_vocab_from_dataset(
        tf.data.Dataset.from_tensor_slices(sentences).batch(256),
        vocab_size=4000,
        reserved_tokens=list(SPECIAL_TOKENS),
        bert_tokenizer_params=dict(lower_case=lowercase),
        learn_params=dict(lower_thresh=1),  # Keep words seen once.
    )
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(vocab, tf.range(len(vocab), dtype=tf.int64)),
        default_value=SPECIAL_TOKENS.index("[UNK]"),
    )
    tokenizer = tf_text.BertTokenizer(table, lower_case=lowercase, token_out_type=tf.int64)
    pieces = tokenizer.tokenize(sentences).merge_dims(-2, -1)
    pieces = pieces[:, : max_seq_length - 2]
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    ids, type_ids = tf_text.combine_segments([pieces], cls, sep)
    seq_length = int(tf.reduce_max(ids.row_lengths()))
    input_word_ids, input_mask = tf_text.pad_model_inputs(ids, seq_length)
    input_type_ids, _ = tf_text.pad_model_inputs(type_ids, seq_length)

    keras.utils.set_random_seed(seed)
    config = keras_bert.BertConfig.from_preset(preset, vocab_size=len(vocab))
    encoder = keras_bert.BertEncoder(config)
    outputs = encoder(
        {
            "input_word_ids": tf.cast(input_word_ids, tf.int32),
            "input_mask": tf.cast(input_mask, tf.int32),
            "input_type_ids": tf.cast(input_type_ids, tf.int32),
        },
        training=False,
    )
    return pieces.row_lengths().numpy(), outputs


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"keras-bert encode: unexpected arguments {argv[1:]}")
    sentences = read_sentences(FLAGS.input_file, FLAGS.sentence)
    counts, outputs = encode(
        sentences, FLAGS.preset, FLAGS.do_lower_case, FLAGS.max_seq_length, FLAGS.seed
    )
    pooled = outputs["pooled_output"].numpy()
    print(f"BertEncoder preset={FLAGS.preset} (random weights), {len(sentences)} sentences")
    print(f"sequence_output {tuple(outputs['sequence_output'].shape)}  "
          f"pooled_output {tuple(pooled.shape)}  "
          f"encoder_outputs {len(outputs['encoder_outputs'])} x "
          f"{tuple(outputs['encoder_outputs'][0].shape)}")
    for sentence, count, vector in zip(sentences, counts, pooled):
        head = " ".join(f"{v:+.3f}" for v in vector[:4])
        print(f"{count:4d} wordpieces  pooled[:4] = {head}  {sentence[:60]}")
    sys.stdout.flush()
