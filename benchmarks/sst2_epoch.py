"""A real-length fine-tuning epoch on SST-2: keras_bert's length buckets against Hugging Face.

    PYTHONPATH=. python benchmarks/sst2_epoch.py [--rows 8192] [--preset mini] [--batch_size 32]
        [--rounds 3] [--pad128_steps 64] [--torch_threads N] [--skip ...] [--json_out F] [--quick]

Data: the first --rows sentences of SST-2 train (../shared/data/sst2/train.tsv,
read with `keras_bert.trainers.data.classification_data.read_examples`, labels 0/1),
tokenized once, before anything is timed, with `keras_bert.BertPreprocessor`
(max length 128; an uncased WordPiece vocabulary learned from the first
5,000 train sentences, as benchmarks/serving.py does). Hugging Face's
`BertTokenizerFast` on that vocabulary gives the same ids: checked on the
first 256 sentences before timing. SST-2 sentences are short (most under
32 wordpieces), so how batches are padded decides most of the work.

Model: a `BertClassifier` of --preset size (default mini, the preset's
30522-entry vocabulary), 2 classes, dropout 0.1, fp32 on the CPU; every
contender starts from the same seeded weights (copied into Hugging Face by
references/peers.py), checked before timing: the loss of the first 32
examples with dropout off agrees within 1e-3. Optimizer as in
benchmarks/finetuning_step.py: AdamW lr 2e-5, weight decay 0.01 except
biases and LayerNorm, eps 1e-6, global-norm clipping 1.0; batch 32.

Contenders (what one epoch, --rows / batch steps, runs):
  keras_bert          the fine-tuning input path, `keras_bert.trainers.programs.finetuning.
                      _train_dataset_fn` (unpadded examples, shuffled,
                      grouped into length buckets 16/32/64/128, each batch
                      padded to its longest member, prefetched), then
                      `Trainer._train_function` one step per call: what
                      `keras-bert finetune` runs on a CPU.
  keras_bert XLA      the same Trainer with jit_compile, on the same
                      buckets padded to their boundaries (what
                      `_train_dataset_fn` builds for `finetune --jit_compile`
                      and on TPUs: four batch shapes, so XLA compiles four
                      programs; padded to the longest member, every new
                      width would be a new program).
  keras_bert pad 128  the same Trainer (no XLA) without the fast path: the
                      shuffled examples batched and padded to 128 as they
                      come. Every step of it has the same shape and cost, so
                      its rate is taken over the first --pad128_steps steps
                      of each epoch (default 64 of 256), to keep the run
                      short.
  HF torch            the usual Hugging Face recipe: `BertForSequenceClass-
                      ification` (sdpa), a torch `DataLoader(shuffle=True)`
                      over the tokenized examples with `DataCollatorWith-
                      Padding` (each batch padded to its longest sentence),
                      `torch.optim.AdamW`, `clip_grad_norm_(1.0)`,
                      `torch.set_num_threads(os.cpu_count())`,
                      OMP_WAIT_POLICY PASSIVE unless set (see
                      `finetuning_step.load_note`).

Each contender is warmed up first (keras_bert: a few steps of its input,
and with XLA one batch of every bucket shape, which compiles each program;
the compile time is reported in a note, not in the epoch time). Then every
round times one full epoch of every contender in turn, input pipeline
included (the examples/s of the epoch: examples trained / wall time);
rounds interleave the contenders, a row is the median over rounds. Target:
the best keras_bert row >= 2x HF torch. --quick: 256 rows, tiny, 1 epoch.
"""

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Before torch loads its libgomp: with OpenMP's default active spin-wait, torch's threads ran 3-20x
# slower whenever another process held one of this 2-core machine's cores; passive waiting does not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks import finetuning_step  # noqa: E402
from keras_bert.trainers.engine import dynamic_padding  # noqa: E402
from references import real_text  # noqa: E402

