"""Feed-forward activations by the names `BertConfig.hidden_act` uses.

Layers keep the *name* in their config and resolve it here, so a saved model
records which GELU it was built with.
"""

import keras
import tensorflow as tf

from keras_bert import training_kernels
from keras_bert.config import ACTIVATIONS


def gelu(x):
    """Exact GELU, `x * Phi(x)` with the erf form (Hugging Face's "gelu").
    On TensorFlow, training's form: forward and closed-form derivative each
    one XLA-fused kernel (`keras_bert.training_kernels`; Keras's op where
    those are not `enabled()`)."""
    if not training_kernels.enabled():
        return keras.activations.gelu(x, approximate=False)
    return training_kernels.gelu_exact(x)


def gelu_approximate(x):
    """Tanh-approximated GELU (original BERT, keras-hub):
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`; on TensorFlow,
    training's form as `gelu`'s."""
    if not training_kernels.enabled():
        return keras.activations.gelu(x, approximate=True)
    return training_kernels.gelu_tanh(x)


_BY_NAME = {
    "gelu": gelu,
    "gelu_approximate": gelu_approximate,
    "relu": keras.activations.relu,
}
assert set(_BY_NAME) == set(ACTIVATIONS)


# For inference graphs: the forms TensorFlow's grappler fuses into the
# preceding MatMul + BiasAdd (one oneDNN kernel, `_FusedMatMul` with
# `GeluApproximate` / `GeluExact` / `Relu`), which a custom gradient's
# IdentityN keeps it from doing (`TransformerBlock._fused_intermediate`).
# Measured on a served 6-layer H384 classifier at batch 1 (~14 tokens): 8
# element-wise ops a layer fewer (866 -> 809 ops a request) and one pass
# less over the [tokens, intermediate] activations.
_FUSABLE_BY_NAME = {
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "gelu_approximate": lambda x: tf.nn.gelu(x, approximate=True),
    "relu": tf.nn.relu,
}
assert set(_FUSABLE_BY_NAME) == set(ACTIVATIONS)


def get_fusable_activation(name):
    """The activation called `name` as TensorFlow's own op, for inference
    graphs (its gradient is autodiff's, slower than `get_activation`'s)."""
    get_activation(name)  # Validates the name.
    return _FUSABLE_BY_NAME[name]


def activation_for_call(name, training):
    """The activation called `name` for a layer's call: `get_activation`'s
    (closed-form derivative, XLA-fused kernels) when `training`, else
    `get_fusable_activation`'s (TensorFlow's own op, which grappler fuses
    into the matmul before it and TF Serving runs as is)."""
    return get_activation(name) if training else get_fusable_activation(name)


def get_activation(name):
    """Returns the activation function called `name` (one of `ACTIVATIONS`)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation={name!r}: must be one of {', '.join(ACTIVATIONS)}."
        ) from None
