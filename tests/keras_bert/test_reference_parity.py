"""BertEncoder is the same function as Hugging Face's and keras-hub's BERT.

Each reference gets our randomly initialized weights, then all run the same
batch (padding, two segments) in fp32. Golden values are the references'
outputs, computed here and now.
"""

import keras
import numpy as np
import pytest

from keras_bert import BertConfig
from keras_bert import BertEncoder
from references import peers
from tests import testing

TOLERANCE = 1e-5


def parity_encoder(preset, hidden_act, seed, skip_padding=False):
    # initializer_range 0.06 rather than BERT's 0.02: with 0.02 the
    # feed-forward pre-activations are so small that erf and tanh GELU
    # agree to 1e-5, and a wrong GELU would pass (test_gelu_variant_matters
    # guards this). Trained BERT weights give O(1) pre-activations.
    keras.utils.set_random_seed(seed)
    config = BertConfig.from_preset(
        preset,
        vocab_size=1000,
        initializer_range=0.06,
        hidden_act=hidden_act,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertEncoder(config, skip_padding=skip_padding)


def ours(encoder, inputs):
    out = encoder(inputs, training=False)
    return out["sequence_output"].numpy(), out["pooled_output"].numpy()


def assert_same(inputs, actual, expected):
    mask = inputs["input_mask"].astype(bool)
    seq_diff = np.abs(actual[0][mask] - expected[0][mask]).max()
    pooled_diff = np.abs(actual[1] - expected[1]).max()
    print(f"max |difference|: sequence_output {seq_diff:.2e}, pooled_output {pooled_diff:.2e}")
    assert seq_diff <= TOLERANCE, f"sequence_output differs by {seq_diff}"
    assert pooled_diff <= TOLERANCE, f"pooled_output differs by {pooled_diff}"
    # The comparison is not vacuous: outputs are O(1), not all zero.
    assert np.abs(expected[0][mask]).mean() > 0.1


@pytest.mark.parametrize("skip_padding", [False, True])
@pytest.mark.parametrize("preset", ["tiny", "mini"])
def test_equals_hugging_face_bert_model(preset, skip_padding):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    encoder = parity_encoder(preset, "gelu", seed=1, skip_padding=skip_padding)  # HF's "gelu" is the erf form.
    model = peers.hf_bert_model(encoder, attn_implementation="eager")
    inputs = testing.encoder_inputs(encoder.config, batch=4, seq=32, seed=7)
    assert not inputs["input_mask"].all()  # Padding to skip.
    assert_same(inputs, ours(encoder, inputs), peers.hf_outputs(model, inputs))


@pytest.mark.parametrize("preset", ["tiny", "mini"])
def test_equals_keras_hub_bert_backbone(preset):
    pytest.importorskip("keras_hub")
    encoder = parity_encoder(preset, "gelu_approximate", seed=2)  # keras-hub: tanh GELU.
    backbone = peers.keras_hub_backbone(encoder)
    inputs = testing.encoder_inputs(encoder.config, batch=4, seq=32, seed=11)
    assert_same(inputs, ours(encoder, inputs), peers.keras_hub_outputs(backbone, inputs))


def test_gelu_variant_matters():
    # Guard against a parity check that passes whatever the activation: the
    # erf encoder must *not* match keras-hub's tanh backbone at this tolerance.
    pytest.importorskip("keras_hub")
    encoder = parity_encoder("tiny", "gelu", seed=3)
    backbone = peers.keras_hub_backbone(encoder)
    inputs = testing.encoder_inputs(encoder.config, batch=2, seq=16)
    diff = np.abs(ours(encoder, inputs)[0] - peers.keras_hub_outputs(backbone, inputs)[0]).max()
    assert diff > 10 * TOLERANCE
