"""`read_task_head`: what a fine-tuned checkpoint's task head is, without reading its weights."""

import os
import typing

import tensorflow as tf

from keras_bert.checkpoints import huggingface_format
from keras_bert.checkpoints import original_format
from keras_bert.checkpoints import pretrained
from keras_bert.checkpoints import task_heads
from keras_bert.io import read_json_file


class TaskCheckpointHead(typing.NamedTuple):
    """What `read_task_head` says of a fine-tuned checkpoint, without reading its weights.

    Attributes:
      head: its `task_heads.TaskHead` (the keras_bert model class, ...).
      labels: its class names (transformers' `id2label`), or None when it
        names none (an original checkpoint; transformers' placeholders
        `LABEL_0` ... are returned as they are, see `task_heads.default_labels`).
      num_outputs: the number of classes of a classifier or tagger, else None.
      source: the file that says so (config.json, or the checkpoint prefix).
    """

    head: object
    labels: object
    num_outputs: object
    source: str


def read_task_head(path):
    """The task head of the checkpoint at `path`, or None for a pretrained one.

    Reads config.json (transformers: `architectures`, `problem_type`,
    `id2label`) or the variable names and shapes of an original checkpoint;
    no weight is loaded.
    """
    if pretrained.detect_format(path) == "hf":
        config_path = os.path.join(os.fspath(path), huggingface_format.CONFIG_FILE)
        values = read_json_file(config_path, "model config")
        head = task_heads.head_of_hf_config(values, config_path)
        if head is None:
            return None
        labels = task_heads.hf_labels(values, config_path) if head.labelled else None
        if head.labelled and labels is None:  # transformers' default: 2 classes, left out of config.json.
            labels = ["LABEL_0", "LABEL_1"]
        return TaskCheckpointHead(head, labels, len(labels) if labels else None, config_path)
    prefix = original_format.find_checkpoint_prefix(path)
    shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    head = pretrained.original_task_head(shapes, prefix)
    if head is None:
        return None
    num_outputs = shapes[head.original_names[0]][0] if head.labelled else None
    return TaskCheckpointHead(head, None, num_outputs, prefix)
