"""`from_pretrained` / `load_checkpoint`: a pretrained BERT from a directory.

Two formats are read (see `original_format` and `huggingface_format`):
Google's original TF1 checkpoints and Hugging Face directories, of a
pretrained BERT (encoder, pretraining heads) or of a fine-tuned task model
(`task_heads`: transformers' `BertForSequenceClassification`,
`...TokenClassification`, `...QuestionAnswering`, `...MultipleChoice`;
`run_classifier.py`'s and `run_squad.py`'s output layers). A checkpoint
must fit its config exactly: a missing weight, a weight of the wrong shape,
or a name that is neither encoder, a known head, nor training state / a
buffer is a `ValueError` naming it, and nothing is loaded.
"""

import os
import typing

import tensorflow as tf

from keras_bert.checkpoints import head_weights
from keras_bert.checkpoints import huggingface_format
from keras_bert.checkpoints import original_format
from keras_bert.checkpoints import task_heads
from keras_bert.checkpoints.encoder_weights import encoder_weight_rows
from keras_bert.checkpoints.encoder_weights import import_encoder_weights
from keras_bert.config import BertConfig

FORMATS = ("original", "hf")


class PretrainedBert(typing.NamedTuple):
    """What `load_checkpoint` returns.

    Attributes:
      config: the `keras_bert.BertConfig` read from the directory.
      encoder: a `keras_bert.BertEncoder` holding the checkpoint's weights.
      masked_lm_head: a `keras_bert.layers.MaskedLMHead` with the checkpoint's
        `cls/predictions` weights (call it with
        `encoder.word_embedding_table`), or None if the checkpoint has none.
      next_sentence_head: a `keras_bert.layers.NextSentenceHead` with the
        checkpoint's `cls/seq_relationship` weights, or None.
      vocab_file: path of the directory's `vocab.txt`, or None.
      lowercase: bool, whether the vocabulary expects lowercased text.
      format: `"original"` or `"hf"`, the format that was read.
      source: the file the weights were read from.
      task_model: for a fine-tuned checkpoint, the keras_bert task model
        (`BertClassifier`, `BertRegressor`, `BertTokenClassifier`,
        `BertQuestionAnswerer` or `BertMultipleChoice`) holding `encoder` and
        the trained output layer; None for a pretrained one.
      labels: the class (tag) names of a classifier or tagger, index = class
        id (transformers' `id2label`), or None (not a labelled task model, or
        an original checkpoint, which keeps its labels elsewhere).
    """

    config: object
    encoder: object
    masked_lm_head: object
    next_sentence_head: object
    vocab_file: object
    lowercase: bool
    format: str
    source: str
    task_model: object = None
    labels: object = None

    def preprocessor(self, seq_length=128):
        """A `keras_bert.BertPreprocessor` for this checkpoint's vocabulary."""
        if self.vocab_file is None:
            raise ValueError(
                f"{os.path.dirname(self.source)}: no vocab.txt, so no preprocessor "
                "can be built."
            )
        from keras_bert.text import BertPreprocessor

        return BertPreprocessor(self.vocab_file, lowercase=self.lowercase, seq_length=seq_length)

    def save(self, output_dir, output_format="hf", overwrite=False):
        """Writes encoder, heads and vocabulary as `output_format` (see
        `save_checkpoint`); a task model as `save_task_checkpoint` does."""
        if self.task_model is not None:
            return save_task_checkpoint(output_dir, self.task_model, output_format, labels=self.labels,
                                        vocab_file=self.vocab_file, lowercase=self.lowercase, overwrite=overwrite)
        return save_checkpoint(
            output_dir,
            self.encoder,
            output_format=output_format,
            masked_lm_head=self.masked_lm_head,
            next_sentence_head=self.next_sentence_head,
            vocab_file=self.vocab_file,
            lowercase=self.lowercase,
            overwrite=overwrite,
        )


def detect_format(path):
    """`"original"` or `"hf"`: which checkpoint format `path` holds."""
    path = os.fspath(path)
    if not tf.io.gfile.isdir(path):
        if original_format.find_checkpoint_prefix(path) is not None:
            return "original"
        raise ValueError(f"path={path}: no such directory or checkpoint prefix.")
    original = tf.io.gfile.exists(
        os.path.join(path, original_format.CONFIG_FILE)
    ) and original_format.find_checkpoint_prefix(path) is not None
    hf = tf.io.gfile.exists(
        os.path.join(path, huggingface_format.CONFIG_FILE)
    ) and huggingface_format.weights_file(path) is not None
    if original and hf:
        raise ValueError(
            f"path={path}: holds both an original checkpoint (bert_config.json + "
            "bert_model.ckpt) and a Hugging Face one (config.json + weights); keep one."
        )
    if original:
        return "original"
    if hf:
        return "hf"
    raise ValueError(
        f"path={path}: neither an original BERT checkpoint directory "
        "(bert_config.json, bert_model.ckpt.index/.data-*, vocab.txt) nor a Hugging "
        "Face one (config.json, model.safetensors or pytorch_model.bin, vocab.txt)."
    )


