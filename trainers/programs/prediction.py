"""`keras-bert predict`: a fine-tuned model's predictions, from its `keras-bert finetune` output_dir.

`run_predict(options)` loads what `run_finetuning` left in `output_dir`
(`keras_bert.trainers.run_dir`: task.json, model_config.json, vocab.txt,
`best/model` or `model.keras`) and runs `prediction_inputs` and
`run_prediction`, the code `keras-bert finetune --do_predict` runs, so both
give the same predictions for the same file and settings. Every setting of
`PredictOptions` left None is taken from task.json. The model computes in
float32 whatever `--mixed_precision` it trained under (`run_dir.load_model`).
"""

import dataclasses

import tensorflow as tf

from keras_bert.trainers import run_dir
from keras_bert.trainers import tasks
from keras_bert.trainers.programs.options import PREDICTION_FORMATS
from keras_bert.trainers.programs.options import FinetuningOptions
from keras_bert.trainers.programs.options import PredictOptions  # noqa: F401 (what run_predict takes)


def prediction_inputs(task, options, preprocessor, task_info):
    """`options.predict_file` read and made into features.

    Returns:
      dict `data` (the examples), `features`, `extras` (`task.features`).

    Raises:
      ValueError: "path:line: ..." for a malformed row, as `task.read`.
    """
    data = task.read(options, options.predict_file, task_info, with_labels=False)
    features, extras = task.features(data, preprocessor, task_info, False, options)
    return {"data": data, "features": features, "extras": extras}


def run_prediction(task, model, inputs, task_info, options, output_file=None, write=True):
    """Predicts `inputs` with `model` and writes the predictions.

    `keras-bert finetune --do_predict` and `keras-bert predict` both run
    this. Every file is written under a temporary name in its directory and
    renamed: there is never a half-written predictions file.

    Args:
      task: the family (`tasks.TASKS[...]`).
      model: the task model, weights loaded.
      inputs: from `prediction_inputs`.
      task_info: the contents of task.json (labels).
      options: `FinetuningOptions` (batch size, format, SQuAD settings).
      output_file: where to write (default: the family's file in `options.output_dir`).
      write: False computes without writing (non-chief workers).

    Returns:
      str, the path of the predictions file.
    """
    path = task.prediction_path(options.output_dir, options.prediction_format, output_file)
    outputs = task.predict(model, inputs, options.predict_batch_size, options.packed_sequences_per_row)
    if not write:
        return path
    directory = path.rsplit("/", 1)[0] if "/" in path else ""
    if directory:
        tf.io.gfile.makedirs(directory)
    print(task.write_predictions(path, inputs, outputs, task_info, options), flush=True)
    return path


def finetuning_options(options, task_info):
    """The `FinetuningOptions` of a predict-only run: task.json's settings, overridden by `options`."""
    defaults = FinetuningOptions(task=task_info["task"], output_dir=options.output_dir)
    settings = {key: task_info.get(key, getattr(defaults, key)) for key in run_dir.PREDICTION_SETTINGS}
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
    if fopts.prediction_format not in PREDICTION_FORMATS:
        raise ValueError(f"--prediction_format={fopts.prediction_format!r}: tsv or jsonl")
    try:
        tasks.get(fopts.task).check_options(fopts, training=False)
    except ValueError as e:
        if "needs --" not in str(e):  # A bad flag value, not a setting the training run did not record.
            raise
        raise ValueError(f"{e} (task.json of {options.output_dir} has none: give it)") from None


def run_predict(options):
    """Runs `keras-bert predict`; returns the path of the predictions file."""
    task_info = run_dir.read_task_info(options.output_dir)
    task = tasks.get(task_info["task"], run_dir.TASK_FILE)
    fopts = finetuning_options(options, task_info)
    _check(options, fopts)
    config = run_dir.read_config(options.output_dir)
    if fopts.max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={fopts.max_seq_length} is above the model's "
                         f"max_position_embeddings={config.max_position_embeddings}")
    preprocessor = run_dir.make_preprocessor(options.output_dir, task_info, seq_length=fopts.max_seq_length,
                                             lowercase=options.do_lower_case)
    task.prediction_path(options.output_dir, fopts.prediction_format, options.output_file)  # Fails before work.
    inputs = prediction_inputs(task, fopts, preprocessor, task_info)  # Bad rows fail here.
    model = run_dir.load_model(options.output_dir, task_info, config, fopts.packed_sequences_per_row)
    return run_prediction(task, model, inputs, task_info, fopts, output_file=options.output_file)

