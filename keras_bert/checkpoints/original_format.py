"""google-research/bert checkpoint directories: reading and writing.

A directory holds `bert_config.json`, the TF1 checkpoint `bert_model.ckpt`
(`.index` + `.data-*`) with the original variable names (see DESIGN.md), and
`vocab.txt`. Released checkpoints may also hold `global_step` and Adam slots
(`*/adam_m`, `*/adam_v`); those are skipped without being read.
"""

import json
import os

import numpy as np
import tensorflow as tf

from keras_bert.checkpoints import task_heads
from keras_bert.checkpoints.encoder_weights import export_encoder_weights
from keras_bert.checkpoints.head_weights import export_head_weights
from keras_bert.config import BertConfig
from keras_bert.io import atomic_directory

CONFIG_FILE = "bert_config.json"
CHECKPOINT_PREFIX = "bert_model.ckpt"
VOCAB_FILE = "vocab.txt"

_IGNORED_NAMES = ("global_step", "_CHECKPOINTABLE_OBJECT_GRAPH")
_IGNORED_SUFFIXES = ("/adam_m", "/adam_v", "/Adam", "/Adam_1")


def is_ignored(name):
    """Whether checkpoint variable `name` is training state, not model weight."""
    return name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES)


def find_checkpoint_prefix(path):
    """The TF1 checkpoint prefix for `path` (a directory or a prefix), or None."""
    path = os.fspath(path)
    if not tf.io.gfile.isdir(path):
        return path if tf.io.gfile.exists(path + ".index") else None
    prefix = os.path.join(path, CHECKPOINT_PREFIX)
    if tf.io.gfile.exists(prefix + ".index"):
        return prefix
    indexes = sorted(tf.io.gfile.glob(os.path.join(path, "*.index")))
    if len(indexes) == 1:
        return indexes[0][: -len(".index")]
    if len(indexes) > 1:
        raise ValueError(
            f"{path}: holds {len(indexes)} checkpoints "
            f"({', '.join(os.path.basename(i) for i in indexes)}) and none is "
            f"{CHECKPOINT_PREFIX}; pass the prefix of the one to load."
        )
    return None


def lowercase_from_name(path):
    """Google's convention: `uncased_*` models lowercase, `cased_*` do not."""
    name = os.path.basename(os.path.normpath(os.path.abspath(path))).lower()
    if "uncased" in name:
        return True
    return "cased" not in name


def read_original_checkpoint(path):
    """Reads a google-research/bert checkpoint.

    Args:
      path: the directory, or a checkpoint prefix (`.../bert_model.ckpt`)
        whose directory holds `bert_config.json`.

    Returns:
      dict with `config` (`BertConfig`), `weights` (`{name: np.ndarray}`,
      training state left out), `vocab_file` (path or None), `lowercase`
      (bool, from the directory name) and `source` (the prefix).
    """
    path = os.fspath(path)
    prefix = find_checkpoint_prefix(path)
    if prefix is None:
        raise ValueError(f"{path}: no TF checkpoint ({CHECKPOINT_PREFIX}.index) found.")
    directory = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
    config = BertConfig.from_original_json(os.path.join(directory, CONFIG_FILE))
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise ValueError(f"{prefix}: not a readable TF checkpoint: {e}") from None
    weights = {
        name: reader.get_tensor(name)
        for name in sorted(reader.get_variable_to_shape_map())
        if not is_ignored(name)
    }
    vocab_file = os.path.join(directory, VOCAB_FILE)
    return dict(
        config=config,
        weights=weights,
        vocab_file=vocab_file if tf.io.gfile.exists(vocab_file) else None,
        lowercase=lowercase_from_name(directory),
        source=prefix,
    )


def save_original_checkpoint(
    output_dir,
    encoder,
    masked_lm_head=None,
    next_sentence_head=None,
    vocab_file=None,
    overwrite=False,
):
    """Writes a google-research/bert checkpoint directory.

    `bert_config.json`, `bert_model.ckpt.{index,data-00000-of-00001}` with the
    original variable names (float32, as the original), and `vocab.txt` when
    `vocab_file` is given. Written to a temporary directory, then renamed.

    Args:
      output_dir: directory to create; an existing non-empty one is a
        `ValueError` unless `overwrite`.
      encoder: a `keras_bert.BertEncoder`. Its config must be expressible in
        the original format (tanh GELU, LayerNorm epsilon 1e-12).
      masked_lm_head: optional `keras_bert.layers.MaskedLMHead`.
      next_sentence_head: optional `keras_bert.layers.NextSentenceHead`.
      vocab_file: optional path of the wordpiece vocabulary to copy.
      overwrite: replace an existing non-empty `output_dir`.

    Returns:
      `output_dir`.
    """
    config_values = encoder.config.to_original_dict()
    weights = export_encoder_weights(encoder, "original")
    if masked_lm_head is not None:
        weights.update(export_head_weights(masked_lm_head, "masked_lm", "original"))
    if next_sentence_head is not None:
        weights.update(export_head_weights(next_sentence_head, "next_sentence", "original"))
    return _write_directory(output_dir, weights, config_values, vocab_file, overwrite)


def save_original_task_checkpoint(output_dir, model, vocab_file=None, overwrite=False):
    """Writes a fine-tuned classifier or question answerer as the original's scripts do.

    A `BertClassifier` as `run_classifier.py` names its output layer
    (`output_weights` `[num_labels, hidden]`, `output_bias`), a
    `BertQuestionAnswerer` as `run_squad.py` does (`cls/squad/output_weights`
    `[2, hidden]`, `cls/squad/output_bias`), beside the encoder (see
    `save_original_checkpoint`). The original keeps label names outside the
    checkpoint (its data processor): none are written.

    Raises:
      ValueError: any other task model (the original has no format for it).
    """
    weights = task_heads.export_head_weights(model, "original")  # Refuses other models first.
    weights.update(export_encoder_weights(model.encoder, "original"))
    return _write_directory(output_dir, weights, model.encoder.config.to_original_dict(), vocab_file, overwrite)


def _write_directory(output_dir, weights, config_values, vocab_file, overwrite):
    """bert_config.json, bert_model.ckpt.* (float32) and vocab.txt, by a rename."""
    if vocab_file is not None and (tf.io.gfile.isdir(vocab_file) or not tf.io.gfile.exists(vocab_file)):
        raise ValueError(f"vocab_file={vocab_file}: no such file.")
    names = sorted(weights)
    with atomic_directory(output_dir, overwrite) as tmp:
        with tf.io.gfile.GFile(os.path.join(tmp, CONFIG_FILE), "w") as f:
            f.write(json.dumps(config_values, indent=2, sort_keys=True) + "\n")
        with tf.device("/cpu:0"):
            tf.raw_ops.SaveV2(
                prefix=os.path.join(tmp, CHECKPOINT_PREFIX),
                tensor_names=names,
                shape_and_slices=[""] * len(names),
                tensors=[tf.constant(np.asarray(weights[n], np.float32)) for n in names],
            )
        if vocab_file is not None:
            tf.io.gfile.copy(vocab_file, os.path.join(tmp, VOCAB_FILE))
    return os.fspath(output_dir)
