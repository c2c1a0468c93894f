"""`keras-bert predict` (`keras_bert.trainers.programs.prediction`) on a `keras-bert finetune` output_dir, and
long texts as windows with pooled logits (`keras_bert.trainers.data.long_text`)."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_bert.config import BertConfig
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers import run_dir
from keras_bert.trainers import tasks
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.data import long_text
from keras_bert.trainers.engine import inference
from keras_bert.trainers.programs import finetuning
from keras_bert.trainers.programs import prediction
from tests.testing import REPO
from tests.trainers.programs.test_finetuning import FILLER
from tests.trainers.programs.test_finetuning import VOCAB
from tests.trainers.programs.test_finetuning import data  # noqa: F401 (the fixture)
from tests.trainers.programs.test_finetuning import options


SEQ = 24  # The fine-tuned model's max_seq_length: 22 wordpieces per single-text window.


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):  # noqa: F811
    """A small classifier (hidden 32, 2 layers) fine-tuned with --do_predict on dev.tsv."""
    root = tmp_path_factory.mktemp("predict")
    keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                        max_position_embeddings=64)
    config.save(str(root / "config.json"))
    out = root / "model"
    finetuning.run_finetuning(options(
        data, out, bert_config_preset=None, bert_config_file=str(root / "config.json"), max_seq_length=SEQ,
        num_train_epochs=6, learning_rate=5e-3, save_checkpoints_steps=45, do_predict=True,
        predict_file=str(data / "dev.tsv")))
    assert json.load(open(out / "best" / "results.json"))["accuracy"] >= 0.9  # It learned the words.
    return out


def read_tsv(path):
    return [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")]


def run_cli(*args):
    """`keras-bert ARGS` in a new process: absl flags are process-wide, and
    other tests of this process define the subcommands' flags too."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600)


