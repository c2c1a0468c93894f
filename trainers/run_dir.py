"""The output directory of `keras-bert finetune`: what is in it, in one place.

`finetune` writes it; `predict`, `export` and a resumed `finetune` read it:

    task.json           the family, labels and settings (`TASK_FILE_SCHEMA`)
    model_config.json   the encoder's `BertConfig`
    vocab.txt           the vocabulary
    best/model.*        the kept model, a `tf.train.Checkpoint` (best dev score)
    best/results.json   its dev scores and `global_step`
    model.keras         the same model as a Keras file (after training)
    eval_results.txt    `key = value` dev scores, as google-research/bert's
    predictions.*       `--do_predict`'s output (the family names the file)
    ckpt-N.*            training checkpoints (engine/checkpointing.py)

Every path goes through `tf.io.gfile` (`keras_bert.io`): the directory may
be on a bucket.
"""

import keras
import tensorflow as tf

from keras_bert import io
from keras_bert.config import BertConfig
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers import tasks
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import initialization

TASK_FILE = "task.json"
MODEL_CONFIG_FILE = initialization.MODEL_CONFIG_FILE
VOCAB_FILE = "vocab.txt"
BEST_DIR = "best"
BEST_MODEL = "model"  # The checkpoint prefix inside best/.
RESULTS_FILE = "results.json"
KERAS_FILE = "model.keras"
EVAL_RESULTS_FILE = "eval_results.txt"

# task.json: key -> (JSON types allowed, what it holds). "task" is required;
# the rest may be missing in files of older runs (readers fall back to the
# defaults of `FinetuningOptions`). `PREDICTION_SETTINGS` are the training
# run's flags that `keras-bert predict` reuses (its own flags override them).
_STR, _INT, _NUM, _BOOL, _NONE, _LIST = str, int, (int, float), bool, type(None), list
TASK_FILE_SCHEMA = {
    "task": ((_STR,), "the task family (classification, regression, tagging, squad, multiple_choice)"),
    "label_list": ((_LIST, _NONE), "label (tag) names, index = class id; null for regression, squad, choice"),
    "max_seq_length": ((_INT,), "the packed sequence length of the run"),
    "lowercase": ((_BOOL,), "whether text is lowercased before WordPiece"),
    "best_metric": ((_STR,), "the dev metric that picked best/"),
    "text_a_column": ((_STR, _INT, _NONE), "column of the first text"),
    "text_b_column": ((_STR, _INT, _NONE), "column of the second text (pairs)"),
    "choice_columns": ((_STR, _NONE), "multiple choice: the choices' columns"),
    "doc_stride": ((_INT,), "squad: pieces between context windows"),
    "max_query_length": ((_INT,), "squad: pieces a question keeps"),
    "n_best_size": ((_INT,), "squad: candidate answers per question"),
    "max_answer_length": ((_INT,), "squad: longest answer, in pieces"),
    "version_2_with_negative": ((_BOOL, _NONE), "squad: 2.0 (null = detected from the data)"),
    "null_score_diff_threshold": ((_NUM,), "squad 2.0: no-answer margin"),
    "long_text_stride": ((_INT,), "windows of long texts (0 = truncate)"),
    "long_text_pooling": ((_STR,), "how window outputs are pooled: mean or max"),
    "packing": ((_BOOL,), "examples packed several to a row (training, evaluation, prediction)"),
    "max_sequences_per_row": ((_INT,), "with packing: the most examples in a row"),
    "mixed_precision": ((_STR,), "the dtype policy the last training ran under (--mixed_precision, auto resolved: "
                                 "float32, mixed_bfloat16 or mixed_float16); the saved model is float32 whatever it is"),
    "mixed_precision_reason": ((_STR,), "why that policy (e.g. \"auto: CPU has AVX512_BF16, AMX\")"),
}
PREDICTION_SETTINGS = ("text_a_column", "text_b_column", "choice_columns", "doc_stride", "max_query_length",
                       "n_best_size", "max_answer_length", "version_2_with_negative", "null_score_diff_threshold",
                       "long_text_stride", "long_text_pooling", "packing", "max_sequences_per_row")


def path(output_dir, *parts):
    return io.join(output_dir, *parts)


def check_task_info(info, where):
    """`info` if it is a task.json value of the schema: a ValueError naming `where` and the key otherwise."""
    if not isinstance(info, dict) or info.get("task") not in tasks.TASKS:
        raise ValueError(f"{where}: not a task.json of `keras-bert finetune` (no known \"task\"; one of "
                         f"{', '.join(tasks.TASKS)})")
    for key, (types, meaning) in TASK_FILE_SCHEMA.items():
        if key not in info:
            continue
        value = info[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and _BOOL not in types)
        if ok and key == "label_list" and value is not None:
            ok = all(isinstance(label, str) for label in value)
        if not ok:
            raise ValueError(f"{where}: \"{key}\" is {value!r}; it must be {meaning} "
                             f"({' or '.join('null' if t is _NONE else _json_type(t) for t in types)})")
    return info


