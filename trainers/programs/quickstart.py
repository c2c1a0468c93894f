"""The quickstart program: a BERT's whole life in a few minutes on a CPU.

`run_quickstart(options)` is what `keras-bert quickstart` runs. Offline,
from what ships with the package and with Python itself, it:

  1. writes a pretraining corpus: the docstrings of a fixed list of
     standard-library modules (`STDLIB_MODULES`, read from their source
     with `ast`, nothing imported), or `corpus_files`; plus the texts of
     the training file. Every tenth document is held out;
  2. learns a WordPiece `vocab.txt` from it (`keras-bert vocab`'s code);
  3. makes masked LM / next sentence TFRecords (`keras-bert
     create-pretraining-data`'s code), for training and the held-out part;
  4. pretrains a small BERT briefly (`keras-bert pretrain`'s program),
     scoring the held-out masked LM accuracy before and after;
  5. fine-tunes a classifier (`keras-bert finetune`'s program) on the
     labelled set in `trainers/programs/quickstart_data/` (short product, film and
     restaurant remarks, `positive` / `negative`; `train.tsv` and a separate
     `dev.tsv`), or on `train_file` / `dev_file`, and compares the dev
     accuracy with the majority baseline;
  6. exports it for TF Serving (`keras-bert export`'s program) into
     `output_dir/export/<version>/`;
  7. loads the export in a fresh Python process that imports only
     tensorflow and tensorflow_text and classifies a few sentences.

Then it prints (and writes to `output_dir/quickstart.json`) what it made
and where, the figures, the time of each step, and the `docker run` and
`curl` lines that serve the model. Every step is the project's own
program; nothing here trains, tokenizes or exports by itself.
"""

import ast
import collections
import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import sys
import sysconfig
import time

from keras_bert import io
from keras_bert.config import BertConfig
from keras_bert.config import PRESETS
from keras_bert.text import vocabulary as vocabulary_lib
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.programs.options import FILE_FORMATS
from keras_bert.trainers.programs.options import option
from keras_bert.trainers.tasks.task import column

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quickstart_data")
DEFAULT_TRAIN_FILE = os.path.join(DATA_DIR, "train.tsv")
DEFAULT_DEV_FILE = os.path.join(DATA_DIR, "dev.tsv")
SUMMARY_FILE = "quickstart.json"

# What the quickstart writes into output_dir (and what --overwrite removes).
CORPUS_DIR = "corpus"
VOCAB_FILE = "vocab.txt"
PRETRAINING_DATA_DIR = "pretraining_data"
PRETRAIN_DIR = "pretrain"
FINETUNE_DIR = "finetune"
EXPORT_DIR = "export"
OUTPUTS = (CORPUS_DIR, VOCAB_FILE, PRETRAINING_DATA_DIR, PRETRAIN_DIR, FINETUNE_DIR, EXPORT_DIR, SUMMARY_FILE)

HELD_OUT_EVERY = 10  # Every 10th document of the corpus is held out ...
HELD_OUT_DUPE_FACTOR = 3  # ... and masked 3 ways, for a steadier accuracy.
TRAIN_TEXTS_PER_DOCUMENT = 20  # The training texts join the corpus as documents of this many lines.

# Modules whose docstrings are the default corpus (about 0.6 MB of English
# prose on Python 3.11). Read from `sysconfig`'s stdlib directory; a module
# a Python build lacks is skipped.
STDLIB_MODULES = (
    "abc", "argparse", "ast", "asyncio/base_events", "asyncio/events", "asyncio/futures", "asyncio/locks",
    "asyncio/queues", "asyncio/streams", "asyncio/tasks", "base64", "bisect", "calendar", "cmd", "codecs",
    "collections/__init__", "concurrent/futures/_base", "configparser", "contextlib", "copy", "csv",
    "dataclasses", "datetime", "decimal", "difflib", "dis", "doctest", "email/message", "email/utils",
    "enum", "filecmp", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext", "glob", "gzip",
    "hashlib", "heapq", "hmac", "html/parser", "http/client", "http/cookiejar", "http/server", "imaplib",
    "inspect", "ipaddress", "json/__init__", "json/decoder", "json/encoder", "locale", "logging/__init__",
    "logging/handlers", "mailbox", "mimetypes", "multiprocessing/pool", "numbers", "operator", "optparse",
    "os", "pathlib", "pdb", "pickle", "pickletools", "pkgutil", "platform", "plistlib", "poplib", "pprint",
    "pydoc", "queue", "quopri", "random", "re/__init__", "shlex", "shutil", "smtplib", "socket",
    "socketserver", "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
    "timeit", "tokenize", "traceback", "types", "typing", "unittest/case", "unittest/mock", "urllib/parse",
    "urllib/request", "uuid", "warnings", "weakref", "zipfile",
)

