"""Does pretraining pay? Task-adaptive pretraining, then fine-tuning at several label budgets.

    python benchmarks/pretraining_pays.py            # the whole run, <= 60 min on 2 cores
    python benchmarks/pretraining_pays.py --quick    # smoke run (minutes; figures meaningless)

What it does, all with keras-bert's own commands (run in this process or as
subprocesses of `python -m keras_bert.trainers.cli`):

1. A corpus (`corpus.txt`, one sentence per line, a blank line between
   documents) of the shared pretraining text (WikiText-2 valid, Grimm's tales)
   plus the *unlabelled* text of the downstream training sets: SST-2
   train.tsv's phrases (no labels), MRPC train.txt's sentence pairs (each pair
   one document), CoNLL-2003 train.txt's documents (words joined by spaces).
   Nothing of any evaluation file is in it. This is task-adaptive pretraining
   (Gururangan et al. 2020, "Don't Stop Pretraining"), here from scratch.
2. `keras-bert vocab` learns a vocabulary from it; `keras-bert
   create-pretraining-data --pack` makes packed masked LM + next sentence
   rows; held-out rows come from WikiText-2 test.
3. `keras-bert pretrain` trains a small BERT for a fixed number of steps
   (`--mixed_precision=auto`: bf16 on CPUs that have it), evaluating the
   held-out masked LM and next-sentence accuracy along the way (the curves).
4. Fine-tuning (`keras-bert finetune`'s `run_finetuning`, in this process)
   from the pretrained encoder and from random weights of the same shape and
   vocabulary, with the same hyperparameters and seeds: SST-2 at several
   label budgets (the first N rows of train.tsv), all of MRPC, all of CoNLL;
   HF transformers (PyTorch) fine-tunes the same pretrained weights on the
   same batches for the parity column (`glue_like.run_hf`).
5. RESULTS.md: the tables (mean, sample standard deviation, the difference
   with its standard error), the run's wall time, the commands, and two
   pictures drawn here (matplotlib, the `plots` extra): the pretraining curves
   and dev accuracy against the number of labels.

Runs are recorded in WORK_DIR/runs.jsonl (as glue_like.py records them) and
not run again when their settings are unchanged; `--rerun` forces them.
"""

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import glue_like  # noqa: E402
from benchmarks import packing_accuracy  # noqa: E402

# ----------------------------------------------------------------- corpus


def _tsv_rows(path):
    """The rows of a TSV with a header, as dicts (MRPC's BOM and CRLF handled)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


def sst2_documents(path, phrases_per_document):
    """SST-2 training phrases without their labels, distinct, grouped into
    documents of `phrases_per_document`.

    SST-2's rows are phrases cut from whole review sentences (a sentence and
    many of its parts), in no order. Sorted by their rarest word (fewest
    occurrences in the file, ties by the word, then by the phrase), the
    pieces of one sentence (and phrases about one film) come together, so a
    next-sentence pair within a document shares words, as the sentences of
    a real document share a topic, and a random pair does not. Without this
    a document would be a bag of unrelated phrases, and next-sentence
    prediction could tell its pairs apart only by where the text came from.
    """
    seen, phrases = set(), []
    for row in _tsv_rows(path):
        phrase = " ".join(row["sentence"].split())
        if phrase and phrase not in seen:
            seen.add(phrase)
            phrases.append(phrase)
    counts = {}
    for phrase in phrases:
        for word in phrase.lower().split():
            counts[word] = counts.get(word, 0) + 1

    def rarest(phrase):
        return min((counts[w], w) for w in phrase.lower().split())

    phrases.sort(key=lambda p: (rarest(p), p))
    return [phrases[i:i + phrases_per_document] for i in range(0, len(phrases), phrases_per_document)]


def mrpc_documents(path):
    """MRPC training pairs without their labels: each pair one document of two sentences."""
    documents = []
    for row in _tsv_rows(path):
        pair = [" ".join(row[key].split()) for key in ("#1 String", "#2 String")]
        documents.append([s for s in pair if s])
    return [d for d in documents if d]


def conll_documents(path):
    """CoNLL-2003 training text without its tags: each -DOCSTART- document,
    one sentence per line, the words joined by spaces."""
    documents, sentence = [[]], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            word = fields[0] if fields else ""
            if word == "-DOCSTART-":
                documents.append([])
            elif word:
                sentence.append(word)
                continue
            if sentence:
                documents[-1].append(" ".join(sentence))
                sentence = []
    if sentence:
        documents[-1].append(" ".join(sentence))
    return [d for d in documents if d]


def paragraph_documents(path):
    """A paragraphs-format file (WikiText articles, a book) as documents of
    sentences, split as `create-pretraining-data --input_format=paragraphs` splits them."""
    from keras_bert.trainers.data import pretraining_data

    documents = [[]]
    with open(path, encoding="utf-8") as f:
        for sentence in pretraining_data.document_sentences(f, "paragraphs"):
            if sentence is None:
                documents.append([])
            else:
                documents[-1].append(sentence)
    return [d for d in documents if d]


def write_corpus(data_dir, path, sst2_phrases_per_document=8):
    """Writes the pretraining corpus (sentences format); returns {source: (documents, sentences, words)}."""
    sources = {
        "WikiText-2 valid": paragraph_documents(os.path.join(data_dir, "pretrain", "wikitext2-valid.txt")),
        "Grimm's tales": paragraph_documents(os.path.join(data_dir, "pretrain", "grimm-tales.txt")),
        "SST-2 train phrases (no labels)": sst2_documents(os.path.join(data_dir, "sst2", "train.tsv"),
                                                          sst2_phrases_per_document),
        "MRPC train pairs (no labels)": mrpc_documents(os.path.join(data_dir, "mrpc", "train.txt")),
        "CoNLL-2003 train text (no tags)": conll_documents(os.path.join(data_dir, "conll2003", "train.txt")),
    }
    write_documents([d for documents in sources.values() for d in documents], path)
    counts = {}
    for name, documents in sources.items():
        sentences = [s for d in documents for s in d]
        counts[name] = (len(documents), len(sentences), sum(len(s.split()) for s in sentences))
    return counts


def write_heldout(data_dir, path):
    """The held-out text of the pretraining curves: WikiText-2 test, as sentences."""
    write_documents(paragraph_documents(os.path.join(data_dir, "pretrain", "wikitext2-test.txt")), path)


def write_documents(documents, path):
    """Documents (lists of sentences) in create-pretraining-data's sentences
    format: one sentence per line, a blank line after each document."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for document in documents:
            f.write("\n".join(document) + "\n\n")
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------ pretraining

