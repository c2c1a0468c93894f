"""Hugging Face BERT checkpoint directories: reading and writing.

A directory holds `config.json`, the weights as `model.safetensors` (or
sharded, with `model.safetensors.index.json`) or `pytorch_model.bin`, and
`vocab.txt`; `tokenizer_config.json`'s `do_lower_case` says whether to
lowercase (default True). Keys may carry the `bert.` prefix of
`BertForPreTraining` / `BertForMaskedLM` ... or not (`BertModel`).

`pytorch_model.bin` is a pickle: it is only read with
`torch.load(weights_only=True)`, which refuses to run pickled code; without
torch it cannot be read safely and is an error. A weights file or a JSON
file that cannot be read (a hostile or truncated `model.safetensors`, a
`config.json` nested too deeply ...) is a `ValueError` naming it.
"""

import io
import json
import os

import numpy as np
import tensorflow as tf

from keras_bert.checkpoints.encoder_weights import export_encoder_weights
from keras_bert.checkpoints.head_weights import export_head_weights
from keras_bert.config import BertConfig
from keras_bert.io import atomic_directory
from keras_bert.io import read_json_file

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
PREFIX = "bert."

# Buffers HF models register and some versions save; not weights.
_IGNORED_KEYS = ("embeddings.position_ids", "embeddings.token_type_ids")


def weights_file(directory):
    """The weights file of an HF directory (safetensors preferred), or None."""
    for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, PYTORCH_FILE):
        path = os.path.join(directory, name)
        if tf.io.gfile.exists(path):
            return path
    return None


def _load_safetensors(path):
    """The arrays of the safetensors file `path` (any gfile path); a file it
    cannot read is a `ValueError` naming it."""
    from safetensors.numpy import load

    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return load(f.read())
    except Exception as e:  # SafetensorError (a bad header, a truncated file ...), OSError, TypeError ...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path}: not a readable safetensors file ({reason})") from None


def _read_safetensors(path):
    if not path.endswith(".index.json"):
        return _load_safetensors(path)
    index = read_json_file(path, "safetensors index")
    weight_map = index.get("weight_map", {}) if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f"{path}: weight_map must be a JSON object of shard file names.")
    weights = {}
    for shard in sorted(set(weight_map.values())):
        weights.update(_load_safetensors(os.path.join(os.path.dirname(path), shard)))
    return weights


def _read_pytorch(path):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{path}: a pickled PyTorch checkpoint can only be read safely with "
            "torch.load(weights_only=True), and torch is not installed. Convert it "
            f"to {SAFETENSORS_FILE} (safetensors), or install torch."
        ) from None
    try:
        with tf.io.gfile.GFile(path, "rb") as f:  # Any gfile path: torch reads from the bytes.
            state = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError ...
        raise ValueError(
            f"{path}: torch.load(weights_only=True) refused or failed to read it "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "only plain tensor state dicts are read, never pickled code. Use "
            f"{SAFETENSORS_FILE} instead."
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path}: expected a state dict of named tensors.")
    return {
        k: (v.float() if v.dtype == torch.bfloat16 else v).detach().cpu().numpy()
        for k, v in state.items()
    }


def normalize_keys(weights):
    """Drops the `bert.` prefix and HF's buffers: keys as `BertModel` has them
    (pretraining heads keep their `cls.` keys)."""
    out = {}
    for key, value in weights.items():
        name = key[len(PREFIX):] if key.startswith(PREFIX) else key
        if name in _IGNORED_KEYS:
            continue
        if name in out:
            raise ValueError(f"weights hold both {name!r} and {PREFIX + name!r}.")
        out[name] = value
    return out


def read_lowercase(directory):
    """`do_lower_case` from `tokenizer_config.json`; True when not given."""
    path = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return True
    values = read_json_file(path, "tokenizer config")
    value = values.get("do_lower_case", True) if isinstance(values, dict) else True
    if not isinstance(value, bool):
        raise ValueError(f"{path}: do_lower_case={value!r}: must be true or false.")
    return value


