"""`keras-bert quickstart`: the shipped labelled set, the default corpus, bad
flags, and the whole run end to end (pretraining and fine-tuning cut short)."""

import ast
import collections
import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from keras_bert.export import op_audit
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.programs import quickstart
from tests.export import rest
from tests.testing import REPO



def run_cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", "quickstart", *args], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=timeout)


# ------------------------------------------------------- the shipped data


def read_shipped(path):
    examples, skipped = classification_data.read_examples(path, "sentence", None, "label")
    assert skipped == 0
    return examples


def normalized(text):
    return " ".join(text.lower().split())


def test_shipped_data_is_valid():
    train = read_shipped(quickstart.DEFAULT_TRAIN_FILE)
    dev = read_shipped(quickstart.DEFAULT_DEV_FILE)
    assert len(train) >= 200 and len(dev) >= 50
    for examples in (train, dev):
        counts = collections.Counter(e.label for e in examples)
        assert set(counts) == {"negative", "positive"}
        assert min(counts.values()) >= 0.4 * len(examples)  # Near balance: the majority baseline is ~0.5.
        texts = [normalized(e.text_a) for e in examples]
        assert len(set(texts)) == len(texts), [t for t, n in collections.Counter(texts).items() if n > 1]
        assert all(len(t.split()) <= 20 for t in texts)
    assert not {normalized(e.text_a) for e in train} & {normalized(e.text_a) for e in dev}
    # Nor the sentences the quickstart classifies at the end.
    assert not {normalized(s) for s in quickstart.DEFAULT_SENTENCES} & {normalized(e.text_a) for e in train + dev}


def test_shipped_data_is_package_data():
    # The wheel's contents are checked in tests/test_packaging.py; the sdist's here.
    assert "recursive-include trainers/programs/quickstart_data *.tsv" in open(os.path.join(REPO, "MANIFEST.in")).read()
    assert sorted(os.listdir(quickstart.DATA_DIR)) == ["dev.tsv", "train.tsv"]


def test_default_corpus_is_deterministic_prose():
    documents = quickstart.stdlib_documents()
    some = quickstart.STDLIB_MODULES[::10]
    assert quickstart.stdlib_documents(some) == quickstart.stdlib_documents(some)
    paragraphs = [p for d in documents for p in d]
    size = sum(len(p) + 1 for p in paragraphs)
    assert len(documents) >= 50 and 200_000 < size < 3_000_000, (len(documents), size)
    assert not any(p.startswith((">>>", "...")) or "\n" in p for p in paragraphs)
    assert any("regular expression" in p for p in paragraphs)


def test_corpus_files_and_held_out_documents(tmp_path):
    text = "\n\n".join(f"Document {i} says one thing.\nThen it says another thing." for i in range(25))
    (tmp_path / "a.txt").write_text(text + "\n", encoding="utf-8")
    documents = quickstart.file_documents([str(tmp_path / "a.txt")])
    assert len(documents) == 25 and documents[3] == ["Document 3 says one thing.", "Then it says another thing."]
    train = [classification_data.InputExample("x:1", "A fine remark.", None, "positive")]
    corpus = quickstart.write_corpus(str(tmp_path / "corpus"), documents, train)
    assert (corpus["documents"], corpus["heldout_documents"], corpus["train_texts"]) == (23, 2, 1)
    held = open(corpus["heldout"]).read()
    assert "Document 9 " in held and "Document 19 " in held and "Document 8 " not in held
    assert open(corpus["pretrain"]).read().endswith("\n\nA fine remark.\n")


# -------------------------------------------------------------- bad flags


def write_tsv(path, rows):
    path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("overrides, message", [
    ({"model_size": "huge"}, "--model_size='huge': must be one of tiny, mini, small, medium, base, large"),
    ({"vocab_size": 50}, "--vocab_size=50: must be an int >= 105"),
    ({"pretrain_steps": 0}, "--pretrain_steps=0: must be an int >= 1"),
    ({"finetune_epochs": 0.0}, "--finetune_epochs=0.0: must be > 0"),
    ({"max_seq_length": 1024}, "--max_seq_length=1024: must be <= 512"),
    ({"max_predictions_per_seq": 62}, "--max_predictions_per_seq=62: must be <= max_seq_length - 3 = 61"),
    ({"train_file": "x.tsv"}, "give --train_file and --dev_file together"),
    ({"corpus_files": "/nonexistent/*.txt"}, "--corpus_files=/nonexistent/*.txt: input_file pattern"),
    ({"text_a_column": "review"}, "--train_file="),
    ({"sentences": ("ok", " ")}, "--sentence: give non-blank sentences"),
    ({"model_name": "my model"}, "--model_name='my model'"),
])
def test_bad_options_fail_before_any_work(tmp_path, overrides, message):
    out = tmp_path / "out"
    with pytest.raises(ValueError) as raised:
        quickstart.run_quickstart(quickstart.QuickstartOptions(output_dir=str(out), **overrides))
    assert message in str(raised.value)
    assert not out.exists()


def test_bad_labelled_files(tmp_path):
    one_label = write_tsv(tmp_path / "one.tsv", [("good", "positive"), ("fine", "positive")])
    dev = write_tsv(tmp_path / "dev.tsv", [("bad", "negative"), ("odd", "neutral")])
    train = write_tsv(tmp_path / "train.tsv", [("good", "positive"), ("bad", "negative")])
    with pytest.raises(ValueError, match=r"a classifier needs at least 2 labels, found \['positive'\]"):
        quickstart.check_options(quickstart.QuickstartOptions(
            output_dir=str(tmp_path / "o"), train_file=one_label, dev_file=dev))
    with pytest.raises(ValueError, match=r"labels \['neutral'\] do not occur in --train_file"):
        quickstart.check_options(quickstart.QuickstartOptions(
            output_dir=str(tmp_path / "o"), train_file=train, dev_file=dev))