MAX_SEQ_LENGTH = 128
LABELS = ["0", "1"]
SEED = 12345
VOCAB_SENTENCES = 5000
VOCAB_SIZE = 8000
CHECK_SENTENCES = 256
WARMUP_STEPS = 4

CONTENDERS = ("keras_bert", "keras_bert XLA", "keras_bert pad 128", "HF torch")
OURS = ("keras_bert", "keras_bert XLA", "keras_bert pad 128")


# ------------------------------------------------------------------ the data


def sst2_path():
    return os.path.join(real_text.DATA_DIR, "sst2", "train.tsv")


def prepare(rows, work_dir):
    """(features of the first `rows` SST-2 train sentences, the preprocessor, the sentences)."""
    from keras_bert.text import vocabulary
    from keras_bert.trainers.data import classification_data

    vocab_file = os.path.join(work_dir, "vocab.txt")
    vocabulary.write_vocabulary(
        vocabulary.learn_vocabulary(real_text.sst2("train")[:VOCAB_SENTENCES], VOCAB_SIZE, num_iterations=1),
        vocab_file,
    )
    preprocessor = keras_bert.BertPreprocessor(vocab_file, lowercase=True, seq_length=MAX_SEQ_LENGTH)
    examples, _ = classification_data.read_examples(sst2_path(), "sentence", None, "label", format="tsv",
                                                    label_list=LABELS)
    examples = examples[:rows]
    features = classification_data.examples_to_features(examples, preprocessor, label_list=LABELS)
    return features, preprocessor, [e.text_a for e in examples]


def hf_tokenizer(preprocessor):
    import transformers

    vocab = {token: i for i, token in enumerate(preprocessor.vocabulary)}
    return transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True)


