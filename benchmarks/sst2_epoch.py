"""A real-length fine-tuning epoch on SST-2: keras_bert's length buckets and packed rows against Hugging Face.

    PYTHONPATH=. python benchmarks/sst2_epoch.py [--rows 8192] [--preset mini] [--batch_size 32]
        [--rounds 3] [--pad128_steps 64] [--precision fp32|bf16] [--torch_threads N]
        [--omp_wait_policy PASSIVE|ACTIVE] [--skip ...] [--json_out F] [--quick]

Data: the first --rows sentences of SST-2 train (../shared/data/sst2/train.tsv,
read with `keras_bert.trainers.data.classification_data.read_examples`, labels 0/1),
tokenized once, before anything is timed, with `keras_bert.BertPreprocessor`
(max length 128; an uncased WordPiece vocabulary learned from the first
5,000 train sentences, as benchmarks/serving.py does). Hugging Face's
`BertTokenizerFast` on that vocabulary gives the same ids: checked on the
first 256 sentences before timing. SST-2 sentences are short (most under
32 wordpieces), so how batches are padded decides most of the work.

Model: a `BertClassifier` of --preset size (default mini, the preset's
30522-entry vocabulary), 2 classes, dropout 0.1, fp32 on the CPU (or
--precision bf16: keras_bert's Trainer with the `mixed_bfloat16` policy,
Hugging Face's forward pass under `torch.autocast("cpu", dtype=
torch.bfloat16)`; weights, gradients and AdamW stay float32 in both); every
contender starts from the same seeded weights (copied into Hugging Face by
references/peers.py), checked before timing: the loss of the first 32
examples with dropout off, each contender at its precision, agrees with
the float32 reference's within 1e-3 (bf16: 3e-2; `common.PRECISIONS`, the
table finetuning_step.py and pretraining_step.py use too). Optimizer as in
benchmarks/finetuning_step.py: AdamW lr 2e-5, weight decay 0.01 except
biases and LayerNorm, eps 1e-6, global-norm clipping 1.0; batch 32
examples (packed rows: see below).

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
  keras_bert packed   `keras-bert finetune --packing`: the rows are the
                      product's own, `finetuning._packed_epochs` (each epoch
                      a new seeded shuffle, packed by `trainers/data/
                      packing.py` into rows of 128 holding up to
                      --max_sequences_per_row's default examples, numbered
                      in input_mask), batched by `finetuning._packed_dataset_fn`,
                      trained by the same Trainer on the model
                      `build_model(..., max_sequences_per_row=P)` builds
                      (per-sequence logits and losses). The batch, in rows,
                      keeps the examples per step equal to the others':
                      rows per batch = round(batch / mean examples per row),
                      at least 1, so every contender trains on ~32 examples a
                      step (the same learning dynamics); the table's note
                      gives it. Packing is host work (numpy) the product does
                      for every epoch before training: its time, measured
                      when the rows are built, is counted inside the epoch
                      time (each timed epoch adds its share, total / epochs
                      packed).
  keras_bert packed XLA  the same with jit_compile: one static shape
                      [rows, 128], so one program (compiled in the warm-up,
                      reported in a note).
  HF torch random batches  the usual Hugging Face recipe: `BertForSequenceClass-
                      ification` (sdpa), a torch `DataLoader(shuffle=True)`
                      over the tokenized examples with `DataCollatorWith-
                      Padding` (each batch padded to its longest sentence),
                      `torch.optim.AdamW(fused=True)` (torch's fastest on
                      the CPU), `clip_grad_norm_(1.0)`,
                      `torch.set_num_threads(os.cpu_count())` (TensorFlow
                      uses every core by default: equal threads);
                      OMP_WAIT_POLICY torch's own default unless
                      --omp_wait_policy sets it (PASSIVE helps on a busy
                      machine, see `finetuning_step.load_note`); the setup
                      says which ran.
  HF torch group_by_length  Hugging Face at its best on this data: the same
                      recipe with the sampler `Trainer` uses for
                      `TrainingArguments(train_sampling_strategy=
                      "group_by_length")` (`group_by_length=True` before
                      transformers 5), `transformers.trainer_pt_utils.
                      LengthGroupedSampler` (shuffled, then sorted by length
                      within mega-batches of 50 batches), so each batch holds
                      sentences of near-equal length.

Each contender is warmed up first (keras_bert: a few steps of its input,
and with XLA one batch of every bucket shape, which compiles each program;
the compile time is reported in a note, not in the epoch time). Then every
round times one full epoch of every contender in turn, input pipeline
included (the examples/s of the epoch: examples trained / wall time);
rounds interleave the contenders, a row is the median over rounds.

Counted, not timed (a second table): the padding share of one epoch of
every contender, computed tokens / real tokens (buckets: the sum of batch
width x batch over the first epoch of the input; pad 128: batch x 128;
packed: rows x 128, the mean over the packed epochs; HF: batch x its
longest sentence, over an epoch of a sampler seeded as the timed one), and
for packed rows the packing efficiency and examples per row.

Targets: the best keras_bert row >= 2x the fastest HF row; and from issue
21 ("Pack, don't pad"): the best packed row >= 1.5x the best length-bucket
row (keras_bert, keras_bert XLA), and >= 1.25x the fastest HF row (HF at
its best). --quick: 256 rows, tiny, 1 epoch.
"""

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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

