"""Checkpoints written by transformers and by TF1's Saver load into keras_bert
and compute what Hugging Face's BertModel / BertForPreTraining compute."""

import numpy as np
import pytest

import keras_bert
from keras_bert.checkpoints import load_checkpoint
from tests import testing
from tests.keras_bert.checkpoints import writers

TOLERANCE = 1e-5  # encoder outputs
LOGITS_TOLERANCE = 1e-4  # vocabulary logits


def hf_reference(model, inputs, masked_positions):
    import torch

    def long(a):
        return torch.from_numpy(np.asarray(a).astype("int64"))

    with torch.inference_mode():
        base = model.bert(
            input_ids=long(inputs["input_word_ids"]),
            attention_mask=long(inputs["input_mask"]),
            token_type_ids=long(inputs["input_type_ids"]),
        )
        heads = model(
            input_ids=long(inputs["input_word_ids"]),
            attention_mask=long(inputs["input_mask"]),
            token_type_ids=long(inputs["input_type_ids"]),
        )
    mlm = heads.prediction_logits.numpy()
    mlm = np.take_along_axis(mlm, masked_positions[:, :, None], axis=1)
    return dict(
        sequence_output=base.last_hidden_state.numpy(),
        pooled_output=base.pooler_output.numpy(),
        mlm_logits=mlm,
        nsp_logits=heads.seq_relationship_logits.numpy(),
    )


def ours(loaded, inputs, masked_positions):
    out = loaded.encoder(inputs, training=False)
    return dict(
        sequence_output=out["sequence_output"].numpy(),
        pooled_output=out["pooled_output"].numpy(),
        mlm_logits=loaded.masked_lm_head(
            out["sequence_output"], masked_positions, loaded.encoder.word_embedding_table
        ).numpy(),
        nsp_logits=loaded.next_sentence_head(out["pooled_output"]).numpy(),
    )


def differences(inputs, actual, expected):
    mask = inputs["input_mask"].astype(bool)
    diffs = {
        "sequence_output": np.abs(actual["sequence_output"][mask] - expected["sequence_output"][mask]).max(),
    }
    for key in ("pooled_output", "mlm_logits", "nsp_logits"):
        diffs[key] = np.abs(actual[key] - expected[key]).max()
    print("max |difference|: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    return diffs


def batch(config):
    inputs = testing.encoder_inputs(config, batch=3, seq=16, seed=5)
    positions = np.array([[1, 3, 5, 0], [2, 4, 6, 7], [1, 2, 0, 0]], "int32")
    return inputs, positions


@pytest.mark.parametrize(
    "name, hidden_act, expected_act",
    [
        ("hf_gelu", "gelu", "gelu"),
        ("hf_gelu_new", "gelu_new", "gelu_approximate"),
        ("bin_gelu_new", "gelu_new", "gelu_approximate"),
        ("original", "gelu_new", "gelu_approximate"),  # the original's "gelu" is tanh
    ],
)
def test_equals_hugging_face(checkpoint_dirs, hf_models, name, hidden_act, expected_act):
    loaded = load_checkpoint(checkpoint_dirs[name])
    assert loaded.config.hidden_act == expected_act
    assert loaded.format == ("original" if name == "original" else "hf")
    assert loaded.masked_lm_head is not None and loaded.next_sentence_head is not None
    inputs, positions = batch(loaded.config)
    expected = hf_reference(hf_models[hidden_act], inputs, positions)
    diffs = differences(inputs, ours(loaded, inputs, positions), expected)
    assert diffs["sequence_output"] <= TOLERANCE
    assert diffs["pooled_output"] <= TOLERANCE
    assert diffs["nsp_logits"] <= TOLERANCE
    assert diffs["mlm_logits"] <= LOGITS_TOLERANCE
    # Not vacuous: O(1) values.
    assert np.abs(expected["sequence_output"]).mean() > 0.1
    assert np.abs(expected["mlm_logits"]).mean() > 0.1


def test_gelu_variant_matters(checkpoint_dirs, hf_models):
    # The erf checkpoint must not match a tanh reference with the same weights:
    # otherwise the tests above could not tell the variants apart.
    import torch
    import transformers

    loaded = load_checkpoint(checkpoint_dirs["hf_gelu"])
    tanh = transformers.BertForPreTraining(
        transformers.BertConfig(**writers.TINY, hidden_act="gelu_new")
    ).eval()
    tanh.load_state_dict(hf_models["gelu"].state_dict())
    inputs, positions = batch(loaded.config)
    diffs = differences(inputs, ours(loaded, inputs, positions), hf_reference(tanh, inputs, positions))
    assert diffs["sequence_output"] > 10 * TOLERANCE
    del torch


def test_lowercase_and_vocab(checkpoint_dirs):
    assert load_checkpoint(checkpoint_dirs["hf_gelu"]).lowercase is True  # no tokenizer_config
    assert load_checkpoint(checkpoint_dirs["bin_gelu_new"]).lowercase is False  # do_lower_case false
    assert load_checkpoint(checkpoint_dirs["bin_gelu_new"], lowercase=True).lowercase is True
    loaded = load_checkpoint(checkpoint_dirs["original"])
    assert loaded.vocab_file.endswith("vocab.txt") and loaded.lowercase is True


def test_original_checkpoint_prefix_is_accepted(checkpoint_dirs):
    import os

    loaded = load_checkpoint(os.path.join(checkpoint_dirs["original"], "bert_model.ckpt"))
    assert loaded.format == "original"


def test_bert_model_keys_without_prefix_and_without_heads(tmp_path, hf_models):
    # A plain BertModel checkpoint: no `bert.` prefix, no heads.
    model = hf_models["gelu"].bert
    model.save_pretrained(str(tmp_path))
    loaded = load_checkpoint(str(tmp_path))
    assert loaded.masked_lm_head is None and loaded.next_sentence_head is None
    assert loaded.vocab_file is None
    inputs, positions = batch(loaded.config)
    expected = hf_reference(hf_models["gelu"], inputs, positions)
    out = loaded.encoder(inputs, training=False)
    mask = inputs["input_mask"].astype(bool)
    assert np.abs(out["sequence_output"].numpy()[mask] - expected["sequence_output"][mask]).max() <= TOLERANCE
    with pytest.raises(ValueError, match="no vocab.txt"):
        loaded.preprocessor()


def test_from_pretrained_returns_encoder_and_preprocessor(checkpoint_dirs):
    encoder, preprocessor = keras_bert.from_pretrained(checkpoint_dirs["bin_gelu_new"], seq_length=16)
    assert isinstance(encoder, keras_bert.BertEncoder)
    assert isinstance(preprocessor, keras_bert.BertPreprocessor)
    reference = load_checkpoint(checkpoint_dirs["hf_gelu_new"]).encoder
    for a, b in zip(encoder.weights, reference.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    features = preprocessor(np.array(["w1 w2 w3", "w4"]))
    assert features["input_word_ids"].shape == (2, 16)
    outputs = encoder(features, training=False)
    assert outputs["pooled_output"].shape == (2, 32)