def read_config(path):
    """The `BertConfig` of the checkpoint at `path`, without reading weights."""
    path = os.fspath(path)
    if detect_format(path) == "original":
        directory = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
        return BertConfig.from_original_json(os.path.join(directory, original_format.CONFIG_FILE))
    return BertConfig.from_hf_json(os.path.join(path, huggingface_format.CONFIG_FILE))


def _build_heads(config):
    from keras_bert.layers.masked_lm_head import MaskedLMHead
    from keras_bert.layers.next_sentence_head import NextSentenceHead

    masked_lm = MaskedLMHead(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        activation=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        name="masked_lm_head",
    )
    masked_lm.build((None, None, config.hidden_size))
    next_sentence = NextSentenceHead(
        hidden_size=config.hidden_size,
        initializer_range=config.initializer_range,
        name="next_sentence_head",
    )
    next_sentence.build((None, config.hidden_size))
    return {"masked_lm": masked_lm, "next_sentence": next_sentence}


def original_task_head(weights, source):
    """The original's task head whose output layer `weights` hold, or None.
    `weights`: `{name: array}`, or `{name: shape}`."""
    found = [head for head in task_heads.TASK_HEADS
             if head.original_names is not None and head.original_names[0] in weights]
    if len(found) > 1:
        raise ValueError(f"{source}: holds both {found[0].original_names[0]!r} and {found[1].original_names[0]!r}; "
                         "a checkpoint has one task head")
    if found and found[0].labelled:
        rows = _rows(weights[found[0].original_names[0]])
        if rows < 2:
            raise ValueError(f"{source}: {found[0].original_names[0]!r} has {rows} row(s); run_classifier.py's "
                             "classifier has one per label, at least 2")
    return found[0] if found else None


def _rows(value):
    """The first dimension of an array, or of a shape (a list)."""
    return value[0] if isinstance(value, list) else len(value)


def load_weights(config, weights, naming, source="weights", task_head=None, labels=None, dropout=None):
    """Builds an encoder, the heads `weights` holds, and fills them.

    Args:
      config: a `BertConfig`.
      weights: `{name: array}` under `naming` (`"original"` names, or `"hf"`
        `BertModel`-style keys with `cls.*` heads and a task model's output
        layer), training state removed.
      naming: `"original"` or `"hf"`.
      source: the file `weights` came from, for error messages.
      task_head: the `task_heads.TaskHead` of a Hugging Face task model (its
        config.json says which); original task heads are found by name.
      labels: its class names (the number of classes), or None.
      dropout: its output dropout, or None (the config's).

    Returns:
      dict `encoder`, `masked_lm_head`, `next_sentence_head` and
      `task_model` (each None when the weights have none).
    """
    from keras_bert.models.bert_encoder import BertEncoder

    encoder = BertEncoder(config)
    if naming == "original":
        task_head = original_task_head(weights, source)
    task_model = None
    if task_head is not None:
        kernel = task_head.names(naming)[0]
        if kernel not in weights:
            raise ValueError(f"{source}: no weight named {kernel!r} (the output layer of the "
                             f"{task_head.architecture} its config.json names)")
        task_model = task_head.build(encoder, len(labels) if labels else len(weights[kernel]), dropout)
    known = {
        orig if naming == "original" else hf for _, orig, hf, _ in encoder_weight_rows(encoder)
    }
    present = {}
    for kind in head_weights.HEAD_ROWS:
        names = head_weights.head_names(kind, naming)
        known.update(names)
        present[kind] = any(name in weights for name in names)
    if task_head is not None:
        known.update(task_head.names(naming))
    tied = head_weights.HF_TIED if naming == "hf" else {}
    unused = sorted(set(weights) - known - set(tied))
    if unused:
        listed = ", ".join(repr(n) for n in unused[:10])
        more = f" and {len(unused) - 10} more" if len(unused) > 10 else ""
        what = (f"a {task_head.model_class.__name__} (encoder and output layer)" if task_head else
                "a BERT encoder or its pretraining heads (cls/predictions, cls/seq_relationship)")
        raise ValueError(f"{source}: weight(s) {listed}{more} are not part of {what} with this config; "
                         "refusing a partial load.")
    for key, target in tied.items():
        if key in weights:
            if target not in weights:
                raise ValueError(f"{source}: {key!r} is present but {target!r}, which it is tied to, is not.")
            a, b = weights[key], weights[target]
            if a.shape != b.shape or not (a == b).all():
                raise ValueError(
                    f"{source}: {key!r} differs from {target!r}; BERT ties them "
                    "(the MLM output is the word embedding table) and an untied "
                    "decoder cannot be loaded."
                )
    heads = _build_heads(config) if any(present.values()) else {}
    plan = []
    for kind, is_present in present.items():
        if is_present:
            plan += head_weights.plan_head_weights(heads[kind], kind, weights, naming, source)
    if task_model is not None:
        plan += task_heads.plan_head_weights(task_model, weights, naming, source)
    # Checks all, then assigns. transformers stores no pooler for heads that do not read it.
    import_encoder_weights(encoder, weights, naming, source,
                           pooler_optional=task_head is not None and not task_head.pooled)
    for variable, array in plan:
        variable.assign(array.astype(variable.dtype))
    return dict(
        encoder=encoder,
        masked_lm_head=heads["masked_lm"] if present["masked_lm"] else None,
        next_sentence_head=heads["next_sentence"] if present["next_sentence"] else None,
        task_model=task_model,
    )


