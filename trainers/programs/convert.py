"""`keras-bert convert`'s program: a BERT from one checkpoint format to another.

Three inputs, found by what the directory holds:
  * a pretrained BERT, original or transformers (`keras_bert.checkpoints`):
    encoder, pretraining heads where present, vocabulary;
  * a model fine-tuned elsewhere (transformers `BertFor...`, run_classifier.py /
    run_squad.py): the same, with its output layer and labels;
  * the output directory of `keras-bert finetune` (task.json ...): the model
    it keeps (`run_dir.load_model`), its labels, vocabulary and casing.
A fine-tuned model is written as the transformers class that matches it
(`AutoModelFor...` loads it without code), or in the original's names where
the original has that head (classifier, SQuAD); `encoder_only` writes the
encoder alone. Weights are copied bit for bit.

`trainers/cli/convert.py` holds the flags and calls `run_convert`.
"""

import typing

import tensorflow as tf

from keras_bert.checkpoints import pretrained
from keras_bert.trainers import run_dir


class Converted(typing.NamedTuple):
    """What `run_convert` read and wrote (for the CLI's lines)."""

    source: str  # What was read: the weights file, checkpoint prefix or model.
    kind: str  # What the input was, in words.
    config: object
    parts: list  # What was written besides the encoder: heads, the task model.
    vocab_file: object


def run_convert(input_path, output_dir, output_format="hf", vocab_file=None, lowercase=None, overwrite=False,
                encoder_only=False):
    """Converts the checkpoint or finetune output_dir at `input_path`; returns a `Converted`.

    Raises:
      ValueError: naming the file or flag (nothing is written then).
    """
    if tf.io.gfile.isdir(input_path) and tf.io.gfile.exists(run_dir.path(input_path, run_dir.TASK_FILE)):
        task_info = run_dir.read_task_info(input_path)
        config = run_dir.read_config(input_path)
        model = run_dir.load_model(input_path, task_info, config)
        vocab_file = vocab_file or run_dir.required(run_dir.path(input_path, run_dir.VOCAB_FILE), "the vocabulary")
        lowercase = task_info.get("lowercase", True) if lowercase is None else bool(lowercase)
        labels = task_info.get("label_list")
        if encoder_only:
            pretrained.save_checkpoint(output_dir, model.encoder, output_format, vocab_file=vocab_file,
                                       lowercase=lowercase, overwrite=overwrite)
        else:
            pretrained.save_task_checkpoint(output_dir, model, output_format, labels=labels, vocab_file=vocab_file,
                                            lowercase=lowercase, overwrite=overwrite)
        parts = [] if encoder_only else [_described(model, labels)]
        return Converted(input_path, "keras-bert finetune output_dir", config, parts, vocab_file)
    loaded = pretrained.load_checkpoint(input_path, lowercase=lowercase)
    kind = "fine-tuned" if loaded.task_model is not None else "pretrained"
    if vocab_file is not None:
        loaded = loaded._replace(vocab_file=vocab_file)
    if encoder_only:
        loaded = loaded._replace(task_model=None, labels=None, masked_lm_head=None, next_sentence_head=None)
    loaded.save(output_dir, output_format=output_format, overwrite=overwrite)
    parts = [name for name, part in (("masked_lm", loaded.masked_lm_head), ("next_sentence", loaded.next_sentence_head))
             if part is not None]
    if loaded.task_model is not None:
        parts.append(_described(loaded.task_model, loaded.labels))
    return Converted(loaded.source, f"{kind} {loaded.format} checkpoint", loaded.config, parts, loaded.vocab_file)


def _described(model, labels):
    return type(model).__name__ + (f" (labels {', '.join(labels)})" if labels else "")
