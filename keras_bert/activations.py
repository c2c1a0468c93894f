"""Feed-forward activations by the names `BertConfig.hidden_act` uses.

Layers keep the *name* in their config and resolve it here, so a saved model
records which GELU it was built with.
"""

import math

import keras
import tensorflow as tf

from keras_bert.config import ACTIVATIONS


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CUBIC = 0.044715


def gelu(x):
    """Exact GELU, `x * Phi(x)` with the erf form (Hugging Face's "gelu")."""
    if keras.backend.backend() != "tensorflow":
        return keras.activations.gelu(x, approximate=False)
    return _gelu_exact_tf(x)


def gelu_approximate(x):
    """Tanh-approximated GELU (original BERT, keras-hub):
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`."""
    if keras.backend.backend() != "tensorflow":
        return keras.activations.gelu(x, approximate=True)
    return _gelu_tanh_tf(x)


# On TensorFlow both GELUs carry their derivative in closed form, computed
# from what the forward pass already has: automatic differentiation of the
# composite formulas runs about twice as many element-wise passes over the
# [batch * seq, intermediate] activations, a visible share of a CPU step.


@tf.custom_gradient
def _gelu_exact_tf(x):
    cdf = 0.5 + 0.5 * tf.math.erf(x * _SQRT_HALF)

    def grad(dy):  # d/dx x Phi(x) = Phi(x) + x phi(x)
        return dy * (cdf + x * (_INV_SQRT_2PI * tf.exp(-0.5 * tf.square(x))))

    return x * cdf, grad


@tf.custom_gradient
def _gelu_tanh_tf(x):
    x2 = tf.square(x)
    t = tf.tanh(x * (_SQRT_2_OVER_PI + (_SQRT_2_OVER_PI * _CUBIC) * x2))
    half_x = 0.5 * x

    def grad(dy):  # 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        slope = _SQRT_2_OVER_PI + (3.0 * _SQRT_2_OVER_PI * _CUBIC) * x2
        return dy * (0.5 + 0.5 * t + half_x * (1.0 - tf.square(t)) * slope)

    return half_x + half_x * t, grad


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


def get_activation(name):
    """Returns the activation function called `name` (one of `ACTIVATIONS`)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation={name!r}: must be one of {', '.join(ACTIVATIONS)}."
        ) from None