# The pretraining recipe, run in WORK_DIR/pretrain ($W: WORK_DIR). --quick
# shrinks it with QUICK_PRETRAIN.
PRETRAIN = dict(preset="tiny", vocab_size=8000, max_seq_length=128, max_predictions_per_seq=20, dupe_factor=3,
                max_sequences_per_row=4, train_batch_size=64, num_train_steps=4000, num_warmup_steps=200,
                learning_rate=2e-3, save_checkpoints_steps=500, max_eval_steps=24, eval_batch_size=128)
QUICK_PRETRAIN = dict(dupe_factor=1, num_train_steps=40, num_warmup_steps=4, save_checkpoints_steps=20,
                      max_eval_steps=2)


def pretrain_commands(recipe):
    """The `keras-bert` commands that make the pretrained model from corpus.txt and heldout.txt."""
    r = recipe
    data = (f"--vocab_file=vocab.txt --max_seq_length={r['max_seq_length']} "
            f"--max_predictions_per_seq={r['max_predictions_per_seq']} --pack "
            f"--max_sequences_per_row={r['max_sequences_per_row']}")
    return [
        f"keras-bert vocab --input_file=corpus.txt --output_file=vocab.txt --vocab_size={r['vocab_size']}",
        f"keras-bert create-pretraining-data --input_file=corpus.txt --output_file=train.tfrecord {data} "
        f"--dupe_factor={r['dupe_factor']}",
        f"keras-bert create-pretraining-data --input_file=heldout.txt --output_file=heldout.tfrecord {data} "
        "--dupe_factor=1",
        f"keras-bert pretrain --input_file=train.tfrecord --eval_input_file=heldout.tfrecord --output_dir=run "
        f"--bert_config_preset={r['preset']} --vocab_file=vocab.txt --max_seq_length={r['max_seq_length']} "
        f"--max_predictions_per_seq={r['max_predictions_per_seq']} --max_sequences_per_row={r['max_sequences_per_row']} "
        "--dynamic_masking --do_train --do_eval --eval_every_checkpoint "
        f"--train_batch_size={r['train_batch_size']} --eval_batch_size={r['eval_batch_size']} "
        f"--max_eval_steps={r['max_eval_steps']} --num_train_steps={r['num_train_steps']} "
        f"--num_warmup_steps={r['num_warmup_steps']} --learning_rate={r['learning_rate']} "
        f"--save_checkpoints_steps={r['save_checkpoints_steps']} --steps_per_execution=10 --log_steps=50 "
        "--mixed_precision=auto --random_seed=1",
    ]


