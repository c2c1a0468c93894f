"""The correspondence between pretraining-head variables and checkpoint names.

Like `encoder_weights`, for `keras_bert.layers.MaskedLMHead` and
`keras_bert.layers.NextSentenceHead`, under the two foreign namings:
  - `"original"`: google-research/bert's `cls/predictions/...` and
    `cls/seq_relationship/...` TF1 variables;
  - `"hf"`: Hugging Face `BertForPreTraining`'s `cls.predictions.*` and
    `cls.seq_relationship.*` state-dict keys.

Arrays here are NumPy; nothing in this module imports torch or reads files.
"""

import functools

import numpy as np

# Layouts (how our array relates to the stored one):
#   same     identical (biases, LayerNorm)
#   dense    our `[in, out]` kernel; the original stores it so, HF transposed
#   out_in   our `[in, out]` kernel; both foreign formats store `[out, in]`
#            (the original's `cls/seq_relationship/output_weights` is `[2, H]`)
MASKED_LM_ROWS = (
    ("transform_dense.kernel", "cls/predictions/transform/dense/kernel", "cls.predictions.transform.dense.weight", "dense"),
    ("transform_dense.bias", "cls/predictions/transform/dense/bias", "cls.predictions.transform.dense.bias", "same"),
    ("transform_layer_norm.gamma", "cls/predictions/transform/LayerNorm/gamma", "cls.predictions.transform.LayerNorm.weight", "same"),
    ("transform_layer_norm.beta", "cls/predictions/transform/LayerNorm/beta", "cls.predictions.transform.LayerNorm.bias", "same"),
    ("output_bias", "cls/predictions/output_bias", "cls.predictions.bias", "same"),
)
NEXT_SENTENCE_ROWS = (
    ("dense.kernel", "cls/seq_relationship/output_weights", "cls.seq_relationship.weight", "out_in"),
    ("dense.bias", "cls/seq_relationship/output_bias", "cls.seq_relationship.bias", "same"),
)
HEAD_ROWS = {"masked_lm": MASKED_LM_ROWS, "next_sentence": NEXT_SENTENCE_ROWS}

# Hugging Face's tied MLM decoder: stored by some writers (e.g. `torch.save`
# of a state dict), always equal to the tensor it is tied to.
HF_TIED = {
    "cls.predictions.decoder.weight": "embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


def _name(row, naming):
    return row[1] if naming == "original" else row[2]


def head_names(kind, naming):
    """The foreign names of head `kind` (`"masked_lm"` or `"next_sentence"`)."""
    return [_name(row, naming) for row in HEAD_ROWS[kind]]


def _variable(head, attribute):
    return functools.reduce(getattr, attribute.split("."), head)


def _transposed(layout, naming):
    return layout == "out_in" or (layout == "dense" and naming == "hf")


def export_head_weights(head, kind, naming="hf"):
    """Returns `{foreign name: np.ndarray}` for every weight of a built `head`.

    Args:
      head: a built `MaskedLMHead` (`kind="masked_lm"`) or `NextSentenceHead`
        (`kind="next_sentence"`).
      naming: `"hf"` or `"original"`.
    """
    out = {}
    for row in HEAD_ROWS[kind]:
        attribute, layout = row[0], row[3]
        array = np.asarray(_variable(head, attribute).numpy())
        if _transposed(layout, naming):
            array = np.ascontiguousarray(array.T)
        out[_name(row, naming)] = array
    return out


def plan_head_weights(head, kind, weights, naming="hf", source="weights"):
    """Checks `weights` against a built `head`; returns `(variable, array)` pairs.

    Nothing is assigned: the caller assigns once everything else is checked.
    Raises `ValueError` naming a missing weight, or a weight whose shape is
    not the one the head needs (both shapes given).
    """
    plan = []
    for row in HEAD_ROWS[kind]:
        attribute, layout = row[0], row[3]
        name = _name(row, naming)
        variable = _variable(head, attribute)
        if name not in weights:
            raise ValueError(f"{source}: no weight named {name!r} (the {kind} head has some of its weights but not this one).")
        array = np.asarray(weights[name])
        expected = tuple(variable.shape)
        if _transposed(layout, naming):
            expected = expected[::-1]
        if array.shape != expected:
            raise ValueError(
                f"{source}: weight {name!r} has shape {array.shape}, but the "
                f"config needs {expected}."
            )
        if _transposed(layout, naming):
            array = array.T
        plan.append((variable, array))
    return plan
