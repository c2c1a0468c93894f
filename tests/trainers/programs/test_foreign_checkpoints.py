"""Fine-tuned models across frameworks: a `keras-bert finetune` run handed to
transformers (`keras-bert convert`), and a transformers task model trained on
here (`finetune --init_checkpoint=<its directory>`)."""

import json
import os

import numpy as np
import pytest

from keras_bert.checkpoints import load_checkpoint
from keras_bert.trainers import run_dir
from keras_bert.trainers.programs import convert
from keras_bert.trainers.programs import finetuning
from keras_bert.trainers.programs import prediction
from tests.trainers.programs.test_finetuning import data  # noqa: F401  (the fixture)
from tests.trainers.programs.test_finetuning import options

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):  # noqa: F811
    """A classifier fine-tuned here (labels neg, pos), and its dev features."""
    out = tmp_path_factory.mktemp("trained") / "run"
    finetuning.run_finetuning(options(data, out, num_train_epochs=3))
    task_info = run_dir.read_task_info(str(out))
    model = run_dir.load_model(str(out), task_info, run_dir.read_config(str(out)))
    return out, model


def dev_features(data, run):  # noqa: F811
    """The dev set's encoder inputs, made as the run makes them."""
    task_info = run_dir.read_task_info(str(run))
    preprocessor = run_dir.make_preprocessor(str(run), task_info)
    opts = options(data, run, do_train=False, do_predict=True, predict_file=str(data / "dev.tsv"))
    task = finetuning.tasks.get("classification")
    return prediction.prediction_inputs(task, opts, preprocessor, task_info)["features"]


def hf_logits(directory, features):
    model = transformers.AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor(features["input_word_ids"], dtype=torch.long),
                     attention_mask=torch.tensor(features["input_mask"], dtype=torch.long),
                     token_type_ids=torch.tensor(features["input_type_ids"], dtype=torch.long)).logits.numpy()


def test_finetune_run_to_transformers_and_back(data, trained, tmp_path):  # noqa: F811
    run, model = trained
    hf_dir = str(tmp_path / "hf")
    converted = convert.run_convert(str(run), hf_dir)
    assert converted.parts == ["BertClassifier (labels neg, pos)"]
    config = json.load(open(os.path.join(hf_dir, "config.json")))
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "neg", "1": "pos"} and config["problem_type"] == "single_label_classification"
    features = dev_features(data, run)
    ours = np.asarray(model({k: features[k] for k in ("input_word_ids", "input_mask", "input_type_ids")})["logits"])
    np.testing.assert_allclose(hf_logits(hf_dir, features), ours, atol=1e-5, rtol=0)
    # Its tokenizer files give transformers' tokenizer the run's ids.
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    sentences = [line.split("\t")[0] for line in open(data / "dev.tsv").read().splitlines()[1:]]
    for sentence, ids, mask in zip(sentences, features["input_word_ids"], features["input_mask"]):
        assert tokenizer(sentence.upper())["input_ids"] == ids[mask > 0].tolist(), sentence

    back = load_checkpoint(hf_dir)  # keras_bert -> transformers -> keras_bert: the same weights.
    assert back.labels == ["neg", "pos"]
    for a, b in zip(model.weights, back.task_model.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), a.path

    original = str(tmp_path / "original")  # run_classifier.py's names.
    convert.run_convert(str(run), original, "original")
    again = load_checkpoint(original)
    for a, b in zip(model.weights, again.task_model.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), a.path


def test_finetune_continues_a_transformers_classifier(data, trained, tmp_path):  # noqa: F811
    run, model = trained
    hf_dir = str(tmp_path / "hf")
    convert.run_convert(str(run), hf_dir)
    expected = finetuning.run_finetuning(options(data, run, do_train=False))["eval"]  # Its kept model.
    # Its output layer is kept: scored before any training step, the same model as the run's.
    scored = finetuning.run_finetuning(options(data, tmp_path / "score_hf", do_train=False, vocab_file=None,
                                               bert_config_preset=None, init_checkpoint=hf_dir))["eval"]
    assert scored["accuracy"] == expected["accuracy"] >= 0.9
    assert scored["loss"] == pytest.approx(expected["loss"], abs=1e-5)
    # And it trains on: labels and class ids as transformers has them.
    out = tmp_path / "continued"
    results = finetuning.run_finetuning(options(data, out, num_train_epochs=1, vocab_file=None,
                                                bert_config_preset=None, init_checkpoint=hf_dir))
    assert results["eval"]["accuracy"] >= 0.9
    assert json.load(open(out / "task.json"))["label_list"] == ["neg", "pos"]


def _relabel(directory, **values):
    path = os.path.join(directory, "config.json")
    config = json.load(open(path))
    config.update(values)
    json.dump(config, open(path, "w"))
    return path


def test_labels_and_task_must_agree(data, trained, tmp_path):  # noqa: F811
    run, _ = trained
    hf_dir = str(tmp_path / "hf")
    convert.run_convert(str(run), hf_dir)
    flags = dict(vocab_file=None, bert_config_preset=None, init_checkpoint=hf_dir)

    config_path = _relabel(hf_dir, id2label={"0": "negative", "1": "positive"})
    out = tmp_path / "named"
    with pytest.raises(ValueError) as error:
        finetuning.run_finetuning(options(data, out, **flags))
    message = str(error.value)
    assert config_path in message and "id2label ['negative', 'positive'] lacks ['neg', 'pos']" in message
    assert str(data / "train.tsv") in message
    assert not out.exists()  # Nothing written.

    _relabel(hf_dir, id2label={"0": "LABEL_0", "1": "LABEL_1"})  # Unnamed: the run's labels, by index.
    results = finetuning.run_finetuning(options(data, tmp_path / "unnamed", do_train=False, **flags))
    assert results["eval"]["accuracy"] >= 0.9
    assert json.load(open(tmp_path / "unnamed" / "task.json"))["label_list"] == ["neg", "pos"]

    with pytest.raises(ValueError, match=r"has 2 unnamed classes .* --label_list has 3 labels"):
        finetuning.run_finetuning(options(data, tmp_path / "three", label_list="neg,pos,meh", **flags))

    tagger = str(tmp_path / "tagger")  # A transformers token classifier is not a classifier to continue.
    convert.run_convert(str(run), tagger, encoder_only=True)
    _relabel(tagger, architectures=["BertForTokenClassification"])
    with pytest.raises(ValueError, match="holds a fine-tuned BertTokenClassifier .* --task=classification trains a "
                                         "BertClassifier.*keras-bert convert --encoder_only"):
        finetuning.run_finetuning(options(data, tmp_path / "mismatch", **dict(flags, init_checkpoint=tagger)))
