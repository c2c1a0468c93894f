"""Malformed data files through the CLI: a clean error naming the file and line, nothing written.

Every malformed file below goes to `keras-bert finetune`, `keras-bert
predict`, `keras-bert pretrain` or `keras-bert encode` as a user would pass
it: TSV/CSV rows with a missing column, a header without the column asked
for, a label outside `--label_list`, a regression label that is not a
number, bad quoting, bad UTF-8, random bytes, an empty file; JSON Lines
with bad JSON, JSON nested too deeply for Python and an integer too long to
convert; CoNLL word lines without a tag; SQuAD files that are not JSON or
hold an answer outside its context; a multiple-choice row short of a
choice; pretraining TFRecord shards that are truncated, have a corrupt
record header, are empty or are text, alone or among good shards, for
training or evaluation; a fine-tuning output directory whose `task.json` is
nested too deeply or holds an integer too long to convert (for `predict`);
a Hugging Face checkpoint directory (`--init_checkpoint` of `encode`) whose
`model.safetensors` has a header length of 2**62 or is truncated, or whose
`config.json` is nested too deeply or holds an integer too long to convert;
models fine-tuned with transformers that do not fit what is asked (`export`,
`finetune --init_checkpoint`, `convert`): not a BERT task class, a
multi-label classifier, a head of another size than `id2label`, label ids
with a gap, no vocab.txt, no task head, text pairs for a tagger, a tagger to
continue as a classifier, labels that are not the training file's, a format
without that head.

Proven for each: the command exits with a non-zero status through
`SystemExit("keras-bert <command>: <message>")` -- a clean error, no
traceback --, the output names the file and, where the format has lines,
the line (the entry, the record, for SQuAD and TFRecords); and the output
directory is left as it was: one that did not exist still does not, one
that existed (with a file in it) holds the same files, byte for byte, with
the same modification times. No checkpoint, predictions or config is
written, because every file is read before anything is.

The CLI costs a TensorFlow import (~7 s) per process, so one subprocess
runs all the cases of one subcommand: `python -m
tests.reliability.test_malformed_files CASES RESULTS` calls
`keras_bert.trainers.cli.main` once per case (flags reset in between), as `python -m
keras_bert.trainers.cli` does, turning the `SystemExit` into an exit status and stderr
as the interpreter would. `test_through_the_console_entry_point` runs one
more malformed file through a real `python -m keras_bert.trainers.cli finetune`.
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import traceback

import pytest

from tests.reliability.record import record

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROW = "Malformed data files -> CLI"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?"] + (
    "the a movie film was is good bad great dull fine plot king queen went home who where paris berlin "
    "story and it not"
).split()
GOOD_ROWS = [("the movie was good", "pos"), ("the plot was dull", "neg"), ("a great film", "pos"),
             ("the story is bad", "neg")]


@dataclasses.dataclass
class Case:
    """One malformed file and the command line that reads it."""

    name: str
    command: str  # finetune, predict or pretrain
    path: str  # The malformed file.
    argv: list  # The command's flags.
    output_dir: str
    where: tuple  # What the error must name: the file and line (entry, record), and the problem.


def snapshot(directory):
    """Every file under `directory`: size, modification time, sha256 (None if it does not exist)."""
    if not os.path.lexists(directory):
        return None
    files = {}
    for root, dirs, names in os.walk(directory):
        for name in dirs:
            files[os.path.relpath(os.path.join(root, name), directory) + "/"] = None
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            stat = os.stat(path)
            files[os.path.relpath(path, directory)] = [stat.st_size, stat.st_mtime_ns, digest]
    return files


def run_cases(cases_file, results_file):
    """The subprocess: `keras_bert.trainers.cli.main` on each case's argv, in turn.

    A `SystemExit` becomes what the interpreter makes of it at exit (None:
    status 0; an int: that status; anything else: printed to stderr, status
    1); any other exception is a crash, its traceback kept.
    """
    from absl import flags

    from keras_bert.trainers import cli

    results = []
    with open(cases_file, encoding="utf-8") as f:
        cases = json.load(f)
    for case in cases:
        flags.FLAGS.unparse_flags()  # Every case starts from the flags' defaults.
        before = snapshot(case["output_dir"])
        stdout, stderr = io.StringIO(), io.StringIO()
        status, clean = None, False
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = cli.main(["keras-bert", case["command"], *case["argv"]])
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    status = e.code or 0
                else:
                    print(e.code, file=sys.stderr)
                    status, clean = 1, True
            except BaseException:  # A crash: what the interpreter would print.
                traceback.print_exc()
                status = 1
        results.append(dict(name=case["name"], status=status, clean=clean, stdout=stdout.getvalue(),
                            stderr=stderr.getvalue(), before=before, after=snapshot(case["output_dir"])))
    with open(results_file, "w", encoding="utf-8") as f:
        json.dump(results, f)


def run_in_subprocess(cases, workdir):
    """Runs `cases` (all of one command) in one subprocess; returns {name: result}."""
    cases_file = os.path.join(workdir, f"{cases[0].command}_cases.json")
    results_file = os.path.join(workdir, f"{cases[0].command}_results.json")
    with open(cases_file, "w", encoding="utf-8") as f:
        json.dump([dataclasses.asdict(case) for case in cases], f)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    run = subprocess.run([sys.executable, "-m", "tests.reliability.test_malformed_files", cases_file, results_file],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(results_file, encoding="utf-8") as f:
        return {result["name"]: result for result in json.load(f)}


def problems(case, result):
    """What is wrong with how `case` was handled (empty: a clean error, nothing written)."""
    found = []
    output = result["stdout"] + result["stderr"]
    if result["status"] == 0:
        found.append("exit status 0")
    if not result["clean"] or "Traceback" in output:
        found.append("not a clean error (a traceback)")
    if not result["stderr"].strip().splitlines() or not result["stderr"].strip().splitlines()[-1].startswith(
            f"keras-bert {case.command}: "):
        found.append(f"stderr does not end with 'keras-bert {case.command}: <message>'")
    found += [f"the output does not name {text!r}" for text in case.where if text not in output]
    if result["before"] is None and result["after"] not in (None, {}):
        found.append(f"{case.output_dir} was created with {sorted(result['after'])}")
    elif result["before"] is not None and result["after"] != result["before"]:
        changed = sorted(set(result["after"] or {}) ^ set(result["before"]) | {
            name for name in set(result["after"] or {}) & set(result["before"])
            if result["after"][name] != result["before"][name]})
        found.append(f"{case.output_dir} changed: {changed}")
    return found


def check_and_record(cases, results, detail):
    report = {case.name: problems(case, results[case.name]) for case in cases}
    failed = {name: (found, results[name]["stderr"][-1500:]) for name, found in report.items() if found}
    assert not failed, "\n".join(f"{name}: {found}\n{stderr}" for name, (found, stderr) in failed.items())
    record(ROW, inputs=len(cases), crashes=len(failed), data_lost=0,
           detail=f"{detail}: {', '.join(case.name for case in cases)}")


# ------------------------------------------------------------------ data


def write(path, content):
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def tsv(rows, header="sentence\tlabel"):
    return "\n".join([header] + ["\t".join(row) for row in rows]) + "\n"


def existing_output_dir(path):
    """An output directory that exists and holds a file (it must stay as it is)."""
    os.makedirs(path)
    write(os.path.join(path, "notes.txt"), "kept as it is\n")
    return str(path)


def squad(qas, context="the king went home . the queen went to paris ."):
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed")
    write(root / "vocab.txt", "\n".join(VOCAB) + "\n")
    return root


def run_and_record(cases, workdir, command, kind):
    """Runs `cases` in one subprocess, checks and records them as "<command>, N <kind>"."""
    results = run_in_subprocess(cases, str(workdir))
    check_and_record(cases, results, f"{command}, {len(cases)} {kind}")


def finetune_cases(root):
    data = root / "data"
    data.mkdir()
    out = root / "out"
    vocab = str(root / "vocab.txt")
    common = ["--bert_config_preset=tiny", f"--vocab_file={vocab}", "--max_seq_length=16", "--train_batch_size=4",
              "--num_train_epochs=1", "--do_train"]
    classification = ["--task=classification", "--text_a_column=sentence", "--label_column=label"]
    good = write(data / "good.tsv", tsv(GOOD_ROWS))
    cases = []

    def case(name, path, argv, where, existing=False):
        output_dir = existing_output_dir(out / name) if existing else str(out / name)
        cases.append(Case(name, "finetune", path, common + argv + [f"--output_dir={output_dir}"], output_dir,
                          tuple(where)))

    path = write(data / "missing_column.tsv", tsv(GOOD_ROWS[:2]) + "a movie\n")
    case("TSV row missing a column", path, classification + [f"--train_file={path}"],
         [f"{path}:4", "wrong number of fields"], existing=True)
    path = write(data / "header_lacks_column.tsv", tsv(GOOD_ROWS, header="sentence\tlabl"))
    case("TSV header without --label_column", path, classification + [f"--train_file={path}"],
         [f"{path}:1", "label='label' is not a column"])
    path = write(data / "latin1.tsv", tsv(GOOD_ROWS[:1]).encode() + "caf\xe9 film\tpos\n".encode("latin-1"))
    case("TSV row not UTF-8", path, classification + [f"--train_file={path}"], [f"{path}:3", "not UTF-8"])
    path = write(data / "random_bytes.tsv", b"\xff" + random.Random(0).randbytes(4096))
    case("TSV of random bytes", path, classification + [f"--train_file={path}"], [f"{path}:1", "not UTF-8"])
    path = write(data / "empty.tsv", b"")
    case("empty TSV", path, classification + [f"--train_file={path}"], [path, "empty file"])
    path = write(data / "unknown_label.csv", 'sentence,label\n"the movie, good",pos\nbad film,neg\nso so,meh\n')
    case("CSV label not in --label_list", path, classification + [f"--train_file={path}", "--label_list=neg,pos"],
         [f"{path}:4", "unknown label 'meh'"])
    path = write(data / "unterminated_quote.csv", 'sentence,label\ngood film,pos\n"never closed,neg\nbad,neg\n')
    case("CSV quote never closed", path, classification + [f"--train_file={path}"], [f"{path}:3", "bad CSV"])
    lines = [json.dumps({"sentence": text, "label": label}) for text, label in GOOD_ROWS]
    path = write(data / "bad_json.jsonl", "\n".join(lines[:2] + ['{"sentence": "fine film", "label": pos}']) + "\n")
    case("JSON Lines with bad JSON", path, classification + [f"--train_file={path}"], [f"{path}:3", "bad JSON"])
    path = write(data / "deeply_nested.jsonl", lines[0] + '\n{"sentence": ' + "[" * 100_000 + "\n")
    case("JSON Lines nested too deeply", path, classification + [f"--train_file={path}"],
         [f"{path}:2", "nested too deeply"])
    path = write(data / "huge_integer.jsonl", lines[0] + '\n{"sentence": "a film", "label": ' + "9" * 5000 + "}\n")
    case("JSON Lines integer of 5,000 digits", path, classification + [f"--train_file={path}"],
         [f"{path}:2", "bad JSON"])
    path = write(data / "not_a_number.tsv", tsv([("good film", "0.5"), ("bad film", "very")], header="text\tscore"))
    case("regression label not a number", path,
         ["--task=regression", "--text_a_column=text", "--label_column=score", f"--train_file={path}"],
         [f"{path}:3", "not a number"])
    path = write(data / "bad_dev.tsv", tsv(GOOD_ROWS[:1]) + "\tpos\n")
    case("eval file with an empty text", path, classification + [f"--train_file={good}", "--do_eval",
                                                                  f"--eval_file={path}"],
         [f"{path}:3", "empty text"], existing=True)
    path = write(data / "bad_predict.tsv", "sentence\ngood film\nbad\tfilm\n")
    case("predict file row with an extra field", path, classification + [f"--train_file={good}", "--do_predict",
                                                                          f"--predict_file={path}"],
         [f"{path}:3", "wrong number of fields"], existing=True)
    path = write(data / "no_tag.conll", "-DOCSTART- O\n\nthe O\nking B-PER\nwent\nhome O\n")
    case("CoNLL word line without a tag", path, ["--task=tagging", f"--train_file={path}"],
         [f"{path}:5", "no tag"], existing=True)
    path = write(data / "latin1.conll", "the O\n".encode() + "caf\xe9 O\n".encode("latin-1"))
    case("CoNLL line not UTF-8", path, ["--task=tagging", f"--train_file={path}"], [f"{path}:2", "not UTF-8"])
    squad_args = ["--task=squad", "--max_query_length=8", "--doc_stride=8"]
    good_qas = [{"id": "q1", "question": "who went home ?", "answers": [{"text": "the king", "answer_start": 0}]}]
    text = json.dumps(squad(good_qas), indent=1)
    text = text[:text.index('"answers"')]  # Cut off mid-file.
    line = text.count("\n") + 1  # Where the JSON ends too early.
    path = write(data / "truncated_squad.json", text)
    case("SQuAD file that is not valid JSON", path, squad_args + [f"--train_file={path}"],
         [f"input_file={path!r}", f"at line {line}"])
    path = write(data / "deeply_nested_squad.json", '{"data": ' + "[" * 100_000)
    case("SQuAD JSON nested too deeply", path, squad_args + [f"--train_file={path}"],
         [f"input_file={path!r}", "nested too deeply"])
    bad_qas = good_qas + [{"id": "q2", "question": "who ?", "answers": [{"text": "the queen", "answer_start": 999}]}]
    path = write(data / "answer_outside_context.json", json.dumps(squad(bad_qas)))
    case("SQuAD answer outside its context", path, squad_args + [f"--train_file={path}"],
         [f"input_file={path!r}", "data[0].paragraphs[0].qas[1]"])
    path = write(data / "short_row.csv", "sent1,ending0,ending1,label\nthe king,went home,went to paris,0\n"
                                         "the queen,went home,1\n")
    case("multiple choice row short of a choice", path,
         ["--task=multiple_choice", "--text_a_column=sent1", "--choice_columns=ending0,ending1",
          "--label_column=label", f"--train_file={path}"], [f"{path}:3", "wrong number of fields"])
    return cases


def test_finetune_malformed_files(workdir):
    run_and_record(finetune_cases(workdir), workdir, "keras-bert finetune", "files")


def predict_cases(root):
    """A `keras-bert finetune` output_dir (task, config, vocabulary: all `predict` reads before the data) and
    malformed files to predict."""
    from keras_bert import BertConfig

    model_dir = root / "model"
    model_dir.mkdir()
    task = {"task": "classification", "label_list": ["neg", "pos"], "max_seq_length": 16, "lowercase": True,
            "best_metric": "accuracy", "text_a_column": "sentence", "text_b_column": None}
    write(model_dir / "task.json", json.dumps(task))
    BertConfig.from_preset("tiny", vocab_size=len(VOCAB)).save(str(model_dir / "model_config.json"))
    write(model_dir / "vocab.txt", "\n".join(VOCAB) + "\n")
    data = root / "predict_data"
    data.mkdir()
    cases = []
    path = write(data / "missing_column.tsv", "sentence\tid\ngood film\t1\nbad film\n")
    cases.append(Case("predict: TSV row missing a column", "predict", path,
                      [f"--output_dir={model_dir}", f"--predict_file={path}"], str(model_dir),
                      (f"{path}:3", "wrong number of fields")))
    path = write(data / "bad_json.jsonl", '{"sentence": "good film"}\n{"sentence": "bad film"\n')
    cases.append(Case("predict: JSON Lines with bad JSON", "predict", path,
                      [f"--output_dir={model_dir}", f"--predict_file={path}"], str(model_dir),
                      (f"{path}:2", "bad JSON")))
    good = write(data / "good.tsv", "sentence\ngood film\n")
    for name, text, problem in (
            ("predict: task.json nested too deeply", '{"task": ' + "[" * 100_000, "nested too deeply"),
            ("predict: task.json integer of 5,000 digits",
             json.dumps(task)[:-1] + ', "max_seq_length": ' + "9" * 5000 + "}", "Exceeds the limit")):
        bad_dir = root / name.split(": ")[1].replace(" ", "_").replace(",", "")
        bad_dir.mkdir()
        for file in ("model_config.json", "vocab.txt"):
            write(bad_dir / file, (model_dir / file).read_bytes())
        path = write(bad_dir / "task.json", text)
        cases.append(Case(name, "predict", path, [f"--output_dir={bad_dir}", f"--predict_file={good}"],
                          str(bad_dir), (f"{path}: not valid JSON", problem)))
    return cases


def test_predict_malformed_files(workdir):
    run_and_record(predict_cases(workdir), workdir, "keras-bert predict", "files")


def pretrain_cases(root):
    from tests.trainers.data.test_pretraining_data import VOCAB as PRETRAINING_VOCAB
    from tests.trainers.data.test_pretraining_data import corpus_text
    from keras_bert.trainers.data import pretraining_data

    data = root / "shards"
    data.mkdir()
    vocab = write(data / "vocab.txt", "\n".join(PRETRAINING_VOCAB) + "\n")
    write(data / "corpus.txt", corpus_text(num_docs=6))
    good = str(data / "good.tfrecord")
    pretraining_data.create_pretraining_data(str(data / "corpus.txt"), good, vocab, max_seq_length=32,
                                             max_predictions_per_seq=5, dupe_factor=1)
    with open(good, "rb") as f:
        records = f.read()
    first_length = int.from_bytes(records[:8], "little")
    second = 8 + 4 + first_length + 4  # Offset of record 1.
    assert len(records) > second + 16
    common = ["--bert_config_preset=tiny", f"--vocab_file={vocab}", "--max_seq_length=32",
              "--max_predictions_per_seq=5", "--do_train", "--train_batch_size=8", "--num_train_steps=4",
              "--num_warmup_steps=1", "--save_checkpoints_steps=2", "--shuffle_buffer_size=10"]
    cases = []

    def case(name, path, argv, where, existing=False):
        output_dir = existing_output_dir(root / "pretrain_out" / name) if existing else str(
            root / "pretrain_out" / name)
        cases.append(Case(name, "pretrain", path, common + argv + [f"--output_dir={output_dir}"], output_dir,
                          tuple(where)))

    path = write(data / "truncated.tfrecord", records[:-7])
    case("truncated TFRecord shard", path, [f"--input_file={path}"], [f"input file {path!r}", "is truncated"],
         existing=True)
    damaged = bytearray(records)
    damaged[second + 2] ^= 0xFF  # Record 1's length: its header checksum no longer matches.
    path = write(data / "corrupt_header.tfrecord", bytes(damaged))
    case("TFRecord shard with a corrupt record header", path, [f"--input_file={path}"],
         [f"input file {path!r}: record 1 at byte offset {second}", "corrupt record header"])
    path = write(data / "empty.tfrecord", b"")
    case("empty TFRecord shard", path, [f"--input_file={path}"], [f"input file {path!r}", "empty"])
    path = write(data / "text.tfrecord", "this is a text file , not a TFRecord .\n" * 20)
    case("text file as a TFRecord shard", path, [f"--input_file={path}"], [f"input file {path!r}", "record 0"])
    path = write(data / "truncated_among_good.tfrecord", records[: second + 20])
    case("truncated shard among good ones", path, [f"--input_file={good},{path}"],
         [f"input file {path!r}: record 1", "is truncated"])
    path = write(data / "truncated_eval.tfrecord", records[:-1])
    case("truncated eval shard", path, [f"--input_file={good}", "--do_eval", f"--eval_input_file={path}"],
         [f"input file {path!r}", "is truncated"], existing=True)
    return cases


def test_pretrain_malformed_shards(workdir):
    run_and_record(pretrain_cases(workdir), workdir, "keras-bert pretrain", "shards")


def encode_cases(root):
    """Hugging Face checkpoint directories (config.json, model.safetensors, vocab.txt) with one unreadable file,
    for `keras-bert encode --init_checkpoint`."""
    import struct

    import numpy as np
    from safetensors.numpy import save_file

    from tests.keras_bert.checkpoints import writers

    config = json.dumps(dict(writers.TINY, model_type="bert", hidden_act="gelu"))
    good = str(root / "good.safetensors")
    save_file({"embeddings.word_embeddings.weight": np.ones((4, 4), np.float32)}, good)
    with open(good, "rb") as f:
        safetensors = f.read()
    cases = []
    for i, (name, file, content, problem) in enumerate((
            ("model.safetensors with a header length of 2**62", "model.safetensors",
             struct.pack("<Q", 2**62) + b"{}", "not a readable safetensors file"),
            ("model.safetensors truncated", "model.safetensors", safetensors[:-7], "not a readable safetensors file"),
            ("config.json nested too deeply", "config.json", "[" * 100_000, "not valid JSON: nested too deeply"),
            ("config.json integer of 5,000 digits", "config.json", config[:-1] + ', "vocab_size": ' + "9" * 5000 + "}",
             "not valid JSON: Exceeds the limit"))):
        directory = root / "checkpoints" / f"checkpoint{i}"
        directory.mkdir(parents=True)
        write(directory / "config.json", config)
        write(directory / "model.safetensors", safetensors)
        writers.write_vocab(str(directory / "vocab.txt"))
        path = write(directory / file, content)
        cases.append(Case(f"encode: {name}", "encode", path, [f"--init_checkpoint={directory}", "--sentence=a film"],
                          str(directory), (f"{path}: {problem}",)))
    return cases


def test_encode_unreadable_checkpoints(workdir):
    run_and_record(encode_cases(workdir), workdir, "keras-bert encode --init_checkpoint", "files")


def foreign_checkpoint_cases(root):
    """Models fine-tuned with transformers (`save_pretrained` of a `BertFor...`, vocab.txt) that are wrong
    for what is asked of them: `export` (TF Serving), `finetune --init_checkpoint`, `convert`."""
    from tests.keras_bert.checkpoints import writers

    def checkpoint(name, architecture, edit=None, vocab=True, **values):
        directory = root / "foreign" / name
        writers.write_hf(str(directory), writers.hf_task_model(architecture, **values))
        if not vocab:
            os.remove(directory / "vocab.txt")
        config_path = str(directory / "config.json")
        if edit:
            with open(config_path) as f:
                config = json.load(f)
            config.update(edit)
            write(config_path, json.dumps(config))
        return str(directory), config_path

    classifier = dict(num_labels=2, id2label={0: "negative", 1: "positive"})
    cases = {"export": [], "finetune": [], "convert": []}

    def case(command, name, path, argv, where):
        output_dir = str(root / "foreign_out" / command / name.replace(" ", "_"))
        flag = {"export": "--export_dir", "finetune": "--output_dir", "convert": "--output_dir"}[command]
        cases[command].append(Case(f"{command}: {name}", command, path, argv + [f"{flag}={output_dir}"], output_dir,
                                   tuple(where)))

    directory, config = checkpoint("unknown_class", "BertForSequenceClassification",
                                   edit={"architectures": ["BertForNextGeneration"]}, **classifier)
    case("export", "architectures not a BERT task model", config, [f"--model_dir={directory}"],
         [config, "architectures=['BertForNextGeneration']: not a BERT task model"])
    directory, config = checkpoint("multi_label", "BertForSequenceClassification",
                                   problem_type="multi_label_classification", **classifier)
    case("export", "a multi-label classifier", config, [f"--model_dir={directory}"],
         [config, "problem_type='multi_label_classification'"])
    directory, config = checkpoint("head_shape", "BertForSequenceClassification",
                                   edit={"id2label": {"0": "a", "1": "b", "2": "c"}}, **classifier)
    case("export", "id2label of 3 labels, a head of 2", config, [f"--model_dir={directory}"],
         [os.path.join(directory, "model.safetensors"), "'classifier.weight' has shape (2, 32)"])
    directory, config = checkpoint("label_ids", "BertForSequenceClassification",
                                   edit={"id2label": {"0": "a", "7": "b"}}, **classifier)
    case("export", "id2label ids with a gap", config, [f"--model_dir={directory}"], [config, "id2label ids [0, 7]"])
    directory, config = checkpoint("dropout", "BertForSequenceClassification", edit={"classifier_dropout": "high"},
                                   **classifier)
    case("export", "classifier_dropout not a number", config, [f"--model_dir={directory}"],
         [config, "classifier_dropout='high'"])
    directory, config = checkpoint("no_vocab", "BertForSequenceClassification", vocab=False, **classifier)
    case("export", "no vocab.txt", directory, [f"--model_dir={directory}"], [directory, "no vocab.txt"])
    directory, config = checkpoint("pretrained", "BertForPreTraining")
    case("export", "a pretrained BERT, no task head", directory, [f"--model_dir={directory}"],
         [directory, "a pretrained BERT with no task head"])
    tagger, tagger_config = checkpoint("tagger", "BertForTokenClassification", num_labels=3)
    case("export", "--text_pairs for a tagger", tagger, [f"--model_dir={tagger}", "--text_pairs"],
         ["--text_pairs: a tagging model"])

    train = write(root / "foreign" / "train.tsv", tsv(GOOD_ROWS))
    finetune = ["--task=classification", "--text_a_column=sentence", "--label_column=label", "--do_train",
                f"--train_file={train}", "--max_seq_length=16", "--train_batch_size=4"]
    case("finetune", "a token classifier to continue as a classifier", tagger_config,
         finetune + [f"--init_checkpoint={tagger}"],
         [tagger_config, "holds a fine-tuned BertTokenClassifier", "--task=classification trains a BertClassifier"])
    directory, config = checkpoint("other_labels", "BertForSequenceClassification", **classifier)
    case("finetune", "id2label that lacks the training file's labels", config,
         finetune + [f"--init_checkpoint={directory}"],
         [config, "id2label ['negative', 'positive'] lacks ['neg', 'pos']", train])
    case("convert", "a token classifier to the original format", tagger,
         [f"--input_dir={tagger}", "--output_format=original"],
         ["google-research/bert has no checkpoint format for a BertTokenClassifier"])
    directory, config = checkpoint("two_classes", "BertForSequenceClassification",
                                   edit={"architectures": ["BertForSequenceClassification", "BertModel"]}, **classifier)
    case("convert", "two architectures", config, [f"--input_dir={directory}"], [config, "one class expected"])
    return cases


@pytest.mark.slow  # ~22 s; RELIABILITY.md runs it; the other malformed-file tests stay in the default run.
def test_foreign_task_checkpoints(workdir):
    pytest.importorskip("transformers")
    for command, cases in foreign_checkpoint_cases(workdir).items():
        run_and_record(cases, workdir, f"keras-bert {command} (a model fine-tuned with transformers)", "checkpoints")


def test_through_the_console_entry_point(workdir):
    """One more malformed file through a real `python -m keras_bert.trainers.cli finetune`: the same clean error."""
    path = write(workdir / "empty_label.tsv", tsv(GOOD_ROWS[:2]) + "a fine film\t \n")
    output_dir = existing_output_dir(workdir / "out_real")
    case = Case("TSV row with an empty label (python -m keras_bert.trainers.cli)", "finetune", path,
                ["--task=classification", "--text_a_column=sentence", "--label_column=label",
                 "--bert_config_preset=tiny", f"--vocab_file={workdir / 'vocab.txt'}", "--max_seq_length=16",
                 "--do_train", f"--train_file={path}", f"--output_dir={output_dir}"],
                output_dir, (f"{path}:4", "empty label"))
    before = snapshot(output_dir)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    run = subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", case.command, *case.argv],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    result = dict(status=run.returncode, clean="Traceback" not in run.stderr, stdout=run.stdout,
                  stderr=run.stderr, before=before, after=snapshot(output_dir))
    check_and_record([case], {case.name: result}, "python -m keras_bert.trainers.cli finetune, 1 file")


if __name__ == "__main__":
    run_cases(*sys.argv[1:])
