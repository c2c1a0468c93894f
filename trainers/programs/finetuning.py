"""The fine-tuning program: a pretrained encoder + a task head, trained on labelled data.

`run_finetuning(options)` is what `keras-bert finetune` runs. Tasks:

  classification  text or text pair -> one of N labels (`BertClassifier`);
                  TSV (GLUE style), CSV or JSON Lines with column flags
  regression      text or text pair -> a number (`BertRegressor`; STS-B)
  tagging         words -> a tag per word (`BertTokenClassifier`; CoNLL)
  squad           question + context -> answer span (`BertQuestionAnswerer`;
                  SQuAD 1.1/2.0 JSON; windows with `doc_stride`; EM/F1 by
                  the official scripts; predictions.json, null_odds.json)
  multiple_choice context + N candidate endings -> the right one
                  (`BertMultipleChoice`; SWAG-style CSV/TSV with
                  `choice_columns`, or JSON Lines with a list column;
                  `keras_bert.trainers.data.multiple_choice_data`)

The engine is the pretraining one (`keras_bert.trainers.engine.training_loop.Trainer`:
strategies, AdamW, warmup + decay, clipping, accumulation, mixed
precision, checkpoints, resume). Training batches are padded to their
longest member within length buckets (fixed bucket lengths on TPU). With
`do_eval` and an `eval_file` the dev set is scored after every
`save_checkpoints_steps` steps (default: every epoch), the best model by
`best_metric` is kept in `output_dir/best/`, and its scores are written to
`eval_results.txt`. `do_predict` writes `predictions.tsv` or `.jsonl`
(`run_prediction`, which `keras-bert predict` runs too).

Long texts (classification, regression): with `long_text_stride` > 0,
evaluation and prediction cut `text_a` into overlapping windows of
wordpieces and pool the windows' logits (`long_text_pooling`: mean or
max; see `keras_bert.trainers.data.long_text`). Training always sees the first window
(the text truncated to `max_seq_length`).

`output_dir` then holds everything `keras-bert predict` (and the export)
need: `task.json` (task, labels, `max_seq_length`, casing and the
`PREDICTION_SETTINGS` of the training run), `model_config.json`,
`vocab.txt`, `best/` and `model.keras` (the best model as a Keras file).
"""

import contextlib
import dataclasses
import json
import math
import os
import shutil
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_bert.checkpoints import pretrained as pretrained_lib
from keras_bert.config import read_json_file
from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.models.bert_multiple_choice import BertMultipleChoice
from keras_bert.models.bert_question_answerer import BertQuestionAnswerer
from keras_bert.models.bert_regressor import BertRegressor
from keras_bert.models.bert_token_classifier import BertTokenClassifier
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import dynamic_padding
from keras_bert.trainers.engine import initialization
from keras_bert.trainers.data import long_text
from keras_bert.trainers.tasks import metrics as metrics_lib
from keras_bert.trainers.data import multiple_choice_data
from keras_bert.trainers.engine import optimization
from keras_bert.trainers.data import squad_data
from keras_bert.trainers.data import squad_postprocess
from keras_bert.trainers.data import tagging_data
from keras_bert.trainers.engine import training_loop

TASKS = ("classification", "regression", "tagging", "squad", "multiple_choice")
TASK_FILE = "task.json"
BEST_DIR = "best"
VOCAB_FILE = "vocab.txt"
KERAS_FILE = "model.keras"
DEFAULT_BEST_METRIC = {"classification": "accuracy", "regression": "pearson", "tagging": "f1", "squad": "f1",
                       "multiple_choice": "accuracy"}


@dataclasses.dataclass(frozen=True)
class FinetuningOptions:
    """Everything `run_finetuning` needs; the fields are the CLI flags.

    Names follow google-research/bert's `run_classifier.py` where it has the
    option (`warmup_proportion`, `num_train_epochs`, `*_batch_size` ...).
    """

    task: str
    output_dir: str
    train_file: str = None
    eval_file: str = None
    predict_file: str = None
    file_format: str = None
    text_a_column: str = None
    text_b_column: str = None
    label_column: str = None
    choice_columns: str = None  # Multiple choice: comma-separated columns, or one holding a list (JSONL).
    label_list: str = None
    skip_invalid_rows: bool = False
    init_checkpoint: str = None
    bert_config_file: str = None
    bert_config_preset: str = None
    vocab_file: str = None
    do_lower_case: bool = None
    max_seq_length: int = 128
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    train_batch_size: int = 32
    eval_batch_size: int = 32
    predict_batch_size: int = 32
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    optimizer: str = "adamw"
    weight_decay_rate: float = 0.01
    layerwise_lr_decay: float = 1.0
    train_encoder: bool = True
    dropout: float = None
    clip_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    save_checkpoints_steps: int = None
    keep_checkpoint_max: int = 1
    best_metric: str = None
    steps_per_execution: int = 1
    log_steps: int = 50
    distribution_strategy: str = "off"
    tpu: str = None
    num_gpus: int = None
    mixed_precision: str = "auto"
    jit_compile: bool = False
    random_seed: int = 12345
    deterministic: bool = False
    prediction_format: str = "tsv"
    # SQuAD (run_squad.py's flags).
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    version_2_with_negative: bool = None
    null_score_diff_threshold: float = 0.0
    # Long texts (classification, regression; eval and predict): windows of
    # text_a's wordpieces this far apart (0 = truncate), logits pooled.
    long_text_stride: int = 0
    long_text_pooling: str = "mean"