def test_non_empty_output_dir_needs_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / quickstart.CORPUS_DIR).mkdir()
    options = quickstart.QuickstartOptions(output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="is not empty .*give --overwrite"):
        quickstart.check_options(options)
    # --overwrite deletes only in a directory an earlier quickstart made.
    options = quickstart.QuickstartOptions(output_dir=str(tmp_path), overwrite=True)
    with pytest.raises(ValueError, match="is not empty and has no quickstart.json"):
        quickstart.check_options(options)
    (tmp_path / quickstart.SUMMARY_FILE).write_text("{}")
    (tmp_path / quickstart.VOCAB_FILE).write_text("[PAD]\n")
    quickstart.check_options(options)
    quickstart._prepare_output_dir(options)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "quickstart.json"]  # Only the quickstart's own go.
    assert json.loads((tmp_path / quickstart.SUMMARY_FILE).read_text())["status"] == "running"


def test_cli_bad_flag_is_an_error_before_any_work(tmp_path):
    result = run_cli(f"--output_dir={tmp_path / 'out'}", "--model_size=huge", timeout=300)
    assert result.returncode != 0
    assert "keras-bert quickstart: --model_size='huge': must be one of" in result.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- end to end


def test_quickstart_end_to_end(tmp_path):
    out = tmp_path / "qs"
    # The default run with the long parts cut short. A pretraining this short
    # at the default rate leaves the encoder predicting frequent words
    # everywhere, which fine-tunes worse than random weights; a low rate keeps
    # it near its initialisation instead.
    result = run_cli(f"--output_dir={out}", "--pretrain_steps=20", "--pretrain_learning_rate=1e-4",
                     "--finetune_epochs=10", "--dupe_factor=1", "--vocab_num_iterations=1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stdout = result.stdout

    for path in ("corpus/pretrain.txt", "corpus/heldout.txt", "vocab.txt", "pretraining_data/train.tfrecord",
                 "pretraining_data/heldout.tfrecord", "pretrain/checkpoint", "pretrain/model_config.json",
                 "pretrain/eval_results.txt", "pretrain/pretrained_hf/config.json", "finetune/task.json",
                 "finetune/best/model.index", "finetune/model.keras", "finetune/eval_results.txt",
                 "finetune/vocab.txt", "export/1/saved_model.pb",
                 "export/1/assets.extra/tf_serving_warmup_requests", "quickstart.json"):
        assert (out / path).exists(), path
    summary = json.loads((out / "quickstart.json").read_text())
    assert summary["status"] == "done"
    figures = summary["figures"]
    vocab_size = len((out / "vocab.txt").read_text().splitlines())
    assert 3000 < vocab_size <= 4000 and figures["vocab_size"] == vocab_size  # The learner may land under.
    assert figures["majority_baseline"] == 0.5 and figures["dev_examples"] == 96
    assert figures["dev_accuracy"] > figures["majority_baseline"], figures
    assert 0.0 <= figures["masked_lm_accuracy_before"] <= 1.0 and 0.0 <= figures["masked_lm_accuracy_after"] <= 1.0
    assert f"held-out masked LM accuracy  {figures['masked_lm_accuracy_before']:.4f} before" in stdout
    assert f"dev accuracy                 {figures['dev_accuracy']:.4f} (majority baseline 0.5000" in stdout
    export_path = str(out / "export" / "1")
    assert summary["made"]["export_dir"] == export_path
    assert op_audit.check_saved_model(export_path).ok

    # The fresh process's classifications, printed: 'text' -> label (probability).
    printed = re.findall(r"^  ('.*') -> (\w+) \((\d\.\d{3})\)$", stdout, re.M)
    assert [ast.literal_eval(text) for text, _, _ in printed] == list(quickstart.DEFAULT_SENTENCES)
    assert all(label in ("negative", "positive") and 0.5 <= float(p) <= 1.0 for _, label, p in printed)
    assert [(row["text"], row["label"]) for row in summary["classified"]] == [
        (ast.literal_eval(text), label) for text, label, _ in printed]

    # The summary: where things are, the timings, and the lines that serve it.
    for part in ("vocabulary         vocab.txt", "pretrained BERT    pretrain/", "classifier         finetune/",
                 "TF Serving export  export/1/ (op audit: all servable)", "fine-tuning  ", "\n  total  "):
        assert part in stdout, part
    docker = (f"docker run -p 8501:8501 -v {out / 'export'}:/models/quickstart -e MODEL_NAME=quickstart "
              "tensorflow/serving")
    assert f"\n  {docker}\n" in stdout
    curl = re.search(r"^  curl -X POST http://localhost:8501/v1/models/quickstart:predict -d '(.*)'$", stdout, re.M)
    assert curl, stdout[-2000:]
    body = json.loads(curl.group(1))
    assert body == {"instances": list(quickstart.DEFAULT_SENTENCES[:2])}
    # The curl body, as TF Serving would take it, gives the printed labels.
    reply = rest.rest_call(tf.saved_model.load(export_path), "predict", body)
    assert [p["labels"] for p in reply["predictions"]] == [label for _, label, _ in printed[:2]]