def read_hf_checkpoint(directory):
    """Reads a Hugging Face BERT directory.

    Returns:
      dict with `config` (`BertConfig`), `weights` (`{BertModel-style key:
      np.ndarray}`, `bert.` prefix removed, buffers left out), `vocab_file`
      (path or None), `lowercase` (bool) and `source` (the weights file).
    """
    directory = os.fspath(directory)
    config = BertConfig.from_hf_json(os.path.join(directory, CONFIG_FILE))
    path = weights_file(directory)
    if path is None:
        raise ValueError(
            f"{directory}: no {SAFETENSORS_FILE} or {PYTORCH_FILE} weights file."
        )
    raw = _read_pytorch(path) if path.endswith(".bin") else _read_safetensors(path)
    try:
        weights = normalize_keys(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    vocab_file = os.path.join(directory, VOCAB_FILE)
    return dict(
        config=config,
        weights=weights,
        vocab_file=vocab_file if tf.io.gfile.exists(vocab_file) else None,
        lowercase=read_lowercase(directory),
        source=path,
    )


def _architecture(masked_lm_head, next_sentence_head):
    if masked_lm_head is not None and next_sentence_head is not None:
        return "BertForPreTraining"
    if masked_lm_head is not None:
        return "BertForMaskedLM"
    if next_sentence_head is not None:
        return "BertForNextSentencePrediction"
    return "BertModel"


def save_hf_checkpoint(
    output_dir,
    encoder,
    masked_lm_head=None,
    next_sentence_head=None,
    vocab_file=None,
    lowercase=True,
    overwrite=False,
):
    """Writes a Hugging Face BERT directory that `transformers` loads.

    `config.json` (`config.to_hf_dict()` plus `architectures`) and
    `model.safetensors` (float32). Without heads the keys are `BertModel`'s;
    with heads they are those of `BertForPreTraining` (both heads),
    `BertForMaskedLM` or `BertForNextSentencePrediction`: `bert.`-prefixed
    encoder keys and `cls.*` heads, the MLM decoder left to HF's weight tying
    (as `save_pretrained` does). With `vocab_file`, also `vocab.txt` and a
    `tokenizer_config.json` holding `do_lower_case=lowercase`. Written to a
    temporary directory, then renamed.

    Args:
      output_dir: directory to create; an existing non-empty one is a
        `ValueError` unless `overwrite`.
      encoder: a `keras_bert.BertEncoder`.
      masked_lm_head: optional `keras_bert.layers.MaskedLMHead`.
      next_sentence_head: optional `keras_bert.layers.NextSentenceHead`.
      vocab_file: optional path of the wordpiece vocabulary to copy.
      lowercase: bool, the tokenizer's `do_lower_case`.
      overwrite: replace an existing non-empty `output_dir`.

    Returns:
      `output_dir`.
    """
    from safetensors.numpy import save

    architecture = _architecture(masked_lm_head, next_sentence_head)
    prefix = "" if architecture == "BertModel" else PREFIX
    weights = {prefix + k: v for k, v in export_encoder_weights(encoder, "hf").items()}
    if masked_lm_head is not None:
        weights.update(export_head_weights(masked_lm_head, "masked_lm", "hf"))
    if next_sentence_head is not None:
        weights.update(export_head_weights(next_sentence_head, "next_sentence", "hf"))
    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    config_values = dict(encoder.config.to_hf_dict(), architectures=[architecture])
    if vocab_file is not None and (tf.io.gfile.isdir(vocab_file) or not tf.io.gfile.exists(vocab_file)):
        raise ValueError(f"vocab_file={vocab_file}: no such file.")
    with atomic_directory(output_dir, overwrite) as tmp:
        _write_json(os.path.join(tmp, CONFIG_FILE), config_values)
        with tf.io.gfile.GFile(os.path.join(tmp, SAFETENSORS_FILE), "wb") as f:
            f.write(save(weights, metadata={"format": "pt"}))
        if vocab_file is not None:
            tf.io.gfile.copy(vocab_file, os.path.join(tmp, VOCAB_FILE))
            _write_json(os.path.join(tmp, TOKENIZER_CONFIG_FILE), {
                "do_lower_case": bool(lowercase), "tokenizer_class": "BertTokenizer",
                "model_max_length": encoder.config.max_position_embeddings,
            })
    return os.fspath(output_dir)


def _write_json(path, values):
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(values, indent=2, sort_keys=True) + "\n")
