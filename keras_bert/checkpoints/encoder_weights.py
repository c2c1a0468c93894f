"""The correspondence between `BertEncoder` variables and checkpoint names.

Two foreign namings are known:
  - `"original"`: google-research/bert's TF1 variable names
    (`bert/encoder/layer_0/attention/self/query/kernel`, kernels `[in, out]`);
  - `"hf"`: Hugging Face `BertModel` state-dict keys
    (`encoder.layer.0.attention.self.query.weight`, kernels `[out, in]`).

Arrays here are NumPy; nothing in this module imports torch or reads files.
"""

import numpy as np

NAMINGS = ("original", "hf")

# How a variable's array relates to the original 2-D `[in, out]` kernel (or
# 1-D bias) of the same weight:
#   same       identical (embedding tables, LayerNorm, 1-D biases)
#   dense      identical; Hugging Face stores it transposed
#   heads_in   ours [H, heads, head_size]  == original [H, H] reshaped
#   heads_bias ours [heads, head_size]     == original [H] reshaped
#   heads_out  ours [heads, head_size, H]  == original [H, H] reshaped
_TRANSPOSED_IN_HF = ("dense", "heads_in", "heads_out")


def _rows(encoder):
    """Yields (variable, original name, HF key, layout) for every weight."""
    emb = encoder.embeddings
    yield emb.word_embeddings.embeddings, "bert/embeddings/word_embeddings", "embeddings.word_embeddings.weight", "same"
    yield emb.token_type_embeddings.embeddings, "bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings.weight", "same"
    yield emb.position_embeddings, "bert/embeddings/position_embeddings", "embeddings.position_embeddings.weight", "same"
    yield from _layer_norm(emb.layer_norm, "bert/embeddings/LayerNorm", "embeddings.LayerNorm")
    for i, block in enumerate(encoder.transformer_layers):
        orig = f"bert/encoder/layer_{i}"
        hf = f"encoder.layer.{i}"
        attention = block.attention
        for part, dense in (
            ("query", attention.query_dense),
            ("key", attention.key_dense),
            ("value", attention.value_dense),
        ):
            yield dense.kernel, f"{orig}/attention/self/{part}/kernel", f"{hf}.attention.self.{part}.weight", "heads_in"
            yield dense.bias, f"{orig}/attention/self/{part}/bias", f"{hf}.attention.self.{part}.bias", "heads_bias"
        out = attention.output_dense
        yield out.kernel, f"{orig}/attention/output/dense/kernel", f"{hf}.attention.output.dense.weight", "heads_out"
        yield out.bias, f"{orig}/attention/output/dense/bias", f"{hf}.attention.output.dense.bias", "same"
        yield from _layer_norm(block.attention_layer_norm, f"{orig}/attention/output/LayerNorm", f"{hf}.attention.output.LayerNorm")
        yield from _dense(block.intermediate_dense, f"{orig}/intermediate/dense", f"{hf}.intermediate.dense")
        yield from _dense(block.output_dense, f"{orig}/output/dense", f"{hf}.output.dense")
        yield from _layer_norm(block.output_layer_norm, f"{orig}/output/LayerNorm", f"{hf}.output.LayerNorm")
    yield from _dense(encoder.pooler, "bert/pooler/dense", "pooler.dense")


def _dense(layer, orig, hf):
    yield layer.kernel, f"{orig}/kernel", f"{hf}.weight", "dense"
    yield layer.bias, f"{orig}/bias", f"{hf}.bias", "same"


def _layer_norm(layer, orig, hf):
    yield layer.gamma, f"{orig}/gamma", f"{hf}.weight", "same"
    yield layer.beta, f"{orig}/beta", f"{hf}.bias", "same"


def _check_naming(naming):
    if naming not in NAMINGS:
        raise ValueError(f"naming={naming!r}: must be one of {', '.join(NAMINGS)}.")


def _foreign_shape(shape, layout, naming):
    """The shape a variable of `shape` has under `naming`."""
    shape = tuple(shape)
    if layout == "heads_in":
        shape = (shape[0], int(np.prod(shape[1:])))
    elif layout == "heads_out":
        shape = (int(np.prod(shape[:-1])), shape[-1])
    elif layout == "heads_bias":
        shape = (int(np.prod(shape)),)
    if naming == "hf" and layout in _TRANSPOSED_IN_HF:
        shape = shape[::-1]
    return shape


def _to_foreign(array, layout, naming):
    if naming == "hf" and layout in _TRANSPOSED_IN_HF:
        # Reshape to the original 2-D kernel first, then transpose.
        return np.ascontiguousarray(
            array.reshape(_foreign_shape(array.shape, layout, "original")).T
        )
    return array.reshape(_foreign_shape(array.shape, layout, naming))


def export_encoder_weights(encoder, naming="hf"):
    """Returns `{name: np.ndarray}` for every weight of `encoder`.

    Args:
      encoder: a built `keras_bert.BertEncoder`.
      naming: `"hf"` (Hugging Face `BertModel` state-dict keys, `[out, in]`
        kernels) or `"original"` (google-research/bert TF1 names).
    """
    _check_naming(naming)
    out = {}
    for variable, orig_name, hf_name, layout in _rows(encoder):
        name = hf_name if naming == "hf" else orig_name
        out[name] = _to_foreign(np.asarray(variable.numpy()), layout, naming)
    return out


def import_encoder_weights(encoder, weights, naming="hf", source="weights"):
    """Assigns every weight of `encoder` from `weights` (`{name: array}`).

    Every variable must be found, with the shape the encoder's config implies;
    extra names in `weights` (e.g. pretraining heads) are ignored. Nothing is
    assigned unless everything matches, so a failed import leaves the encoder
    as it was.

    Args:
      encoder: a built `keras_bert.BertEncoder`.
      weights: mapping from foreign name to array-like.
      naming: `"hf"` or `"original"`, as in `export_encoder_weights`.
      source: what `weights` came from (a path), for error messages.

    Returns:
      The list of names in `weights` that were not used.
    """
    _check_naming(naming)
    assignments = []
    used = set()
    for variable, orig_name, hf_name, layout in _rows(encoder):
        name = hf_name if naming == "hf" else orig_name
        if name not in weights:
            raise ValueError(f"{source}: no weight named {name!r}.")
        array = np.asarray(weights[name])
        expected = _foreign_shape(variable.shape, layout, naming)
        if array.shape != expected:
            raise ValueError(
                f"{source}: weight {name!r} has shape {array.shape}, but the "
                f"encoder's config needs {expected}."
            )
        if naming == "hf" and layout in _TRANSPOSED_IN_HF:
            array = array.T
        assignments.append((variable, array.reshape(variable.shape)))
        used.add(name)
    for variable, array in assignments:
        variable.assign(array.astype(variable.dtype))
    return sorted(set(weights) - used)
