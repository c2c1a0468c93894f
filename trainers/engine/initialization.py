"""Where a model's configuration and first weights come from.

`--bert_config_file`, `--bert_config_preset`, and `--init_checkpoint`,
which may be an original or Hugging Face BERT directory (encoder and,
where present, pretraining heads; or a model fine-tuned elsewhere, whose
output layer fine-tuning continues to train), or the `--output_dir` (or a
`ckpt-N` prefix) of a run of this package's trainers -- e.g. pretraining
phase 1 for phase 2, or a pretraining run for fine-tuning.
"""

import os

import tensorflow as tf

from keras_bert.checkpoints import pretrained as pretrained_lib
from keras_bert.config import BertConfig
from keras_bert.text.bert_preprocessor import BertPreprocessor

MODEL_CONFIG_FILE = "model_config.json"  # Our trainers write it into output_dir.


def checkpoint_kind(path):
    """'pretrained' (original/HF directory) or 'training' (our trainer's checkpoint)."""
    try:
        pretrained_lib.detect_format(path)
        return "pretrained"
    except ValueError:
        pass
    if tf.io.gfile.isdir(path) and tf.train.latest_checkpoint(path):
        return "training"
    if tf.io.gfile.exists(path + ".index"):
        return "training"
    raise ValueError(
        f"--init_checkpoint={path}: neither an original/Hugging Face BERT directory nor a "
        "checkpoint written by keras-bert (a directory with a 'checkpoint' file, or a ckpt-N prefix)"
    )


def _training_prefix(path):
    return tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else path


def resolve_config(bert_config_file=None, bert_config_preset=None, vocab_file=None, init_checkpoint=None):
    """The `BertConfig` from a config file, a preset, or the init checkpoint.

    A preset's vocab_size (the released 30522) follows `vocab_file` when one
    is given.
    """
    if bert_config_file and bert_config_preset:
        raise ValueError("give one of --bert_config_file and --bert_config_preset, not both")
    if bert_config_file:
        return BertConfig.from_file(bert_config_file)
    if bert_config_preset:
        config = BertConfig.from_preset(bert_config_preset)
        if vocab_file:
            config = config.replace(vocab_size=len(BertPreprocessor(vocab_file, seq_length=8).vocabulary))
        return config
    if init_checkpoint:
        if checkpoint_kind(init_checkpoint) == "pretrained":
            return pretrained_lib.read_config(init_checkpoint)
        directory = init_checkpoint if tf.io.gfile.isdir(init_checkpoint) else os.path.dirname(init_checkpoint)
        path = os.path.join(directory, MODEL_CONFIG_FILE)
        if tf.io.gfile.exists(path):
            return BertConfig.load(path)
    raise ValueError(
        "no model configuration: give --bert_config_file, --bert_config_preset, or an "
        "--init_checkpoint that has one"
    )