def pretrain(data_dir, work_dir, recipe):
    """Writes the corpus and runs `pretrain_commands` in WORK_DIR/pretrain
    (skipped when its model is there, made by the same recipe); returns (HF
    directory, phases: [(what, seconds)], corpus counts, whether it ran now)."""
    directory = os.path.join(work_dir, "pretrain")
    result = os.path.join(directory, "run", "pretrained_hf")
    phases_path = os.path.join(directory, "phases.json")
    if os.path.exists(os.path.join(result, "model.safetensors")) and os.path.exists(phases_path):
        with open(phases_path) as f:
            saved = json.load(f)
        if saved["recipe"] == recipe:
            return result, [tuple(p) for p in saved["phases"]], saved["corpus"], False
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    start = time.perf_counter()
    counts = write_corpus(data_dir, os.path.join(directory, "corpus.txt"))
    write_heldout(data_dir, os.path.join(directory, "heldout.txt"))
    phases = [("corpus (corpus.txt, heldout.txt)", time.perf_counter() - start)]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for command in pretrain_commands(recipe):
        print(f"$ {command}", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli"] + shlex.split(command)[1:],
                       cwd=directory, env=env, check=True)
        phases.append((" ".join(command.split()[:2]), time.perf_counter() - start))
    with open(phases_path, "w") as f:
        json.dump({"recipe": recipe, "phases": phases, "corpus": counts}, f, indent=1)
    return result, phases, counts, True


# ------------------------------------------------------------ fine-tuning

ALL = 0  # A label budget: every row of the training file.
SST2_EPOCHS = {250: 20.0, 1000: 10.0, 4000: 4.0, ALL: 1.0}  # Fewer labels, more epochs (>= 150 steps).
# Peak fine-tuning learning rate of every run (glue_like.py's 2e-4 left a
# 2-layer pretrained encoder short of where it gets at 1e-3; random init
# scored the same at both in a pilot at 1,000 labels).
LEARNING_RATE = 1e-3


