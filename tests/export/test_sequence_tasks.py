"""Classification and regression exports: signatures, and outputs equal to the Keras model's."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving
from keras_bert.export.warmup import text_example

TEXTS = ["The movie was great!", "a dull, dull film", "He left early.", "who plays the guitar ?"]
SECONDS = ["It was good.", "the plot is a mess", "He did not stay long.", ""]
TOLERANCE = 1e-5


def keras_outputs(exported, texts, seconds=None):
    segments = tf.constant(texts) if seconds is None else (tf.constant(texts), tf.constant(seconds))
    features = exported.preprocessor(segments)
    return features, {k: v.numpy() for k, v in exported.model(features, training=False).items()}


def text_inputs(exported, texts, seconds=None):
    if seconds is None:
        return {"text": tf.constant(texts)}
    return {"text_a": tf.constant(texts), "text_b": tf.constant(seconds)}


@pytest.mark.parametrize("name", ["sst2", "mrpc"])
def test_classification_equals_keras(exports, name):
    exported = exports.get(name)
    seconds = SECONDS if exported.settings.get("pairs") else None
    features, expected = keras_outputs(exported, TEXTS, seconds)
    labels = np.array(exported.settings["labels"], object)

    outputs = exported.signature()(**text_inputs(exported, TEXTS, seconds))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected["logits"], atol=TOLERANCE, rtol=0)
    probabilities = tf.nn.softmax(expected["logits"]).numpy()
    np.testing.assert_allclose(outputs["probabilities"].numpy(), probabilities, atol=TOLERANCE, rtol=0)
    assert [x.decode() for x in outputs["labels"].numpy()] == list(labels[expected["logits"].argmax(-1)])
    # The logits differ between texts (the test is not vacuous).
    assert np.ptp(expected["logits"][:, 0]) > 1e-2

    tokens = exported.signature("serve_token_ids")(**features)
    np.testing.assert_allclose(tokens["logits"].numpy(), expected["logits"], atol=TOLERANCE, rtol=0)
    assert [x.decode() for x in tokens["labels"].numpy()] == [x.decode() for x in outputs["labels"].numpy()]

    names = ("text",) if seconds is None else ("text_a", "text_b")
    rows = [dict(zip(names, row)) for row in zip(TEXTS, *([seconds] if seconds else []))]
    serialized = tf.constant([text_example(row).SerializeToString() for row in rows])
    classify = exported.signature("serve_examples")(inputs=serialized)
    np.testing.assert_allclose(classify["scores"].numpy(), probabilities, atol=TOLERANCE, rtol=0)
    assert classify["classes"].numpy().tolist() == [[x.encode() for x in labels]] * len(TEXTS)


def test_regression_equals_keras(exports):
    exported = exports.get("stsb")
    features, expected = keras_outputs(exported, TEXTS, SECONDS)
    outputs = exported.signature()(**text_inputs(exported, TEXTS, SECONDS))
    assert outputs["score"].shape == (len(TEXTS),)
    np.testing.assert_allclose(outputs["score"].numpy(), expected["score"], atol=TOLERANCE, rtol=0)
    tokens = exported.signature("serve_token_ids")(**features)
    np.testing.assert_allclose(tokens["score"].numpy(), expected["score"], atol=TOLERANCE, rtol=0)
    serialized = tf.constant([text_example({"text_a": a, "text_b": b}).SerializeToString()
                              for a, b in zip(TEXTS, SECONDS)])
    regress = exported.signature("serve_examples")(inputs=serialized)
    np.testing.assert_allclose(regress["outputs"].numpy(), expected["score"], atol=TOLERANCE, rtol=0)


def test_signatures_and_method_names(exports):
    from tensorflow.core.protobuf import saved_model_pb2

    expected_methods = {"sst2": serving.CLASSIFY_METHOD, "stsb": serving.REGRESS_METHOD}
    for name, method in expected_methods.items():
        exported = exports.get(name)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(exported.path, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        signatures = proto.meta_graphs[0].signature_def
        assert {"serving_default", "serve_token_ids", "serve_examples"} <= set(signatures)
        assert signatures["serving_default"].method_name == serving.PREDICT_METHOD
        assert signatures["serve_token_ids"].method_name == serving.PREDICT_METHOD
        examples = signatures["serve_examples"]
        assert examples.method_name == method
        # TF Serving's classify/regress contract: one string input "inputs".
        assert list(examples.inputs) == ["inputs"] and examples.inputs["inputs"].dtype == tf.string.as_datatype_enum
        wanted = {"classes", "scores"} if method == serving.CLASSIFY_METHOD else {"outputs"}
        assert set(examples.outputs) == wanted
        with open(os.path.join(exported.path, "assets.extra", "keras_bert_export.json")) as f:
            info = json.load(f)
        assert info["signatures"]["serve_examples"]["method_name"] == method
        assert info["max_seq_length"] == exported.preprocessor.seq_length


def test_unpadded_text_equals_fully_padded(exports):
    """Text features are cut to the batch's longest sequence: same outputs."""
    exported = exports.get("sst2")
    features, expected = keras_outputs(exported, ["great"])
    assert int(features["input_mask"].numpy().sum()) == 3  # [CLS] great [SEP] of 24.
    outputs = exported.signature()(text=tf.constant(["great"]))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected["logits"], atol=TOLERANCE, rtol=0)


def test_bad_arguments(exports, tmp_path):
    exported = exports.get("sst2")
    with pytest.raises(ValueError, match="preprocessor: required"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path))
    with pytest.raises(ValueError, match="labels must be 2 non-empty strings"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path), preprocessor=exported.preprocessor,
                                           labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="model must be one of"):
        saved_model_lib.export_saved_model(exported.model.encoder, str(tmp_path), preprocessor=exported.preprocessor)
    with pytest.raises(ValueError, match="tagging model needs its tag names"):
        saved_model_lib.export_saved_model(exports.get("conll").model, str(tmp_path),
                                           preprocessor=exported.preprocessor, labels=None)
    assert os.listdir(tmp_path) == []
