"""`BertConfig`: the hyperparameters that fix the shape of a BERT encoder.

A frozen dataclass, validated on construction, with a JSON round trip and
readers for the two config files users bring: Google's original
`bert_config.json` and Hugging Face's `config.json` (read with
`keras_bert.io.read_json_file`: any failure is a `ValueError` naming the
file; any gfile path, `gs://` included).
"""

import dataclasses
import json
import os

from keras_bert.io import atomic_write
from keras_bert.io import loads_json
from keras_bert.io import read_json_file

# Activations a BERT feed-forward layer may use.  `gelu` is the exact erf form
# (Hugging Face's "gelu"); `gelu_approximate` is the tanh approximation used by
# the original google-research/bert code and by keras-hub.
ACTIVATIONS = ("gelu", "gelu_approximate", "relu")

# What the activation names in foreign config files mean in ours.
_ORIGINAL_ACTIVATIONS = {"gelu": "gelu_approximate", "relu": "relu"}
_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_python": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}

# Turc et al. 2019 ("Well-Read Students Learn Better") sizes, and the original
# BERT-Base and BERT-Large, all with the 30522-wordpiece uncased vocabulary.
_PRESET_SIZES = {
    # name: (num_layers, hidden_size, num_heads)
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "medium": (8, 512, 8),
    "base": (12, 768, 12),
    "large": (24, 1024, 16),
}
PRESETS = tuple(_PRESET_SIZES)


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyperparameters of a BERT encoder.

    Attributes:
      vocab_size: number of wordpieces in the vocabulary.
      hidden_size: width H of every hidden state.
      num_layers: number of transformer blocks.
      num_heads: attention heads per block; must divide `hidden_size`.
      intermediate_size: width of the feed-forward layer inside each block.
      hidden_act: feed-forward activation, one of `ACTIVATIONS`. `gelu` is the
        exact (erf) GELU; `gelu_approximate` the tanh approximation that the
        original BERT checkpoints were trained with.
      hidden_dropout_prob: dropout rate on embeddings and block outputs.
      attention_probs_dropout_prob: dropout rate on attention probabilities.
      max_position_embeddings: longest sequence the position table covers.
      type_vocab_size: number of segment (token type) ids.
      initializer_range: stddev of the truncated-normal weight initializer.
      layer_norm_eps: epsilon of every LayerNorm.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu_approximate"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f"BertConfig.{name}={value!r}: must be an integer."
                )
            if value <= 0:
                raise ValueError(f"BertConfig.{name}={value}: must be positive.")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value < 1.0:
                raise ValueError(
                    f"BertConfig.{name}={value!r}: must be a number in [0, 1)."
                )
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not _is_real(value) or not value > 0.0:
                raise ValueError(
                    f"BertConfig.{name}={value!r}: must be a positive number."
                )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"BertConfig.hidden_size={self.hidden_size}: must be divisible "
                f"by num_heads={self.num_heads}."
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"BertConfig.hidden_act={self.hidden_act!r}: must be one of "
                f"{', '.join(ACTIVATIONS)}."
            )

    @property
    def head_size(self):
        """Width of one attention head: `hidden_size // num_heads`."""
        return self.hidden_size // self.num_heads

    def replace(self, **changes):
        """Returns a copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    # -- our own JSON ---------------------------------------------------------

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict with exactly our field names."""
        if not isinstance(values, dict):
            raise ValueError(
                f"BertConfig.from_dict: expected a dict, got {type(values).__name__}."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"BertConfig.from_dict: unknown field(s) {', '.join(unknown)}; "
                f"known fields are {', '.join(sorted(known))}."
            )
        return cls(**values)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(_parse_json(text, "<string>"))

    def save(self, path):
        """Writes this config as JSON to `path` (atomically: `keras_bert.io.atomic_write`)."""
        with atomic_write(path) as f:
            f.write(self.to_json())

    @classmethod
    def load(cls, path):
        """Reads a config written by `save`."""
        values = _read_json_file(path)
        try:
            return cls.from_dict(values)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_file(cls, path):
        """Reads any config file: ours (`save`), an original `bert_config.json`
        or a Hugging Face `config.json` (told apart by their keys:
        `num_layers` is ours, `model_type` is Hugging Face's)."""
        values = _read_json_file(path)
        if "num_layers" in values:
            return cls.load(path)
        if "model_type" in values:
            return cls.from_hf_json(path)
        return cls.from_original_json(path)

    # -- foreign config files -------------------------------------------------

    @classmethod
    def from_original_json(cls, path):
        """Reads google-research/bert's `bert_config.json`.

        Its `"gelu"` is the tanh approximation (see google-research/bert
        `modeling.gelu`), so it becomes our `gelu_approximate`.
        """
        return cls._from_foreign(path, _read_json_file(path), _ORIGINAL_ACTIVATIONS)

    @classmethod
    def from_hf_json(cls, path):
        """Reads a Hugging Face `config.json` of a `bert` model.

        Hugging Face's `"gelu"` is the exact erf form; `"gelu_new"` and
        `"gelu_pytorch_tanh"` are the tanh approximation.
        """
        values = _read_json_file(path)
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(
                f"{path}: model_type={model_type!r}; only 'bert' configs can be read."
            )
        embedding_type = values.get("position_embedding_type", "absolute")
        if embedding_type != "absolute":
            raise ValueError(
                f"{path}: position_embedding_type={embedding_type!r}; BERT uses "
                "'absolute' (learned) position embeddings."
            )
        return cls._from_foreign(path, values, _HF_ACTIVATIONS)

    def to_original_dict(self):
        """This config as google-research/bert's `bert_config.json` holds it.

        The original format has no way to say "exact GELU" or a LayerNorm
        epsilon other than 1e-12; such configs raise `ValueError`.
        """
        if self.hidden_act == "gelu":
            raise ValueError(
                "BertConfig.hidden_act='gelu' (exact erf): google-research/bert's "
                "config can only express the tanh approximation ('gelu_approximate')."
            )
        if self.layer_norm_eps != 1e-12:
            raise ValueError(
                f"BertConfig.layer_norm_eps={self.layer_norm_eps}: google-research/bert "
                "always uses 1e-12."
            )
        inverse = {v: k for k, v in _ORIGINAL_ACTIVATIONS.items()}
        return self._foreign_dict(inverse[self.hidden_act])

    def to_hf_dict(self):
        """This config as a Hugging Face `BertConfig` / `config.json` holds it."""
        values = self._foreign_dict(
            {"gelu": "gelu", "gelu_approximate": "gelu_new", "relu": "relu"}[self.hidden_act]
        )
        values.update(
            model_type="bert",
            layer_norm_eps=self.layer_norm_eps,
            position_embedding_type="absolute",
        )
        return values

    def _foreign_dict(self, hidden_act):
        return dict(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            initializer_range=self.initializer_range,
        )

    @classmethod
    def _from_foreign(cls, path, values, activations):
        required = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        )
        missing = [k for k in required if k not in values]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)}.")
        act = values.get("hidden_act", "gelu")
        if act not in activations:
            raise ValueError(
                f"{path}: hidden_act={act!r} is not supported; supported values "
                f"are {', '.join(sorted(activations))}."
            )
        defaults = cls()
        try:
            return cls(
                vocab_size=values["vocab_size"],
                hidden_size=values["hidden_size"],
                num_layers=values["num_hidden_layers"],
                num_heads=values["num_attention_heads"],
                intermediate_size=values["intermediate_size"],
                hidden_act=activations[act],
                hidden_dropout_prob=values.get(
                    "hidden_dropout_prob", defaults.hidden_dropout_prob
                ),
                attention_probs_dropout_prob=values.get(
                    "attention_probs_dropout_prob",
                    defaults.attention_probs_dropout_prob,
                ),
                max_position_embeddings=values.get(
                    "max_position_embeddings", defaults.max_position_embeddings
                ),
                type_vocab_size=values.get("type_vocab_size", defaults.type_vocab_size),
                initializer_range=values.get(
                    "initializer_range", defaults.initializer_range
                ),
                layer_norm_eps=values.get("layer_norm_eps", defaults.layer_norm_eps),
            )
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    # -- presets --------------------------------------------------------------

    @classmethod
    def from_preset(cls, name, **overrides):
        """A standard size: one of `PRESETS` (`tiny` ... `large`).

        `intermediate_size` is 4 * hidden, as in every released BERT. Any
        field can be overridden, e.g. `from_preset("tiny", vocab_size=1000)`.
        """
        if name not in _PRESET_SIZES:
            raise ValueError(
                f"BertConfig.from_preset: unknown preset {name!r}; known presets "
                f"are {', '.join(PRESETS)}."
            )
        num_layers, hidden, heads = _PRESET_SIZES[name]
        values = dict(
            num_layers=num_layers,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=4 * hidden,
        )
        values.update(overrides)
        return cls.from_dict(values)


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expect_object(values, where):
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(values).__name__}.")
    return values


def _parse_json(text, where):
    return _expect_object(loads_json(text, where), where)


def _read_json_file(path):
    return _expect_object(read_json_file(path, "config file"), os.fspath(path))
