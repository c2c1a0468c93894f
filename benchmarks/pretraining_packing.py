"""Pretraining on real instances: packed rows against one instance per row.

    PYTHONPATH=. python benchmarks/pretraining_packing.py [--preset mini] [--seq_lengths 128,512]
        [--batch_tokens 4096] [--rounds 3] [--steps 4] [--json_out F] [--quick]

Data: the shared pretraining text (../shared/data/pretrain: WikiText-2 valid
and test, Grimm's tales; one paragraph per line), an uncased WordPiece
vocabulary of 8,000 learned from it (`keras_bert.text.vocabulary`), and
`keras_bert.trainers.data.pretraining_data.create_pretraining_data` at each
max_seq_length S (google-research/bert's algorithm, short_seq_prob 0.1,
masked_lm_prob 0.15, max_predictions_per_seq round(0.15 S), dupe_factor 1,
one seed) written twice from the same instances: the original format (one
instance per record) and `--pack` (up to 4 instances a row: what
`create-pretraining-data --pack` writes by default). Counted, not timed:
instances, records, and the padding share (record tokens / real tokens).

Timed: `keras_bert.trainers.engine.training_loop.Trainer` with a
`BertPretrainer` of --preset size (vocabulary 8,000, dropout 0.1, fp32),
AdamW, each on its file read as `keras-bert pretrain` reads it
(`pretraining_input.pretraining_dataset` mapped by the program's
`model_features`; packed: with `max_sequences_per_row`, next sentence per
packed sequence). A batch has the same number of records for both:
--batch_tokens / S (32 at 128, 8 at 512). Each contender is warmed up
(traced) first; every round runs --steps steps of each in turn, through the
trainer's own `_train_function` (what `Trainer.train` runs between
checkpoints). The figure is real tokens per second: the steps' records x the
file's mean real tokens per record / wall time; the ratio is packed over
unpacked at the same S. --quick: tiny, S=64, a slice of the text, 1 round.
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
from keras_bert.trainers.data import pretraining_data  # noqa: E402
from keras_bert.trainers.data import pretraining_input  # noqa: E402
from keras_bert.trainers.engine import optimization  # noqa: E402
from keras_bert.trainers.engine import training_loop  # noqa: E402
from keras_bert.trainers.programs import pretraining  # noqa: E402
from references import real_text  # noqa: E402

TEXTS = ("wikitext2-valid", "wikitext2-test", "grimm-tales")
VOCAB_SIZE = 8000
MASKED_LM_PROB = 0.15
PER_ROW = pretraining_data.DEFAULT_MAX_SEQUENCES_PER_ROW
SEED = 12345


def make_files(work, seq_length, vocab_file, text_file):
    """{"unpacked" | "packed": (path, max_predictions per record, P or None, records, real tokens)}."""
    max_predictions_per_seq = max(1, round(MASKED_LM_PROB * seq_length))
    files = {}
    for name, pack in (("unpacked", False), ("packed", True)):
        path = os.path.join(work, f"{name}_{seq_length}.tfrecord")
        created = pretraining_data.create_pretraining_data(
            text_file, path, vocab_file, max_seq_length=seq_length, max_predictions_per_seq=max_predictions_per_seq,
            dupe_factor=1, random_seed=SEED, masked_lm_prob=MASKED_LM_PROB, input_format="paragraphs", pack=pack,
            max_sequences_per_row=PER_ROW)
        per_row = PER_ROW if pack else None
        real = sum(int(np.count_nonzero(record["input_mask"].numpy())) for record in
                   tf.data.TFRecordDataset(path).map(
                       lambda s, m=created.max_predictions, p=per_row: pretraining_data.parse_pretraining_example(
                           s, seq_length, m, p)))
        files[name] = (path, created.max_predictions, per_row, created.records, real)
    assert files["packed"][4] == files["unpacked"][4], "the packed file holds other tokens than the unpacked one"
    return files


def trainer_runner(config, path, seq_length, max_predictions, per_row, batch_size, steps):
    """`run()`: `steps` training steps of a fresh Trainer on the file at `path`."""
    trainer = training_loop.Trainer(
        strategy=tf.distribute.get_strategy(),
        model_fn=lambda: keras_bert.BertPretrainer(
            keras_bert.BertEncoder(config, max_sequences_per_row=per_row) if per_row else config),
        optimizer_fn=lambda: optimization.create_optimizer("adamw", 1e-4, 10**6, num_warmup_steps=10**4),
        output_dir=tempfile.mkdtemp(prefix="pretraining_packing_"),
        global_batch_size=batch_size, log_steps=10**9, save_checkpoints_steps=10**9,
    )
    dataset = pretraining_input.pretraining_dataset(
        [path], batch_size, seq_length, max_predictions, max_sequences_per_row=per_row, is_training=True,
        seed=SEED).map(pretraining.model_features)
    iterator = iter(trainer.strategy.distribute_datasets_from_function(lambda ctx: dataset))
    train_function = trainer._build_train_function()
    n = tf.constant(steps)

    def run():
        sums = train_function(iterator, n)
        return float(sums["masked_lm_loss_sum"])

    return run


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--seq_lengths", default="128,512")
    parser.add_argument("--batch_tokens", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    lines = [line for name in TEXTS for line in real_text.pretrain(name)]
    if args.quick:
        args.preset, args.seq_lengths, args.rounds, args.steps, lines = "tiny", "64", 1, 2, lines[:400]
    work = tempfile.mkdtemp(prefix="pretraining_packing_")
    text_file = os.path.join(work, "text.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    vocab_file = os.path.join(work, "vocab.txt")
    vocabulary.write_vocabulary(vocabulary.learn_vocabulary(lines, VOCAB_SIZE, num_iterations=1), vocab_file)
    config = keras_bert.BertConfig.from_preset(args.preset).replace(
        vocab_size=len(open(vocab_file, encoding="utf-8").read().splitlines()))
    tables, notes, counted = [], [], []
    for seq_length in (int(s) for s in args.seq_lengths.split(",")):
        files = make_files(work, seq_length, vocab_file, text_file)
        batch_size = max(1, args.batch_tokens // seq_length)
        instances = files["unpacked"][3]
        runners, tokens_per_record = {}, {}
        for name, (path, max_predictions, per_row, records, real) in files.items():
            runners[f"keras_bert {name}"] = trainer_runner(config, path, seq_length, max_predictions, per_row,
                                                           batch_size, args.steps)
            tokens_per_record[f"keras_bert {name}"] = real / records
            counted.append(f"S={seq_length} {name}: {instances} instances in {records} records, "
                           f"{records * seq_length / real:.3f} computed tokens per real token"
                           + (f", up to {per_row} a row" if per_row else ""))
        # time_rounds counts items per call: records; scaled to real tokens after.
        per_round = common.time_rounds(runners, batch_size * args.steps, args.rounds, 1, warmup_calls=1)
        rows = [common.row(name, [v * tokens_per_record[name] for v in values], True,
                           note=f"{tokens_per_record[name]:.1f} real tokens a record")
                for name, values in per_round.items()]
        table = {
            "caption": (f"{args.preset} BertPretrainer, S={seq_length}, batch {batch_size} records, fp32, "
                        f"real pretraining instances ({instances}); median of {args.rounds} rounds x "
                        f"{args.steps} steps"),
            "unit": "real tokens/s", "baseline": "keras_bert unpacked", "rows": rows,
        }
        common.print_table(table)
        tables.append(table)
    notes.append("Counted: " + "; ".join(counted) + ".")
    section = {
        "name": "pretraining_packing",
        "title": "Pretraining on packed rows (create-pretraining-data --pack)",
        "setup": (f"The same instances of the shared pretraining text (WikiText-2 valid+test, Grimm), once one "
                  f"per record and once packed (up to {PER_ROW} a row); keras_bert's Trainer on each file as "
                  "`keras-bert pretrain` reads it; real tokens per second. Versions: "
                  + common.versions("tensorflow", "keras")),
        "tables": tables,
        "notes": notes,
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