BUCKETS = ("keras_bert", "keras_bert XLA")
PACKED = ("keras_bert packed", "keras_bert packed XLA")
HF = ("HF torch random batches", "HF torch group_by_length")
OURS = BUCKETS + ("keras_bert pad 128",) + PACKED
CONTENDERS = OURS + HF


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


def finetuning_options(batch_size, jit_compile=False, **overrides):
    from keras_bert.trainers.programs import finetuning

    return finetuning.FinetuningOptions(
        task="classification", output_dir=tempfile.mkdtemp(prefix="sst2_epoch_"), max_seq_length=MAX_SEQ_LENGTH,
        train_batch_size=batch_size, random_seed=SEED, jit_compile=jit_compile, **overrides,
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


def count_tokens(dataset_fn, steps):
    """(computed tokens, real tokens, the distinct widths) of the first `steps`
    batches of a `tf.data` input: batch x width, and the input_mask's non-zeros."""
    computed, real, widths = 0, 0, set()
    for batch in dataset_fn(tf.distribute.InputContext(1, 0, 1)).take(steps):
        mask = batch["input_mask"].numpy()
        computed, real = computed + mask.size, real + int(np.count_nonzero(mask))
        widths.add(mask.shape[1])
    return computed, real, sorted(widths)


def packed_epochs(features, epochs):
    """`keras-bert finetune --packing`'s training rows for `epochs` epochs
    (`finetuning._packed_epochs`: each epoch a new seeded shuffle, packed by
    `trainers/data/packing.py`, the epochs one after another), and the
    seconds the packing took (host side, numpy)."""
    from keras_bert.trainers import tasks
    from keras_bert.trainers.programs import finetuning

    options = finetuning_options(1, packing=True, num_train_epochs=epochs)
    start = time.perf_counter()
    packed = finetuning._packed_epochs(tasks.get("classification"), features, options)
    return packed, options.max_sequences_per_row, time.perf_counter() - start


def packed_dataset_fn(rows, rows_per_batch):
    """`finetune --packing`'s training input (`finetuning._packed_dataset_fn`):
    the rows in order, batched `[rows_per_batch, 128]`, repeated."""
    from keras_bert.trainers.programs import finetuning

    return finetuning._packed_dataset_fn(rows, finetuning_options(rows_per_batch, packing=True))


def row_counter(rows, rows_per_batch):
    """count(steps) -> the examples in the next `steps` batches of the
    repeated row stream `rows` (numpy `sequence_mask` `[R, P]`)."""
    per_row = rows["sequence_mask"].sum(-1)
    position = 0

    def count(steps):
        nonlocal position
        index = (position + np.arange(steps * rows_per_batch)) % len(per_row)
        position += steps * rows_per_batch
        return int(per_row[index].sum())

    return count


# ------------------------------------------------------------------ HF torch


def hf_sampler(lengths, batch_size, group_by_length):
    """The DataLoader's sampler, seeded: `LengthGroupedSampler` (what
    transformers' `Trainer` uses for group_by_length), else the
    `RandomSampler` that `DataLoader(shuffle=True)` makes."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(SEED)
    if group_by_length:
        return LengthGroupedSampler(batch_size, lengths=[int(n) for n in lengths], generator=generator)
    return torch.utils.data.RandomSampler(range(len(lengths)), generator=generator)


def hf_epoch_runner(reference, features, tokenizer, batch_size, group_by_length=False, autocast_dtype=None):
    """(run() -> examples trained in one epoch, the model): the DataLoader +
    DataCollatorWithPadding loop, one epoch per call (the forward pass under
    `torch.autocast` with `autocast_dtype`)."""
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
    loader = torch.utils.data.DataLoader(
        examples, batch_size=batch_size, sampler=hf_sampler(lengths, batch_size, group_by_length),
        collate_fn=transformers.DataCollatorWithPadding(tokenizer),
    )

    def run(max_steps=None):
        count = 0
        for step, inputs in enumerate(loader):
            if max_steps is not None and step >= max_steps:
                break
            finetuning_step.hf_train_step(model, optimizer, dict(inputs), autocast_dtype)
            count += len(inputs["labels"])
        return count

    return run, model


def hf_tokens(lengths, batch_size, group_by_length):
    """(computed tokens, real tokens) of one epoch of the HF loader's batches
    (a sampler seeded as the timed one's): batch x its longest sentence."""
    import torch

    computed = real = 0
    for batch in torch.utils.data.BatchSampler(hf_sampler(lengths, batch_size, group_by_length), batch_size, False):
        computed += len(batch) * int(lengths[batch].max())
        real += int(lengths[batch].sum())
    return computed, real


# -------------------------------------------------------------------- timing


def padding_table(tokens, packed_facts, num_examples):
    """The counted table: computed tokens / real tokens of one epoch per contender."""
    rows, lines = [], ["| contender | computed tokens | real tokens | computed / real | packing |",
                       "|---|---:|---:|---:|---|"]
    for name, (computed, real) in sorted(tokens.items(), key=lambda item: item[1][0] / item[1][1]):
        share = computed / real
        packing = ""
        if name in PACKED and packed_facts:
            packing = (f"efficiency {real / computed:.1%}, {packed_facts['examples_per_row']:.1f} examples a row "
                       f"(up to {packed_facts['max_sequences_per_row']}), {packed_facts['rows_per_batch']} rows a batch")
        rows.append({"name": name, "value": share, "low": share, "high": share, "ours": name in OURS, "mfu": None,
                     "note": packing})
        lines.append(f"| {name} | {computed:,} | {real:,} | {share:.2f} | {packing} |")
    return {"caption": f"Padding share of one epoch ({num_examples:,} sentences): tokens the model computes per "
                       "real token (counted, not timed)",
            "unit": "computed / real tokens", "baseline": None, "target": None, "rows": rows,
            "markdown": "\n".join(lines)}



def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--rows", type=int, default=8192, help="the first this many SST-2 train rows")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per contender")
    parser.add_argument("--pad128_steps", type=int, default=64,
                        help="steps per epoch timed for 'keras_bert pad 128' (fixed shape: the rate of any steps)")
    common.add_precision_argument(parser)
    common.add_torch_arguments(parser)
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out: " + ", ".join(CONTENDERS))
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.preset = min(args.rows, 256), 1, "tiny"
    chosen = common.PRECISIONS[args.precision]
    policy, autocast_name, loss_tolerance = chosen["keras"], chosen["torch_autocast"], chosen["loss_tolerance"]
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(CONTENDERS):
        parser.error(f"--skip: unknown {sorted(skip - set(CONTENDERS))}; known: {', '.join(CONTENDERS)}")
    if not os.path.exists(sst2_path()):
        parser.error(f"no SST-2 data at {sst2_path()}")

    threads = common.start_torch(args)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
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

    def add_keras_bert(name, jit, dataset_fn, warm_steps, epoch_steps=steps, rows_per_step=batch_size,
                       count=None, max_sequences_per_row=None):
        """Adds a Trainer contender; returns (trainer, train(num_steps) -> examples trained)."""
        trainer = finetuning_step.keras_bert_trainer(reference, rows_per_step, jit=jit,
                                                     max_sequences_per_row=max_sequences_per_row, precision=policy)
        losses[name] = finetuning_step.keras_bert_loss(trainer.model, first)
        run = finetuning_step.trainer_steps(trainer, dataset_fn)
        count = count or (lambda num_steps: num_steps * batch_size)

        def train(num_steps):
            run(num_steps)
            return count(num_steps)

        runners[name] = lambda: train(epoch_steps)
        warm_ups[name] = lambda: train(warm_steps)
        return trainer, train

    # tokens: {name: (computed, real)} over one epoch (counted); host_seconds: {name: host work per epoch, added
    # to each timed epoch}.
    runners, losses, warm_ups, compile_notes, dynamic_widths, tokens, host_seconds = {}, {}, {}, [], None, {}, {}
    packed_facts = None
    start = time.perf_counter()
    if "keras_bert" not in skip:
        dataset_fn = bucketed_dataset_fn(features, batch_size, preprocessor)
        computed, real, dynamic_widths = count_tokens(dataset_fn, steps)
        tokens["keras_bert"] = (computed, real)
        add_keras_bert("keras_bert", False, dataset_fn, WARMUP_STEPS)
    if "keras_bert XLA" not in skip:
        boundaries = dynamic_padding.default_bucket_boundaries(MAX_SEQ_LENGTH)
        dataset_fn = bucketed_dataset_fn(features, batch_size, preprocessor, jit_compile=True)
        tokens["keras_bert XLA"] = count_tokens(dataset_fn, steps)[:2]
        trainer, _ = add_keras_bert("keras_bert XLA", True, dataset_fn, WARMUP_STEPS)
        print("  keras_bert XLA: compiling one program per bucket shape", flush=True)
        seconds = warm_up_shapes(trainer, shape_batches(features, batch_size, boundaries))
        compile_notes.append(
            "keras_bert XLA compiles one train-step program per bucket shape before timing: "
            + ", ".join(f"[{batch_size}, {b}] {s:.1f}s" for b, s in zip(boundaries, seconds))
            + f" (the first step of each shape, compile included; {sum(seconds):.0f}s in all)."
        )
        print(f"  {compile_notes[-1]}", flush=True)
    if "keras_bert pad 128" not in skip:
        dataset_fn = padded_dataset_fn(features, batch_size)
        tokens["keras_bert pad 128"] = count_tokens(dataset_fn, steps)[:2]
        add_keras_bert("keras_bert pad 128", False, dataset_fn, 2, pad_steps)
    if set(PACKED) - skip:
        epochs = args.rounds + 1  # Rows for the warm-up, then an epoch of rows per round.
        packed, max_sequences_per_row, pack_seconds = packed_epochs(features, epochs)
        rows = packed["features"]
        examples_per_row = len(lengths) / packed["rows_per_epoch"]
        rows_per_batch = max(1, round(batch_size / examples_per_row))  # ~batch_size examples a step.
        packed_steps = max(1, packed["rows_per_epoch"] // rows_per_batch)
        epoch_rows = packed_steps * rows_per_batch
        packed_facts = {
            "summary": packed["summary"], "rows_per_batch": rows_per_batch, "steps": packed_steps,
            "examples_per_row": examples_per_row, "max_sequences_per_row": max_sequences_per_row,
            "seconds_per_epoch": pack_seconds / epochs, "epochs": epochs,
            "examples_per_step": float(rows["sequence_mask"][:epoch_rows].sum()) / packed_steps,
        }
        # An epoch's tokens, the mean over the packed epochs (the timed steps run through them all in turn).
        packed_tokens = (round(len(rows["input_mask"]) * MAX_SEQ_LENGTH / epochs),
                         round(np.count_nonzero(rows["input_mask"]) / epochs))
        print(f"  packed {epochs} epochs in {pack_seconds:.3f}s: {packed['summary']}; batch {rows_per_batch} rows "
              f"(~{packed_facts['examples_per_step']:.1f} examples a step), {packed_steps} steps an epoch", flush=True)
        for name in PACKED:
            if name in skip:
                continue
            jit = name.endswith("XLA")
            _, train = add_keras_bert(name, jit, packed_dataset_fn(rows, rows_per_batch), WARMUP_STEPS, packed_steps,
                                      rows_per_batch, row_counter(rows, rows_per_batch), max_sequences_per_row)
            tokens[name] = packed_tokens
            host_seconds[name] = packed_facts["seconds_per_epoch"]
            if jit:
                compile_start = time.perf_counter()
                train(1)
                compile_notes.append(
                    f"keras_bert packed XLA compiles one train-step program, [{rows_per_batch}, {MAX_SEQ_LENGTH}], "
                    f"before timing: {time.perf_counter() - compile_start:.1f}s (the first step, compile included).")
                print(f"  {compile_notes[-1]}", flush=True)
    for name in HF:
        if name in skip:
            continue
        group_by_length = name.endswith("group_by_length")
        autocast = getattr(torch, autocast_name) if autocast_name else None
        run, model = hf_epoch_runner(reference, features, tokenizer, batch_size, group_by_length, autocast)
        losses[name] = finetuning_step.hf_loss(model, first, autocast)
        runners[name] = run
        warm_ups[name] = lambda run=run: run(max_steps=WARMUP_STEPS)
        tokens[name] = hf_tokens(lengths, batch_size, group_by_length)
    finetuning_step.check_same_start(losses, reference_loss, loss_tolerance)
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
            per_round[name].append(count / (time.perf_counter() - start + host_seconds.get(name, 0.0)))
        print(f"  epoch {r + 1}/{args.rounds}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in per_round.items()),
              flush=True)

    notes_by_row = {
        "keras_bert": "length buckets, padded to the longest member (keras-bert finetune on a CPU)",
        "keras_bert XLA": "length buckets padded to 16/32/64/128 (the TPU input path)",
        "keras_bert pad 128": ("no buckets: every batch padded to 128" + (
            f" (rate over {pad_steps} of the {steps} steps of each epoch: every step has the same shape)"
            if pad_steps < steps else "")),
        "HF torch random batches": "DataLoader(shuffle) + DataCollatorWithPadding: random batches",
        "HF torch group_by_length": ("LengthGroupedSampler (Trainer's train_sampling_strategy='group_by_length') + "
                                     "DataCollatorWithPadding: batches of near-equal lengths"),
    }
    if packed_facts:
        packed_note = (
            f"keras-bert finetune --packing's rows of {MAX_SEQ_LENGTH} (up to {max_sequences_per_row} examples, "
            f"{packed_facts['examples_per_row']:.1f} on average), batch {packed_facts['rows_per_batch']} rows "
            f"(~{packed_facts['examples_per_step']:.1f} examples a step), {packed_facts['steps']} steps an epoch; "
            f"epoch time includes packing ({packed_facts['seconds_per_epoch']:.3f}s an epoch)")
        notes_by_row["keras_bert packed"] = packed_note
        notes_by_row["keras_bert packed XLA"] = packed_note + "; jit_compile, one shape, one program"
    # Each row's precision, ours (True) and HF's (False).
    row_precision = {True: common.precision_note(args.precision, "keras"),
                     False: f"{common.precision_note(args.precision, 'torch')}; {finetuning_step.HF_OPTIMIZER}"}
    caption = (f"SST-2 train, first {len(lengths):,} sentences, {args.preset} (L{config.num_layers}/"
               f"H{config.hidden_size}), {args.precision}, {batch_size} examples a step, max length {MAX_SEQ_LENGTH}, "
               "one epoch; "
               f"median of {args.rounds} epochs")
    table = {
        "caption": caption,
        "unit": "examples/s",
        "baseline": "fastest peer",  # The fastest HF row: Hugging Face at its best.
        "target": 2.0,
        "target_text": "real-length SST-2 training epoch >= 2x HF transformers at its best",
        "rows": [common.row(name, values, name in OURS, note=f"{row_precision[name in OURS]}; {notes_by_row[name]}")
                 for name, values in per_round.items()],
    }
    targets = [
        {"text": "issue 21: packed rows >= 1.5x our length buckets", "table": caption, "rows": list(PACKED),
         "baseline": list(BUCKETS), "target": 1.5},
        {"text": "issue 21: packed rows >= 1.25x HF transformers at its best", "table": caption,
         "rows": list(PACKED), "baseline": list(HF), "target": 1.25},
    ]
    padding = padding_table(tokens, packed_facts, len(lengths))
    common.print_table(table)
    print(f"\n{padding['caption']}\n{padding['markdown']}")
    section = {"tables": [table, padding], "targets": targets}
    print("\nTargets:")
    for text, _, best, base, x, goal in common.targets(section):
        figures = (f"{best['name']} {best['value']:.1f} vs {base['name']} {base['value']:.1f} {table['unit']}: "
                   f"{x:.2f}x" if x else "not measured")
        print(f"  {text}: {figures} -> {common.target_status(x, goal)}")

    notes = list(compile_notes) + [finetuning_step.load_note(load_before)]
    base = common.baseline_row(table)
    if base is not None and args.rounds > 1:  # Epochs side by side: robust to a slow spell.
        notes.append(f"Epoch by epoch, times {base['name']} in the same round: " + "; ".join(
            f"{name} " + ", ".join(f"{ours / hf:.2f}x" for ours, hf in zip(values, per_round[base["name"]]))
            for name, values in per_round.items() if name in OURS
        ) + ".")
    if packed_facts:
        notes.append(
            f"Packed rows: finetuning._packed_epochs packed {packed_facts['epochs']} seeded epochs (one for the "
            f"warm-up, one per round) in {packed_facts['seconds_per_epoch'] * packed_facts['epochs']:.3f}s of numpy "
            f"on the host; each timed packed epoch counts {packed_facts['seconds_per_epoch']:.3f}s of it. "
            f"{packed_facts['summary']}. The batch keeps the examples per step equal: round({batch_size} / "
            f"{packed_facts['examples_per_row']:.2f} examples per row) = {packed_facts['rows_per_batch']} rows."
        )
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
    section.update({
        "name": "sst2_epoch",
        "title": "SST-2 fine-tuning epoch (real lengths)" + ("" if args.precision == "fp32" else f", {args.precision}"),
        "command": "python benchmarks/sst2_epoch.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": (
            f"One training epoch over the first {len(lengths):,} SST-2 train sentences ({steps} steps of "
            f"{batch_size}; packed rows: batches of rows holding ~{batch_size} examples), {args.preset} "
            f"BertClassifier (2 classes, dropout 0.1, {row_precision[True]} (HF: {row_precision[False]}), vocabulary {config.vocab_size}), AdamW lr "
            "2e-5, weight "
            "decay 0.01, global-norm clipping 1.0. Tokenized beforehand with keras_bert.BertPreprocessor (max length "
            "128) for every contender (HF's BertTokenizerFast gives the same ids: checked on "
            f"{checked_ids} sentences). Timed: the wall time of a whole epoch, input pipeline included (keras_bert: "
            "tf.data shuffle, length buckets and padding feeding Trainer._train_function; packed: "
            "finetune --packing's own rows (finetuning._packed_epochs), their packing time counted in the epoch, "
            "batched by finetuning._packed_dataset_fn; HF: DataLoader with random or length-grouped batches and "
            "DataCollatorWithPadding feeding the torch loop; the "
            f"fixed-shape pad-128 row: its first {pad_steps} steps of each epoch), "
            "after a warm-up (XLA compiles reported in a note); epochs interleaved across contenders, a row is the "
            "median examples/s over epochs; ratios are to the fastest HF row. Same starting weights, checked before "
            f"timing: first-batch loss with dropout off {reference_loss:.5f} (float32), max difference {spread:.1e} "
            f"(each contender at its precision, tolerance {loss_tolerance:g}). {threads} {common.machine()}. "
            "Versions: "
            + common.versions("tensorflow", "keras", "keras-hub", "tf-models-official", "torch", "transformers")
        ),
        "fast_paths": [
            {"name": "length buckets (batches padded to their longest member)", "table": caption,
             "on": "keras_bert", "off": "keras_bert pad 128"},
            {"name": "XLA on the bucket boundaries", "table": caption, "on": "keras_bert XLA", "off": "keras_bert"},
            {"name": "packing (rows of 128, ~equal examples a step)", "table": caption, "on": "keras_bert packed",
             "off": "keras_bert"},
            {"name": "XLA on packed rows (one shape)", "table": caption, "on": "keras_bert packed XLA",
             "off": "keras_bert packed"},
        ],
        "notes": notes,
    })
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
