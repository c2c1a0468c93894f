"""Does packing keep the accuracy of random batches? SST-2 dev accuracy after fine-tuning: packed rows
against random-order padded batches and length buckets, several seeds each (issue 21).

    PYTHONPATH=. python benchmarks/packing_accuracy.py [--rows 8000] [--seeds 3] [--epochs 2]
        [--preset tiny] [--learning_rate 1e-3] [--batch_size 32] [--max_seq_length 128]
        [--dev_rows N] [--json_out F] [--quick]

Why: grouping examples of similar length into a batch makes batches less
random, and that is known to cost accuracy (Hugging Face's group_by_length
lost ~1.4 points against random batches in an earlier measurement here).
Packing fills rows from examples taken in a random order, so a batch of rows
is still a random draw of examples; this run checks that it trains as well.

Every run is the product's own fine-tuning program,
`keras_bert.trainers.programs.finetuning.run_finetuning(FinetuningOptions(...))`
(what `keras-bert finetune --do_train --do_eval` runs), on:

  data   the first --rows rows of SST-2 train (../shared/data/sst2/train.tsv,
         columns `sentence` and `label`, written to a scratch TSV), scored on
         SST-2 dev (dev.tsv; its first --dev_rows rows, default all 6,735);
         an uncased WordPiece vocabulary (up to 8,000 entries) learned from
         the training slice alone.
  model  random init (no checkpoint is available offline) of --preset
         (default tiny, L2/H128) with the vocabulary's size, passed as
         --bert_config_file; dropout as the config's (0.1).
  optimizer  AdamW, peak lr --learning_rate (default 1e-3: the model starts
         from scratch; 2e-5 is for pretrained weights), 10% linear warmup
         then linear decay, weight decay 0.01, clipping 1.0 (finetune's
         defaults); --epochs epochs (default 2: one already reaches ~0.77 dev
         accuracy; the dev set's majority class is 0.555), the same for every variant.
  evaluation  once, after the last step (`save_checkpoints_steps` above the
         run's steps, so finetune's best-checkpoint choice sees one model):
         the dev accuracy of the final weights.

Variants, each run with --seeds seeds (12345, 12346, ...; `--random_seed`
seeds the weights, dropout and the shuffles), seed by seed in turn:

  random-order padded  the examples shuffled, batches of --batch_size taken
         as they come, each padded to --max_seq_length. The product has no
         switch to turn its length buckets off, so this run builds that input
         here from the same features: the training run's
         `finetuning._train_dataset_fn` is replaced (for this variant only,
         by `unittest.mock.patch`) with `padded_dataset_fn` below (a seeded
         `tf.data` shuffle of the already padded examples, batched, repeated).
  length buckets  `finetune` as it runs by default (jit_compile off): the
         shuffled examples grouped into buckets 16/32/64/128
         (`dynamic_padding.bucket_by_length`), each batch padded to its
         longest member.
  packed  `finetune --packing` (max_sequences_per_row 32, the default): each
         epoch a new seeded order, packed into rows of --max_seq_length
         (`trainers/data/packing.py`), each example attending only to itself,
         a loss per example. --train_batch_size counts rows: rows per batch =
         round(batch_size / mean examples per row), the mean computed here by
         `packing.pack_rows` over the training slice's tokenized lengths in
         the first seed's first-epoch order. A step then holds ~batch_size
         examples, so an epoch has ~the same number of steps as the others
         and the same learning rate, warmup share and schedule apply: the
         same examples per step and steps per epoch (the table gives each
         variant's steps).

Reported per variant: the mean dev accuracy over seeds, the standard
deviation (n-1), each seed's value, and examples/s (examples trained /
the wall time of the whole run_finetuning call: tokenizing, building, training
and the final dev pass; a secondary figure, on a busy 2-core machine). Then
packed minus random-order padded, with its standard error
sqrt(s_packed^2 / n + s_random^2 / n). Target (issue 21): packed within seed
noise of random-order padded batches, |difference| <= 2 SE (met or missed as
measured; with one seed there is no noise estimate, so not measured). The
buckets' difference is reported the same way; no target for them.

bfloat16 training (issue 22: its accuracy cost), not in the default
variants: `length buckets bf16` and `packed bf16` are their float32 twins
run with `--mixed_precision=mixed_bfloat16` (bf16 compute, float32
variables; what `auto` picks on CPUs with bf16 instructions), each compared
with its twin the same way (the twin must run too):
`--variants "length buckets,length buckets bf16"` is the suite's
`training_accuracy_bf16` section. Every variant states its precision
(`float32` or `mixed_bfloat16`), never `auto`, so a run means the same on
every CPU.
--quick: 256 rows, 512 dev rows, 1 seed, 1 epoch (a smoke run; its figures
mean nothing).
"""