# Classified by the exported model at the end (not in the shipped data).
DEFAULT_SENTENCES = (
    "What a wonderful, funny film!",
    "The battery died after a day and support never replied.",
    "Friendly staff and delicious food.",
    "A dull movie with a silly plot.",
)

MODEL_NAME = "quickstart"


@dataclasses.dataclass(frozen=True)
class QuickstartOptions:
    """Everything `run_quickstart` needs; the fields are the CLI flags."""

    output_dir: str = option("keras_bert_quickstart", "Where everything goes (refused if not empty, unless "
                                                      "--overwrite).")
    overwrite: bool = option(False, "Replace what an earlier quickstart wrote in --output_dir (a directory with its "
                                    "quickstart.json; other files there are left alone).")
    corpus_files: str = option(None, "Pretraining text instead of the standard library's docstrings: comma-separated "
                                     "files or glob patterns, UTF-8, one paragraph (or sentence) per line, a blank "
                                     "line between documents.")
    train_file: str = option(None, "Labelled training data (TSV, CSV or JSON Lines; default: the shipped "
                                   "trainers/programs/quickstart_data/train.tsv). Needs --dev_file.")
    dev_file: str = option(None, "Labelled dev data, same layout as --train_file (default: the shipped dev.tsv).")
    file_format: str = option(None, "Format of --train_file/--dev_file (default: by extension).",
                              choices=FILE_FORMATS)
    text_a_column: str = option("sentence", "Column (header name or 0-based index) of the text.")
    text_b_column: str = option(None, "Column of the second text, for pairs.")
    label_column: str = option("label", "Column of the label.")
    do_lower_case: bool = option(True, "Uncased vocabulary and model.")
    model_size: str = option("tiny", "BERT size: tiny (2 layers x 128, default), mini, small, medium, base, large. "
                                     "Above tiny, raise --pretrain_steps and expect hours, not minutes, on a CPU.")
    vocab_size: int = option(4000, "WordPiece vocabulary size (special and [unused] tokens included).")
    vocab_num_iterations: int = option(4, "WordPiece learner iterations (`keras-bert vocab --num_iterations`; 1 is "
                                          "about 4x faster).")
    max_seq_length: int = option(64, "Sequence length for pretraining and fine-tuning.")
    max_predictions_per_seq: int = option(10, "Masked LM predictions per pretraining sequence.")
    dupe_factor: int = option(5, "Copies of the pretraining corpus, each with different masks.")
    pretrain_steps: int = option(600, "Pretraining steps. Below a few hundred the encoder may still be in the early "
                                      "stage that predicts the frequent words everywhere, which fine-tunes worse than"
                                      " random weights.")
    pretrain_batch_size: int = option(32, "Pretraining batch size.")
    pretrain_learning_rate: float = option(2e-3, "Pretraining peak learning rate.")
    finetune_epochs: float = option(15.0, "Fine-tuning epochs (the best epoch on the dev set is kept).")
    finetune_batch_size: int = option(16, "Fine-tuning batch size.")
    finetune_learning_rate: float = option(1e-3, "Fine-tuning peak learning rate.")
    sentences: tuple = DEFAULT_SENTENCES  # --sentence (repeatable): cli/quickstart.py
    model_name: str = option(MODEL_NAME, "TF Serving model name (in the docker and curl lines).")
    random_seed: int = option(12345, "Seed of the pretraining data and the input order.")


# ------------------------------------------------------------------ checks


def read_labelled(options, path):
    """`InputExample`s of a labelled file, with the options' columns and format."""
    examples, _ = classification_data.read_examples(
        path, column(options.text_a_column), column(options.text_b_column), column(options.label_column),
        format=options.file_format,
    )
    return examples