# ----------------------------------------------------------------- the data


def _column(value):
    if value is None:
        return None
    return int(value) if str(value).lstrip("-").isdigit() else value


def _choice_columns(value):
    """`--choice_columns`: "ending0,ending1" -> a list of columns; one name
    (no comma) -> that column, holding a list of choices (JSON Lines)."""
    if value is None:
        return None
    names = [name.strip() for name in str(value).split(",")]
    if len(names) == 1:
        return _column(names[0])
    return [_column(name) for name in names]


def read_data(options, path, task_info, with_labels):
    """Examples of `path`: `InputExample`s, or `TaggedSentence`s for tagging
    (`MultipleChoiceExample`s, SQuAD examples for those tasks).

    Columns and format come from the flags of this run (a predict file may
    be laid out differently from the training file); the labels from
    `task_info`.
    """
    if options.task == "tagging":
        return tagging_data.read_conll(path, with_tags=with_labels)
    if options.task == "squad":
        return squad_data.read_squad_examples(path, version_2_with_negative=options.version_2_with_negative)
    if options.task == "multiple_choice":
        examples, skipped = multiple_choice_data.read_examples(
            path,
            _column(options.text_a_column),
            _choice_columns(options.choice_columns),
            _column(options.text_b_column),
            _column(options.label_column) if with_labels else None,
            format=options.file_format,
            skip_invalid=options.skip_invalid_rows,
        )
    else:
        examples, skipped = classification_data.read_examples(
            path,
            _column(options.text_a_column),
            _column(options.text_b_column),
            _column(options.label_column) if with_labels else None,
            format=options.file_format,
            label_list=task_info.get("label_list") if options.task == "classification" else None,
            regression=options.task == "regression",
            skip_invalid=options.skip_invalid_rows,
        )
    if skipped:
        print(f"{path}: skipped {skipped} invalid rows (--skip_invalid_rows)", flush=True)
    return examples


def make_features(task, data, preprocessor, task_info, with_labels, options=None, is_training=False):
    """Numpy features `[N, S]` (and labels) for the task model, plus extras.

    Classification/regression with `options.long_text_stride` (not for
    training, which truncates): `W >= N` rows of windows (`trainers.
    long_text`), `labels` still `[N]`, and extras `window_example` `[W]`
    and `pooling`, which `predict_examples` pools with.
    """
    if task == "squad":
        squad = squad_data.convert_examples_to_features(
            data, preprocessor, max_seq_length=preprocessor.seq_length, doc_stride=options.doc_stride,
            max_query_length=options.max_query_length, is_training=is_training,
        )
        features = dict(squad.features)
        if not with_labels:
            features.pop("start_positions", None)
            features.pop("end_positions", None)
        return features, {"squad": squad}
    if task == "tagging":
        aligned = tagging_data.align_tags(
            data, preprocessor, tag_list=task_info["label_list"] if with_labels else None,
            max_seq_length=preprocessor.seq_length,
        )
        if aligned.num_dropped_words:
            print(
                f"{aligned.num_truncated_sentences} sentences longer than max_seq_length: "
                f"{aligned.num_dropped_words} words get no prediction (tagged 'O')", flush=True,
            )
        return aligned.features, {"num_words": aligned.num_words}
    if task == "multiple_choice":  # [N, num_choices, S] features, [N] labels.
        features = multiple_choice_data.examples_to_features(data, preprocessor)
        if not with_labels:
            features.pop("labels", None)
        return features, {}
    if options is not None and options.long_text_stride and not is_training:
        features, window_example = long_text.examples_to_window_features(
            data, preprocessor, options.long_text_stride, label_list=task_info.get("label_list"),
            regression=task == "regression",
        )
        extras = {"window_example": window_example, "pooling": options.long_text_pooling}
    else:
        features = classification_data.examples_to_features(
            data, preprocessor, label_list=task_info.get("label_list"), regression=task == "regression",
        )
        extras = {}
    if not with_labels:
        features.pop("labels", None)
    return features, extras


