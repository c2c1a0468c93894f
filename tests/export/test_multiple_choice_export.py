"""Multiple choice exports: signatures, and outputs equal to the Keras model's."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import op_audit
from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving
from keras_bert.export import serving_releases
from keras_bert.export import warmup
from keras_bert.export.warmup import text_example
from keras_bert.trainers.data import multiple_choice_data

from tests.trainers.cli.test_export import finetune_dir

CONTEXTS = ["A man is playing a guitar.", "the movie was great!", "She visited Paris in May."]
CHOICES = [
    ["He sings.", "The dog jumps over the lazy fox.", "a dull, dull film"],
    ["it was good .", "the plot is a mess", "who plays the guitar ?"],
    ["She did not stay long.", "she loves berlin", "the city of paris"],
]
TOLERANCE = 1e-5


def keras_logits(exported, contexts, choices):
    """The Keras model's logits on the features training packs (fully padded)."""
    examples = [multiple_choice_data.MultipleChoiceExample(f"x:{i}", context, tuple(endings))
                for i, (context, endings) in enumerate(zip(contexts, choices))]
    features = multiple_choice_data.examples_to_features(examples, exported.preprocessor)
    return features, exported.model(features, training=False)["logits"].numpy()


def check_outputs(outputs, expected):
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(expected).numpy(),
                               atol=TOLERANCE, rtol=0)
    assert outputs["choice"].dtype == tf.int32
    assert outputs["choice"].numpy().tolist() == expected.argmax(-1).tolist()


def test_equals_keras(exports):
    exported = exports.get("swag")
    features, expected = keras_logits(exported, CONTEXTS, CHOICES)
    assert expected.shape == (3, 3) and np.ptp(expected) > 1e-2  # Not vacuous.

    outputs = exported.signature()(context=tf.constant(CONTEXTS), choices=tf.constant(CHOICES))
    assert outputs["logits"].dtype == tf.float32
    check_outputs(outputs, expected)

    tokens = exported.signature(serving.SERVE_TOKEN_IDS)(**{k: tf.constant(v) for k, v in features.items()})
    check_outputs(tokens, expected)

    serialized = tf.constant([text_example({"context": c, "choices": e}).SerializeToString()
                              for c, e in zip(CONTEXTS, CHOICES)])
    check_outputs(exported.signature(serving.SERVE_EXAMPLES)(inputs=serialized), expected)

    # Two choices instead of three: any number works.
    two = [row[:2] for row in CHOICES]
    _, expected_two = keras_logits(exported, CONTEXTS, two)
    check_outputs(exported.signature()(context=tf.constant(CONTEXTS), choices=tf.constant(two)), expected_two)


def test_signatures_audit_and_warmup(exports):
    exported = exports.get("swag")
    signatures = exported.loaded.signatures
    default = signatures[serving.SERVING_DEFAULT]
    specs = default.structured_input_signature[1]
    assert specs["context"].shape.as_list() == [None] and specs["choices"].shape.as_list() == [None, None]
    token_specs = signatures[serving.SERVE_TOKEN_IDS].structured_input_signature[1]
    assert all(spec.shape.rank == 3 and spec.dtype == tf.int32 for spec in token_specs.values())

    result = op_audit.audit_saved_model(exported.path)
    assert result.ok, result.summary()
    assert set(result.text_ops) <= serving_releases.TEXT_OPS_2_12_1

    logs = warmup.read_warmup_file(os.path.join(exported.path, "assets.extra", warmup.WARMUP_FILE))
    replayed = {}
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        name, outputs = warmup.replay(exported.loaded, log)
        replayed[name] = outputs
        assert set(outputs) == {"logits", "probabilities", "choice"}
        assert np.isfinite(outputs["logits"].numpy()).all()
    assert set(replayed) == set(serving.SIGNATURE_NAMES)


def test_bad_input(exports):
    exported = exports.get("swag")
    default = exported.signature()
    contexts = [b"", b"\xff\xfe bad \xc3(", ("the movie was great " * 200).encode(), b"[CLS] [SEP]"]
    choices = [[b"", b""], [b"   ", b"x" * 3000], [("a b " * 300).encode(), b""], [b"\x00\x01", "中文".encode()]]
    outputs = default(context=tf.constant(contexts), choices=tf.constant(choices))
    assert outputs["logits"].shape == (4, 2)
    for value in outputs.values():
        assert np.isfinite(value.numpy()).all()
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)

    # A batch of 1 equals the Keras model too.
    _, expected = keras_logits(exported, CONTEXTS[:1], CHOICES[:1])
    check_outputs(default(context=tf.constant(CONTEXTS[:1]), choices=tf.constant(CHOICES[:1])), expected)

    # No choices: empty logits, choice -1.
    none = default(context=tf.constant(["a"]), choices=tf.zeros([1, 0], tf.string))
    assert none["logits"].shape == (1, 0) and none["choice"].numpy().tolist() == [-1]

    # serve_examples: missing features are "" (the context) or no choices padded with "".
    serialized = tf.constant([text_example({"choices": ["he sings", "she sings"]}).SerializeToString(),
                              text_example({"context": "x", "choices": ["a"]}).SerializeToString()])
    padded = exported.signature(serving.SERVE_EXAMPLES)(inputs=serialized)
    assert padded["logits"].shape == (2, 2) and np.isfinite(padded["logits"].numpy()).all()


def test_export_finetune_output_dir(exports, tmp_path):
    path = str(tmp_path / "swag_out")
    model = finetune_dir(path, exports, "swag", {"task": "multiple_choice"})
    loaded_model, _, settings = saved_model_lib.load_finetuned(path)
    assert type(loaded_model).__name__ == "BertMultipleChoice" and settings == {}
    version = saved_model_lib.export_saved_model(path, str(tmp_path / "models" / "swag"), warmup=False)
    loaded = tf.saved_model.load(version)
    outputs = loaded.signatures["serving_default"](context=tf.constant(CONTEXTS), choices=tf.constant(CHOICES))
    examples = [multiple_choice_data.MultipleChoiceExample("x", c, tuple(e)) for c, e in zip(CONTEXTS, CHOICES)]
    expected = model(multiple_choice_data.examples_to_features(examples, exports.preprocessor))["logits"].numpy()
    check_outputs(outputs, expected)


def test_bad_arguments(exports, tmp_path):
    exported = exports.get("swag")
    with pytest.raises(ValueError, match="has no labels"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path), preprocessor=exported.preprocessor,
                                           labels=["a", "b"])
    with pytest.raises(ValueError, match="pairs: a multiple_choice model"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path), preprocessor=exported.preprocessor,
                                           pairs=True)


def test_rest_predict(exports):
    from tests.export import rest

    exported = exports.get("swag")
    _, expected = keras_logits(exported, CONTEXTS[:2], CHOICES[:2])
    body = {"instances": [{"context": c, "choices": e} for c, e in zip(CONTEXTS[:2], CHOICES[:2])]}
    reply = rest.rest_call(exported.loaded, "predict", body)
    assert [p["choice"] for p in reply["predictions"]] == expected.argmax(-1).tolist()
    np.testing.assert_allclose([p["logits"] for p in reply["predictions"]], expected, atol=TOLERANCE, rtol=0)