import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from unittest import mock

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from benchmarks import common  # noqa: E402
from keras_bert.text import vocabulary  # noqa: E402
from keras_bert.trainers.data import classification_data  # noqa: E402
from keras_bert.trainers.data import packing  # noqa: E402
from keras_bert.trainers.engine import dynamic_padding  # noqa: E402
from keras_bert.trainers.programs import finetuning  # noqa: E402
from references import real_text  # noqa: E402

RANDOM, BUCKETS, PACKED = "random-order padded", "length buckets", "packed"
BUCKETS_BF16, PACKED_BF16 = "length buckets bf16", "packed bf16"
VARIANTS = (RANDOM, BUCKETS, PACKED, BUCKETS_BF16, PACKED_BF16)
DEFAULT_VARIANTS = (RANDOM, BUCKETS, PACKED)
# A bf16 variant is its float32 twin trained under mixed_bfloat16; its cost is measured against the twin.
FLOAT32_TWIN = {BUCKETS_BF16: BUCKETS, PACKED_BF16: PACKED}
FIRST_SEED = 12345
VOCAB_SIZE = 8000
LABELS = ("0", "1")
MAX_SEQUENCES_PER_ROW = finetuning.FinetuningOptions.__dataclass_fields__["max_sequences_per_row"].default


def sst2_file(split):
    return os.path.join(real_text.DATA_DIR, "sst2", f"{split}.tsv")


def head_tsv(source, target, rows):
    """Writes the header and the first `rows` rows of the TSV `source` to `target` (all if None)."""
    with open(source, encoding="utf-8") as f:
        lines = f.readlines()
    with open(target, "w", encoding="utf-8") as f:
        f.writelines(lines[: None if rows is None else rows + 1])
    return len(lines[1:][:rows])


def padded_dataset_fn(features, strategy, options, preprocessor):
    """Random-order padded batches, in place of `finetuning._train_dataset_fn`
    (same signature): the training features (already `[N, max_seq_length]`)
    shuffled with `options.random_seed`, a new order each epoch, batched as
    they come (`[batch, max_seq_length]`), repeated."""
    del strategy, preprocessor  # One replica; the features are padded already.

    def dataset_fn(input_context):
        batch_size = input_context.get_per_replica_batch_size(options.train_batch_size)
        dataset = tf.data.Dataset.from_tensor_slices(dict(features))
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        dataset = dataset.shuffle(len(features["input_mask"]), seed=options.random_seed,
                                  reshuffle_each_iteration=True).repeat()
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def variant_input(variant):
    """The context a variant's run goes in: random-order padded swaps the training input."""
    if variant == RANDOM:
        return mock.patch.object(finetuning, "_train_dataset_fn", padded_dataset_fn)
    return contextlib.nullcontext()