def check_tokenizers_agree(tokenizer, features, sentences):
    """HF's tokenizer gives our ids on the first CHECK_SENTENCES sentences."""
    count = min(CHECK_SENTENCES, len(sentences))
    theirs = tokenizer(sentences[:count], truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"]
    for i, ids in enumerate(theirs):
        ours = features["input_word_ids"][i, : features["input_mask"][i].sum()].tolist()
        if ours != ids:
            raise AssertionError(f"sentence {i} ({sentences[i]!r}): our ids {ours}, BertTokenizerFast {ids}")
    return count


# ---------------------------------------------------------------- keras_bert


def finetuning_options(batch_size, jit_compile=False):
    from keras_bert.trainers.programs import finetuning

    return finetuning.FinetuningOptions(
        task="classification", output_dir=tempfile.mkdtemp(prefix="sst2_epoch_"), max_seq_length=MAX_SEQ_LENGTH,
        train_batch_size=batch_size, random_seed=SEED, jit_compile=jit_compile,
    )


def bucketed_dataset_fn(features, batch_size, preprocessor, jit_compile=False):
    """`keras-bert finetune`'s own training input (`finetuning._train_dataset_fn`):
    each batch padded to its longest member, or with `jit_compile` to its
    bucket's boundary (4 shapes, each bucket's partial batch held back)."""
    from keras_bert.trainers.programs import finetuning

    return finetuning._train_dataset_fn(features, tf.distribute.get_strategy(),
                                        finetuning_options(batch_size, jit_compile), preprocessor)


def padded_dataset_fn(features, batch_size):
    """Shuffled examples, batched as they come, every batch padded to 128."""

    def dataset_fn(input_context):
        dataset = tf.data.Dataset.from_tensor_slices(dict(features))
        dataset = dataset.shuffle(len(features["input_mask"]), seed=SEED, reshuffle_each_iteration=True).repeat()
        return dataset.batch(input_context.get_per_replica_batch_size(batch_size), drop_remainder=True).prefetch(
            tf.data.AUTOTUNE
        )

    return dataset_fn


def shape_batches(features, batch_size, boundaries):
    """One batch per bucket shape `[batch_size, boundary]`, as numpy dicts."""
    batches = []
    lengths = features["input_mask"].sum(-1)
    for boundary in boundaries:
        order = np.argsort(np.abs(lengths - boundary), kind="stable")[:batch_size]  # Real rows, cut or padded.
        batch = {}
        for key, value in features.items():
            rows = value[order]
            if rows.ndim == 2:
                rows = rows[:, :boundary]
            batch[key] = rows
        batches.append(batch)
    return batches


def warm_up_shapes(trainer, batches):
    """Runs one train step on each batch through the trainer's train function
    (compiling each shape under XLA); returns the seconds per batch."""
    specs = {k: tf.TensorSpec([v.shape[0]] + [None] * (v.ndim - 1), tf.as_dtype(v.dtype))
             for k, v in batches[0].items()}

    def generate():
        yield from batches

    dataset = tf.data.Dataset.from_generator(generate, output_signature=specs)
    iterator, _ = trainer._make_iterator(lambda input_context: dataset)
    seconds = []
    one = tf.constant(1)
    for _ in batches:
        start = time.perf_counter()
        sums = trainer._train_function(iterator, one)
        float(sums["classification_loss_sum"])
        seconds.append(time.perf_counter() - start)
    return seconds


def count_widths(dataset_fn, steps):
    """The distinct padded widths of the first `steps` batches of an input."""
    dataset = dataset_fn(tf.distribute.InputContext(1, 0, 1)).take(steps)
    return sorted({int(batch["input_word_ids"].shape[1]) for batch in dataset})


# ------------------------------------------------------------------ HF torch


def hf_epoch_runner(reference, features, tokenizer, batch_size):
    """(run() -> examples trained in one epoch, the model): the DataLoader +
    DataCollatorWithPadding loop, one epoch per call."""
    import torch
    import transformers

    lengths = features["input_mask"].sum(-1)
    examples = [
        {
            "input_ids": features["input_word_ids"][i, :n].tolist(),
            "token_type_ids": features["input_type_ids"][i, :n].tolist(),
            "attention_mask": features["input_mask"][i, :n].tolist(),
            "labels": int(features["labels"][i]),
        }
        for i, n in enumerate(lengths)
    ]
    model = finetuning_step.hf_classifier(reference, reference.encoder.config.hidden_dropout_prob)
    optimizer = finetuning_step.hf_optimizer(model)
    generator = torch.Generator().manual_seed(SEED)
    loader = torch.utils.data.DataLoader(
        examples, batch_size=batch_size, shuffle=True, generator=generator,
        collate_fn=transformers.DataCollatorWithPadding(tokenizer),
    )

    def run(max_steps=None):
        count = 0
        for step, inputs in enumerate(loader):
            if max_steps is not None and step >= max_steps:
                break
            finetuning_step.hf_train_step(model, optimizer, dict(inputs))
            count += len(inputs["labels"])
        return count

    return run, model


# -------------------------------------------------------------------- timing


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--rows", type=int, default=8192, help="the first this many SST-2 train rows")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per contender")
    parser.add_argument("--pad128_steps", type=int, default=64,
                        help="steps per epoch timed for 'keras_bert pad 128' (fixed shape: the rate of any steps)")
    parser.add_argument("--torch_threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out: " + ", ".join(CONTENDERS))
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.preset = min(args.rows, 256), 1, "tiny"
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(CONTENDERS):
        parser.error(f"--skip: unknown {sorted(skip - set(CONTENDERS))}; known: {', '.join(CONTENDERS)}")
    if not os.path.exists(sst2_path()):
        parser.error(f"no SST-2 data at {sst2_path()}")

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.torch_threads)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    features, preprocessor, sentences = prepare(args.rows, tempfile.mkdtemp(prefix="sst2_epoch_"))
    tokenizer = hf_tokenizer(preprocessor)
    checked_ids = check_tokenizers_agree(tokenizer, features, sentences)
    lengths = features["input_mask"].sum(-1)
    steps = len(lengths) // args.batch_size
    if steps < 1:
        parser.error(f"--rows={args.rows} gives no full batch of {args.batch_size}")
    print(f"{len(lengths)} SST-2 sentences tokenized in {time.perf_counter() - start:.1f}s: length mean "
          f"{lengths.mean():.1f}, median {np.median(lengths):.0f}, max {lengths.max()} wordpieces; HF's tokenizer "
          f"agrees on the first {checked_ids}; one epoch = {steps} steps of {args.batch_size}", flush=True)

    config = keras_bert.BertConfig.from_preset(args.preset)
    reference = finetuning_step.reference_classifier(config)
    first = {k: v[: args.batch_size] for k, v in features.items()}
    reference_loss = finetuning_step.keras_bert_loss(reference, first)
    batch_size = args.batch_size
    pad_steps = max(1, min(args.pad128_steps, steps))

    def add_keras_bert(name, jit, dataset_fn, warm_steps, epoch_steps=steps):
        trainer = finetuning_step.keras_bert_trainer(reference, batch_size, jit=jit)
        losses[name] = finetuning_step.keras_bert_loss(trainer.model, first)
        run = finetuning_step.trainer_steps(trainer, dataset_fn)

        def epoch():
            run(epoch_steps)
            return epoch_steps * batch_size

        runners[name] = epoch
        warm_ups[name] = lambda: run(warm_steps)
        return trainer

    runners, losses, warm_ups, compile_notes, dynamic_widths = {}, {}, {}, [], None
    start = time.perf_counter()
    if "keras_bert" not in skip:
        dataset_fn = bucketed_dataset_fn(features, batch_size, preprocessor)
        dynamic_widths = count_widths(dataset_fn, steps)
        add_keras_bert("keras_bert", False, dataset_fn, WARMUP_STEPS)
    if "keras_bert XLA" not in skip:
        boundaries = dynamic_padding.default_bucket_boundaries(MAX_SEQ_LENGTH)
        dataset_fn = bucketed_dataset_fn(features, batch_size, preprocessor, jit_compile=True)
        trainer = add_keras_bert("keras_bert XLA", True, dataset_fn, WARMUP_STEPS)
        print("  keras_bert XLA: compiling one program per bucket shape", flush=True)
        seconds = warm_up_shapes(trainer, shape_batches(features, batch_size, boundaries))
        compile_notes.append(
            "keras_bert XLA compiles one train-step program per bucket shape before timing: "
            + ", ".join(f"[{batch_size}, {b}] {s:.1f}s" for b, s in zip(boundaries, seconds))
            + f" (the first step of each shape, compile included; {sum(seconds):.0f}s in all)."
        )
        print(f"  {compile_notes[-1]}", flush=True)
    if "keras_bert pad 128" not in skip:
        add_keras_bert("keras_bert pad 128", False, padded_dataset_fn(features, batch_size), 2, pad_steps)
    if "HF torch" not in skip:
        run, model = hf_epoch_runner(reference, features, tokenizer, batch_size)
        losses["HF torch"] = finetuning_step.hf_loss(model, first)
        runners["HF torch"] = run
        warm_ups["HF torch"] = lambda run=run: run(max_steps=WARMUP_STEPS)
    finetuning_step.check_same_start(losses, reference_loss)
    spread = max(abs(v - reference_loss) for v in losses.values()) if losses else 0.0
    print(f"  built in {time.perf_counter() - start:.1f}s; first-batch loss (dropout off) {reference_loss:.5f}, "
          f"max difference {spread:.1e} over {', '.join(losses)}", flush=True)
    for name, warm_up in warm_ups.items():  # A few steps of each contender's own input.
        start = time.perf_counter()
        warm_up()
        print(f"  warmed up {name:<32} {time.perf_counter() - start:6.1f}s", flush=True)

    per_round = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            count = run()
            per_round[name].append(count / (time.perf_counter() - start))
        print(f"  epoch {r + 1}/{args.rounds}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in per_round.items()),
              flush=True)

    notes_by_row = {
        "keras_bert": "length buckets, padded to the longest member (keras-bert finetune on a CPU)",
        "keras_bert XLA": "length buckets padded to 16/32/64/128 (the TPU input path)",
        "keras_bert pad 128": ("no buckets: every batch padded to 128" + (
            f" (rate over {pad_steps} of the {steps} steps of each epoch: every step has the same shape)"
            if pad_steps < steps else "")),
        "HF torch": "DataLoader(shuffle) + DataCollatorWithPadding",
    }
    table = {
        "caption": (f"SST-2 train, first {len(lengths):,} sentences, {args.preset} "
                    f"(L{config.num_layers}/H{config.hidden_size}), batch {batch_size}, max length "
                    f"{MAX_SEQ_LENGTH}, one epoch ({steps} steps); median of {args.rounds} epochs"),
        "unit": "examples/s",
        "baseline": "HF torch",
        "target": 2.0,
        "target_text": "real-length SST-2 training epoch >= 2x HF transformers",
        "rows": [common.row(name, values, name in OURS, note=notes_by_row[name]) for name, values in per_round.items()],
    }
    common.print_table(table)
    notes = list(compile_notes) + [finetuning_step.load_note(load_before, args.torch_threads)]
    if "HF torch" in per_round and args.rounds > 1:  # Epochs side by side: robust to a slow spell.
        notes.append("Epoch by epoch, times HF torch in the same round: " + "; ".join(
            f"{name} " + ", ".join(f"{ours / hf:.2f}x" for ours, hf in zip(values, per_round["HF torch"]))
            for name, values in per_round.items() if name in OURS
        ) + ".")
    if dynamic_widths is not None:
        notes.append(
            f"The CPU fine-tuning input (keras_bert row) pads each batch to its longest member: one epoch here "
            f"has {len(dynamic_widths)} distinct batch widths ({dynamic_widths[0]}..{dynamic_widths[-1]}), so XLA "
            "on that input would compile a program for each; the XLA row pads to the bucket boundaries instead."
        )
    notes.append(
        f"Sentence lengths (wordpieces with [CLS] and [SEP]): mean {lengths.mean():.1f}, median "
        f"{np.median(lengths):.0f}, max {lengths.max()}; the model's vocabulary is the preset's "
        f"{config.vocab_size} (embedding gradients and AdamW updates are dense for every contender)."
    )
    section = {
        "name": "sst2_epoch",
        "title": "SST-2 fine-tuning epoch (real lengths)",
        "command": "python benchmarks/sst2_epoch.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": (
            f"One training epoch over the first {len(lengths):,} SST-2 train sentences ({steps} steps of "
            f"{batch_size}), {args.preset} BertClassifier (2 classes, dropout 0.1, fp32, vocabulary "
            f"{config.vocab_size}), AdamW lr 2e-5, weight decay 0.01, global-norm clipping 1.0. Tokenized "
            "beforehand with keras_bert.BertPreprocessor (max length 128) for every contender (HF's "
            f"BertTokenizerFast gives the same ids: checked on {checked_ids} sentences). Timed: the wall time of a "
            "whole epoch, input pipeline included (keras_bert: tf.data shuffle, length buckets and padding feeding "
            "Trainer._train_function; HF: DataLoader shuffle and DataCollatorWithPadding feeding the torch loop; the "
            f"fixed-shape pad-128 row: its first {pad_steps} steps of each epoch), "
            "after a warm-up (XLA compiles reported in a note); epochs interleaved across contenders, a row is the "
            "median examples/s over epochs. Same starting weights, checked before timing: first-batch loss with "
            f"dropout off {reference_loss:.5f}, max difference {spread:.1e}. torch threads {args.torch_threads}. "
            f"{common.machine()}. Versions: "
            + common.versions("tensorflow", "keras", "keras-hub", "tf-models-official", "torch", "transformers")
        ),
        "tables": [table],
        "fast_paths": [
            {"name": "length buckets (batches padded to their longest member)", "table": table["caption"],
             "on": "keras_bert", "off": "keras_bert pad 128"},
            {"name": "XLA on the bucket boundaries", "table": table["caption"], "on": "keras_bert XLA",
             "off": "keras_bert"},
        ],
        "notes": notes,
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
