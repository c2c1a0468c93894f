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
`eval_results.txt`; each checkpoint's dev scores also go to TensorBoard's
`eval/`, and a training run ends by drawing `output_dir/curves.png` (training
loss, learning rate, each dev metric: `keras_bert.trainers.engine.curves`).
`do_predict` writes `predictions.tsv` or `.jsonl` (`run_prediction`, which
`keras-bert predict` runs too). Under a mixed
policy (`--mixed_precision`, `auto` picks by device: the run prints which and
why, task.json keeps it) the dev scores during training come from the model
training in bf16/fp16; the final scores, predictions and `model.keras`
from a float32 copy of the kept model, as `predict` and the export compute.

Long texts (classification, regression): with `long_text_stride` > 0,
evaluation and prediction cut `text_a` into overlapping windows of
wordpieces and pool the windows' logits (`long_text_pooling`: mean or
max; see `keras_bert.trainers.data.long_text`). Training always sees the first window
(the text truncated to `max_seq_length`).

`output_dir` then holds everything `keras-bert predict` (and the export)
need, as `keras_bert.trainers.run_dir` lays it out. What differs between
the families is asked of `keras_bert.trainers.tasks`.
"""


import math
import os

import numpy as np
import tensorflow as tf

from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers import run_dir
from keras_bert.trainers import tasks
from keras_bert.trainers.data import packing
from keras_bert.trainers.engine import curves
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import dynamic_padding
from keras_bert.trainers.engine import initialization
from keras_bert.trainers.engine import optimization
from keras_bert.trainers.engine import training_loop
from keras_bert.trainers.programs import prediction
from keras_bert.trainers.programs.options import PREDICTION_FORMATS
from keras_bert.trainers.programs.options import FinetuningOptions  # noqa: F401 (what run_finetuning takes)


def check_options(options):
    """Raises ValueError naming the flag, for every contradiction found before any work."""
    task = tasks.get(options.task)
    if not options.output_dir:
        raise ValueError("--output_dir is required")
    if not (options.do_train or options.do_eval or options.do_predict):
        raise ValueError("at least one of --do_train, --do_eval and --do_predict must be set")
    for flag, needed in (("train_file", options.do_train), ("eval_file", options.do_eval),
                         ("predict_file", options.do_predict)):
        if needed and not getattr(options, flag):
            raise ValueError(f"--do_{flag.split('_')[0]} needs --{flag}")
    task.check_options(options, training=options.do_train or options.do_eval)
    if options.num_train_epochs <= 0:
        raise ValueError(f"--num_train_epochs={options.num_train_epochs}: must be > 0")
    if not 0.0 <= options.warmup_proportion < 1.0:
        raise ValueError(f"--warmup_proportion={options.warmup_proportion}: must be in [0, 1)")
    if not 0.0 < options.layerwise_lr_decay <= 1.0:
        raise ValueError(f"--layerwise_lr_decay={options.layerwise_lr_decay}: must be in (0, 1]")
    if options.prediction_format not in PREDICTION_FORMATS:
        raise ValueError(f"--prediction_format={options.prediction_format!r}: tsv or jsonl")
    if options.max_seq_length < 2:
        raise ValueError(f"--max_seq_length={options.max_seq_length}: must be >= 2")
    if not options.init_checkpoint:
        print("warning: no --init_checkpoint: the encoder starts from random weights", flush=True)


def evaluate(model, task, dev, task_info, options):
    """Dev scores of `model` (a dict of floats)."""
    outputs = task.predict(model, dev, options.eval_batch_size, options.packed_sequences_per_row)
    return task.score(outputs, dev["features"], task_info, dev["extras"], options)


def _evaluate_and_keep_best(model, task, dev, task_info, options, best, step):
    """Scores the dev set at `step`, keeps the model in best/ when it beats
    `best`; returns (the new best, the scores)."""
    results = evaluate(model, task, dev, task_info, options)
    metric = task_info["best_metric"]
    if metric not in results:
        raise ValueError(f"--best_metric={metric!r}: the {task.name} scores are {', '.join(sorted(results))}")
    line = " ".join(f"{k}={v:.4f}" for k, v in results.items())
    improved = best is None or results[metric] > best["results"][metric]
    print(f"dev at step {step}: {line}{'  (best so far)' if improved else ''}", flush=True)
    if improved:
        run_dir.save_best(options.output_dir, model, results, step)
        best = {"step": step, "results": results}
    return best, results


def run_finetuning(options):
    """Runs the program; returns a dict with `train`, `eval`, `predict` entries."""
    check_options(options)
    # The strategy first: multi-worker collectives must be set up before any
    # TensorFlow op (the tokenizer's tables) starts the runtime.
    strategy = distribution.get_strategy(options.distribution_strategy, tpu_address=options.tpu,
                                         num_gpus=options.num_gpus)
    precision, precision_reason = distribution.resolve_precision(options.mixed_precision, strategy,
                                                                  jit_compile=options.jit_compile)
    print(f"precision: {precision} ({precision_reason})", flush=True)
    training_loop.make_reproducible(options.random_seed, options.deterministic)
    vocab_file, lowercase = initialization.resolve_vocabulary(options.vocab_file, options.do_lower_case,
                                                              options.init_checkpoint)
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
    task = tasks.get(options.task)
    task_path = run_dir.path(options.output_dir, run_dir.TASK_FILE)
    trained_before = tf.io.gfile.exists(task_path)
    if trained_before:  # A model trained here before: its labels and casing.
        task_info = run_dir.read_task_file(task_path)
        if options.do_lower_case is None and task_info.get("lowercase", lowercase) != lowercase:
            lowercase = bool(task_info["lowercase"])
            preprocessor = BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=options.max_seq_length)
    else:
        task_info = {
            "task": options.task,
            "label_list": options.label_list.split(",") if options.label_list else None,
            "max_seq_length": options.max_seq_length, "lowercase": lowercase,
            "best_metric": options.best_metric or task.default_metric,
        }
    if task_info["task"] != options.task:
        raise ValueError(f"--output_dir={options.output_dir} holds a {task_info['task']} model, not {options.task}")
    for key in run_dir.PREDICTION_SETTINGS:  # What `keras-bert predict` uses: this training run's.
        if options.do_train or key not in task_info:
            task_info[key] = getattr(options, key)
    if options.do_train:
        task_info.update(mixed_precision=precision, mixed_precision_reason=precision_reason)

    # Read everything first: bad data fails before any training.
    train = dev = test = None
    train_data = task.read(options, options.train_file, task_info, True) if options.do_train else None
    dev_data = task.read(options, options.eval_file, task_info, True) if options.do_eval else None
    labels_from = task_path if trained_before else "--label_list"
    if task.labelled and task_info["label_list"] is None:
        # The labels seen in the labelled files (a dev set may hold a rare
        # one the training slice lacks), sorted.
        labelled = (train_data or []) + (dev_data or [])
        if labelled:
            task_info["label_list"] = task.collect_labels(labelled)
            labels_from = " and ".join(f for f in (options.train_file if train_data else None,
                                                   options.eval_file if dev_data else None) if f)
    init_head = initialization.init_task_head(options.init_checkpoint)
    if init_head is not None:  # A model fine-tuned elsewhere: its head goes on training.
        task_info["label_list"] = initialization.agree_with_task_head(
            init_head, task, task_info["label_list"], options.init_checkpoint, labels_from)
    if task.labelled and not task_info["label_list"]:
        raise ValueError("no labels: give --label_list, or labelled --train_file/--eval_file")
    if train_data is not None:
        features, extras = task.features(train_data, preprocessor, task_info, True, options, is_training=True)
        train = {"data": train_data, "features": features, "extras": extras}
    if dev_data is not None:
        features, extras = task.features(dev_data, preprocessor, task_info, True, options)
        dev = {"data": dev_data, "features": features, "extras": extras}
    if options.do_predict:
        test = prediction.prediction_inputs(task, options, preprocessor, task_info)

    tf.io.gfile.makedirs(options.output_dir)
    chief = distribution.is_chief(strategy)
    if chief:
        config.save(run_dir.path(options.output_dir, run_dir.MODEL_CONFIG_FILE))
        run_vocab = run_dir.path(options.output_dir, run_dir.VOCAB_FILE)
        if not _same_file(vocab_file, run_vocab):
            tf.io.gfile.copy(vocab_file, run_vocab, overwrite=True)
        run_dir.write_task_info(options.output_dir, task_info)

    num_examples = len(train["features"]["input_mask"]) if train else 0
    packed_rows = _packed_epochs(task, train["features"], options) if options.do_train and options.packing else None
    # Items per epoch: examples, or with --packing rows (the batch counts rows).
    per_epoch = packed_rows["rows_per_epoch"] if packed_rows else num_examples
    steps_per_epoch = max(1, per_epoch // options.train_batch_size)
    num_train_steps = max(1, int(math.ceil(options.num_train_epochs * per_epoch / options.train_batch_size)))
    num_warmup_steps = int(num_train_steps * options.warmup_proportion)
    save_steps = options.save_checkpoints_steps or steps_per_epoch
    num_layers = config.num_layers

    def optimizer_fn():
        return optimization.create_optimizer(
            options.optimizer, options.learning_rate, num_train_steps, num_warmup_steps,
            weight_decay_rate=options.weight_decay_rate, layerwise_lr_decay=options.layerwise_lr_decay,
            num_layers=num_layers,
        )

    def model_fn():
        return task.build_model(config, task_info, dropout=options.dropout, train_encoder=options.train_encoder,
                                max_sequences_per_row=options.packed_sequences_per_row)

    trainer = training_loop.Trainer(
        strategy,
        model_fn=model_fn,
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
        batch_unit="rows" if options.packing else "examples",
    )
    model = trainer.model
    results = {}
    init_fn = initialization.make_init_fn(options.init_checkpoint, config, task_head=init_head is not None)
    run_dir.recover_best(options.output_dir)  # A run stopped while replacing best/.
    best = None
    saved = run_dir.read_best_results(options.output_dir)
    if saved is not None:
        best = {"step": saved.pop("global_step"), "results": saved}
    if options.do_train:
        if packed_rows:
            dataset_fn = _packed_dataset_fn(packed_rows["features"], options)
        else:
            dataset_fn = _train_dataset_fn(train["features"], strategy, options, preprocessor)
        unit = f"packed rows ({packed_rows['summary']})" if packed_rows else ""
        print(f"fine-tuning ({options.task}) on {num_examples} examples: {num_train_steps} steps of "
              f"{options.train_batch_size}{' ' + unit if unit else ''}, {precision}, "
              f"{strategy.num_replicas_in_sync} replica(s)", flush=True)
        evaluated = set()  # Steps whose checkpoint was scored on the dev set, inside the training loop.

        def evaluate_checkpoint(step):
            nonlocal best
            if dev is not None:
                best, scores = _evaluate_and_keep_best(model, task, dev, task_info, options, best, step)
                evaluated.add(step)
                if chief:  # The dev curves: TensorBoard's eval/ (and curves.png).
                    trainer.write_scalars("eval", step, scores)

        outcome = trainer.train(dataset_fn, num_train_steps, init_fn=init_fn, on_checkpoint=evaluate_checkpoint)
        if outcome["preempted"]:
            results["train"] = outcome
            return results
        if outcome["global_step"] not in evaluated:  # Resumed at the end: the last model not yet scored here.
            evaluate_checkpoint(outcome["global_step"])
        results["train"] = outcome
        if dev is None:  # No dev set: the final model is the one kept.
            tf.train.Checkpoint(model=model).write(run_dir.path(options.output_dir, run_dir.BEST_DIR,
                                                                run_dir.BEST_MODEL))
    else:
        if run_dir.has_best_model(options.output_dir):
            run_dir.restore_best(options.output_dir, model)
        elif init_fn is not None:
            init_fn(model)
    if options.do_train and run_dir.has_best_model(options.output_dir):
        run_dir.restore_best(options.output_dir, model)
    if precision != "float32":
        # The final scores, the predictions and model.keras from a float32
        # copy: what `keras-bert predict` and the export compute.
        with distribution.dtype_policy("float32"):
            copy = model_fn()
        copy.set_weights(model.get_weights())
        model = copy
    if options.do_eval:
        scores = evaluate(model, task, dev, task_info, options)
        step = best["step"] if best else int(trainer.global_step.numpy())
        results["eval"] = {"global_step": step, **scores}
        if chief:
            training_loop.write_eval_results(
                run_dir.path(options.output_dir, run_dir.EVAL_RESULTS_FILE),
                {"global_step": step, **{f"eval_{k}": v for k, v in scores.items()}},
            )
    if options.do_predict:
        results["predict"] = prediction.run_prediction(task, model, test, task_info, options, write=chief)
    if options.do_train and chief:
        run_dir.save_keras_file(options.output_dir, model)
        drawn = curves.write_curves(options.output_dir, title=f"keras-bert finetune ({options.task}): "
                                    f"{options.output_dir}", eval_label="dev")
        if drawn:
            print(f"training curves: {drawn}", flush=True)
    return results


def _same_file(a, b):
    """Whether two paths name one file (local paths compared resolved; URLs as written)."""
    if "://" in a or "://" in b:
        return a == b
    return os.path.abspath(a) == os.path.abspath(b)




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


def _packed_epochs(task, features, options):
    """Training rows for `--packing`: for each epoch, the examples in a new
    seeded order, packed (`data/packing.py`: first-fit decreasing within
    windows of that order), the rows shuffled with the seed, all epochs'
    rows one after another.

    Returns:
      dict: `features` (numpy `[rows, ...]`: the inputs and per-token
      features `[rows, seq]`, per-example ones and `sequence_mask` `[rows,
      P]`), `rows_per_epoch` (the mean) and a `summary` line.
    """
    lengths = (features["input_mask"] > 0).sum(axis=-1)
    num_epochs = max(1, int(math.ceil(options.num_train_epochs)))
    rng = np.random.default_rng(options.random_seed)
    parts, counts = [], []
    for _ in range(num_epochs):
        order = rng.permutation(len(lengths))
        rows = [[int(order[i]) for i in row] for row in
                packing.pack_rows(lengths[order], options.max_seq_length, options.max_sequences_per_row)]
        # First-fit decreasing leaves each window's rows sorted from the
        # fewest (longest) examples to the most (shortest): batches taken in
        # that order would hold 12 to 84 examples, the short ones together,
        # which cost ~15 points of SST-2 accuracy. The rows go in a seeded
        # random order, so each batch's composition is random again.
        rows = [rows[i] for i in rng.permutation(len(rows))]
        packed = packing.pack_features(features, rows, options.max_seq_length, options.max_sequences_per_row,
                                       token_features=task.token_features)
        packed.pop("example_index")
        parts.append(packed)
        counts.append(len(rows))
    rows_per_epoch = int(round(np.mean(counts)))
    efficiency = packing.packing_efficiency(lengths, range(rows_per_epoch), options.max_seq_length)
    summary = (f"{rows_per_epoch} rows of {options.max_seq_length} an epoch, up to {options.max_sequences_per_row} "
               f"examples each, {efficiency:.1%} of the tokens real")
    return {"features": {name: np.concatenate([part[name] for part in parts]) for name in parts[0]},
            "rows_per_epoch": rows_per_epoch, "summary": summary}


def _packed_dataset_fn(rows, options):
    """Batches of packed rows, one static shape `[batch, max_seq_length]`; the
    rows' order is already seeded per epoch, and the iterator's position is
    saved with the checkpoints like any `tf.data` input's."""

    def dataset_fn(input_context):
        batch_size = input_context.get_per_replica_batch_size(options.train_batch_size)
        dataset = tf.data.Dataset.from_tensor_slices(rows)
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id).repeat()
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    return dataset_fn