def _json_type(t):
    if t is _NUM:
        return "a number"
    return {str: "a string", int: "an integer", bool: "true/false", list: "a list"}[t]


def read_task_info(output_dir):
    """The contents of `output_dir/task.json`, checked against `TASK_FILE_SCHEMA`.

    Raises:
      ValueError: naming the directory or the file when missing, unreadable or off the schema.
    """
    if not output_dir:
        raise ValueError("--output_dir is required (a `keras-bert finetune` output directory)")
    if not tf.io.gfile.isdir(output_dir):
        raise ValueError(f"--output_dir={output_dir}: no such directory")
    task_path = required(path(output_dir, TASK_FILE), "the task, labels and settings")
    return read_task_file(task_path)


def read_task_file(task_path):
    """The task.json at `task_path`, checked (ValueError naming the file)."""
    return check_task_info(io.read_json_file(task_path, "task file"), task_path)


def write_task_info(output_dir, info):
    io.write_json(path(output_dir, TASK_FILE), check_task_info(info, TASK_FILE))


def required(file_path, what):
    """`file_path` if it exists, else a ValueError saying it is needed in a finetune output directory."""
    if not tf.io.gfile.exists(file_path):
        raise ValueError(f"{file_path}: not found ({what}); the directory must be a `keras-bert finetune` "
                         "output directory")
    return file_path


def read_config(output_dir):
    return BertConfig.load(required(path(output_dir, MODEL_CONFIG_FILE), "the model config"))


def make_preprocessor(output_dir, task_info, seq_length=None, lowercase=None):
    """The run's `BertPreprocessor`: its vocab.txt, casing and length (unless given)."""
    vocab_file = required(path(output_dir, VOCAB_FILE), "the vocabulary")
    if lowercase is None:
        lowercase = task_info.get("lowercase", True)
    if seq_length is None:
        seq_length = task_info.get("max_seq_length", 128)
    return BertPreprocessor(vocab_file, lowercase=bool(lowercase), seq_length=int(seq_length))


def read_best_results(output_dir):
    """`best/results.json` as a dict (`global_step` and the dev scores), or None when there is none.

    Raises:
      ValueError: naming the file when it exists but is not such a dict.
    """
    results_path = path(output_dir, BEST_DIR, RESULTS_FILE)
    if not tf.io.gfile.exists(results_path):
        return None
    saved = io.read_json_file(results_path, "results file")
    if not isinstance(saved, dict) or "global_step" not in saved:
        raise ValueError(f"{results_path}: no \"global_step\" (not written by `keras-bert finetune`)")
    return saved


def has_best_model(output_dir):
    return tf.io.gfile.exists(path(output_dir, BEST_DIR, BEST_MODEL + ".index"))


def save_best(output_dir, model, results, step):
    """Replaces `best/` with `model`'s weights and `results` (a swap of whole directories)."""
    with io.atomic_directory(path(output_dir, BEST_DIR), overwrite=True) as temp:
        tf.train.Checkpoint(model=model).write(io.join(temp, BEST_MODEL))
        io.write_json(io.join(temp, RESULTS_FILE), {"global_step": step, **results})


def recover_best(output_dir):
    """A run stopped while replacing `best/`: the previous one back."""
    io.recover_directory(path(output_dir, BEST_DIR))


def restore_best(output_dir, model):
    """`best/model` into `model` (its variables must match)."""
    tf.train.Checkpoint(model=model).read(path(output_dir, BEST_DIR, BEST_MODEL)).expect_partial()


def save_keras_file(output_dir, model):
    """The model as `model.keras`, replaced by a rename. (Keras writes any
    gfile path itself: a remote one through a local scratch file.)"""
    keras_path = path(output_dir, KERAS_FILE)
    temp = keras_path[: -len(".keras")] + ".tmp.keras"
    model.save(temp)
    tf.io.gfile.rename(temp, keras_path, overwrite=True)