def _without_dropout(config):
    return config.replace(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def init_task_head(init_checkpoint):
    """The task head of a fine-tuned original/Hugging Face `init_checkpoint`
    (`keras_bert.checkpoints.task_checkpoint_head.TaskCheckpointHead`), or None (no
    checkpoint, a pretrained one, or one of our trainers)."""
    if not init_checkpoint or checkpoint_kind(init_checkpoint) != "pretrained":
        return None
    from keras_bert.checkpoints import task_checkpoint_head

    return task_checkpoint_head.read_task_head(init_checkpoint)


def agree_with_task_head(found, task, label_list, init_checkpoint, labels_from):
    """The label list a run starting from a fine-tuned checkpoint trains with.

    The checkpoint's model must be the family's (`task.model_class`). Its
    named labels (transformers' `id2label`) are kept, with their class ids:
    every label of the run (`label_list`: --label_list, task.json or the
    labelled files, `labels_from` says which) must be one of them. Unnamed
    ones (`LABEL_0` ..., an original checkpoint) are the run's labels, by
    index: their number must agree.

    Args:
      found: `init_task_head(init_checkpoint)`.
      task: the run's family (`trainers.tasks` object: `name`,
        `model_class`, `labelled`).
      label_list: the run's labels so far (list of str), or None.

    Raises:
      ValueError: naming the checkpoint's file and field, and the run's source of labels.
    """
    model_class = found.head.model_class
    if model_class is not task.model_class:
        raise ValueError(
            f"--init_checkpoint={init_checkpoint}: {found.source} holds a fine-tuned {model_class.__name__} "
            f"({found.head.architecture}{', ' + found.head.problem_type if found.head.problem_type else ''}); "
            f"--task={task.name} trains a {task.model_class.__name__}. To start {task.name} from its encoder "
            "alone, write the encoder out first: keras-bert convert --encoder_only")
    if not task.labelled:
        return label_list
    from keras_bert.checkpoints import task_heads

    named = found.labels is not None and not task_heads.default_labels(found.labels)
    if named:
        missing = [label for label in (label_list or []) if label not in found.labels]
        if missing:
            raise ValueError(
                f"--init_checkpoint={init_checkpoint}: {found.source} id2label {found.labels} lacks {missing}, "
                f"which {labels_from} has; the model's classes cannot be these labels")
        return list(found.labels)
    if label_list is None:
        return list(found.labels) if found.labels else [str(i) for i in range(found.num_outputs)]
    if len(label_list) != found.num_outputs:
        raise ValueError(
            f"--init_checkpoint={init_checkpoint}: {found.source} has {found.num_outputs} unnamed classes "
            f"({'id2label ' + str(found.labels) if found.labels else 'output_weights'}); {labels_from} has "
            f"{len(label_list)} labels {label_list}")
    print(f"--init_checkpoint={init_checkpoint}: its {found.num_outputs} classes are unnamed; they are taken "
          f"as {label_list}, by index", flush=True)
    return label_list


def make_init_fn(init_checkpoint, config, heads=False, task_head=False):
    """`(model) -> None` that loads `init_checkpoint` into a `BertTask`, or None.

    The encoder always; with `heads`, also the pretraining heads
    (`masked_lm_head`, `next_sentence_head`) the model and the checkpoint
    both have; with `task_head`, the output layer of a fine-tuned checkpoint
    (checked by `agree_with_task_head` first) into the same layer of `model`.
    A checkpoint of our trainers gives weights only (not its optimizer or
    step). Dropout rates may differ; the architecture may not.
    """
    if not init_checkpoint:
        return None
    kind = checkpoint_kind(init_checkpoint)
    head_names = ("masked_lm_head", "next_sentence_head") if heads else ()

    def from_pretrained(model):
        loaded = pretrained_lib.load_checkpoint(init_checkpoint)
        if _without_dropout(loaded.config) != _without_dropout(config):
            raise ValueError(
                f"--init_checkpoint={init_checkpoint}: its config {loaded.config.to_dict()} does not "
                f"match the model's {config.to_dict()}"
            )
        model.encoder.set_weights(loaded.encoder.get_weights())
        if task_head and loaded.task_model is not None:
            from keras_bert.checkpoints import task_heads

            layer = task_heads.head_of_model(loaded.task_model).attribute
            getattr(model, layer).set_weights(getattr(loaded.task_model, layer).get_weights())
            print(f"initialised the output layer ({layer}) from {loaded.source}", flush=True)
        fresh = []
        for name in head_names:
            head = getattr(loaded, name)
            if head is None:
                fresh.append(name)
            else:
                getattr(model, name).set_weights(head.get_weights())
        note = f" (fresh {', '.join(fresh)})" if fresh else ""
        print(f"initialised from {loaded.source}{note}", flush=True)

    def from_training(model):
        prefix = _training_prefix(init_checkpoint)
        parts = {"encoder": model.encoder}
        parts.update({name: getattr(model, name) for name in head_names})
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(**parts)).read(prefix)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            raise ValueError(f"--init_checkpoint={prefix}: does not fit the model ({e})") from None
        status.expect_partial()
        print(f"initialised from {prefix} ({', '.join(parts)})", flush=True)

    return from_pretrained if kind == "pretrained" else from_training


_VOCAB_FILE = "vocab.txt"  # In pretrained directories and our output dirs.


def resolve_vocabulary(vocab_file=None, do_lower_case=None, init_checkpoint=None):
    """`(vocab_file, lowercase)`: the flags' values, else what the init checkpoint has
    (its vocab.txt; its casing from tokenizer_config.json or, for Google's
    checkpoints, its name), else lowercase.

    Raises:
      ValueError: no vocabulary anywhere.
    """
    lowercase = do_lower_case
    if init_checkpoint and checkpoint_kind(init_checkpoint) == "pretrained":
        fmt = pretrained_lib.detect_format(init_checkpoint)
        directory = init_checkpoint if tf.io.gfile.isdir(init_checkpoint) else os.path.dirname(
            init_checkpoint)
        if vocab_file is None and tf.io.gfile.exists(os.path.join(directory, _VOCAB_FILE)):
            vocab_file = os.path.join(directory, _VOCAB_FILE)
        if lowercase is None:
            from keras_bert.checkpoints import huggingface_format
            from keras_bert.checkpoints import original_format

            lowercase = (huggingface_format.read_lowercase(directory) if fmt == "hf"
                         else original_format.lowercase_from_name(directory))
    elif init_checkpoint and vocab_file is None:
        directory = init_checkpoint if tf.io.gfile.isdir(init_checkpoint) else os.path.dirname(
            init_checkpoint)
        for candidate in (os.path.join(directory, _VOCAB_FILE),
                          os.path.join(directory, "pretrained_hf", _VOCAB_FILE)):
            if tf.io.gfile.exists(candidate):
                vocab_file = candidate
                break
    if vocab_file is None:
        raise ValueError("no vocabulary: give --vocab_file (the init checkpoint has no vocab.txt)")
    return vocab_file, True if lowercase is None else bool(lowercase)
