"""Offline prediction over a real data set: keras_bert's `predict` against HF.

    python benchmarks/prediction.py [--preset mini] [--batch 64] [--rounds 3]

What `keras-bert predict` and `keras-bert finetune --do_predict/--do_eval`
run: `keras_bert.trainers.engine.inference.predict` over the SST-2 dev sentences
(../shared/data/sst2/dev.tsv, 6,735 sentences of real lengths), tokenized
beforehand by `BertPreprocessor` (max length 128; the same ids go to every
contender, so only the model part is timed). A `--preset` classifier with
random weights; Hugging Face's `BertForSequenceClassification` (sdpa
attention, `torch.inference_mode`) holds the same weights (through
references/peers.py, via benchmarks/serving.py's `build_models`).

Rows (examples/s over the whole set, median over interleaved rounds):
  keras_bert                   batches in order of length (the default), each cut to its longest member
  keras_bert XLA buckets       the same, XLA-compiled, widths rounded up to 16/32/64/128
  keras_bert input order       the sort turned off: batches in file order, cut to their longest
  keras_bert packed            `predict --packing` (`Task.predict` with max_sequences_per_row 32): the
                               sentences packed into rows of --seq by `trainers/data/packing.py`
                               (first-fit decreasing), each attending only to itself, a batch of rows
                               holding about --batch sentences (rows per batch = round(batch / mean
                               sentences per row)); the packing (host side, numpy) and the mapping back
                               to input order are inside the timed call
  HF torch                     the usual HF loop: file order, each batch padded to its longest
  HF torch sorted              HF given the same length sort, for a like-for-like row
Before timing, keras_bert's and HF's logits agree (max difference printed).
"""

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import common  # noqa: E402
from benchmarks import serving  # noqa: E402
from keras_bert.text import vocabulary  # noqa: E402
from keras_bert.trainers import tasks  # noqa: E402
from keras_bert.trainers.data import packing  # noqa: E402
from keras_bert.trainers.engine import inference  # noqa: E402
from references import real_text  # noqa: E402

OURS = ("keras_bert", "keras_bert XLA buckets", "keras_bert input order", "keras_bert packed")
SEQUENCES_PER_ROW = 32  # finetune --max_sequences_per_row's default.


def hf_logits(model, features, batch_size, order):
    """HF's forward over `features` in `order`, each batch padded to its longest; logits in input order."""
    import torch

    lengths = features["input_mask"].sum(1)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows].max())
            batch = {
                "input_ids": torch.from_numpy(features["input_word_ids"][rows, :width].astype(np.int64)),
                "attention_mask": torch.from_numpy(features["input_mask"][rows, :width].astype(np.int64)),
                "token_type_ids": torch.from_numpy(features["input_type_ids"][rows, :width].astype(np.int64)),
            }
            parts.append(model(**batch).logits.numpy())
    return np.concatenate(parts)[np.argsort(order, kind="stable")]


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vocab_size", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.rounds, args.vocab_size = "tiny", 1, 2000

    import torch

    torch.set_num_threads(os.cpu_count())
    work = tempfile.mkdtemp(prefix="prediction_benchmark_")
    vocab_file = os.path.join(work, "vocab.txt")
    vocabulary.write_vocabulary(
        vocabulary.learn_vocabulary(real_text.sst2("train")[:5000], args.vocab_size, num_iterations=1), vocab_file
    )
    classifier, preprocessor, hf, _ = serving.build_models(args.preset, args.seq, vocab_file)
    sentences = real_text.sst2("dev")[: 512 if args.quick else None]
    encoded = preprocessor(np.array(sentences, dtype=object))
    features = {k: np.asarray(v) for k, v in encoded.items()}
    lengths = features["input_mask"].sum(1)
    by_length = np.argsort(lengths, kind="stable")
    file_order = np.arange(len(lengths))

    def ours(**kw):
        return lambda: inference.predict(classifier, features, args.batch, **kw)["logits"]

    # The same classifier built for packed rows (the same weights, per-sequence outputs).
    task = tasks.get("classification")
    packed_model = task.build_model(classifier.encoder.config, {"label_list": ["0", "1"]},
                                    max_sequences_per_row=SEQUENCES_PER_ROW)
    packed_model.set_weights(classifier.get_weights())
    rows = packing.pack_rows(lengths, args.seq, SEQUENCES_PER_ROW)
    per_row = len(lengths) / len(rows)
    rows_per_batch = max(1, round(args.batch / per_row))

    runners = {
        "keras_bert": ours(),
        "keras_bert XLA buckets": ours(jit_compile=True),
        "keras_bert input order": ours(sort_by_length=False),
        "keras_bert packed": lambda: task.predict(packed_model, {"features": features, "extras": {}}, rows_per_batch,
                                                  SEQUENCES_PER_ROW)["logits"],
        "HF torch": lambda: hf_logits(hf, features, args.batch, file_order),
        "HF torch sorted": lambda: hf_logits(hf, features, args.batch, by_length),
    }
    difference = float(np.abs(runners["keras_bert"]() - runners["HF torch"]()).max())
    assert difference < 1e-3, f"keras_bert and Hugging Face logits differ by {difference}"
    packed_difference = float(np.abs(runners["keras_bert packed"]() - runners["keras_bert"]()).max())
    assert packed_difference < 1e-4, f"packed and unpacked logits differ by {packed_difference}"
    per_round = common.time_rounds(runners, len(sentences), args.rounds, 1, warmup_calls=1)
    table = {
        "caption": (f"{args.preset} classifier, {len(sentences)} SST-2 dev sentences (mean {lengths.mean():.1f} "
                    f"tokens, max {lengths.max()}), batch {args.batch}"),
        "unit": "examples/s",
        "baseline": "HF torch",
        "rows": [common.row(name, values, name in OURS) for name, values in per_round.items()],
    }
    common.print_table(table)
    caption = table["caption"]
    section = {
        "name": "prediction",
        "title": "Offline prediction (keras-bert predict)",
        "setup": (
            "`keras_bert.trainers.engine.inference.predict` (what `keras-bert predict` and --do_eval run) over pre-tokenized SST-2 "
            "dev features against Hugging Face's forward loop with the same weights and ids; logits agree within "
            f"{difference:.1e} (checked before timing); fp32. Versions: "
            + common.versions("tensorflow", "keras", "torch", "transformers")
        ),
        "tables": [table],
        "fast_paths": [
            {"name": "sort by length (offline prediction)", "table": caption, "on": "keras_bert",
             "off": "keras_bert input order"},
            {"name": "XLA on length buckets (offline prediction)", "table": caption, "on": "keras_bert XLA buckets",
             "off": "keras_bert"},
            {"name": "packed rows (offline prediction)", "table": caption, "on": "keras_bert packed",
             "off": "keras_bert"},
        ],
        "notes": [
            f"keras_bert packed: {len(lengths)} sentences in {len(rows)} rows of {args.seq} ({per_row:.1f} a row, "
            f"{packing.packing_efficiency(lengths, rows, args.seq):.1%} of the tokens real), {rows_per_batch} rows a "
            f"batch; its logits equal the unpacked ones within {packed_difference:.1e} (checked before timing)",
        ],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