def build_model(task, config, task_info, options):
    if task == "classification":
        return BertClassifier(config, num_classes=len(task_info["label_list"]), dropout=options.dropout,
                              train_encoder=options.train_encoder)
    if task == "regression":
        return BertRegressor(config, dropout=options.dropout, train_encoder=options.train_encoder)
    if task == "squad":
        return BertQuestionAnswerer(config, train_encoder=options.train_encoder)
    if task == "multiple_choice":
        return BertMultipleChoice(config, dropout=options.dropout, train_encoder=options.train_encoder)
    return BertTokenClassifier(config, num_classes=len(task_info["label_list"]), dropout=options.dropout,
                               train_encoder=options.train_encoder)


# ------------------------------------------------------- predict and score


def predict(model, features, batch_size, sequence_outputs=(), sort_by_length=True, jit_compile=False):
    """Model outputs for numpy features, batch by batch, each batch cut to its
    longest member (no padding beyond it).

    Args:
      model: a task model.
      features: dict of numpy `[N, S]` encoder inputs (others ignored);
        multiple choice: `[N, C, S]`, cut on the last axis.
      batch_size: int.
      sequence_outputs: names of outputs with a sequence axis 1; they are
        padded back to `S` with zeros.
      sort_by_length: bool, batch the examples in order of length (outputs
        come back in the input order): batches of near-equal lengths carry
        little padding. Off: batches in input order.
      jit_compile: bool, XLA-compile the forward pass; batch widths are then
        rounded up to `dynamic_padding.default_bucket_boundaries(S)`, so at
        most a handful of programs are compiled.

    Returns:
      dict of numpy arrays `[N, ...]`, in the order of `features`.
    """
    inputs = {k: features[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    lengths = inputs["input_mask"].sum(axis=-1)  # [N] (or [N, C]: a batch is cut to its longest choice).
    longest = lengths if lengths.ndim == 1 else lengths.max(axis=-1)
    seq = inputs["input_word_ids"].shape[-1]
    order = np.argsort(longest, kind="stable") if sort_by_length else np.arange(len(longest))
    boundaries = np.array(dynamic_padding.default_bucket_boundaries(seq)) if jit_compile else None
    forward = _forward_function(model, {k: v.ndim for k, v in inputs.items()}, jit_compile)
    outputs = {}
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(int(longest[rows].max()), 2)
        if boundaries is not None:
            width = int(boundaries[np.searchsorted(boundaries, width)])
        batch = {k: tf.constant(v[rows, ..., :width], tf.int32) for k, v in inputs.items()}
        for key, value in forward(batch).items():
            value = value.numpy()
            if key in sequence_outputs:
                value = np.pad(value, [(0, 0), (0, seq - width)] + [(0, 0)] * (value.ndim - 2))
            outputs.setdefault(key, []).append(value)
    inverse = np.argsort(order, kind="stable")
    return {key: np.concatenate(parts, axis=0)[inverse] for key, parts in outputs.items()}


# {model: {(input ranks, jit_compile): traced forward}}: predicting again
# (every evaluation period of a fine-tuning run) reuses the traced and, for
# XLA, compiled programs instead of tracing anew.
_FORWARD_FUNCTIONS = weakref.WeakKeyDictionary()


def _forward_function(model, ranks, jit_compile):
    key = (tuple(sorted(ranks.items())), bool(jit_compile))
    functions = _FORWARD_FUNCTIONS.setdefault(model, {})
    if key not in functions:
        spec = {k: tf.TensorSpec([None] * rank, tf.int32) for k, rank in ranks.items()}
        model_ref = weakref.ref(model)  # The cache must not keep the model alive.
        functions[key] = tf.function(lambda batch: model_ref()(batch, training=False), input_signature=[spec],
                                     jit_compile=jit_compile)
    return functions[key]


SEQUENCE_OUTPUTS = {"classification": (), "regression": (), "tagging": ("logits",),
                    "squad": ("start_logits", "end_logits"), "multiple_choice": ()}


def predict_examples(model, task, inputs, batch_size):
    """`predict` on `inputs["features"]`, one output row per example.

    Args:
      model: the task model.
      task: str, one of `TASKS`.
      inputs: dict with `features` and `extras` (as `make_features` gives
        them); with long-text windows (`extras["window_example"]`) the
        window outputs are pooled per example (`extras["pooling"]`).
      batch_size: int.

    Returns:
      dict of numpy arrays `[N, ...]`.
    """
    outputs = predict(model, inputs["features"], batch_size, SEQUENCE_OUTPUTS[task])
    extras = inputs["extras"]
    if "window_example" in extras:
        num_examples = int(extras["window_example"].max()) + 1 if len(extras["window_example"]) else 0
        outputs = {key: long_text.pool_windows(value, extras["window_example"], num_examples, extras["pooling"])
                   for key, value in outputs.items()}
    return outputs


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def squad_answers(outputs, extras, options):
    """`SquadPredictions` (answer texts, n-best, null odds) from the logits."""
    return squad_postprocess.postprocess(
        extras["squad"], outputs["start_logits"], outputs["end_logits"], n_best_size=options.n_best_size,
        max_answer_length=options.max_answer_length,
        version_2_with_negative=_squad_v2(extras["squad"], options),
        null_score_diff_threshold=options.null_score_diff_threshold,
    )


def _squad_v2(squad, options):
    if options.version_2_with_negative is not None:
        return options.version_2_with_negative
    return any(example.is_impossible for example in squad.examples)


def score(task, outputs, features, task_info, extras, options=None):
    """Dev-set metrics (and the loss) from the outputs of `predict`."""
    if task == "squad":
        answers = squad_answers(outputs, extras, options)
        results = squad_postprocess.evaluate(
            options.eval_file, answers.predictions, answers.null_odds or None,
            version_2_with_negative=_squad_v2(extras["squad"], options),
        )
        return {k: float(v) for k, v in results.items() if isinstance(v, (int, float))}
    if task == "regression":
        score_, labels = outputs["score"].astype(np.float64), features["labels"].astype(np.float64)
        return {
            "loss": float(np.mean((score_ - labels) ** 2)),
            "pearson": metrics_lib.pearson_correlation(labels, score_),
            "spearman": metrics_lib.spearman_correlation(labels, score_),
        }
    logits = outputs["logits"].astype(np.float64)
    if task == "multiple_choice":  # logits [N, num_choices], labels [N]: the right choice.
        labels = features["labels"]
        loss = -np.take_along_axis(_log_softmax(logits), labels[:, None], -1).mean()
        return {"loss": float(loss), "accuracy": metrics_lib.accuracy(labels, logits.argmax(-1))}
    if task == "classification":
        labels = features["labels"]
        predictions = logits.argmax(-1)
        loss = -np.take_along_axis(_log_softmax(logits), labels[:, None], -1).mean()
        results = {"loss": float(loss), "accuracy": metrics_lib.accuracy(labels, predictions)}
        if logits.shape[-1] == 2:
            results["f1"] = metrics_lib.f1_score(labels, predictions, average="binary", positive_label=1)
        else:
            results["f1"] = metrics_lib.f1_score(labels, predictions, average="macro")
        results["mcc"] = metrics_lib.matthews_corrcoef(labels, predictions)
        return results
    weights, labels = features["label_weights"], features["labels"]
    losses = -np.take_along_axis(_log_softmax(logits), labels[..., None], -1)[..., 0]
    tag_list = task_info["label_list"]
    gold = tagging_data.decode_tags(labels, weights, tag_list, num_words=extras["num_words"])
    predicted = tagging_data.decode_tags(logits, weights, tag_list, num_words=extras["num_words"])
    results = {"loss": float((weights * losses).sum() / max(weights.sum(), 1.0))}
    results.update(metrics_lib.entity_scores(gold, predicted))
    results["token_accuracy"] = float(((logits.argmax(-1) == labels) * weights).sum() / max(weights.sum(), 1.0))
    return results


@contextlib.contextmanager
def _new_file(path):
    """Opens `path` for writing (UTF-8); removes it if the block fails."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            yield f
    except BaseException:
        if os.path.exists(path):
            os.remove(path)
        raise


def write_predictions(path, task, data, outputs, task_info, extras, prediction_format):
    """`predictions.tsv` / `.jsonl`: one line per example (written atomically)."""
    rows = []
    if task == "tagging":
        tags = tagging_data.decode_tags(outputs["logits"], extras["label_weights"], task_info["label_list"],
                                        num_words=extras["num_words"])
        for sentence, sentence_tags in zip(data, tags):
            rows.append({"words": list(sentence.words), "tags": sentence_tags})
    elif task == "regression":
        for example, value in zip(data, outputs["score"]):
            rows.append({"guid": example.guid, "score": float(value)})
    else:  # Classification: the label; multiple choice: the index of the choice; and probabilities.
        logits = outputs["logits"].astype(np.float64)
        probabilities = np.exp(_log_softmax(logits))
        for example, p in zip(data, probabilities):
            label = int(p.argmax()) if task == "multiple_choice" else task_info["label_list"][int(p.argmax())]
            rows.append({"guid": example.guid, "label": label, "probabilities": [float(x) for x in p]})
    temp = f"{path}.tmp-{os.getpid()}"
    with _new_file(temp) as f:
        for row in rows:
            if prediction_format == "jsonl":
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            elif task == "tagging":
                f.write(" ".join(row["words"]) + "\t" + " ".join(row["tags"]) + "\n")
            elif task == "regression":
                f.write(f"{row['guid']}\t{row['score']}\n")
            else:
                f.write("\t".join([row["guid"], str(row["label"])] + [f"{x:.6f}" for x in row["probabilities"]]) + "\n")
    os.replace(temp, path)
    return len(rows)


# ------------------------------------------------------------- prediction

# The settings of a run that `keras-bert predict` takes from task.json (its
# flags override them); `max_seq_length` and `lowercase` are there too.
PREDICTION_SETTINGS = ("text_a_column", "text_b_column", "choice_columns", "doc_stride", "max_query_length",
                       "n_best_size", "max_answer_length", "version_2_with_negative", "null_score_diff_threshold",
                       "long_text_stride", "long_text_pooling")


def prediction_inputs(options, preprocessor, task_info):
    """`options.predict_file` read and made into features.

    Returns:
      dict `data` (the examples), `features`, `extras` (`make_features`).

    Raises:
      ValueError: "path:line: ..." for a malformed row, as `read_data`.
    """
    data = read_data(options, options.predict_file, task_info, with_labels=False)
    features, extras = make_features(options.task, data, preprocessor, task_info, False, options)
    if options.task == "tagging":
        extras["label_weights"] = features["label_weights"]
    return {"data": data, "features": features, "extras": extras}


def prediction_path(options, output_file=None):
    """Where the predictions go: `output_file`, else `output_dir/predictions.tsv|.jsonl`
    (SQuAD: `predictions.json`; its `nbest_predictions.json` and `null_odds.json`
    beside it, with the same prefix as `output_file` has before `predictions.json`)."""
    if options.task == "squad":
        path = output_file or os.path.join(options.output_dir, squad_postprocess.PREDICTIONS_FILE)
        if not os.path.basename(path).endswith(squad_postprocess.PREDICTIONS_FILE):
            raise ValueError(f"--output_file={output_file}: a SQuAD predictions file must be named "
                             f"*{squad_postprocess.PREDICTIONS_FILE} (n-best and null odds go beside it)")
        return path
    return output_file or os.path.join(options.output_dir, f"predictions.{options.prediction_format}")


def run_prediction(model, inputs, task_info, options, output_file=None, write=True):
    """Predicts `inputs` with `model` and writes the predictions.

    `keras-bert finetune --do_predict` and `keras-bert predict` both run
    this. Every file is written under a temporary name in its directory and
    renamed: there is never a half-written predictions file.

    Args:
      model: the task model, weights loaded.
      inputs: from `prediction_inputs`.
      task_info: the contents of task.json (labels).
      options: `FinetuningOptions` (task, batch size, format, SQuAD settings).
      output_file: see `prediction_path`.
      write: False computes without writing (non-chief workers).

    Returns:
      str, the path of the predictions file.
    """
    path = prediction_path(options, output_file)
    outputs = predict_examples(model, options.task, inputs, options.predict_batch_size)
    if not write:
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if options.task == "squad":  # SQuAD's own files: predictions.json, null_odds.json, nbest.
        directory, name = os.path.split(os.path.abspath(path))
        squad_postprocess.write_prediction_files(squad_answers(outputs, inputs["extras"], options), directory,
                                                 prefix=name[:-len(squad_postprocess.PREDICTIONS_FILE)])
        print(f"wrote {len(inputs['data'])} answers to {path}", flush=True)
    else:
        count = write_predictions(path, options.task, inputs["data"], outputs, task_info, inputs["extras"],
                                  options.prediction_format)
        print(f"wrote {count} predictions to {path}", flush=True)
    return path


# ------------------------------------------------------------------ program


def check_options(options):
    if options.task not in TASKS:
        raise ValueError(f"--task={options.task!r}: must be one of {', '.join(TASKS)}")
    if not options.output_dir:
        raise ValueError("--output_dir is required")
    if not (options.do_train or options.do_eval or options.do_predict):
        raise ValueError("at least one of --do_train, --do_eval and --do_predict must be set")
    for flag, needed in (("train_file", options.do_train), ("eval_file", options.do_eval),
                         ("predict_file", options.do_predict)):
        if needed and not getattr(options, flag):
            raise ValueError(f"--do_{flag.split('_')[0]} needs --{flag}")
    columns = options.task in ("classification", "regression", "multiple_choice")
    if columns and options.text_a_column is None:
        raise ValueError(f"--task={options.task} needs --text_a_column (a header name or a 0-based index)")
    if options.task == "multiple_choice" and not options.choice_columns:
        raise ValueError("--task=multiple_choice needs --choice_columns (comma-separated, one column per choice, "
                         "e.g. ending0,ending1,ending2,ending3; or, for JSON Lines, one column holding a list)")
    if columns and (options.do_train or options.do_eval) and options.label_column is None:
        raise ValueError("--do_train/--do_eval need --label_column")
    if options.num_train_epochs <= 0:
        raise ValueError(f"--num_train_epochs={options.num_train_epochs}: must be > 0")
    if not 0.0 <= options.warmup_proportion < 1.0:
        raise ValueError(f"--warmup_proportion={options.warmup_proportion}: must be in [0, 1)")
    if not 0.0 < options.layerwise_lr_decay <= 1.0:
        raise ValueError(f"--layerwise_lr_decay={options.layerwise_lr_decay}: must be in (0, 1]")
    if options.prediction_format not in ("tsv", "jsonl"):
        raise ValueError(f"--prediction_format={options.prediction_format!r}: tsv or jsonl")
    if options.max_seq_length < 2:
        raise ValueError(f"--max_seq_length={options.max_seq_length}: must be >= 2")
    check_long_text_options(options)
    if not options.init_checkpoint:
        print("warning: no --init_checkpoint: the encoder starts from random weights", flush=True)


def check_long_text_options(options):
    stride = options.long_text_stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
        raise ValueError(f"--long_text_stride={stride!r}: must be an int >= 0 (wordpieces between window starts; "
                         "0 = truncate)")
    if options.long_text_pooling not in long_text.POOLINGS:
        raise ValueError(f"--long_text_pooling={options.long_text_pooling!r}: must be one of "
                         f"{', '.join(long_text.POOLINGS)}")
    if stride and options.task not in ("classification", "regression"):
        raise ValueError(f"--long_text_stride={stride}: windows are for classification and regression, not "
                         f"{options.task}" + (" (SQuAD windows with --doc_stride)" if options.task == "squad" else ""))


def read_task_file(path):
    """The settings in a `task.json` that `run_finetuning` wrote (a dict with a known "task").

    Raises:
      ValueError: naming `path` when it cannot be read or is not such a file.
    """
    task_info = read_json_file(path, "task file")
    if not isinstance(task_info, dict) or task_info.get("task") not in TASKS:
        raise ValueError(f"{path}: not a task.json of `keras-bert finetune` (no known \"task\")")
    return task_info


def _vocabulary(options):
    """(vocab_file, lowercase) from the flags or the init checkpoint."""
    vocab_file, lowercase = options.vocab_file, options.do_lower_case
    if options.init_checkpoint and initialization.checkpoint_kind(options.init_checkpoint) == "pretrained":
        fmt = pretrained_lib.detect_format(options.init_checkpoint)
        directory = options.init_checkpoint if os.path.isdir(options.init_checkpoint) else os.path.dirname(
            options.init_checkpoint)
        if vocab_file is None and os.path.exists(os.path.join(directory, VOCAB_FILE)):
            vocab_file = os.path.join(directory, VOCAB_FILE)
        if lowercase is None:
            from keras_bert.checkpoints import huggingface_format
            from keras_bert.checkpoints import original_format

            lowercase = (huggingface_format.read_lowercase(directory) if fmt == "hf"
                         else original_format.lowercase_from_name(directory))
    elif options.init_checkpoint and vocab_file is None:
        directory = options.init_checkpoint if os.path.isdir(options.init_checkpoint) else os.path.dirname(
            options.init_checkpoint)
        for candidate in (os.path.join(directory, VOCAB_FILE), os.path.join(directory, "pretrained_hf", VOCAB_FILE)):
            if os.path.exists(candidate):
                vocab_file = candidate
                break
    if vocab_file is None:
        raise ValueError("no vocabulary: give --vocab_file (the init checkpoint has no vocab.txt)")
    return vocab_file, True if lowercase is None else bool(lowercase)


def _evaluate_and_keep_best(model, dev, task, task_info, options, best, step):
    results = score(task, predict_examples(model, task, dev, options.eval_batch_size),
                    dev["features"], task_info, dev["extras"], options)
    metric = task_info["best_metric"]
    if metric not in results:
        raise ValueError(f"--best_metric={metric!r}: the {task} scores are {', '.join(sorted(results))}")
    line = " ".join(f"{k}={v:.4f}" for k, v in results.items())
    improved = best is None or results[metric] > best["results"][metric]
    print(f"dev at step {step}: {line}{'  (best so far)' if improved else ''}", flush=True)
    if improved:
        best_dir = os.path.join(options.output_dir, BEST_DIR)
        temp = best_dir + ".tmp"
        shutil.rmtree(temp, ignore_errors=True)
        tf.train.Checkpoint(model=model).write(os.path.join(temp, "model"))
        with open(os.path.join(temp, "results.json"), "w") as f:
            json.dump({"global_step": step, **results}, f, indent=1)
        # Swapped by renames: a crash at any point leaves best/ or best.old/.
        old = best_dir + ".old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(best_dir):
            os.replace(best_dir, old)
        os.replace(temp, best_dir)
        shutil.rmtree(old, ignore_errors=True)
        best = {"step": step, "results": results}
    return best


def run_finetuning(options):
    """Runs the program; returns a dict with `train`, `eval`, `predict` entries."""
    check_options(options)
    # The strategy first: multi-worker collectives must be set up before any
    # TensorFlow op (the tokenizer's tables) starts the runtime.
    strategy = distribution.get_strategy(options.distribution_strategy, tpu_address=options.tpu,
                                         num_gpus=options.num_gpus)
    precision = distribution.resolve_precision(options.mixed_precision, strategy)
    training_loop.make_reproducible(options.random_seed, options.deterministic)
    vocab_file, lowercase = _vocabulary(options)
    config = initialization.resolve_config(
        options.bert_config_file, options.bert_config_preset, vocab_file, options.init_checkpoint
    )
    if options.max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"--max_seq_length={options.max_seq_length} is above the model's "
            f"max_position_embeddings={config.max_position_embeddings}"
        )
    preprocessor = BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=options.max_seq_length)
    if len(preprocessor.vocabulary) != config.vocab_size:
        raise ValueError(
            f"vocabulary {vocab_file} has {len(preprocessor.vocabulary)} entries; the model's "
            f"vocab_size is {config.vocab_size}"
        )
    task_path = os.path.join(options.output_dir, TASK_FILE)
    if os.path.exists(task_path):  # A model trained here before: its labels and casing.
        task_info = read_task_file(task_path)
        if options.do_lower_case is None and task_info.get("lowercase", lowercase) != lowercase:
            lowercase = bool(task_info["lowercase"])
            preprocessor = BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=options.max_seq_length)
    else:
        task_info = {
            "task": options.task,
            "label_list": options.label_list.split(",") if options.label_list else None,
            "max_seq_length": options.max_seq_length, "lowercase": lowercase,
            "best_metric": options.best_metric or DEFAULT_BEST_METRIC[options.task],
        }
    if task_info["task"] != options.task:
        raise ValueError(f"--output_dir={options.output_dir} holds a {task_info['task']} model, not {options.task}")
    for key in PREDICTION_SETTINGS:  # What `keras-bert predict` uses: this training run's.
        if options.do_train or key not in task_info:
            task_info[key] = getattr(options, key)

    # Read everything first: bad data fails before any training.
    train = dev = test = None
    train_data = read_data(options, options.train_file, task_info, True) if options.do_train else None
    dev_data = read_data(options, options.eval_file, task_info, True) if options.do_eval else None
    if task_info["label_list"] is None and options.task in ("classification", "tagging"):
        # The labels seen in the labelled files (a dev set may hold a rare
        # one the training slice lacks), sorted.
        labelled = (train_data or []) + (dev_data or [])
        if labelled:
            task_info["label_list"] = (tagging_data.collect_tags(labelled) if options.task == "tagging"
                                       else classification_data.collect_labels(labelled))
    if options.task in ("classification", "tagging") and not task_info["label_list"]:
        raise ValueError("no labels: give --label_list, or labelled --train_file/--eval_file")
    if train_data is not None:
        features, extras = make_features(options.task, train_data, preprocessor, task_info, True, options,
                                         is_training=True)
        train = {"data": train_data, "features": features, "extras": extras}
    if dev_data is not None:
        features, extras = make_features(options.task, dev_data, preprocessor, task_info, True, options)
        dev = {"data": dev_data, "features": features, "extras": extras}
    if options.do_predict:
        test = prediction_inputs(options, preprocessor, task_info)

    tf.io.gfile.makedirs(options.output_dir)
    chief = distribution.is_chief(strategy)
    if chief:
        config.save(os.path.join(options.output_dir, initialization.MODEL_CONFIG_FILE))
        if os.path.abspath(vocab_file) != os.path.abspath(os.path.join(options.output_dir, VOCAB_FILE)):
            shutil.copyfile(vocab_file, os.path.join(options.output_dir, VOCAB_FILE))
        with open(task_path, "w") as f:
            json.dump(task_info, f, indent=1)

    num_examples = len(train["features"]["input_mask"]) if train else 0
    steps_per_epoch = max(1, num_examples // options.train_batch_size)
    num_train_steps = max(1, int(math.ceil(options.num_train_epochs * num_examples / options.train_batch_size)))
    num_warmup_steps = int(num_train_steps * options.warmup_proportion)
    save_steps = options.save_checkpoints_steps or steps_per_epoch
    num_layers = config.num_layers

    def optimizer_fn():
        return optimization.create_optimizer(
            options.optimizer, options.learning_rate, num_train_steps, num_warmup_steps,
            weight_decay_rate=options.weight_decay_rate, layerwise_lr_decay=options.layerwise_lr_decay,
            num_layers=num_layers,
        )

    trainer = training_loop.Trainer(
        strategy,
        model_fn=lambda: build_model(options.task, config, task_info, options),
        optimizer_fn=optimizer_fn,
        output_dir=options.output_dir,
        global_batch_size=options.train_batch_size,
        precision=precision,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        steps_per_execution=options.steps_per_execution,
        jit_compile=options.jit_compile,
        clip_norm=options.clip_norm or None,
        save_checkpoints_steps=save_steps,
        keep_checkpoint_max=options.keep_checkpoint_max,
        log_steps=options.log_steps,
    )
    model = trainer.model
    results = {}
    init_fn = initialization.make_init_fn(options.init_checkpoint, config)
    best_path = os.path.join(options.output_dir, BEST_DIR)
    if not os.path.exists(best_path) and os.path.exists(best_path + ".old"):
        os.replace(best_path + ".old", best_path)  # A run stopped while replacing best/.
    best = None
    results_path = os.path.join(best_path, "results.json")
    if os.path.exists(results_path):
        saved = read_json_file(results_path, "results file")
        if not isinstance(saved, dict) or "global_step" not in saved:
            raise ValueError(f"{results_path}: no \"global_step\" (not written by `keras-bert finetune`)")
        best = {"step": saved.pop("global_step"), "results": saved}
    if options.do_train:
        dataset_fn = _train_dataset_fn(train["features"], strategy, options, preprocessor)
        print(f"fine-tuning ({options.task}) on {num_examples} examples: {num_train_steps} steps of "
              f"{options.train_batch_size}, {precision}, {strategy.num_replicas_in_sync} replica(s)", flush=True)
        step = int(trainer.global_step.numpy())
        while True:
            target = min(num_train_steps, (step // save_steps + 1) * save_steps)
            outcome = trainer.train(dataset_fn, num_train_steps, init_fn=init_fn, stop_at=target)
            step = outcome["global_step"]
            if outcome["preempted"]:
                results["train"] = outcome
                return results
            if dev is not None:
                best = _evaluate_and_keep_best(model, dev, options.task, task_info, options, best, step)
            if step >= num_train_steps:
                break
        results["train"] = outcome
        if dev is None:  # No dev set: the final model is the one kept.
            tf.train.Checkpoint(model=model).write(os.path.join(best_path, "model"))
    else:
        restored = os.path.exists(best_path + "/model.index")
        if restored:
            tf.train.Checkpoint(model=model).read(os.path.join(best_path, "model")).expect_partial()
        elif init_fn is not None:
            init_fn(model)
    if options.do_train and os.path.exists(os.path.join(best_path, "model.index")):
        tf.train.Checkpoint(model=model).read(os.path.join(best_path, "model")).expect_partial()
    if options.do_eval:
        outputs = predict_examples(model, options.task, dev, options.eval_batch_size)
        scores = score(options.task, outputs, dev["features"], task_info, dev["extras"], options)
        step = best["step"] if best else int(trainer.global_step.numpy())
        results["eval"] = {"global_step": step, **scores}
        if chief:
            training_loop.write_eval_results(
                os.path.join(options.output_dir, "eval_results.txt"),
                {"global_step": step, **{f"eval_{k}": v for k, v in scores.items()}},
            )
    if options.do_predict:
        results["predict"] = run_prediction(model, test, task_info, options, write=chief)
    if options.do_train and chief:
        keras_path = os.path.join(options.output_dir, KERAS_FILE)
        temp = keras_path[: -len(".keras")] + ".tmp.keras"
        model.save(temp)
        os.replace(temp, keras_path)
    return results


def _train_dataset_fn(features, strategy, options, preprocessor):
    # Static widths (the bucket boundaries) for TPUs and for XLA anywhere: a
    # compiled step per distinct batch width would recompile all the time.
    static = distribution.is_tpu(strategy) or bool(options.jit_compile)
    boundaries = dynamic_padding.default_bucket_boundaries(options.max_seq_length)

    def dataset_fn(input_context):
        batch_size = input_context.get_per_replica_batch_size(options.train_batch_size)
        dataset = dynamic_padding.unpadded_dataset(features)
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        dataset = dataset.shuffle(len(features["input_mask"]), seed=options.random_seed,
                                  reshuffle_each_iteration=True).repeat()
        dataset = dynamic_padding.bucket_by_length(
            dataset, batch_size, boundaries, static=static, drop_remainder=True,
            padding_values={"input_word_ids": preprocessor.pad_id},
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    return dataset_fn
