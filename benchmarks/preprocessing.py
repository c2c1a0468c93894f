"""Text preprocessing throughput, keras_bert's in-graph BertPreprocessor vs
Hugging Face's Rust BertTokenizerFast, in one run.

    python benchmarks/preprocessing.py [--batch 256] [--seq 128] [--lines 20000]

Input: SST-2 train sentences (../shared/data/sst2/train.tsv). Both sides use
the same vocab.txt (learned from those sentences by keras_bert.text.vocabulary,
uncased) and produce the same int32 [batch, seq] word ids, mask and type ids
(checked on the first batch before timing). Contenders:

- keras_bert tf.function: `BertPreprocessor` called in a `tf.function` with a
  `[None]` string TensorSpec, one batch per call, results to numpy.
- keras_bert tf.data: the same layer in `Dataset.batch(b).map(layer)` over
  the whole list, with prefetch (the way training feeds it).
- HF fast: `tokenizer(batch, padding="max_length", truncation=True,
  max_length=seq, return_tensors="np")`.

Timing interleaves the contenders round by round (a slow spell of this
noisy machine hits them all); each row is the median over rounds. The figure
to read is the ratio to HF fast.
"""

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from benchmarks import common  # noqa: E402
from keras_bert.text import vocabulary  # noqa: E402
from references import real_text  # noqa: E402


def batches_of(lines, batch):
    return [lines[i : i + batch] for i in range(0, len(lines) - batch + 1, batch)]


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--lines", type=int, default=20480, help="sentences per round")
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.lines, args.rounds = 1024, 1

    import transformers

    sentences = real_text.sst2("train")
    lines = sentences[: args.lines]
    vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    vocabulary.write_vocabulary(
        vocabulary.learn_vocabulary(sentences[:5000], args.vocab_size, num_iterations=1), vocab_file
    )
    layer = keras_bert.BertPreprocessor(vocab_file, lowercase=True, seq_length=args.seq)
    # transformers 5 takes the vocab as a dict (`vocab_file=` is ignored there).
    vocab = {token: i for i, token in enumerate(layer.vocabulary)}
    hf = transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True)
    batches = batches_of(lines, args.batch)
    n = len(batches) * args.batch

    fn = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])
    tensors = [tf.constant(b) for b in batches]

    def run_tf_function():
        for t in tensors:
            {k: v.numpy() for k, v in fn(t).items()}

    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant([s for b in batches for s in b]))
        .batch(args.batch)
        .map(layer, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )

    def run_tf_data():
        for features in dataset:
            {k: v.numpy() for k, v in features.items()}

    def run_hf():
        for b in batches:
            hf(b, padding="max_length", truncation=True, max_length=args.seq, return_tensors="np")

    # Same features on the first batch.
    ours = {k: v.numpy() for k, v in fn(tensors[0]).items()}
    ref = hf(batches[0], padding="max_length", truncation=True, max_length=args.seq, return_tensors="np")
    for key, hf_key in (("input_word_ids", "input_ids"), ("input_mask", "attention_mask"),
                        ("input_type_ids", "token_type_ids")):
        np.testing.assert_array_equal(ours[key], ref[hf_key])

    runners = {"keras_bert tf.function": run_tf_function, "keras_bert tf.data": run_tf_data,
               "HF BertTokenizerFast": run_hf}
    per_round = common.time_rounds(runners, n, args.rounds, 1, warmup_calls=1)
    table = {
        "caption": f"SST-2 train sentences, batch {args.batch}, padded to {args.seq}, {n} sentences per round",
        "unit": "examples/s",
        "baseline": "HF BertTokenizerFast",
        "target": 1.0,
        "target_text": "preprocessing >= HF's Rust tokenizer",
        "rows": [common.row(name, values, name.startswith("keras_bert")) for name, values in per_round.items()],
    }
    common.print_table(table)
    section = {
        "name": "preprocessing",
        "title": "Preprocessing (raw text -> features)",
        "setup": (
            f"Raw sentences to int32 word ids, mask and type ids [batch, {args.seq}], uncased WordPiece with "
            f"the same {layer.vocab_size}-piece vocabulary on both sides (identical ids checked on the first "
            "batch before timing). keras_bert's BertPreprocessor is the in-graph tensorflow-text path that "
            "training and the exported SavedModel run; HF's BertTokenizerFast is Rust. Versions: "
            + common.versions("tensorflow", "tensorflow-text", "transformers", "tokenizers")
        ),
        "tables": [table],
        "fast_paths": [{"name": "tf.data map + prefetch (parallel batches)", "table": table["caption"],
                        "on": "keras_bert tf.data", "off": "keras_bert tf.function"}],
        "notes": [],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
