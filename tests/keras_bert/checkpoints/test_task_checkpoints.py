"""Fine-tuned task models in and out: transformers' `BertFor...` task classes
and the original's run_classifier.py / run_squad.py output layers.

Reference outputs come from the transformers model that wrote (or read) the
checkpoint, on inputs with padding and two segments."""

import json
import os

import numpy as np
import pytest

import keras_bert
from keras_bert.checkpoints import load_checkpoint
from keras_bert.checkpoints import save_task_checkpoint
from tests import testing
from tests.keras_bert.checkpoints import writers

pytest.importorskip("torch")
pytest.importorskip("transformers")

# (case, transformers class, its config values, our model class, its outputs)
CASES = {
    "classifier": ("BertForSequenceClassification",
                   dict(num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"},
                        problem_type="single_label_classification"),
                   keras_bert.BertClassifier),
    "classifier_unnamed": ("BertForSequenceClassification", dict(num_labels=2), keras_bert.BertClassifier),
    "regressor": ("BertForSequenceClassification", dict(num_labels=1, problem_type="regression"),
                  keras_bert.BertRegressor),
    "regressor_inferred": ("BertForSequenceClassification", dict(num_labels=1), keras_bert.BertRegressor),
    "tagger": ("BertForTokenClassification",
               dict(num_labels=5, id2label=dict(enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]))),
               keras_bert.BertTokenClassifier),
    "question_answerer": ("BertForQuestionAnswering", dict(num_labels=2), keras_bert.BertQuestionAnswerer),
    "multiple_choice": ("BertForMultipleChoice", dict(classifier_dropout=0.3), keras_bert.BertMultipleChoice),
}
AUTO_CLASSES = {
    "BertForSequenceClassification": "AutoModelForSequenceClassification",
    "BertForTokenClassification": "AutoModelForTokenClassification",
    "BertForQuestionAnswering": "AutoModelForQuestionAnswering",
    "BertForMultipleChoice": "AutoModelForMultipleChoice",
}


def inputs_for(model_class):
    config = load_tiny_config()
    if model_class is keras_bert.BertMultipleChoice:  # [batch, choices, seq]
        choices = [testing.encoder_inputs(config, seed=seed) for seed in range(4)]
        return {k: np.stack([c[k] for c in choices], axis=1) for k in choices[0]}
    return testing.encoder_inputs(config)


def load_tiny_config():
    return keras_bert.BertConfig(vocab_size=writers.TINY["vocab_size"], hidden_size=writers.TINY["hidden_size"],
                                 num_layers=2, num_heads=2, intermediate_size=64, max_position_embeddings=40)


def hf_outputs(hf_model, inputs):
    """The transformers model's outputs under our names, as float32 numpy."""
    import torch

    with torch.no_grad():
        out = hf_model(input_ids=torch.tensor(inputs["input_word_ids"], dtype=torch.long),
                       attention_mask=torch.tensor(inputs["input_mask"], dtype=torch.long),
                       token_type_ids=torch.tensor(inputs["input_type_ids"], dtype=torch.long))
    if hasattr(out, "start_logits"):
        return {"start_logits": out.start_logits.numpy(), "end_logits": out.end_logits.numpy()}
    if hf_model.config.problem_type == "regression" or hf_model.config.num_labels == 1 and hasattr(
            hf_model, "bert") and type(hf_model).__name__ == "BertForSequenceClassification":
        return {"score": out.logits.numpy()[..., 0]}
    return {"logits": out.logits.numpy()}


def our_outputs(model, inputs):
    return {k: np.asarray(v) for k, v in model(inputs).items()}


def assert_outputs_close(ours, theirs, mask=None):
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        a, b = ours[key], theirs[key]
        if key in ("start_logits", "end_logits"):  # Padding positions: each side's own large negative.
            a, b = a[mask > 0], b[mask > 0]
        if key == "logits" and a.ndim == 3:  # Tagger: real tokens only.
            a, b = a[mask > 0], b[mask > 0]
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=key)