def majority_baseline(train_examples, dev_examples):
    """(label, accuracy): the training set's most frequent label, and the dev
    accuracy of always predicting it."""
    counts = collections.Counter(example.label for example in train_examples)
    label = max(sorted(counts), key=lambda name: counts[name])
    return label, sum(example.label == label for example in dev_examples) / len(dev_examples)


def _check_output_dir(options):
    path = options.output_dir
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--output_dir={path}: exists and is not a directory")
    if not os.path.isdir(path) or not os.listdir(path):
        return
    held = sorted(os.listdir(path))
    shown = ", ".join(held[:6]) + (" ..." if len(held) > 6 else "")
    if not options.overwrite:
        raise ValueError(
            f"--output_dir={path} is not empty (it holds {shown}): give --overwrite to replace what an "
            "earlier quickstart wrote there, or choose another --output_dir"
        )
    if SUMMARY_FILE not in held:  # Never delete in a directory the quickstart did not make.
        raise ValueError(
            f"--output_dir={path} is not empty and has no {SUMMARY_FILE} (it holds {shown}): --overwrite only "
            "replaces an earlier quickstart's output; choose another --output_dir"
        )


def check_options(options):
    """Everything that can be checked before any work starts.

    Returns:
      dict: `corpus_files` (paths, or None for the default corpus), `train`
      and `dev` (`InputExample` lists), `train_file`, `dev_file`.

    Raises:
      ValueError: naming the flag, its value and the rule.
    """
    if not options.output_dir:
        raise ValueError("--output_dir must not be empty")
    _check_output_dir(options)
    if options.model_size not in PRESETS:
        raise ValueError(f"--model_size={options.model_size!r}: must be one of {', '.join(PRESETS)}")
    for name, low in (("vocab_size", len(vocabulary_lib.reserved_tokens()) + 1), ("vocab_num_iterations", 1),
                      ("pretrain_steps", 1), ("pretrain_batch_size", 1), ("finetune_batch_size", 1),
                      ("dupe_factor", 1), ("max_predictions_per_seq", 1), ("max_seq_length", 8)):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"--{name}={value!r}: must be an int >= {low}")
    if options.max_seq_length > 512:
        raise ValueError(f"--max_seq_length={options.max_seq_length}: must be <= 512 (the presets' positions)")
    if options.max_predictions_per_seq > options.max_seq_length - 3:
        raise ValueError(f"--max_predictions_per_seq={options.max_predictions_per_seq}: must be <= "
                         f"max_seq_length - 3 = {options.max_seq_length - 3}")
    for name in ("pretrain_learning_rate", "finetune_learning_rate", "finetune_epochs"):
        if not getattr(options, name) > 0:
            raise ValueError(f"--{name}={getattr(options, name)!r}: must be > 0")
    if not options.sentences or any(not str(s).strip() for s in options.sentences):
        raise ValueError(f"--sentence: give non-blank sentences to classify, got {list(options.sentences)!r}")
    if not options.model_name or not all(c.isalnum() or c in "-_." for c in options.model_name):
        raise ValueError(f"--model_name={options.model_name!r}: letters, digits, '-', '_' and '.' only")
    corpus_files = None
    if options.corpus_files:
        try:
            corpus_files = io.expand_patterns(options.corpus_files)
        except ValueError as e:
            raise ValueError(f"--corpus_files={options.corpus_files}: {e}") from None
    if bool(options.train_file) != bool(options.dev_file):
        raise ValueError("give --train_file and --dev_file together (the shipped dev set belongs to the shipped "
                         "training set)")
    train_file = options.train_file or DEFAULT_TRAIN_FILE
    dev_file = options.dev_file or DEFAULT_DEV_FILE
    labelled = {}
    for flag, path in (("train_file", train_file), ("dev_file", dev_file)):
        if not os.path.isfile(path):
            raise ValueError(f"--{flag}={path}: no such file")
        try:
            labelled[flag] = read_labelled(options, path)
        except ValueError as e:
            raise ValueError(f"--{flag}={path}: {e}") from None
        if not labelled[flag]:
            raise ValueError(f"--{flag}={path}: no examples in it")
    train_labels = {example.label for example in labelled["train_file"]}
    if len(train_labels) < 2:
        raise ValueError(f"--train_file={train_file}: a classifier needs at least 2 labels, found "
                         f"{sorted(train_labels)}")
    unknown = sorted({example.label for example in labelled["dev_file"]} - train_labels)
    if unknown:
        raise ValueError(f"--dev_file={dev_file}: labels {unknown} do not occur in --train_file={train_file}")
    return {"corpus_files": corpus_files, "train": labelled["train_file"], "dev": labelled["dev_file"],
            "train_file": train_file, "dev_file": dev_file}