def load_model(output_dir, task_info, config, max_sequences_per_row=None):
    """The fine-tuned model of `output_dir`: `best/model` (the checkpoint
    `run_finetuning` keeps and predicts with), else `model.keras`; with
    `max_sequences_per_row`, built to predict packed rows of that many
    sequences (the weights are the same). Always a float32 model, whatever
    the run trained under (`task.json`'s `mixed_precision`): built or
    loaded under the float32 dtype policy (variables are float32 under every
    policy, and `model.keras` keeps none: the task models rebuild their
    layers from the `BertConfig`), so `keras-bert predict` and the export
    compute and answer in float32.

    `model.keras` is loaded in Keras' safe mode (`safe_mode=True`, said
    explicitly): a file that would need Python code to rebuild -- a
    `Lambda` layer's lambda, a function or class from outside Keras -- is
    refused, and its code never runs.

    Raises:
      ValueError: naming both paths when neither exists; naming
        `model.keras` when it cannot be loaded (refused by safe mode, not a
        Keras file, ...).
    """
    prefix = path(output_dir, BEST_DIR, BEST_MODEL)
    keras_file = path(output_dir, KERAS_FILE)
    task = tasks.get(task_info["task"], TASK_FILE)
    if has_best_model(output_dir):
        with distribution.dtype_policy("float32"):
            model = task.build_model(config, task_info, max_sequences_per_row=max_sequences_per_row)
        status = tf.train.Checkpoint(model=model).read(prefix)
        status.assert_existing_objects_matched()
        status.expect_partial()
        return model
    if tf.io.gfile.exists(keras_file):
        try:
            with distribution.dtype_policy("float32"):
                model = keras.saving.load_model(keras_file, compile=False, safe_mode=True)
        except Exception as e:  # ValueError, TypeError, BadZipFile ... from a file of unknown origin.
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise ValueError(f"{keras_file}: cannot load it ({type(e).__name__}: {reason})") from None
        if max_sequences_per_row is not None and model.encoder.max_sequences_per_row != max_sequences_per_row:
            with distribution.dtype_policy("float32"):
                rebuilt = task.build_model(config, task_info, max_sequences_per_row=max_sequences_per_row)
            rebuilt.set_weights(model.get_weights())  # The same layers in the same order.
            model = rebuilt
        return model
    raise ValueError(f"no model in {output_dir}: neither {prefix}.index nor {keras_file} exists "
                     "(was it trained with --do_train?)")


def read_task_checkpoint(checkpoint_dir, max_seq_length=None, pairs=False):
    """A model fine-tuned elsewhere, as a run of `keras-bert finetune` would hold it.

    `checkpoint_dir`: a transformers task model (`BertForSequenceClassification`
    ... `save_pretrained`'s directory, with vocab.txt) or an original
    run_classifier.py / run_squad.py checkpoint (`keras_bert.checkpoints`).

    Args:
      max_seq_length: the packed length to serve (default 128, or the
        model's max_position_embeddings when smaller).
      pairs: a classifier or regressor of text pairs (`text_a`, `text_b`).

    Returns:
      `(model, task_info, vocab_file)`: the keras_bert task model, a task.json
      value for it (family, `label_list` from `id2label` -- an original
      classifier's are "0", "1" ... --, casing, length), the vocabulary.

    Raises:
      ValueError: naming the directory: no task head (a pretrained BERT), no
        vocab.txt, a length above the model's, pairs for a family of one text.
    """
    from keras_bert.checkpoints import load_checkpoint

    loaded = load_checkpoint(checkpoint_dir)
    if loaded.task_model is None:
        raise ValueError(f"{checkpoint_dir}: a pretrained BERT with no task head; fine-tune it first "
                         "(keras-bert finetune --init_checkpoint), or give a fine-tuned model")
    if loaded.vocab_file is None:
        raise ValueError(f"{checkpoint_dir}: no vocab.txt; the served model tokenizes raw text with it")
    task = tasks.of_model(loaded.task_model)
    limit = loaded.config.max_position_embeddings
    if max_seq_length is None:
        max_seq_length = min(128, limit)
    if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or not 2 < max_seq_length <= limit:
        raise ValueError(f"--max_seq_length={max_seq_length!r}: must be an int in [3, {limit}] (the model's "
                         "max_position_embeddings)")
    if pairs and "text_b" not in _pair_inputs(task):
        raise ValueError(f"--text_pairs: a {task.name} model of {checkpoint_dir} does not take text pairs")
    label_list = loaded.labels
    if task.labelled and label_list is None:
        label_list = [str(i) for i in range(loaded.task_model.num_classes)]
    task_info = {"task": task.name, "label_list": label_list if task.labelled else None,
                 "max_seq_length": max_seq_length, "lowercase": loaded.lowercase,
                 "best_metric": task.default_metric, "text_a_column": "text_a",
                 "text_b_column": "text_b" if pairs else None}
    return loaded.task_model, check_task_info(task_info, checkpoint_dir), loaded.vocab_file


def _pair_inputs(task):
    try:
        return task.text_inputs(True)
    except ValueError:  # A family of one text.
        return ()