@pytest.fixture(scope="module")
def hf_task_dirs(tmp_path_factory):
    """{case: (directory written by save_pretrained, the transformers model)}."""
    root = tmp_path_factory.mktemp("hf_tasks")
    dirs = {}
    for i, (case, (architecture, values, _)) in enumerate(CASES.items()):
        model = writers.hf_task_model(architecture, seed=i, **values)
        dirs[case] = (writers.write_hf(str(root / case), model, lowercase=False), model)
    return dirs


@pytest.mark.parametrize("case", list(CASES))
def test_transformers_task_checkpoint_loads_with_its_head(case, hf_task_dirs):
    directory, hf_model = hf_task_dirs[case]
    model_class = CASES[case][2]
    loaded = load_checkpoint(directory)
    assert type(loaded.task_model) is model_class
    assert loaded.encoder is loaded.task_model.encoder and loaded.lowercase is False
    if model_class in (keras_bert.BertClassifier, keras_bert.BertTokenClassifier):
        assert loaded.labels == [hf_model.config.id2label[i] for i in range(hf_model.config.num_labels)]
    else:
        assert loaded.labels is None
    if case == "multiple_choice":
        assert loaded.task_model.dropout == pytest.approx(0.3)  # classifier_dropout
    inputs = inputs_for(model_class)
    mask = inputs["input_mask"]
    assert_outputs_close(our_outputs(loaded.task_model, inputs), hf_outputs(hf_model, inputs), mask)


@pytest.mark.parametrize("case", list(CASES))
def test_task_model_to_transformers_and_back(case, hf_task_dirs, tmp_path):
    import transformers

    loaded = load_checkpoint(hf_task_dirs[case][0])
    out = str(tmp_path / "out")
    loaded.save(out, "hf")
    with open(os.path.join(out, "config.json")) as f:
        written = json.load(f)
    architecture = CASES[case][0]
    assert written["architectures"] == [architecture]

    # AutoModelFor... loads it without code, every weight found and none left over.
    auto = getattr(transformers, AUTO_CLASSES[architecture])
    hf_model, info = auto.from_pretrained(out, output_loading_info=True)
    assert type(hf_model).__name__ == architecture
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    inputs = inputs_for(CASES[case][2])
    assert_outputs_close(our_outputs(loaded.task_model, inputs), hf_outputs(hf_model.eval(), inputs),
                         inputs["input_mask"])
    if loaded.labels is not None:
        assert [hf_model.config.id2label[i] for i in range(len(loaded.labels))] == loaded.labels
    if isinstance(loaded.task_model, keras_bert.BertRegressor):
        assert hf_model.config.problem_type == "regression" and hf_model.config.num_labels == 1

    # Back: the same model, weight for weight.
    again = load_checkpoint(out)
    assert type(again.task_model) is type(loaded.task_model) and again.labels == loaded.labels
    assert again.task_model.dropout == loaded.task_model.dropout if hasattr(loaded.task_model, "dropout") else True
    for a, b in zip(loaded.task_model.weights, again.task_model.weights, strict=True):
        if "pooler" in a.path and case in ("tagger", "question_answerer"):
            continue  # Not stored: as transformers' own, these heads have no pooler.
        assert a.path == b.path and np.array_equal(a.numpy(), b.numpy()), a.path


def test_a_model_fine_tuned_here_goes_out_with_its_labels(tmp_path):
    import transformers

    encoder = keras_bert.BertEncoder(load_tiny_config())
    model = keras_bert.BertClassifier(encoder, num_classes=2, dropout=0.2)
    out = str(tmp_path / "sst2")
    vocab = writers.write_vocab(str(tmp_path / "vocab.txt"))
    save_task_checkpoint(out, model, "hf", labels=["negative", "positive"], vocab_file=vocab, lowercase=True)
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
    hf_model = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert hf_model.config.id2label == {0: "negative", 1: "positive"}
    assert hf_model.config.label2id == {"negative": 0, "positive": 1}
    assert hf_model.config.classifier_dropout == pytest.approx(0.2)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert tokenizer.do_lower_case if hasattr(tokenizer, "do_lower_case") else True
    inputs = inputs_for(keras_bert.BertClassifier)
    assert_outputs_close(our_outputs(model, inputs), hf_outputs(hf_model, inputs))
    with pytest.raises(ValueError, match=r"labels=\['a'\]: must be 2 strings"):
        save_task_checkpoint(str(tmp_path / "bad"), model, "hf", labels=["a"])
    assert not os.path.exists(tmp_path / "bad")


