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

# How a variable's array relates to the same weight in a foreign checkpoint:
#   same   identical everywhere (embedding tables, LayerNorm, biases)
#   dense  a `[in, out]` kernel, as in the original; Hugging Face stores
#          `[out, in]`, the transpose


def encoder_weight_rows(encoder):
    """Yields (variable, original name, HF key, layout) for every weight."""
    if getattr(encoder, "fused_projections", False):
        raise ValueError(
            f"{encoder.name}: an encoder with fused_projections=True (an export's serving copy) stores the "
            f"query, key and value kernels as one; checkpoints name the three, so read and write them "
            f"with an encoder built with fused_projections=False")
    emb = encoder.embeddings
    yield emb.word_embeddings.embeddings, "bert/embeddings/word_embeddings", "embeddings.word_embeddings.weight", "same"
    yield emb.token_type_embeddings.embeddings, "bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings.weight", "same"
    yield emb.position_embeddings, "bert/embeddings/position_embeddings", "embeddings.position_embeddings.weight", "same"
    yield from _layer_norm(emb.layer_norm, "bert/embeddings/LayerNorm", "embeddings.LayerNorm")
    for i, block in enumerate(encoder.transformer_layers):
        orig = f"bert/encoder/layer_{i}"
        hf = f"encoder.layer.{i}"
        attention = block.attention
        for part in ("query", "key", "value"):
            dense = getattr(attention, f"{part}_dense")
            yield from _dense(dense, f"{orig}/attention/self/{part}", f"{hf}.attention.self.{part}")
        yield from _dense(attention.output_dense, f"{orig}/attention/output/dense", f"{hf}.attention.output.dense")
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


def _convert(array, layout, naming):
    """Ours -> foreign layout, and back: the conversion is its own inverse."""
    if naming == "hf" and layout == "dense":
        return np.ascontiguousarray(array.T)
    return array


def _foreign_shape(shape, layout, naming):
    shape = tuple(shape)
    return shape[::-1] if naming == "hf" and layout == "dense" else shape


def export_encoder_weights(encoder, naming="hf"):
    """Returns `{name: np.ndarray}` for every weight of `encoder`.

    Args:
      encoder: a built `keras_bert.BertEncoder`.
      naming: `"hf"` (Hugging Face `BertModel` state-dict keys, `[out, in]`
        kernels) or `"original"` (google-research/bert TF1 names).
    """
    _check_naming(naming)
    out = {}
    for variable, orig_name, hf_name, layout in encoder_weight_rows(encoder):
        name = hf_name if naming == "hf" else orig_name
        out[name] = _convert(np.asarray(variable.numpy()), layout, naming)
    return out


def import_encoder_weights(encoder, weights, naming="hf", source="weights", pooler_optional=False):
    """Assigns every weight of `encoder` from `weights` (`{name: array}`).

    Every variable must be found, with the shape the encoder's config implies;
    extra names in `weights` (e.g. pretraining heads) are ignored. Nothing is
    assigned unless everything matches, so a failed import leaves the encoder
    as it was. With `pooler_optional`, weights without the pooler's (those of
    a model whose head does not read it) leave the pooler as it is.

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
    pooler = (encoder.pooler.kernel, encoder.pooler.bias)
    for variable, orig_name, hf_name, layout in encoder_weight_rows(encoder):
        name = hf_name if naming == "hf" else orig_name
        if name not in weights and pooler_optional and any(variable is v for v in pooler):
            continue
        if name not in weights:
            raise ValueError(f"{source}: no weight named {name!r}.")
        array = np.asarray(weights[name])
        expected = _foreign_shape(variable.shape, layout, naming)
        if array.shape != expected:
            raise ValueError(
                f"{source}: weight {name!r} has shape {array.shape}, but the "
                f"encoder's config needs {expected}."
            )
        assignments.append((variable, _convert(array, layout, naming)))
        used.add(name)
    for variable, array in assignments:
        variable.assign(array.astype(variable.dtype))
    return sorted(set(weights) - used)