def load_checkpoint(path, lowercase=None):
    """Loads a pretrained BERT, with its pretraining heads where present, or
    a fine-tuned task model (`PretrainedBert.task_model`).

    Args:
      path: a directory holding a google-research/bert checkpoint
        (`bert_config.json`, `bert_model.ckpt.*`, `vocab.txt`) or a Hugging
        Face one (`config.json`, `model.safetensors` or `pytorch_model.bin`,
        `vocab.txt`, optional `tokenizer_config.json`); or an original
        checkpoint prefix (`.../bert_model.ckpt`).
      lowercase: override whether text is lowercased. By default Hugging
        Face's `do_lower_case` (default True); for original checkpoints True
        unless the directory name says `cased` (Google's `cased_L-12_...`).

    Returns:
      A `PretrainedBert` (config, encoder, heads, vocab_file, lowercase ...).

    Raises:
      ValueError: naming the file and weight when the checkpoint is missing a
        weight, has one of the wrong shape (both shapes given), or has one
        that belongs to nothing known; nothing is loaded then.
    """
    checkpoint_format = detect_format(path)
    if checkpoint_format == "original":
        read = original_format.read_original_checkpoint(path)
    else:
        read = huggingface_format.read_hf_checkpoint(path)
    loaded = load_weights(
        read["config"], read["weights"], checkpoint_format, read["source"],
        task_head=read.get("task_head"), labels=read.get("labels"), dropout=read.get("dropout"),
    )
    labels = read.get("labels")
    if labels is None and read.get("task_head") is not None and read["task_head"].labelled:
        # transformers 5 leaves its default id2label out of config.json: these are its names.
        labels = [f"LABEL_{i}" for i in range(loaded["task_model"].num_classes)]
    return PretrainedBert(
        config=read["config"],
        vocab_file=read["vocab_file"],
        lowercase=read["lowercase"] if lowercase is None else bool(lowercase),
        format=checkpoint_format,
        source=read["source"],
        labels=labels,
        **loaded,
    )


def from_pretrained(path, seq_length=128, lowercase=None):
    """`(encoder, preprocessor)` from a pretrained checkpoint directory.

    Args:
      path: an original Google or Hugging Face BERT directory (see
        `load_checkpoint`); it must hold `vocab.txt`.
      seq_length: int, the preprocessor's packed sequence length.
      lowercase: override the checkpoint's lowercasing (see `load_checkpoint`).

    Returns:
      `(encoder, preprocessor)`: a `keras_bert.BertEncoder` with the
      checkpoint's weights and a `keras_bert.BertPreprocessor` for its
      vocabulary. Pretraining heads, if any, are checked but not returned;
      use `load_checkpoint` for them.
    """
    loaded = load_checkpoint(path, lowercase=lowercase)
    return loaded.encoder, loaded.preprocessor(seq_length)


def save_checkpoint(
    output_dir,
    encoder,
    output_format="hf",
    masked_lm_head=None,
    next_sentence_head=None,
    vocab_file=None,
    lowercase=True,
    overwrite=False,
):
    """Writes `encoder` (and heads) as an `"hf"` or `"original"` directory.

    See `save_hf_checkpoint` and `save_original_checkpoint`; `lowercase` only
    goes into Hugging Face's `tokenizer_config.json`.
    """
    if output_format == "hf":
        return huggingface_format.save_hf_checkpoint(
            output_dir, encoder, masked_lm_head, next_sentence_head, vocab_file, lowercase, overwrite
        )
    if output_format == "original":
        return original_format.save_original_checkpoint(
            output_dir, encoder, masked_lm_head, next_sentence_head, vocab_file, overwrite
        )
    raise ValueError(f"output_format={output_format!r}: must be one of {', '.join(FORMATS)}.")


def save_task_checkpoint(output_dir, model, output_format="hf", labels=None, vocab_file=None, lowercase=True,
                         overwrite=False):
    """Writes a fine-tuned keras_bert task model as an `"hf"` or `"original"` directory.

    `"hf"`: the transformers class that matches it, with `id2label`
    (`huggingface_format.save_hf_task_checkpoint`); `"original"`:
    run_classifier.py's or run_squad.py's names
    (`original_format.save_original_task_checkpoint`; other models are a
    `ValueError`).
    """
    if output_format == "hf":
        return huggingface_format.save_hf_task_checkpoint(output_dir, model, labels, vocab_file, lowercase, overwrite)
    if output_format == "original":
        return original_format.save_original_task_checkpoint(output_dir, model, vocab_file, overwrite)
    raise ValueError(f"output_format={output_format!r}: must be one of {', '.join(FORMATS)}.")
