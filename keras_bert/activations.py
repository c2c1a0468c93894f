"""Feed-forward activations by the names `BertConfig.hidden_act` uses.

Layers keep the *name* in their config and resolve it here, so a saved model
records which GELU it was built with.
"""

import keras

from keras_bert.config import ACTIVATIONS


def gelu(x):
    """Exact GELU, `x * Phi(x)` with the erf form (Hugging Face's "gelu")."""
    return keras.activations.gelu(x, approximate=False)


def gelu_approximate(x):
    """Tanh-approximated GELU (original BERT, keras-hub):
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`."""
    return keras.activations.gelu(x, approximate=True)


_BY_NAME = {
    "gelu": gelu,
    "gelu_approximate": gelu_approximate,
    "relu": keras.activations.relu,
}
assert set(_BY_NAME) == set(ACTIVATIONS)


def get_activation(name):
    """Returns the activation function called `name` (one of `ACTIVATIONS`)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation={name!r}: must be one of {', '.join(ACTIVATIONS)}."
        ) from None
