"""`keras-bert predict`: a fine-tuned model's predictions, from its `keras-bert finetune` output_dir.

`run_predict(options)` loads what `keras_bert.trainers.programs.finetuning.run_finetuning`
left in `output_dir`:

  task.json          the task, labels, `max_seq_length`, casing, and the
                     training run's `finetuning.PREDICTION_SETTINGS`
                     (columns, long-text windows, SQuAD settings)
  model_config.json  the encoder's `BertConfig`
  vocab.txt          the vocabulary
  best/model.*       the kept model (a `tf.train.Checkpoint`); else
  model.keras        the same model as a Keras file

and runs `finetuning.prediction_inputs` and `finetuning.run_prediction`,
the code `keras-bert finetune --do_predict` runs, so both give the same
predictions for the same file and settings. Every setting of `PredictOptions`
left None is taken from task.json.
"""

import dataclasses
import os

import keras
import tensorflow as tf

from keras_bert.config import BertConfig
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers.programs import finetuning
from keras_bert.trainers.engine import initialization


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """Everything `run_predict` needs; the fields are the CLI flags.

    `output_dir` and `predict_file` are required. The fields from
    `max_seq_length` on default to None: the value in task.json (that of
    the training run), or `FinetuningOptions`' default when task.json
    predates the setting.
    """

    output_dir: str
    predict_file: str
    output_file: str = None
    prediction_format: str = None  # None: jsonl when output_file ends in .jsonl, else tsv.
    predict_batch_size: int = 32
    file_format: str = None
    skip_invalid_rows: bool = False
    max_seq_length: int = None
    do_lower_case: bool = None
    text_a_column: str = None
    text_b_column: str = None
    choice_columns: str = None
    long_text_stride: int = None
    long_text_pooling: str = None
    doc_stride: int = None
    max_query_length: int = None
    n_best_size: int = None
    max_answer_length: int = None
    version_2_with_negative: bool = None
    null_score_diff_threshold: float = None


def _required(path, what):
    if not os.path.exists(path):
        raise ValueError(f"{path}: not found ({what}); --output_dir must be a `keras-bert finetune` output "
                         "directory")
    return path


def read_task_info(output_dir):
    """The contents of `output_dir/task.json`.

    Raises:
      ValueError: naming the directory or the file when missing or unreadable.
    """
    if not output_dir:
        raise ValueError("--output_dir is required (a `keras-bert finetune` output directory)")
    if not os.path.isdir(output_dir):
        raise ValueError(f"--output_dir={output_dir}: no such directory")
    path = _required(os.path.join(output_dir, finetuning.TASK_FILE), "the task, labels and settings")
    return finetuning.read_task_file(path)


def finetuning_options(options, task_info):
    """The `FinetuningOptions` of a predict-only run: task.json's settings, overridden by `options`."""
    defaults = finetuning.FinetuningOptions(task=task_info["task"], output_dir=options.output_dir)
    settings = {key: task_info.get(key, getattr(defaults, key)) for key in finetuning.PREDICTION_SETTINGS}
    settings["max_seq_length"] = task_info.get("max_seq_length", defaults.max_seq_length)
    for key in list(settings):
        if getattr(options, key, None) is not None:
            settings[key] = getattr(options, key)
    prediction_format = options.prediction_format
    if prediction_format is None:
        prediction_format = "jsonl" if (options.output_file or "").endswith(".jsonl") else "tsv"
    return dataclasses.replace(
        defaults, predict_file=options.predict_file, do_predict=True, file_format=options.file_format,
        skip_invalid_rows=options.skip_invalid_rows, predict_batch_size=options.predict_batch_size,
        prediction_format=prediction_format, do_lower_case=options.do_lower_case, **settings,
    )


def _check(options, fopts):
    if not options.predict_file:
        raise ValueError("--predict_file is required")
    if isinstance(fopts.predict_batch_size, bool) or not isinstance(fopts.predict_batch_size, int) or (
            fopts.predict_batch_size < 1):
        raise ValueError(f"--predict_batch_size={fopts.predict_batch_size!r}: must be an int >= 1")
    if fopts.prediction_format not in ("tsv", "jsonl"):
        raise ValueError(f"--prediction_format={fopts.prediction_format!r}: tsv or jsonl")
    if fopts.task in ("classification", "regression", "multiple_choice") and fopts.text_a_column is None:
        raise ValueError(f"--text_a_column: task.json has none for this {fopts.task} model; give it "
                         "(a header name or a 0-based index)")
    if fopts.task == "multiple_choice" and not fopts.choice_columns:
        raise ValueError("--choice_columns: task.json has none for this multiple_choice model; give it")
    finetuning.check_long_text_options(fopts)


def load_model(output_dir, task_info, config, options):
    """The fine-tuned model of `output_dir`: `best/model` (the checkpoint
    `run_finetuning` keeps and predicts with), else `model.keras`.

    `model.keras` is loaded in Keras' safe mode (`safe_mode=True`, said
    explicitly): a file that would need Python code to rebuild -- a
    `Lambda` layer's lambda, a function or class from outside Keras -- is
    refused, and its code never runs.

    Raises:
      ValueError: naming both paths when neither exists; naming
        `model.keras` when it cannot be loaded (refused by safe mode, not a
        Keras file, ...).
    """
    prefix = os.path.join(output_dir, finetuning.BEST_DIR, "model")
    keras_file = os.path.join(output_dir, finetuning.KERAS_FILE)
    if os.path.exists(prefix + ".index"):
        model = finetuning.build_model(task_info["task"], config, task_info, options)
        status = tf.train.Checkpoint(model=model).read(prefix)
        status.assert_existing_objects_matched()
        status.expect_partial()
        return model
    if os.path.exists(keras_file):
        try:
            return keras.saving.load_model(keras_file, compile=False, safe_mode=True)
        except Exception as e:  # ValueError, TypeError, BadZipFile ... from a file of unknown origin.
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise ValueError(f"{keras_file}: cannot load it ({type(e).__name__}: {reason})") from None
    raise ValueError(f"no model in {output_dir}: neither {prefix}.index nor {keras_file} exists "
                     "(was it trained with --do_train?)")


def run_predict(options):
    """Runs `keras-bert predict`; returns the path of the predictions file."""
    task_info = read_task_info(options.output_dir)
    fopts = finetuning_options(options, task_info)
    _check(options, fopts)
    config = BertConfig.load(_required(os.path.join(options.output_dir, initialization.MODEL_CONFIG_FILE),
                                       "the model config"))
    vocab_file = _required(os.path.join(options.output_dir, finetuning.VOCAB_FILE), "the vocabulary")
    if fopts.max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={fopts.max_seq_length} is above the model's "
                         f"max_position_embeddings={config.max_position_embeddings}")
    lowercase = task_info.get("lowercase", True) if options.do_lower_case is None else options.do_lower_case
    preprocessor = BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=fopts.max_seq_length)
    finetuning.prediction_path(fopts, options.output_file)  # A bad --output_file fails before any work.
    inputs = finetuning.prediction_inputs(fopts, preprocessor, task_info)  # Bad rows fail here.
    model = load_model(options.output_dir, task_info, config, fopts)
    return finetuning.run_prediction(model, inputs, task_info, fopts, output_file=options.output_file)