def mean_examples_per_row(lengths, seq_length, seed):
    """Examples per packed row: `packing.pack_rows` over `lengths` in the
    order `--packing`'s first epoch draws for `seed` (`_packed_epochs`)."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    return len(lengths) / len(packing.pack_rows(lengths[order], seq_length, MAX_SEQUENCES_PER_ROW))


def compare(values, reference):
    """`values` against `reference` (lists of per-seed scores, equal length n):
    dict of `difference` (mean - mean), `se` = sqrt(s1^2/n + s2^2/n) (sample
    standard deviations), `within_noise` (|difference| <= 2 se; None with
    fewer than 2 seeds, where there is no noise estimate)."""
    if len(values) != len(reference) or not values:
        raise ValueError(f"compare: needs equal, non-empty seed lists, got {len(values)} and {len(reference)}")
    n = len(values)
    difference = statistics.fmean(values) - statistics.fmean(reference)
    if n < 2:
        return {"difference": difference, "se": None, "within_noise": None}
    se = math.sqrt(statistics.variance(values) / n + statistics.variance(reference) / n)
    return {"difference": difference, "se": se, "within_noise": abs(difference) <= 2 * se}


def noise_status(comparison):
    """'met', 'missed' or 'not measured (1 seed)' for a `compare` result."""
    if comparison["within_noise"] is None:
        return "not measured (1 seed: no noise estimate)"
    return "met" if comparison["within_noise"] else "missed"


def format_comparison(comparison):
    """'+0.31 points (SE 0.42)': a difference of accuracies and its SE, in points."""
    se = "1 seed: no SE" if comparison["se"] is None else f"SE {100 * comparison['se']:.2f}"
    return f"{100 * comparison['difference']:+.2f} points ({se})"


def accuracy_table(results, comparisons, facts):
    """The section's table: a row per variant, rendered as its own Markdown."""
    lines = ["| variant | dev accuracy (mean) | std over seeds | seeds | against | "
             "examples/s (run wall time) | batch, steps |", "|---|---:|---:|---|---|---:|---|"]
    rows = []
    for variant, runs in results.items():
        accuracies = [r["accuracy"] for r in runs]
        mean = statistics.fmean(accuracies)
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else None
        speed = statistics.median(r["examples_per_second"] for r in runs)
        against = FLOAT32_TWIN.get(variant, RANDOM)
        versus = (f"{format_comparison(comparisons[variant])} vs {against}" if variant in comparisons
                  else "- (the reference)" if variant == RANDOM else "-")
        seeds = ", ".join(f"{a:.4f}" for a in accuracies)
        batch = facts["batch"][variant]
        lines.append(f"| {variant} | {mean:.4f} | {'-' if std is None else f'{std:.4f}'} | {seeds} | {versus} | "
                     f"{speed:.0f} | {batch} |")
        rows.append({"name": variant, "value": mean, "low": min(accuracies), "high": max(accuracies), "ours": True,
                     "mfu": None, "std": std, "seeds": accuracies, "examples_per_second": speed,
                     "note": f"{batch}; {versus}"})
    return {"caption": facts["caption"], "unit": "dev accuracy", "baseline": RANDOM, "target": None,
            "rows": rows, "markdown": "\n".join(lines)}