@pytest.mark.parametrize("case", ["classifier", "question_answerer"])
def test_original_task_checkpoints_in_and_out(case, tmp_path):
    """run_classifier.py's `output_weights`/`output_bias` and run_squad.py's
    `cls/squad/...`, written by the reference writer from a transformers
    model's weights (tanh GELU, the original's), read as that model; written
    back bit for bit."""
    architecture, values, model_class = CASES[case]
    hf_model = writers.hf_task_model(architecture, seed=7, hidden_act="gelu_new", **values)
    weights = writers.original_weights(hf_model)
    if case == "question_answerer":  # The original's BertModel always has the pooler.
        hidden = writers.TINY["hidden_size"]
        rng = np.random.default_rng(0)
        weights["bert/pooler/dense/kernel"] = rng.normal(0, 0.05, (hidden, hidden)).astype(np.float32)
        weights["bert/pooler/dense/bias"] = np.zeros(hidden, np.float32)
    directory = writers.write_tf1(str(tmp_path / "original"), weights, writers.original_config("gelu"))
    loaded = load_checkpoint(directory)
    assert type(loaded.task_model) is model_class and loaded.labels is None and loaded.format == "original"
    inputs = inputs_for(model_class)
    assert_outputs_close(our_outputs(loaded.task_model, inputs), hf_outputs(hf_model, inputs), inputs["input_mask"])
    out = str(tmp_path / "out")
    loaded.save(out, "original")
    again = load_checkpoint(out)
    for a, b in zip(loaded.task_model.weights, again.task_model.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), a.path


def test_the_original_has_no_format_for_other_task_models(tmp_path):
    model = keras_bert.BertTokenClassifier(keras_bert.BertEncoder(load_tiny_config()), num_classes=3)
    with pytest.raises(ValueError, match="google-research/bert has no checkpoint format for a BertTokenClassifier"):
        save_task_checkpoint(str(tmp_path / "x"), model, "original")
    assert not os.path.exists(tmp_path / "x")


def _edit_config(directory, **values):
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.update(values)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


@pytest.mark.parametrize("values, message", [
    (dict(problem_type="multi_label_classification"), "problem_type='multi_label_classification': keras_bert"),
    (dict(architectures=["BertForNextGeneration"]), r"architectures=\['BertForNextGeneration'\]: not a BERT task"),
    (dict(architectures=["BertForSequenceClassification", "BertModel"]), "one class expected"),
    (dict(id2label={"0": "a", "2": "b", "1": "c", "5": "d"}), r"id2label ids \[0, 1, 2, 5\]"),
    (dict(id2label={"0": "a", "1": "b"}), r"'classifier.weight' has shape \(3, 32\), but the BertClassifier needs "
                                          r"\(2, 32\)"),
    (dict(classifier_dropout=1.5), "classifier_dropout=1.5"),
])
def test_bad_task_configs_name_the_file_and_field(values, message, hf_task_dirs, tmp_path):
    import shutil

    directory = str(tmp_path / "copy")
    shutil.copytree(hf_task_dirs["classifier"][0], directory)
    _edit_config(directory, **values)
    with pytest.raises(ValueError, match=message) as error:
        load_checkpoint(directory)
    assert directory in str(error.value)


def test_a_task_config_without_its_output_layer_is_refused(hf_task_dirs, tmp_path):
    import shutil

    directory = str(tmp_path / "copy")
    shutil.copytree(hf_task_dirs["tagger"][0], directory)  # BertForTokenClassification weights ...
    _edit_config(directory, architectures=["BertForQuestionAnswering"])  # ... said to be a QA model.
    with pytest.raises(ValueError, match=r"no weight named 'qa_outputs.weight'"):
        load_checkpoint(directory)
