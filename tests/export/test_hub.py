"""The encoder and the preprocessor as TF Hub-style SavedModels."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import hub
from keras_bert.export import op_audit

TEXTS = ["Angela Merkel visited Paris .", "", "中文 \U0001F600 x"]


def test_encoder(exports, hub_exports):
    encoder_dir, _ = hub_exports
    encoder = exports.get("sst2").model.encoder
    loaded = tf.saved_model.load(encoder_dir)
    features = exports.preprocessor(tf.constant(TEXTS))
    expected = encoder(features, training=False)
    outputs = loaded(features)  # TF Hub's __call__ (dict in).
    for key in ("pooled_output", "sequence_output"):
        np.testing.assert_allclose(outputs[key].numpy(), expected[key].numpy(), atol=1e-5, rtol=0)
    assert len(outputs["encoder_outputs"]) == 2
    np.testing.assert_allclose(outputs["encoder_outputs"][-1].numpy(), expected["sequence_output"].numpy(),
                               atol=1e-5)
    signature = loaded.signatures["serving_default"](**features)
    assert set(signature) == {"pooled_output", "sequence_output"}
    np.testing.assert_allclose(signature["pooled_output"].numpy(), expected["pooled_output"].numpy(), atol=1e-5)
    # Fine-tunable: the variables are there, trainable ones listed.
    assert len(loaded.trainable_variables) == len(encoder.trainable_weights) > 0
    assert len(loaded.variables) == len(encoder.weights)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(loaded(features, training=True)["pooled_output"])
    gradients = tape.gradient(loss, loaded.trainable_variables)
    assert all(g is not None for g in gradients)
    assert op_audit.audit_saved_model(encoder_dir).ok


def test_preprocessor(exports, hub_exports):
    _, preprocessor_dir = hub_exports
    preprocessor = exports.preprocessor
    loaded = tf.saved_model.load(preprocessor_dir)
    expected = preprocessor(tf.constant(TEXTS))
    features = loaded(tf.constant(TEXTS))
    for key, value in expected.items():
        assert features[key].numpy().tolist() == value.numpy().tolist()
    tokens = loaded.tokenize(tf.constant(TEXTS))
    assert tokens.to_list() == preprocessor.tokenize(tf.constant(TEXTS)).to_list()
    packed = loaded.bert_pack_inputs([tokens, tokens])
    pair = preprocessor((tf.constant(TEXTS), tf.constant(TEXTS)))
    for key, value in pair.items():
        assert packed[key].numpy().tolist() == value.numpy().tolist()
    single = loaded.bert_pack_inputs([tokens])
    assert single["input_word_ids"].numpy().tolist() == expected["input_word_ids"].numpy().tolist()
    assert loaded.signatures["serve_pairs"](text_a=tf.constant(TEXTS), text_b=tf.constant(TEXTS))[
        "input_type_ids"].numpy().tolist() == pair["input_type_ids"].numpy().tolist()
    assert bool(loaded.do_lower_case.numpy()) and int(loaded.seq_length.numpy()) == preprocessor.seq_length
    with open(loaded.vocab_file.asset_path.numpy().decode(), encoding="utf-8") as f:
        assert f.read().split() == preprocessor.vocabulary
    # Invalid UTF-8 does not fail.
    assert loaded(tf.constant([b"\xff\xfe"]))["input_mask"].numpy().sum() == 2
    assert op_audit.audit_saved_model(preprocessor_dir).ok


def test_never_overwritten(exports, hub_exports):
    encoder_dir, preprocessor_dir = hub_exports
    with pytest.raises(ValueError, match="never overwritten"):
        hub.export_encoder(exports.get("sst2").model.encoder, encoder_dir)
    with pytest.raises(ValueError, match="never overwritten"):
        hub.export_preprocessor(exports.preprocessor, preprocessor_dir)
    with pytest.raises(ValueError, match="must be a keras_bert.BertEncoder"):
        hub.export_encoder(exports.get("sst2").model, encoder_dir + "2")
