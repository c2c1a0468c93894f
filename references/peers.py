"""Reference BERT implementations holding a `BertEncoder`'s weights.

Used by the parity tests (golden values come from these, not from
keras_bert) and by `benchmarks/` (the same weights run in every contender).
Each builder imports its library lazily: only what a caller uses must be
installed.
"""

import numpy as np

from keras_bert.checkpoints import export_encoder_weights


def hf_bert_model(encoder, attn_implementation="eager"):
    """A Hugging Face `BertModel` (PyTorch, eval mode) with `encoder`'s weights."""
    import torch
    import transformers

    config = encoder.config
    hf_config = transformers.BertConfig(
        **{**config.to_hf_dict(), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    )
    hf_config._attn_implementation = attn_implementation
    model = transformers.BertModel(hf_config).eval()
    state = {k: torch.from_numpy(v) for k, v in export_encoder_weights(encoder, "hf").items()}
    result = model.load_state_dict(state, strict=False)
    # Only buffers HF derives itself may be absent from our weights.
    missing = [k for k in result.missing_keys if "position_ids" not in k]
    if missing or result.unexpected_keys:
        raise AssertionError(f"HF weights missing {missing}, unexpected {result.unexpected_keys}")
    return model


def hf_outputs(model, inputs):
    """(sequence_output, pooled_output) of a HF `BertModel` on our inputs."""
    import torch

    def as_long(key):
        return torch.from_numpy(np.asarray(inputs[key]).astype("int64"))

    with torch.inference_mode():
        out = model(
            input_ids=as_long("input_word_ids"),
            attention_mask=as_long("input_mask"),
            token_type_ids=as_long("input_type_ids"),
        )
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


# Our variable path pieces -> keras-hub BertBackbone's.
_KERAS_HUB_NAMES = [
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
    """The keras-hub `BertBackbone` variable path of our variable `path`."""
    for ours, theirs in _KERAS_HUB_NAMES:
        if ours in path:
            return path.replace(ours, theirs, 1)
    raise AssertionError(f"no keras-hub name for {path}")


def keras_hub_backbone_kwargs(config, dropout=0.0):
    """keras-hub `BertBackbone` arguments for our `BertConfig`."""
    return dict(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        dropout=dropout,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
    )


def keras_hub_backbone(encoder):
    """A keras-hub `BertBackbone` (tanh GELU, no dropout) with `encoder`'s weights."""
    import keras_hub

    config = encoder.config
    backbone = keras_hub.models.BertBackbone(**keras_hub_backbone_kwargs(config))
    theirs = {v.path: v for v in backbone.weights}
    if len(theirs) != len(encoder.weights):
        raise AssertionError(f"{len(theirs)} keras-hub weights, {len(encoder.weights)} ours")
    for variable in encoder.weights:
        target = theirs.pop(keras_hub_path(variable.path))
        # keras-hub splits attention kernels per head: [H, heads, size] etc.
        target.assign(variable.numpy().reshape(target.shape))
    return backbone


def keras_hub_inputs(inputs):
    """Our TF Hub-style input dict under keras-hub's input names."""
    return {
        "token_ids": inputs["input_word_ids"],
        "segment_ids": inputs["input_type_ids"],
        "padding_mask": inputs["input_mask"],
    }


def keras_hub_outputs(backbone, inputs):
    """(sequence_output, pooled_output) of a keras-hub backbone on our inputs."""
    out = backbone(keras_hub_inputs(inputs), training=False)
    return out["sequence_output"].numpy(), out["pooled_output"].numpy()