def test_predict_cli_equals_finetune_do_predict(trained, data, tmp_path):  # noqa: F811
    expected = read_tsv(trained / "predictions.tsv")  # Written by finetune --do_predict.
    output = tmp_path / "sub" / "p.tsv"
    result = run_cli("predict", f"--output_dir={trained}", f"--predict_file={data / 'dev.tsv'}",
                     f"--output_file={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    got = read_tsv(output)
    assert len(got) == 60 == len(expected)
    assert [row[:2] for row in got] == [row[:2] for row in expected]  # guid, label
    np.testing.assert_allclose(np.array([row[2:] for row in got], float),
                               np.array([row[2:] for row in expected], float), atol=2e-6)
    assert sorted(os.listdir(output.parent)) == ["p.tsv"]  # No temporary file left.


def test_jsonl_and_default_path(trained, data):  # noqa: F811
    path = prediction.run_predict(prediction.PredictOptions(
        output_dir=str(trained), predict_file=str(data / "dev.tsv"), prediction_format="jsonl",
        predict_batch_size=7))
    assert path == os.path.join(str(trained), "predictions.jsonl")
    rows = [json.loads(line) for line in open(path)]
    tsv = read_tsv(trained / "predictions.tsv")
    assert len(rows) == 60
    assert [r["guid"] for r in rows] == [r[0] for r in tsv]
    assert [r["label"] for r in rows] == [r[1] for r in tsv]
    for row in rows:
        assert row["label"] in ("neg", "pos") and abs(sum(row["probabilities"]) - 1.0) < 1e-6


def long_texts(tmp_path):
    """Texts whose deciding word lies past max_seq_length, and a short one."""
    filler = [FILLER[i % len(FILLER)] for i in range(41)]
    texts = [" ".join(filler + ["good"]), " ".join(filler[:30] + ["bad"] + filler[:9]), "the movie was good"]
    path = tmp_path / "long.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in zip(texts, ["pos", "neg", "pos"])))
    return texts, path


def manual_windows(words, size, stride):
    """Windows of whole words (each is one wordpiece here): the first at 0, each `stride`
    later, the last one ending at the last word."""
    windows, start = [], 0
    while True:
        windows.append(words[start:start + size])
        if start + size >= len(words):
            return windows
        start += stride


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_long_text_logits_pooled_over_windows(trained, tmp_path):
    texts, path = long_texts(tmp_path)
    task_info = run_dir.read_task_info(str(trained))
    config = BertConfig.load(str(trained / "model_config.json"))
    model = run_dir.load_model(str(trained), task_info, config)
    preprocessor = BertPreprocessor(str(trained / "vocab.txt"), seq_length=SEQ)

    # The model on each window as a text of its own (it fits: nothing truncated).
    stride = 8
    windows = [manual_windows(text.split(), SEQ - 2, stride) for text in texts]
    assert [len(w) for w in windows] == [4, 4, 1]
    strings = [" ".join(w) for text_windows in windows for w in text_windows]
    features = classification_data.examples_to_features(
        [classification_data.InputExample(str(i), s) for i, s in enumerate(strings)], preprocessor)
    np.testing.assert_array_equal(features["input_mask"].sum(1), [len(s.split()) + 2 for s in strings])
    per_text = np.split(inference.predict(model, features, 4)["logits"].astype(np.float64),
                        np.cumsum([len(w) for w in windows])[:-1])
    truncated = softmax(np.array([w[0] for w in per_text]))

    def run(name, **overrides):
        out = tmp_path / f"{name}.jsonl"
        prediction.run_predict(prediction.PredictOptions(str(trained), str(path), output_file=str(out), **overrides))
        return np.array([json.loads(line)["probabilities"] for line in open(out)])

    for pooling, pool in (("mean", np.mean), ("max", np.max)):
        pooled = run(pooling, long_text_stride=stride, long_text_pooling=pooling)
        np.testing.assert_allclose(pooled, softmax(np.array([pool(w, axis=0) for w in per_text])), atol=1e-5)
        # The windows past max_seq_length change the answer for the long texts
        # (so the check above could fail), not for the short one.
        assert np.abs(pooled[:2] - truncated[:2]).max() > 1e-4
        np.testing.assert_allclose(pooled[2], truncated[2], atol=1e-6)
        # Truncated, the two long texts are the same filler; their windows
        # see "good" and "bad" past max_seq_length.
        np.testing.assert_allclose(truncated[0], truncated[1], atol=1e-6)
        assert pooled[0, 1] > pooled[1, 1] + 0.05, (pooling, pooled)
    # Stride 0 (also task.json's, the default): plain truncation, the first window.
    np.testing.assert_allclose(run("zero", long_text_stride=0, long_text_pooling="max"), truncated, atol=1e-5)


def test_finetune_eval_pools_windows(trained, tmp_path):
    _, path = long_texts(tmp_path)
    stride = 8
    results = finetuning.run_finetuning(finetuning.FinetuningOptions(
        task="classification", output_dir=str(trained), eval_file=str(path), text_a_column="sentence",
        label_column="label", vocab_file=str(trained / "vocab.txt"),
        bert_config_file=str(trained / "model_config.json"),
        max_seq_length=SEQ, do_eval=True, long_text_stride=stride, do_predict=True, predict_file=str(path),
        prediction_format="jsonl"))
    probabilities = np.array([json.loads(line)["probabilities"] for line in open(results["predict"])])
    labels = np.array([1, 0, 1])
    loss = -np.log(probabilities[np.arange(3), labels]).mean()
    assert results["eval"]["loss"] == pytest.approx(loss, abs=1e-5)
    assert results["eval"]["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == labels))
    # A predict-only run does not replace the training run's settings in task.json.
    assert json.load(open(trained / "task.json"))["long_text_stride"] == 0


def test_pair_windows_keep_text_b_and_start_as_truncation(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    preprocessor = BertPreprocessor(str(tmp_path / "vocab.txt"), seq_length=12)
    a = " ".join(f"w{i}" for i in range(20))
    examples = [
        classification_data.InputExample("long a, short b", a, "w30 w31"),
        classification_data.InputExample("both long", a, " ".join(f"w{i}" for i in range(20, 40))),
        classification_data.InputExample("short a, long b", "w0 w1", " ".join(f"w{i}" for i in range(20, 40))),
        classification_data.InputExample("single", a),
    ]
    features, window_example = long_text.window_features(examples, preprocessor, stride=3)
    truncated = classification_data.examples_to_features(examples, preprocessor)
    ids = features["input_word_ids"]
    for e in range(len(examples)):
        rows = np.flatnonzero(window_example == e)
        for name in long_text.FEATURE_NAMES:  # The first window is the truncated example.
            np.testing.assert_array_equal(features[name][rows[0]], truncated[name][e])
        pieces = [[vocab[t] for t in ids[r][features["input_mask"][r] == 1]] for r in rows]
        if e == 0:  # B whole in every window; A in windows of 12 - 3 - 2 = 7, 3 apart.
            assert all(p[-3:] == ["w30", "w31", "[SEP]"] for p in pieces)
            assert [p[1:8] for p in pieces][:2] == [[f"w{i}" for i in range(7)], [f"w{i}" for i in range(3, 10)]]
            assert pieces[-1][pieces[-1].index("[SEP]") - 1] == "w19"
        if e == 1:  # Both long: B keeps 9 // 2 = 4 pieces, A windows of 5.
            assert all(p[-5:] == ["w20", "w21", "w22", "w23", "[SEP]"] for p in pieces)
        if e == 2:
            assert len(rows) == 1
        if e == 3:  # 10 pieces per window, starts 0, 3, 6, 9, 12 -> the last ends at w19.
            assert [p[1] for p in pieces] == ["w0", "w3", "w6", "w9", "w12"] and pieces[-1][-2] == "w19"


def test_pool_windows():
    values = np.array([[1.0, 5.0], [3.0, -1.0], [2.0, 2.0]], np.float32)
    mean = long_text.pool_windows(values, np.array([0, 0, 1]), 2, "mean")
    np.testing.assert_allclose(mean, [[2.0, 2.0], [2.0, 2.0]])
    assert mean.dtype == np.float32
    np.testing.assert_allclose(long_text.pool_windows(values, np.array([0, 0, 1]), 2, "max"), [[3.0, 5.0], [2.0, 2.0]])
    np.testing.assert_allclose(long_text.pool_windows(np.array([1.0, 2.0, 4.0]), np.array([0, 1, 1]), 2), [1.0, 3.0])
    with pytest.raises(ValueError, match="at least one window"):
        long_text.pool_windows(values, np.array([0, 0, 2]), 3)
    with pytest.raises(ValueError, match="pooling='median'"):
        long_text.pool_windows(values, np.array([0, 0, 1]), 2, "median")


def test_missing_pieces_of_output_dir(trained, data, tmp_path):  # noqa: F811
    def run(output_dir, **kw):
        return prediction.run_predict(prediction.PredictOptions(str(output_dir), str(data / "dev.tsv"), **kw))

    with pytest.raises(ValueError, match="no such directory"):
        run(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"{empty / 'task.json'}: not found"):
        run(empty)
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("task.json", "model_config.json", "vocab.txt"):
        shutil.copy(trained / name, partial / name)
    with pytest.raises(ValueError, match=r"best/model\.index nor .*model\.keras"):
        run(partial)
    assert sorted(os.listdir(partial)) == ["model_config.json", "task.json", "vocab.txt"]
    with pytest.raises(ValueError, match="--long_text_stride=-1"):
        run(trained, long_text_stride=-1)
    with pytest.raises(ValueError, match="predictions.json"):
        tasks.TASKS["squad"].prediction_path("o", "tsv", "x.tsv")


def test_cli_error_names_the_path(tmp_path):
    result = run_cli("predict", f"--output_dir={tmp_path}", "--predict_file=x.tsv")
    assert result.returncode != 0
    assert f"keras-bert predict: {tmp_path / 'task.json'}: not found" in result.stderr


def test_no_partial_predictions_file(trained, data, tmp_path, monkeypatch):  # noqa: F811
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\ngood movie\tpos\nno label here\n")  # Line 3 lacks a column.
    out = tmp_path / "out.tsv"
    with pytest.raises(ValueError, match="bad.tsv:3"):
        prediction.run_predict(prediction.PredictOptions(str(trained), str(bad), output_file=str(out)))
    assert not out.exists()
    # A failure while writing leaves the previous file as it was, and no temporary file.
    out.write_text("old\n")
    calls = []

    def failing_dumps(*args, **kwargs):
        calls.append(1)
        if len(calls) > 5:
            raise OSError("disk full")
        return json.JSONEncoder().encode(args[0])

    monkeypatch.setattr(json, "dumps", failing_dumps)
    with pytest.raises(OSError, match="disk full"):
        prediction.run_predict(prediction.PredictOptions(str(trained), str(data / "dev.tsv"), output_file=str(out),
                                                         prediction_format="jsonl"))
    assert out.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.tsv", "out.tsv"]