def run_variant(variant, seed, args, paths, rows_per_batch):
    """One run_finetuning call; returns the dev accuracy, steps and examples/s of the run."""
    packed = FLOAT32_TWIN.get(variant, variant) == PACKED
    options = finetuning.FinetuningOptions(
        task="classification", output_dir=tempfile.mkdtemp(prefix=f"packing_accuracy_{seed}_", dir=paths["work"]),
        train_file=paths["train"], eval_file=paths["dev"], do_train=True, do_eval=True,
        text_a_column="sentence", label_column="label", label_list=",".join(LABELS), file_format="tsv",
        vocab_file=paths["vocab"], bert_config_file=paths["config"], do_lower_case=True,
        max_seq_length=args.max_seq_length, train_batch_size=rows_per_batch if packed else args.batch_size,
        eval_batch_size=args.batch_size, learning_rate=args.learning_rate, num_train_epochs=float(args.epochs),
        random_seed=seed, jit_compile=False, packing=packed,
        # Stated, not "auto" (which picks bf16 on bf16 CPUs): each variant's precision on every machine.
        mixed_precision="mixed_bfloat16" if variant in FLOAT32_TWIN else "float32",
        save_checkpoints_steps=10 ** 9, log_steps=10 ** 9,  # One checkpoint and dev pass, at the end.
    )
    start = time.perf_counter()
    with variant_input(variant):
        outcome = finetuning.run_finetuning(options)
    seconds = time.perf_counter() - start
    return {"accuracy": float(outcome["eval"]["accuracy"]), "steps": int(outcome["train"]["global_step"]),
            "examples_per_second": args.epochs * paths["num_train"] / seconds, "seconds": seconds}


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--rows", type=int, default=8000, help="the first this many SST-2 train rows")
    parser.add_argument("--dev_rows", type=int, default=None, help="the first this many SST-2 dev rows (default all)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per variant (seeds 12345, 12346, ...)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--preset", default="tiny", help="model size, random init")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--batch_size", type=int, default=32, help="examples per step (packed: rows chosen to match)")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated, of: " + ", ".join(VARIANTS) + " (a bf16 variant with its float32 twin)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.dev_rows, args.seeds, args.epochs = min(args.rows, 256), 512, 1, 1
    variants = [v for v in args.variants.split(",") if v]
    if not variants or set(variants) - set(VARIANTS):
        parser.error(f"--variants: one or more of {', '.join(VARIANTS)}, got {args.variants!r}")
    for variant in set(variants) & set(FLOAT32_TWIN):
        if FLOAT32_TWIN[variant] not in variants:
            parser.error(f"--variants: {variant!r} is measured against {FLOAT32_TWIN[variant]!r}; add it")
    if not os.path.exists(sst2_file("train")):
        parser.error(f"no SST-2 data at {sst2_file('train')}")

    start = time.perf_counter()
    work = tempfile.mkdtemp(prefix="packing_accuracy_")
    paths = {"work": work, "train": os.path.join(work, "train.tsv"), "dev": os.path.join(work, "dev.tsv"),
             "vocab": os.path.join(work, "vocab.txt"), "config": os.path.join(work, "bert_config.json")}
    paths["num_train"] = head_tsv(sst2_file("train"), paths["train"], args.rows)
    num_dev = head_tsv(sst2_file("dev"), paths["dev"], args.dev_rows)
    examples, _ = classification_data.read_examples(paths["train"], "sentence", None, "label", format="tsv",
                                                    label_list=list(LABELS))
    vocabulary.write_vocabulary(
        vocabulary.learn_vocabulary([e.text_a for e in examples], VOCAB_SIZE, num_iterations=1), paths["vocab"])
    preprocessor = keras_bert.BertPreprocessor(paths["vocab"], lowercase=True, seq_length=args.max_seq_length)
    config = keras_bert.BertConfig.from_preset(args.preset, vocab_size=len(preprocessor.vocabulary))
    config.save(paths["config"])
    features = classification_data.examples_to_features(examples, preprocessor, label_list=list(LABELS))
    lengths = features["input_mask"].sum(-1)
    per_row = mean_examples_per_row(lengths, args.max_seq_length, FIRST_SEED)
    rows_per_batch = max(1, round(args.batch_size / per_row))
    print(f"{paths['num_train']} train sentences (length mean {lengths.mean():.1f}, max {lengths.max()} wordpieces), "
          f"{num_dev} dev; vocabulary {config.vocab_size}; packed: {per_row:.2f} examples a row -> batch "
          f"{rows_per_batch} rows (~{rows_per_batch * per_row:.1f} examples a step); prepared in "
          f"{time.perf_counter() - start:.1f}s", flush=True)

    results = {v: [] for v in VARIANTS if v in variants}  # In the table's order.
    for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):  # Seed by seed, the variants in turn.
        for variant in variants:
            run = run_variant(variant, seed, args, paths, rows_per_batch)
            results[variant].append(run)
            tf.keras.backend.clear_session()
            print(f"  seed {seed} {variant:<20} dev accuracy {run['accuracy']:.4f}, {run['steps']} steps, "
                  f"{run['seconds']:.0f}s ({run['examples_per_second']:.0f} examples/s)", flush=True)

    # Each variant against its reference: a bf16 variant against its float32 twin, the others against
    # random-order padded batches (when they ran).
    comparisons = {}
    for variant in variants:
        against = FLOAT32_TWIN.get(variant, RANDOM)
        if variant != RANDOM and against in results:
            comparisons[variant] = compare([r["accuracy"] for r in results[variant]],
                                           [r["accuracy"] for r in results[against]])
    steps = {v: results[v][0]["steps"] for v in variants}
    buckets = "/".join(map(str, dynamic_padding.default_bucket_boundaries(args.max_seq_length)))
    batches = {RANDOM: f"{args.batch_size} examples padded to {args.max_seq_length}",
               BUCKETS: f"{args.batch_size} examples, buckets {buckets}",
               PACKED: f"{rows_per_batch} rows (~{rows_per_batch * per_row:.1f} examples)"}
    facts = {
        "caption": (f"SST-2 dev accuracy ({num_dev:,} sentences) after {args.epochs} epoch(s) on the first "
                    f"{paths['num_train']:,} train sentences, {args.preset} (L{config.num_layers}/H{config.hidden_size}"
                    f") from random init, AdamW lr {args.learning_rate:g}, {args.seeds} seed(s) per variant"),
        # Each variant's batches (a bf16 variant's are its twin's) and its steps.
        "batch": {v: f"{batches[FLOAT32_TWIN.get(v, v)]}, {steps[v]} steps" for v in variants},
    }
    table = accuracy_table(results, comparisons, facts)
    target = None
    if PACKED in comparisons:
        target = (f"Target (issue 21): packed within seed noise of random-order padded batches (|difference| <= 2 SE): "
                  f"{noise_status(comparisons[PACKED])}; {format_comparison(comparisons[PACKED])}.")
    print(f"\n{table['caption']}\n{table['markdown']}")
    if target:
        print(f"\n{target}")

    notes = [target] if target else []
    if BUCKETS in comparisons:
        notes.append(f"Length buckets against random-order padded batches: {format_comparison(comparisons[BUCKETS])}, "
                     f"within 2 SE: {noise_status(comparisons[BUCKETS])} (no target; issue 21 asks packed to match "
                     "random batches, not buckets).")
    for variant in set(FLOAT32_TWIN) & set(comparisons):
        notes.append(f"bfloat16 training's accuracy cost (issue 22): {variant} (mixed_bfloat16: bf16 compute, float32 "
                     f"variables) against {FLOAT32_TWIN[variant]} (float32), the same seeds: "
                     f"{format_comparison(comparisons[variant])}, within 2 SE: {noise_status(comparisons[variant])}.")
    notes.append(
        f"Packed batch: round({args.batch_size} / {per_row:.2f} examples per row) = {rows_per_batch} rows, so a step "
        f"trains ~{rows_per_batch * per_row:.1f} examples and an epoch ~the same number of steps as {args.batch_size} "
        "examples a step: the same learning rate and schedule (warmup 10%, linear decay) apply to all. Random-order "
        "padded batches are built by this script (the product has no switch to turn its length buckets off): "
        "finetuning._train_dataset_fn replaced for that variant by a seeded shuffle of the padded examples.")
    section = {
        "name": "packing_accuracy",
        "title": ("bfloat16 training and accuracy (SST-2 dev, several seeds)" if set(variants) & set(FLOAT32_TWIN)
                  else "Packing and accuracy (SST-2 dev, several seeds)"),
        "command": "python benchmarks/packing_accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": (
            f"Each run is keras-bert finetune's program (run_finetuning) from random init: {args.preset} with an "
            f"uncased WordPiece vocabulary of {config.vocab_size} learned from the training slice, dropout "
            f"{config.hidden_dropout_prob:g}, "
            f"AdamW lr {args.learning_rate:g} (10% warmup, linear decay, weight decay 0.01, clipping 1.0), "
            f"{args.batch_size} examples a step, {args.epochs} epoch(s), max length {args.max_seq_length}, "
            "float32 (--mixed_precision=float32) unless the variant says bf16 (--mixed_precision=mixed_bfloat16), "
            "no XLA; dev accuracy of the final weights. Seeds 12345.. drive the weights, dropout and shuffles; "
            "variants run in turn seed by seed. examples/s: examples trained / wall time of the whole run "
            f"(setup and the dev pass included). {common.machine()}. Versions: "
            + common.versions("tensorflow", "keras")
        ),
        "tables": [table],
        "notes": notes,
        "results": {v: [{k: r[k] for k in ("accuracy", "steps", "seconds")} for r in results[v]] for v in variants},
        "comparisons": comparisons,
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