# ------------------------------------------------------------------ corpus


def _prose_paragraphs(docstring):
    """The prose of a docstring: its paragraphs, each on one line. Indented
    blocks (code, lists, tables), doctest and shell lines, and paragraphs of
    fewer than four words or mostly symbols are left out."""
    paragraphs = []
    for block in docstring.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines or any(line.startswith((" ", "\t")) for line in lines):
            continue
        if any(line.lstrip().startswith((">>>", "...", "$ ", "%")) for line in lines):
            continue
        text = " ".join(" ".join(line.split()) for line in lines)
        words = [word for word in text.split() if sum(c.isalpha() for c in word) >= 2]
        if len(words) < 4 or sum(c.isalpha() or c == " " for c in text) < 0.8 * len(text):
            continue
        paragraphs.append(text)
    return paragraphs


def stdlib_documents(modules=STDLIB_MODULES):
    """The default corpus: one document per module of `modules`, its
    docstrings' prose paragraphs in source order (module, classes,
    functions). Sources are parsed with `ast`; nothing is imported.

    Returns:
      list of documents, each a list of str (paragraphs).
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    documents = []
    for module in modules:
        path = os.path.join(stdlib, *module.split("/")) + ".py"
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=path)
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue  # Not in this Python build.
        nodes = [node for node in ast.walk(tree)
                 if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        nodes.sort(key=lambda node: getattr(node, "lineno", 0))
        paragraphs = []
        for node in nodes:
            docstring = ast.get_docstring(node, clean=True)
            if docstring:
                paragraphs.extend(_prose_paragraphs(docstring))
        if paragraphs:
            documents.append(paragraphs)
    return documents


def file_documents(paths):
    """Documents of text files: a blank line ends one (files are documents
    too); a file without blank lines is cut into documents of 20 lines."""
    documents = []
    for path in paths:
        try:
            with open(path, encoding="utf-8-sig") as f:
                lines = [line.strip() for line in f]
        except OSError as e:
            raise ValueError(f"--corpus_files: {path}: cannot read it ({e.strerror})") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"--corpus_files: {path}: not UTF-8 ({e.reason})") from None
        found, current = [], []
        for line in lines + [""]:
            if line:
                current.append(line)
            elif current:
                found.append(current)
                current = []
        if len(found) == 1:
            found = [found[0][i:i + 20] for i in range(0, len(found[0]), 20)]
        documents.extend(found)
    return documents


def _write_documents(path, documents):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join("\n".join(document) for document in documents) + "\n")


def write_corpus(directory, documents, train_examples):
    """Writes `pretrain.txt` (documents not held out, then the training
    texts) and `heldout.txt` (every `HELD_OUT_EVERY`-th document); one
    paragraph per line, a blank line between documents.

    Returns:
      dict of paths and counts.
    """
    held_out = [d for i, d in enumerate(documents) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    kept = [d for i, d in enumerate(documents) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    if not held_out or not kept:
        raise ValueError(f"the corpus has {len(documents)} documents; it needs at least {HELD_OUT_EVERY} "
                         "(documents end at blank lines) to hold some out")
    texts = [t for example in train_examples for t in (example.text_a, example.text_b) if t]
    texts = [" ".join(t.split()) for t in texts]
    labelled = [texts[i:i + TRAIN_TEXTS_PER_DOCUMENT] for i in range(0, len(texts), TRAIN_TEXTS_PER_DOCUMENT)]
    os.makedirs(directory, exist_ok=True)
    pretrain_path = os.path.join(directory, "pretrain.txt")
    heldout_path = os.path.join(directory, "heldout.txt")
    _write_documents(pretrain_path, kept + labelled)
    _write_documents(heldout_path, held_out)
    return {"pretrain": pretrain_path, "heldout": heldout_path, "documents": len(kept),
            "heldout_documents": len(held_out), "train_texts": len(texts),
            "bytes": os.path.getsize(pretrain_path), "heldout_bytes": os.path.getsize(heldout_path)}


# ---------------------------------------------------------------- the run


def _prepare_output_dir(options):
    """Removes what an earlier quickstart wrote (`OUTPUTS`), then marks the
    directory as the quickstart's with a `quickstart.json` that the summary
    replaces at the end."""
    os.makedirs(options.output_dir, exist_ok=True)
    removed = []
    for name in OUTPUTS:
        path = os.path.join(options.output_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        else:
            continue
        removed.append(name)
    if removed:
        print(f"--overwrite: removed {', '.join(removed)} from {options.output_dir}", flush=True)
    with open(os.path.join(options.output_dir, SUMMARY_FILE), "w", encoding="utf-8") as f:
        json.dump({"output_dir": options.output_dir, "status": "running"}, f)


def _heading(number, total, text):
    print(f"\n[{number}/{total}] {text}", flush=True)


def _duration(seconds):
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m {seconds % 60:02.0f}s"


def serving_lines(export_base, model_name, sentences):
    """The `docker run tensorflow/serving` and `curl` (row format) lines."""
    docker = (f"docker run -p 8501:8501 -v {shlex.quote(export_base)}:/models/{model_name} "
              f"-e MODEL_NAME={model_name} tensorflow/serving")
    body = json.dumps({"instances": list(sentences)}, ensure_ascii=False)
    curl = f"curl -X POST http://localhost:8501/v1/models/{model_name}:predict -d {shlex.quote(body)}"
    return docker, curl


def run_quickstart(options):
    """Runs the quickstart; returns the summary (also in `output_dir/quickstart.json`).

    Raises:
      ValueError: bad options or input files, before any work.
    """
    started = time.perf_counter()
    options = dataclasses.replace(options, output_dir=os.path.abspath(options.output_dir),
                                  sentences=tuple(options.sentences))
    checked = check_options(options)
    # The programs of the other subcommands (their imports take a few seconds).
    import keras

    from keras_bert.export import fresh_process_load
    from keras_bert.export import op_audit
    from keras_bert.trainers.programs import export as export_program
    from keras_bert.trainers.programs import finetuning
    from keras_bert.trainers.programs import pretraining
    from keras_bert.trainers.data import pretraining_data

    out = options.output_dir
    _prepare_output_dir(options)
    keras.utils.set_random_seed(options.random_seed)  # Initial weights and dropout: a reproducible run.
    timings = {}
    total = 7

    @contextlib.contextmanager
    def timed(name):
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[name] = time.perf_counter() - start

    # 1. Corpus.
    source = ("the docstrings of Python's standard library" if checked["corpus_files"] is None
              else f"{len(checked['corpus_files'])} --corpus_files")
    _heading(1, total, f"corpus: {source} + the {len(checked['train'])} training texts")
    with timed("corpus"):
        documents = (stdlib_documents() if checked["corpus_files"] is None
                     else file_documents(checked["corpus_files"]))
        corpus = write_corpus(os.path.join(out, CORPUS_DIR), documents, checked["train"])
    print(f"wrote {corpus['pretrain']} ({corpus['documents']} documents + {corpus['train_texts']} training "
          f"texts, {corpus['bytes'] / 1e6:.2f} MB) and {corpus['heldout']} ({corpus['heldout_documents']} "
          f"held-out documents, {corpus['heldout_bytes'] / 1e6:.2f} MB)", flush=True)

    # 2. Vocabulary (keras-bert vocab).
    vocab_file = os.path.join(out, VOCAB_FILE)
    _heading(2, total, f"vocabulary: WordPiece, {options.vocab_size} entries")
    with timed("vocabulary"):
        vocab = vocabulary_lib.build_vocabulary_file(corpus["pretrain"], vocab_file, options.vocab_size,
                                                     lowercase=options.do_lower_case,
                                                     num_iterations=options.vocab_num_iterations)
    print(f"wrote {vocab_file}: {len(vocab)} tokens ({'uncased' if options.do_lower_case else 'cased'})",
          flush=True)

    # 3. Pretraining data (keras-bert create-pretraining-data).
    data_dir = os.path.join(out, PRETRAINING_DATA_DIR)
    os.makedirs(data_dir, exist_ok=True)
    train_records = os.path.join(data_dir, "train.tfrecord")
    heldout_records = os.path.join(data_dir, "heldout.tfrecord")
    _heading(3, total, f"pretraining data: masked LM + next sentence, seq {options.max_seq_length}")
    with timed("pretraining_data"):
        counts = {}
        for name, text, records, dupe in (("train", corpus["pretrain"], train_records, options.dupe_factor),
                                          ("heldout", corpus["heldout"], heldout_records, HELD_OUT_DUPE_FACTOR)):
            counts[name] = pretraining_data.create_pretraining_data(
                text, records, vocab_file, do_lower_case=options.do_lower_case,
                max_seq_length=options.max_seq_length, max_predictions_per_seq=options.max_predictions_per_seq,
                random_seed=options.random_seed, dupe_factor=dupe, input_format="paragraphs",
            ).examples
            print(f"wrote {counts[name]} examples to {records}", flush=True)
    if not counts["heldout"]:
        raise ValueError("the held-out documents gave no pretraining example; give a larger --corpus_files")

    # 4. Pretraining (keras-bert pretrain), held-out masked LM before and after.
    pretrain_dir = os.path.join(out, PRETRAIN_DIR)
    config = BertConfig.from_preset(options.model_size)
    _heading(4, total, f"pretraining: {options.model_size} BERT ({config.num_layers} layers x "
             f"{config.hidden_size}), {options.pretrain_steps} steps of {options.pretrain_batch_size}")
    eval_batch_size = max(1, min(32, counts["heldout"]))
    pretrain_options = pretraining.PretrainingOptions(
        output_dir=pretrain_dir, input_file=train_records, eval_input_file=heldout_records,
        bert_config_preset=options.model_size, vocab_file=vocab_file, do_lower_case=options.do_lower_case,
        max_seq_length=options.max_seq_length, max_predictions_per_seq=options.max_predictions_per_seq,
        train_batch_size=options.pretrain_batch_size, eval_batch_size=eval_batch_size,
        learning_rate=options.pretrain_learning_rate, num_train_steps=options.pretrain_steps,
        num_warmup_steps=options.pretrain_steps // 10, save_checkpoints_steps=options.pretrain_steps,
        keep_checkpoint_max=1, log_steps=max(1, options.pretrain_steps // 10), max_eval_steps=50,
        random_seed=options.random_seed,
    )
    with timed("pretraining"):
        print("held-out masked LM of the untrained model:", flush=True)
        before = pretraining.run_pretraining(dataclasses.replace(pretrain_options, do_eval=True))["eval"]
        after = pretraining.run_pretraining(dataclasses.replace(pretrain_options, do_train=True, do_eval=True))
        after = after["eval"]
    print(f"held-out masked LM accuracy {before['masked_lm_accuracy']:.4f} before, "
          f"{after['masked_lm_accuracy']:.4f} after {options.pretrain_steps} steps", flush=True)

    # 5. Fine-tuning (keras-bert finetune).
    finetune_dir = os.path.join(out, FINETUNE_DIR)
    baseline_label, baseline = majority_baseline(checked["train"], checked["dev"])
    _heading(5, total, f"fine-tuning: classifier on {checked['train_file']} ({len(checked['train'])} examples), "
             f"dev {checked['dev_file']} ({len(checked['dev'])})")
    steps_per_epoch = max(1, len(checked["train"]) // options.finetune_batch_size)
    finetune_options = finetuning.FinetuningOptions(
        task="classification", output_dir=finetune_dir, train_file=checked["train_file"],
        eval_file=checked["dev_file"], file_format=options.file_format, text_a_column=options.text_a_column,
        text_b_column=options.text_b_column, label_column=options.label_column, init_checkpoint=pretrain_dir,
        vocab_file=vocab_file, do_lower_case=options.do_lower_case, max_seq_length=options.max_seq_length,
        do_train=True, do_eval=True, train_batch_size=options.finetune_batch_size,
        learning_rate=options.finetune_learning_rate, num_train_epochs=options.finetune_epochs,
        log_steps=steps_per_epoch, random_seed=options.random_seed,
    )
    with timed("finetuning"):
        finetuned = finetuning.run_finetuning(finetune_options)["eval"]
    print(f"dev accuracy {finetuned['accuracy']:.4f} (majority baseline {baseline:.4f}: always "
          f"{baseline_label!r})", flush=True)

    # 6. Export (keras-bert export).
    export_base = os.path.join(out, EXPORT_DIR)
    _heading(6, total, f"export for TF Serving: {export_base}/<version>/")
    with timed("export"):
        export_path = export_program.run_export(finetune_dir, export_base, model_name=options.model_name)
        audit = op_audit.audit_saved_model(export_path)

    # 7. A fresh process: tensorflow + tensorflow_text only.
    _heading(7, total, "reload the export in a fresh process (imports only tensorflow and tensorflow_text)")
    with timed("fresh_process"):
        classified = fresh_process_load.classify(export_path, list(options.sentences))
    for row in classified:
        print(f"  {row['text']!r} -> {row['label']} ({row['probability']:.3f})", flush=True)

    timings["total"] = time.perf_counter() - started
    docker, curl = serving_lines(export_base, options.model_name, options.sentences[:2])
    summary = {
        "output_dir": out,
        "status": "done",
        "made": {
            "corpus": corpus["pretrain"], "heldout_corpus": corpus["heldout"], "vocab": vocab_file,
            "pretraining_data": data_dir, "pretrain_dir": pretrain_dir,
            "pretrained_hf": os.path.join(pretrain_dir, "pretrained_hf"), "finetune_dir": finetune_dir,
            "export_dir": export_path,
        },
        "figures": {
            "vocab_size": len(vocab), "pretraining_examples": counts["train"], "heldout_examples": counts["heldout"],
            "masked_lm_accuracy_before": before["masked_lm_accuracy"],
            "masked_lm_accuracy_after": after["masked_lm_accuracy"],
            "pretrain_steps": options.pretrain_steps, "dev_accuracy": finetuned["accuracy"],
            "majority_baseline": baseline, "majority_label": baseline_label, "dev_examples": len(checked["dev"]),
            "op_audit": audit.summary(), "servable": audit.ok,
        },
        "classified": [{k: row[k] for k in ("text", "label", "probability")} for row in classified],
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "serve": {"docker": docker, "curl": curl},
    }
    with open(os.path.join(out, SUMMARY_FILE), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
    print_summary(summary, options)
    return summary


def print_summary(summary, options):
    """Prints the end of the run: what was made and where, figures, timings, serving lines."""
    made, figures = summary["made"], summary["figures"]
    out = summary["output_dir"]

    def rel(path):
        return os.path.relpath(path, out)

    lines = [
        "",
        f"quickstart done in {_duration(summary['timings']['total'])}. What it made, under {out}:",
        f"  corpus             {rel(made['corpus'])}, held out {rel(made['heldout_corpus'])}",
        f"  vocabulary         {rel(made['vocab'])} ({figures['vocab_size']} WordPiece tokens)",
        f"  pretraining data   {rel(made['pretraining_data'])}/ ({figures['pretraining_examples']} training, "
        f"{figures['heldout_examples']} held-out examples)",
        f"  pretrained BERT    {rel(made['pretrain_dir'])}/ ({options.model_size}; checkpoint, "
        f"{rel(made['pretrained_hf'])}/ in Hugging Face format)",
        f"  classifier         {rel(made['finetune_dir'])}/ (task.json, best/, model.keras, eval_results.txt)",
        f"  TF Serving export  {rel(made['export_dir'])}/ (op audit: "
        f"{'all servable' if figures['servable'] else 'NOT servable: ' + figures['op_audit']})",
        "figures:",
        f"  held-out masked LM accuracy  {figures['masked_lm_accuracy_before']:.4f} before -> "
        f"{figures['masked_lm_accuracy_after']:.4f} after {figures['pretrain_steps']} steps",
        f"  dev accuracy                 {figures['dev_accuracy']:.4f} (majority baseline "
        f"{figures['majority_baseline']:.4f}, {figures['dev_examples']} examples)",
        "timings:",
    ]
    names = {"corpus": "corpus", "vocabulary": "vocabulary", "pretraining_data": "pretraining data",
             "pretraining": "pretraining (+ 2 evals)", "finetuning": "fine-tuning", "export": "export + op audit",
             "fresh_process": "fresh-process reload", "total": "total"}
    for key, label in names.items():
        if key in summary["timings"]:
            lines.append(f"  {label:<28} {_duration(summary['timings'][key])}")
    lines += [
        "serve it (TF Serving, REST on port 8501), then ask it:",
        f"  {summary['serve']['docker']}",
        f"  {summary['serve']['curl']}",
        f"  (more in README.md, Export for TF Serving; this summary is in {rel(os.path.join(out, SUMMARY_FILE))})",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
