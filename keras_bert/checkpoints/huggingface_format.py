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

from keras_bert.checkpoints import task_heads
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
      (path or None), `lowercase` (bool), `source` (the weights file), and
      for a task model (config.json's `architectures`, see `task_heads`)
      `task_head` (a `TaskHead`, else None), `labels` (`id2label` as a list,
      or None) and `dropout` (`classifier_dropout`, or None).
    """
    directory = os.fspath(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    config = BertConfig.from_hf_json(config_path)
    values = read_json_file(config_path, "model config")
    task_head = task_heads.head_of_hf_config(values, config_path)
    dropout = values.get("classifier_dropout")
    if dropout is not None and (isinstance(dropout, bool) or not isinstance(dropout, (int, float))
                                or not 0 <= dropout < 1):
        raise ValueError(f"{config_path}: classifier_dropout={dropout!r}: must be null or a number in [0, 1)")
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
        task_head=task_head,
        labels=task_heads.hf_labels(values, config_path) if task_head and task_head.labelled else None,
        dropout=dropout,
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
    architecture = _architecture(masked_lm_head, next_sentence_head)
    prefix = "" if architecture == "BertModel" else PREFIX
    weights = {prefix + k: v for k, v in export_encoder_weights(encoder, "hf").items()}
    if masked_lm_head is not None:
        weights.update(export_head_weights(masked_lm_head, "masked_lm", "hf"))
    if next_sentence_head is not None:
        weights.update(export_head_weights(next_sentence_head, "next_sentence", "hf"))
    config_values = dict(encoder.config.to_hf_dict(), architectures=[architecture])
    return _write_directory(output_dir, weights, config_values, vocab_file, lowercase, overwrite)


def save_hf_task_checkpoint(output_dir, model, labels=None, vocab_file=None, lowercase=True, overwrite=False):
    """Writes a keras_bert task model as the transformers class that matches it.

    See `task_heads`: `BertClassifier` -> `BertForSequenceClassification`
    (`problem_type` single_label_classification), `BertRegressor` -> the same
    class with one output and `problem_type` regression,
    `BertTokenClassifier` -> `BertForTokenClassification`,
    `BertQuestionAnswerer` -> `BertForQuestionAnswering`,
    `BertMultipleChoice` -> `BertForMultipleChoice`. config.json holds
    `architectures`, `id2label`/`label2id` (classifier and tagger), and
    `classifier_dropout` when the model's differs from `hidden_dropout_prob`;
    `AutoModelFor...` classes load the directory without code. As
    transformers' own, the token classifier and the question answerer are
    written without the pooler, which they do not read.

    Args:
      output_dir: directory to create (see `save_hf_checkpoint`).
      model: a keras_bert task model (its encoder unpacked or packed).
      labels: the class names, index = class id (classifier and tagger;
        default `LABEL_0` ...).
      vocab_file, lowercase, overwrite: as `save_hf_checkpoint`.

    Returns:
      `output_dir`.
    """
    head = task_heads.head_of_model(model)
    weights = {PREFIX + k: v for k, v in export_encoder_weights(model.encoder, "hf").items()
               if head.pooled or not k.startswith("pooler.")}
    weights.update(task_heads.export_head_weights(model, "hf"))
    config = model.encoder.config
    config_values = dict(config.to_hf_dict(), architectures=[head.architecture])
    if head.problem_type is not None:
        config_values["problem_type"] = head.problem_type
    if head.labelled:
        num_classes = model.num_classes
        labels = [f"LABEL_{i}" for i in range(num_classes)] if labels is None else list(labels)
        if len(labels) != num_classes or not all(isinstance(label, str) for label in labels):
            raise ValueError(f"labels={labels!r}: must be {num_classes} strings, one per class of the model")
        config_values["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config_values["label2id"] = {label: i for i, label in enumerate(labels)}
    elif head.problem_type == task_heads.REGRESSION:
        config_values["id2label"], config_values["label2id"] = {"0": "LABEL_0"}, {"LABEL_0": 0}
    dropout = getattr(model, "dropout", None)
    if dropout is not None and dropout != config.hidden_dropout_prob:
        config_values["classifier_dropout"] = dropout
    return _write_directory(output_dir, weights, config_values, vocab_file, lowercase, overwrite)


def _write_directory(output_dir, weights, config_values, vocab_file, lowercase, overwrite):
    """config.json, model.safetensors (float32) and the tokenizer files, by a rename."""
    from safetensors.numpy import save

    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
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
                "model_max_length": config_values["max_position_embeddings"],
            })
    return os.fspath(output_dir)


def _write_json(path, values):
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(values, indent=2, sort_keys=True) + "\n")
