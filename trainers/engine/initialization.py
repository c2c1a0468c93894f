"""Where a model's configuration and first weights come from.

`--bert_config_file`, `--bert_config_preset`, and `--init_checkpoint`,
which may be an original or Hugging Face BERT directory (encoder and,
where present, pretraining heads), or the `--output_dir` (or a `ckpt-N`
prefix) of a run of this package's trainers -- e.g. pretraining phase 1
for phase 2, or a pretraining run for fine-tuning.
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


def make_init_fn(init_checkpoint, config, heads=False):
    """`(model) -> None` that loads `init_checkpoint` into a `BertTask`, or None.

    The encoder always; with `heads`, also the pretraining heads
    (`masked_lm_head`, `next_sentence_head`) the model and the checkpoint
    both have. A checkpoint of our trainers gives weights only (not its
    optimizer or step). Dropout rates may differ; the architecture may not.
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