def sst2_subset(data_dir, work_dir, rows):
    """The header and first `rows` rows of SST-2 train.tsv (ALL: the file itself)."""
    source = os.path.join(data_dir, "sst2", "train.tsv")
    if rows == ALL:
        return source
    target = os.path.join(work_dir, "data", f"sst2-train-{rows}.tsv")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(source, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    if rows >= len(lines) - 1:
        raise ValueError(f"--sst2_budgets: {rows} rows asked of {source}, which has {len(lines) - 1}")
    with open(target + ".tmp", "wb") as f:
        f.writelines(lines[: rows + 1])
    os.replace(target + ".tmp", target)
    return target


@dataclasses.dataclass(frozen=True)
class Run:
    task: str  # sst2, mrpc, conll
    budget: int  # Training rows (ALL: all of them).
    column: str  # random, pretrained, hf
    seed: int


def run_options(run, files, pretrained_dir, work_dir, quick):
    """The FinetuningOptions of a run: glue_like's settings for the task,
    the budget's training file and epochs."""
    options = glue_like.finetuning_options(run.task, "random" if run.column == "random" else "pretrained",
                                           run.seed, files, pretrained_dir, work_dir, quick)
    budget = "all" if run.budget == ALL else str(run.budget)
    changes = dict(output_dir=os.path.join(work_dir, "runs", f"{run.task}-{budget}-{run.column}-seed{run.seed}"),
                   learning_rate=LEARNING_RATE)
    if run.task == "sst2":
        changes.update(train_file=files["sst2-budgets"][run.budget],
                       num_train_epochs=1.0 if quick else SST2_EPOCHS.get(run.budget, 3.0))
    return dataclasses.replace(options, **changes)


def run_key(run, options):
    impl = "ours" if run.column in glue_like.INITS else run.column
    init = run.column if run.column in glue_like.INITS else "pretrained"
    return glue_like.run_key(run.task, init, impl, options)


# ---------------------------------------------------------------- report


cell = glue_like.summarize  # '0.812 ± 0.004 (n=3, 0.807–0.816)': mean ± sample sd (seeds, range).


def difference(pretrained, random):
    """`packing_accuracy.compare` of the two seed lists (pretrained − random,
    its standard error), or None when a side is missing or they differ in length."""
    if not pretrained or len(pretrained) != len(random):
        return None
    return packing_accuracy.compare(pretrained, random)


def diff_cell(d):
    if d is None:
        return "–"
    return f"{d['difference']:+.3f}" + ("" if d["se"] is None else f" ± {d['se']:.3f}")


def verdict(pretrained, random):
    """Whether pretraining beat random init by more than the seed spread:
    every pretrained seed above every random one, and the difference beyond
    two standard errors (the other way round: it costs)."""
    d = difference(pretrained, random)
    if d is None or d["se"] is None:
        return "one seed: no spread to judge"
    if min(pretrained) > max(random) and not d["within_noise"]:
        return "**pays**: every pretrained seed above every random one"
    if max(pretrained) < min(random) and not d["within_noise"]:
        return "**costs**: every pretrained seed below every random one"
    return "within the seed spread"


def read_eval_history(run_dir):
    from keras_bert.trainers.programs import pretraining

    return pretraining.read_eval_history(run_dir)


def draw_pretraining_curves(run_dir, path):
    """Masked LM loss and accuracy, next-sentence accuracy against the step:
    training (logged every 50 steps) and held-out (WikiText-2 test, after
    every checkpoint), drawn by `curves.write_curves` (what `keras-bert
    pretrain` draws into its output dir). Returns the path."""
    from keras_bert.trainers.engine import curves

    drawn = curves.write_curves(run_dir, ["masked_lm_loss", "masked_lm_accuracy", "next_sentence_accuracy"],
                                eval_label="held out (WikiText-2 test)", path=path)
    if drawn is None:
        raise RuntimeError(f"{path}: the pretraining curves were not drawn (see the line above)")
    return drawn


def draw_budgets(records, budgets, train_rows, path, majority=None):
    """SST-2 dev accuracy against the number of labelled examples (log
    scale): every seed as a dot, the mean as a line, for pretrained and
    random init (and the HF parity runs). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    styles = {"pretrained": ("tab:red", "o", "pretrained (task-adaptive)"), "random": ("tab:gray", "s", "random init"),
              "hf": ("tab:blue", "x", "HF transformers, same pretrained weights")}
    for column, (color, marker, label) in styles.items():
        xs, means = [], []
        for budget in budgets:
            n = train_rows if budget == ALL else budget
            values = [r["eval"]["accuracy"] for r in records
                      if r["task"] == "sst2" and r["budget"] == budget and r["column"] == column]
            if not values:
                continue
            ax.scatter([n] * len(values), values, color=color, marker=marker, s=22, alpha=0.7)
            xs.append(n)
            means.append(statistics.mean(values))
        if xs:
            ax.plot(xs, means, color=color, label=label, linestyle="-" if column != "hf" else ":")
    if majority is not None:
        ax.axhline(majority, color="black", linewidth=0.8, linestyle="--", label=f"majority class ({majority:.3f})")
    ax.set_xscale("log")
    sizes = [train_rows if b == ALL else b for b in budgets]
    ax.set_xticks(sizes, [f"{n:,}" + (" (all)" if n == train_rows else "") for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("labelled SST-2 training examples")
    ax.set_ylabel("SST-2 dev accuracy (6,735 sentences)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=110)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)
    return path


TASK_METRIC = {"sst2": ("accuracy", "accuracy"), "mrpc": ("accuracy", "accuracy"), "conll": ("f1", "entity F1")}
EXTRA_METRICS = {"mrpc": [("f1", "F1")]}


def write_report(path, records, args, recipe, phases, corpus, pretrained_dir, files, pictures, wall_seconds):
    by = {}
    for r in records:
        by.setdefault((r["task"], r["budget"], r["column"]), []).append(r)

    def values(task, budget, column, key):
        return [r["eval"][key] for r in sorted(by.get((task, budget, column), []), key=lambda r: r["seed"])]

    run_seconds = sum(r["info"]["seconds"] for r in records)
    pretrain_seconds = sum(s for _, s in phases)
    history = read_eval_history(os.path.join(os.path.dirname(pretrained_dir)))
    first, last = (history[0], history[-1]) if history else ({}, {})
    train_rows = args.train_rows
    budget_name = {b: ("all " + f"{train_rows:,}" if b == ALL else f"{b:,}") for b in args.budgets}
    lines = [
        "# Does pretraining pay? Task-adaptive pretraining vs random init, by label budget",
        "",
        "Made by `python benchmarks/pretraining_pays.py" + (" --quick` (a smoke run: the numbers mean nothing)"
                                                            if args.quick else "`") + ".",
        f"Commit {glue_like.git_head()}; {time.strftime('%Y-%m-%d')}; machine: {glue_like.machine()}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in glue_like.versions().items()) + ".",
        "",
        f"**Wall time of the whole run: {wall_seconds / 60:.0f} min** on 2 cores "
        f"(pretraining with its data {pretrain_seconds / 60:.1f} min, {len(records)} fine-tuning runs "
        f"{run_seconds / 60:.1f} min; a run recorded by an earlier invocation counts with its recorded time).",
        "",
        "## SST-2: dev accuracy by number of labelled training sentences",
        "",
        f"![SST-2 dev accuracy against labels]({pictures['budgets']})",
        "",
        "Mean ± sample standard deviation over seeds (n seeds, min–max); the difference is pretrained − random with its "
        "standard error; every figure is the final model's, scored once on all 6,735 dev sentences.",
        "",
        "| labels | epochs (steps) | seeds | random init | pretrained | difference | HF, same pretrained weights | verdict |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for budget in args.budgets:
        pre, rnd = values("sst2", budget, "pretrained", "accuracy"), values("sst2", budget, "random", "accuracy")
        hf = values("sst2", budget, "hf", "accuracy")
        if not (pre or rnd):
            continue
        steps = next(iter(by.get(("sst2", budget, "pretrained"), by.get(("sst2", budget, "random"), []))))
        epochs = steps["options"]["num_train_epochs"]
        lines.append(f"| {budget_name[budget]} | {epochs:g} ({steps['info']['steps']}) | {max(len(pre), len(rnd))} | "
                     f"{cell(rnd)} | {cell(pre)} | {diff_cell(difference(pre, rnd))} | {cell(hf)} | "
                     f"{verdict(pre, rnd)} |")
    lines += ["", "## All of MRPC and CoNLL-2003", "",
              "| task | metric | seeds | random init | pretrained | difference | verdict |",
              "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for task in ("mrpc", "conll"):
        for key, label in [TASK_METRIC[task]] + EXTRA_METRICS.get(task, []):
            pre, rnd = values(task, ALL, "pretrained", key), values(task, ALL, "random", key)
            if pre or rnd:
                lines.append(f"| {glue_like.TASK_NAMES[task]} | {label} | {max(len(pre), len(rnd))} | {cell(rnd)} | "
                             f"{cell(pre)} | {diff_cell(difference(pre, rnd))} | {verdict(pre, rnd)} |")
    lines += [
        "",
        "## The pretraining",
        "",
        f"![pretraining curves]({pictures['curves']})",
        "",
        f"Model: {glue_like._describe_model(pretrained_dir)}. "
        f"{recipe['num_train_steps']:,} steps of {recipe['train_batch_size']} packed rows of "
        f"{recipe['max_seq_length']} tokens (up to {recipe['max_sequences_per_row']} sequences a row), masked LM "
        "(masks drawn afresh every epoch, `--dynamic_masking`) + next sentence, AdamW at peak learning rate "
        f"{recipe['learning_rate']:g} with {recipe['num_warmup_steps']} warmup steps, `--mixed_precision=auto` "
        f"({_precision(pretrained_dir)}).",
        "",
        "Held out (WikiText-2 test, not in the corpus; "
        f"{recipe['max_eval_steps']} batches of {recipe['eval_batch_size']} rows): masked LM accuracy "
        f"{first.get('masked_lm_accuracy', float('nan')):.3f} at step {first.get('global_step', '?')} -> "
        f"{last.get('masked_lm_accuracy', float('nan')):.3f} at step {last.get('global_step', '?')}; masked LM loss "
        f"{first.get('masked_lm_loss', float('nan')):.2f} -> {last.get('masked_lm_loss', float('nan')):.2f}; "
        f"next-sentence accuracy {first.get('next_sentence_accuracy', float('nan')):.3f} -> "
        f"{last.get('next_sentence_accuracy', float('nan')):.3f}.",
        "",
        "Corpus (`corpus.txt`, one sentence per line, documents apart), made by `write_corpus` in the script:",
        "",
        "| source | documents | sentences | words |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, (documents, sentences, words) in corpus.items():
        lines.append(f"| {name} | {documents:,} | {sentences:,} | {words:,} |")
    lines += ["", "Phases (wall time):", ""]
    lines += [f"- {what}: {seconds / 60:.1f} min" for what, seconds in phases]
    lines += ["", "The commands (in WORK_DIR/pretrain, after the script wrote corpus.txt and heldout.txt):", "", "```"]
    lines += pretrain_commands(recipe)
    lines += ["```", ""]
    lines += ["## Reading", ""] + reading(by, args.budgets, budget_name) + [""]
    lines += why(os.path.dirname(pretrained_dir), by) + [""]
    lines += ["Parity with Hugging Face on four tasks (SST-2, MRPC, CoNLL-2003, a SQuAD 2.0 subset) and a lockstep "
              "check of the training computation, from an earlier pretraining: "
              "[benchmarks/results/glue_like.md](benchmarks/results/glue_like.md) (`benchmarks/glue_like.py`).", ""]
    lines += ["## Setup", ""] + setup_notes(records, train_rows) + [""]
    lines += ["## Runs", "", "| task | labels | column | seed | steps | wall time | final train loss | score |",
              "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(records, key=lambda r: (r["task"], r["budget"] or 10**9, r["column"], r["seed"])):
        key, label = TASK_METRIC[r["task"]]
        loss = r["info"].get("final_train_loss")
        lines.append(f"| {r['task']} | {budget_name.get(r['budget'], r['budget']) if r['task'] == 'sst2' else 'all'} | "
                     f"{r['column']} | {r['seed']} | {r['info']['steps']} | {r['info']['seconds'] / 60:.1f} min | "
                     f"{'–' if loss is None else f'{loss:.3f}'} | {label} {r['eval'][key]:.4f} |")
    lines += ["", "One command per run of ours (`$W` = WORK_DIR, `$D` = the shared data); a Hugging Face run "
                  "(`glue_like.run_hf`, in this process) takes the settings of the pretrained run with its seed and "
                  "budget:", "", "```"]
    lines += sorted({r["command"] for r in records if r["column"] != "hf"})
    lines += ["```", ""]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)


def count_rows(tsv):
    with open(tsv, "rb") as f:
        return sum(1 for line in f if line.strip()) - 1


def _precision(pretrained_dir):
    path = os.path.join(os.path.dirname(pretrained_dir), "run_info.json")
    if not os.path.exists(path):
        return "precision not recorded"
    with open(path) as f:
        info = json.load(f)
    return f"{info['mixed_precision']}: {info['mixed_precision_reason']}"


def reading(by, budgets, budget_name):
    """What the tables say, from the numbers (no sentence typed by hand about a result)."""
    out = []
    for budget in budgets:
        pre = [r["eval"]["accuracy"] for r in by.get(("sst2", budget, "pretrained"), [])]
        rnd = [r["eval"]["accuracy"] for r in by.get(("sst2", budget, "random"), [])]
        d = difference(pre, rnd)
        if d is None:
            continue
        paired = {r["seed"]: r["eval"]["accuracy"] for r in by.get(("sst2", budget, "pretrained"), [])}
        wins = sum(paired[r["seed"]] > r["eval"]["accuracy"] for r in by.get(("sst2", budget, "random"), [])
                   if r["seed"] in paired)
        out.append(f"- SST-2 with {budget_name[budget]} labels: pretrained − random = {diff_cell(d)} accuracy; "
                   f"pretrained higher on {wins} of {len(paired)} seeds; {verdict(pre, rnd).replace('**', '')}.")
    for budget in budgets:
        ours = [r["eval"]["accuracy"] for r in sorted(by.get(("sst2", budget, "pretrained"), []), key=_seed)]
        hf = [r["eval"]["accuracy"] for r in sorted(by.get(("sst2", budget, "hf"), []), key=_seed)]
        d = difference(ours, hf)
        if d is not None and hf:
            noise = "" if d["se"] is None else (" (within two standard errors)" if d["within_noise"] else
                                                " (beyond two standard errors)")
            out.append(f"- Parity, SST-2 with {budget_name[budget]} labels: ours − Hugging Face on the same pretrained "
                       f"weights = {diff_cell(d)} accuracy{noise}.")
    for task in ("mrpc", "conll"):
        key, label = TASK_METRIC[task]
        pre = [r["eval"][key] for r in by.get((task, ALL, "pretrained"), [])]
        rnd = [r["eval"][key] for r in by.get((task, ALL, "random"), [])]
        d = difference(pre, rnd)
        if d is not None:
            out.append(f"- {glue_like.TASK_NAMES[task]} (all its training data): pretrained − random = "
                       f"{diff_cell(d)} {label}; {verdict(pre, rnd).replace('**', '')}.")
    return out


def _seed(record):
    return record["seed"]


def why(run_dir, by):
    """The mechanisms behind the reading, with the pretraining's own figures."""
    from keras_bert.trainers.engine import curves

    history = read_eval_history(run_dir)
    train = curves.read_scalars(run_dir)["train"].get("next_sentence_accuracy", [])
    held_out = history[-1]["next_sentence_accuracy"] if history else float("nan")
    trained = train[-1][1] if train else float("nan")
    mlm = history[-1]["masked_lm_accuracy"] if history else float("nan")
    conll = verdict(*[[r["eval"]["f1"] for r in by.get(("conll", ALL, column), [])]
                      for column in ("pretrained", "random")])
    return [
        "- Why the gain shrinks as labels grow: this pretraining is short (its held-out masked LM accuracy ends at "
        f"{mlm:.3f}), so what it hands the classifier is a head start on the words of the reviews, and labelled "
        "sentences teach those words too; with a few thousand labels the randomly initialised model has caught up "
        "(the two lines of the first picture meet). BERT's gains at full data come from pretraining thousands of "
        "times longer than this.",
        "- Why MRPC and CoNLL-2003 do not gain: next-sentence prediction did not learn what transfers. It reached "
        f"{trained:.3f} on the training pairs but {held_out:.3f} on held-out Wikipedia pairs (chance: 0.5): on this "
        "corpus it can tell a document's next sentence from a random one by shallow cues (shared rare words, which "
        "of the five sources a sentence comes from) that held-out pairs do not have, so the [CLS] vector that "
        "MRPC's pair classifier reads starts from no useful pair knowledge. On CoNLL-2003"
        + (", where the pretrained encoder is below random init on every seed," if conll.startswith("**costs") else "")
        + " no cause was measured; both inits share an uncased vocabulary, which hides the capitals that mark "
        "most names and caps both.",
    ]


def setup_notes(records, train_rows):
    return [
        "- Fine-tuning: `keras-bert finetune`'s `run_finetuning` in this process, float32 (the precision of the "
        f"HF column), batch 32, max_seq_length 128, peak learning rate {LEARNING_RATE:g}, AdamW with decay 0.01, "
        "warmup over 10% of the steps, dropout 0.1, length-bucketed batches. The same settings and seeds for "
        "random and pretrained init; random init has the pretrained model's config and vocabulary. The learning "
        "rate was chosen before this run, in a pilot at 1,000 labels: 2e-4 (glue_like.py's) left the pretrained "
        "encoder well short of where 1e-3 takes it, and random init scored the same at both.",
        "- SST-2 budgets are the first N rows of train.tsv (its rows are in no order); fewer labels get more "
        f"epochs (SST2_EPOCHS in the script) so that every budget trains for at least ~150 steps. 'all' is {train_rows:,} rows.",
        "- Seeds: `keras.utils.set_random_seed(seed)` before each run (head weights, a random encoder, dropout) "
        "and `--random_seed` (data order); HF runs use `torch.manual_seed(seed)` and the same batches.",
        "- The corpus holds SST-2's training phrases, and SST-2's dev phrases are cut from the same treebank "
        "sentences as its training phrases (the shared data split GLUE's training set), so some dev phrases "
        "occur inside training phrases. That holds for the labelled fine-tuning data too, for both inits.",
        "- MRPC: train.txt (4,080 pairs) -> test.txt (1,725); CoNLL-2003: train.txt -> valid.txt; 3 epochs.",
    ]


# ------------------------------------------------------------------ main


def parse_budgets(text):
    budgets = []
    for part in text.split(","):
        part = part.strip().lower()
        if part:
            budgets.append(ALL if part == "all" else int(part))
    return budgets


def plan_runs(args):
    """The runs, most telling first: small SST-2 budgets, then the rest."""
    seeds = [int(s) for s in args.seeds.split(",") if s]
    full_seeds = [int(s) for s in args.full_seeds.split(",") if s]
    runs = []
    for budget in sorted(args.budgets, key=lambda b: b or 10**9):
        for seed in (full_seeds if budget == ALL else seeds):
            runs += [Run("sst2", budget, "pretrained", seed), Run("sst2", budget, "random", seed)]
    for task in ("mrpc", "conll"):
        if task in args.tasks:
            for seed in seeds:
                runs += [Run(task, ALL, "pretrained", seed), Run(task, ALL, "random", seed)]
    for budget in args.hf_budgets:
        for seed in seeds:
            runs.append(Run("sst2", budget, "hf", seed))
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    parser.add_argument("--work_dir", default="/tmp/pretraining_pays", help="Pretraining, data subsets, runs.")
    parser.add_argument("--results", default=None,
                        help="Report (default: RESULTS.md at the repo root; with --quick WORK_DIR/RESULTS.md).")
    parser.add_argument("--pictures_dir", default=None,
                        help="Where the PNGs go (default: benchmarks/results; with --quick WORK_DIR).")
    parser.add_argument("--budgets", default="250,1000,4000,all", help="SST-2 label budgets (rows; 'all').")
    parser.add_argument("--seeds", default="1,2,3", help="Seeds of the SST-2 budgets below 'all', of MRPC and "
                                                         "CoNLL, and of the HF parity runs.")
    parser.add_argument("--full_seeds", default="1",
                        help="Seeds of SST-2 'all' (the longest runs; one by default, to stay within the hour).")
    parser.add_argument("--hf_budgets", default="1000", help="SST-2 budgets with the HF parity column.")
    parser.add_argument("--tasks", default="sst2,mrpc,conll")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the HF runs (see glue_like.py).")
    parser.add_argument("--quick", action="store_true", help="Smoke run: a few pretraining steps, small data.")
    parser.add_argument("--rerun", action="store_true", help="Run again what runs.jsonl already has.")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    args.budgets = parse_budgets(args.budgets)
    args.hf_budgets = parse_budgets(args.hf_budgets)
    args.tasks = [t for t in args.tasks.split(",") if t]
    if args.quick:
        args.budgets = [b for b in args.budgets if b != ALL][:2] or [250]
        args.hf_budgets = args.budgets[:1]
        args.seeds, args.full_seeds = "1,2", "1"
    for task in args.tasks:
        if task not in TASK_METRIC:
            parser.error(f"--tasks: {task!r} is not one of {', '.join(TASK_METRIC)}")
    os.makedirs(args.work_dir, exist_ok=True)
    recipe = dict(PRETRAIN, **(QUICK_PRETRAIN if args.quick else {}))
    pretrained_dir, phases, corpus, pretrained_here = pretrain(args.data_dir, args.work_dir, recipe)
    clock = {"start": start, "pretraining": time.perf_counter() - start, "runs": 0.0,
             "pretrained_here": pretrained_here, "id": time.strftime("%Y-%m-%dT%H:%M:%S")}
    pretrained_dir = os.path.abspath(pretrained_dir)

    files = glue_like.prepare_data(args.data_dir, args.work_dir, args.quick, 1000)
    files["sst2-budgets"] = {b: sst2_subset(args.data_dir, args.work_dir, b) for b in args.budgets}
    results_path = args.results or (os.path.join(args.work_dir, "RESULTS.md") if args.quick
                                    else os.path.join(REPO, "RESULTS.md"))
    pictures_dir = args.pictures_dir or (args.work_dir if args.quick else os.path.join(REPO, "benchmarks", "results"))
    os.makedirs(pictures_dir, exist_ok=True)
    pictures = {"curves": os.path.join(pictures_dir, "pretraining_curves.png"),
                "budgets": os.path.join(pictures_dir, "sst2_label_budgets.png")}
    links = {k: os.path.relpath(p, os.path.dirname(os.path.abspath(results_path))) for k, p in pictures.items()}
    draw_pretraining_curves(os.path.dirname(pretrained_dir), pictures["curves"])
    args.train_rows = count_rows(os.path.join(args.data_dir, "sst2", "train.tsv"))  # 'all' of SST-2.
    args.majority = glue_like.trivial_baseline("sst2", files["sst2"][1])["accuracy"]

    runs_path = os.path.join(args.work_dir, "runs.jsonl")
    recorded = {} if args.rerun else glue_like.load_runs(runs_path)  # Keyed as run_key keys them.
    paths = [("$W", os.path.abspath(args.work_dir)), ("$P", pretrained_dir), ("$D", os.path.abspath(args.data_dir))]
    plan = plan_runs(args)
    records = []
    for number, run in enumerate(plan, 1):
        if run.task not in args.tasks:
            continue
        options = run_options(run, files, pretrained_dir, args.work_dir, args.quick)
        key = run_key(run, options)
        name = f"[{number}/{len(plan)}] {run.task} {run.budget or 'all'} {run.column} seed {run.seed}"
        if key in recorded:
            print(f"{name}: recorded, not run again", flush=True)
            records.append(recorded[key])
            continue
        print(f"\n{name}", flush=True)
        if run.column == "hf":
            evaluation, info = glue_like.run_hf(options, args.threads)
        else:
            evaluation, info = glue_like.run_ours(options)
        metric = TASK_METRIC[run.task][0]
        print(f"{name}: {metric}={evaluation[metric]:.4f} in {info['seconds']:.0f} s", flush=True)
        record = {"key": key, **dataclasses.asdict(run), "eval": evaluation, "info": info,
                  "options": dataclasses.asdict(options), "command": glue_like.command_line(options, paths),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        with open(runs_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        shutil.rmtree(options.output_dir, ignore_errors=True)  # Checkpoints of a finished run are not needed.
        records.append(record)
        clock["runs"] += info["seconds"]
        _report(results_path, records, args, recipe, phases, corpus, pretrained_dir, files, pictures, links, clock)
    _report(results_path, records, args, recipe, phases, corpus, pretrained_dir, files, pictures, links, clock)
    print(f"\nwrote {results_path} and {', '.join(pictures.values())} ({(time.perf_counter() - start) / 60:.1f} min)")
    return 0


def _report(results_path, records, args, recipe, phases, corpus, pretrained_dir, files, pictures, links, clock):
    """Redraws the label-budget picture and rewrites the report. The whole
    run's wall time: pretraining's recorded phases, every run's recorded time
    (reused from an earlier invocation or not), and what the invocations that
    ran something spent outside both (imports, data subsets, pictures; kept
    in WORK_DIR/overhead.json), so redrawing the report adds nothing."""
    draw_budgets(records, args.budgets, args.train_rows, pictures["budgets"], args.majority)
    outside = 0.0
    if clock["runs"] or clock["pretrained_here"]:
        outside = max(0.0, time.perf_counter() - clock["start"] - clock["pretraining"] - clock["runs"])
    path = os.path.join(args.work_dir, "overhead.json")  # {invocation: seconds outside}
    saved = {}
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
    if outside:  # A report-only invocation adds nothing.
        saved[clock["id"]] = outside
        with open(path + ".tmp", "w") as f:
            json.dump(saved, f)
        os.replace(path + ".tmp", path)
    wall = sum(s for _, s in phases) + sum(r["info"]["seconds"] for r in records) + sum(saved.values())
    write_report(results_path, records, args, recipe, phases, corpus, pretrained_dir, files, links, wall)


if __name__ == "__main__":
    sys.exit(main())
