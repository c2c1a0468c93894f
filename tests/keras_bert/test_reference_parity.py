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
from keras_bert.checkpoints import export_encoder_weights
from tests import testing

TOLERANCE = 1e-5


def parity_config(preset, hidden_act):
    # initializer_range 0.06 rather than BERT's 0.02: with 0.02 the
    # feed-forward pre-activations are so small that erf and tanh GELU
    # agree to 1e-5, and a wrong GELU would pass (test_gelu_variant_matters
    # guards this). Trained BERT weights give O(1) pre-activations.
    return BertConfig.from_preset(
        preset,
        vocab_size=1000,
        initializer_range=0.06,
        hidden_act=hidden_act,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


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


@pytest.mark.parametrize("preset", ["tiny", "mini"])
def test_equals_hugging_face_bert_model(preset):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    keras.utils.set_random_seed(1)
    config = parity_config(preset, "gelu")  # HF's "gelu" is the erf form.
    encoder = BertEncoder(config)
    hf_config = transformers.BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        layer_norm_eps=config.layer_norm_eps,
    )
    hf_config._attn_implementation = "eager"
    model = transformers.BertModel(hf_config).eval()
    state = {k: torch.from_numpy(v) for k, v in export_encoder_weights(encoder, "hf").items()}
    result = model.load_state_dict(state, strict=False)
    # Only buffers HF derives itself may be absent from our weights.
    assert all("position_ids" in k for k in result.missing_keys), result.missing_keys
    assert not result.unexpected_keys

    inputs = testing.encoder_inputs(config, batch=4, seq=32, seed=7)
    with torch.no_grad():
        reference = model(
            input_ids=torch.from_numpy(inputs["input_word_ids"].astype("int64")),
            attention_mask=torch.from_numpy(inputs["input_mask"].astype("int64")),
            token_type_ids=torch.from_numpy(inputs["input_type_ids"].astype("int64")),
        )
    expected = (reference.last_hidden_state.numpy(), reference.pooler_output.numpy())
    assert_same(inputs, ours(encoder, inputs), expected)


# Our variable path pieces -> keras-hub BertBackbone's.
KERAS_HUB_NAMES = [
    ("embeddings/word_embeddings/", "token_embedding/"),
    ("embeddings/position_embeddings", "position_embedding/embeddings"),
    ("embeddings/token_type_embeddings/", "segment_embedding/"),
    ("embeddings/layer_norm/", "embeddings_layer_norm/"),
    ("/attention/output/", "/self_attention_layer/attention_output/"),
    ("/attention/", "/self_attention_layer/"),
    ("/attention_layer_norm/", "/self_attention_layer_norm/"),
    ("/intermediate_dense/", "/feedforward_intermediate_dense/"),
    ("/output_dense/", "/feedforward_output_dense/"),
    ("/output_layer_norm/", "/feedforward_layer_norm/"),
    ("pooler_dense/", "pooled_dense/"),
]


def keras_hub_path(path):
    for ours_part, theirs_part in KERAS_HUB_NAMES:
        if ours_part in path:
            return path.replace(ours_part, theirs_part, 1)
    raise AssertionError(f"no keras-hub name for {path}")


def keras_hub_copy(encoder):
    """A keras-hub `BertBackbone` holding `encoder`'s weights."""
    import keras_hub

    config = encoder.config
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        dropout=0.0,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
    )
    theirs = {v.path: v for v in backbone.weights}
    assert len(theirs) == len(encoder.weights)
    for variable in encoder.weights:
        target = theirs.pop(keras_hub_path(variable.path))
        # keras-hub splits attention kernels per head: [H, heads, size] etc.
        target.assign(variable.numpy().reshape(target.shape))
    assert not theirs, f"keras-hub weights left unassigned: {sorted(theirs)}"
    return backbone


def keras_hub_outputs(backbone, inputs):
    out = backbone(
        {
            "token_ids": inputs["input_word_ids"],
            "segment_ids": inputs["input_type_ids"],
            "padding_mask": inputs["input_mask"],
        },
        training=False,
    )
    return out["sequence_output"].numpy(), out["pooled_output"].numpy()


@pytest.mark.parametrize("preset", ["tiny", "mini"])
def test_equals_keras_hub_bert_backbone(preset):
    pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(2)
    encoder = BertEncoder(parity_config(preset, "gelu_approximate"))  # keras-hub: tanh GELU.
    backbone = keras_hub_copy(encoder)
    inputs = testing.encoder_inputs(encoder.config, batch=4, seq=32, seed=11)
    assert_same(inputs, ours(encoder, inputs), keras_hub_outputs(backbone, inputs))


def test_gelu_variant_matters():
    # Guard against a parity check that passes whatever the activation: the
    # erf encoder must *not* match keras-hub's tanh backbone at this tolerance.
    pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(3)
    encoder = BertEncoder(parity_config("tiny", "gelu"))
    backbone = keras_hub_copy(encoder)
    inputs = testing.encoder_inputs(encoder.config, batch=2, seq=16)
    diff = np.abs(ours(encoder, inputs)[0] - keras_hub_outputs(backbone, inputs)[0]).max()
    assert diff > 10 * TOLERANCE
