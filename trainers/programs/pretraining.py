"""The pretraining program: masked LM + next sentence prediction.

`run_pretraining(options)` is what `keras-bert pretrain` runs (and what
tests and the quickstart call directly): check everything that can be
checked before work starts, choose the strategy and precision, build a
`keras_bert.BertPretrainer` (fresh, or from `init_checkpoint`: an original
or Hugging Face checkpoint with its heads, or a checkpoint of an earlier
run of this program, e.g. phase 1 of two-phase training at 128 tokens
before phase 2 at 512), train with `keras_bert.trainers.engine.training_loop.Trainer` on the
TFRecords of `create-pretraining-data` (or of google-research/bert; or
packed rows of `create-pretraining-data --pack` with `max_sequences_per_row`,
the batch then counting rows), resume
from `output_dir` when it already holds checkpoints, evaluate into
`eval_results.txt` (with `eval_every_checkpoint`, also after every
checkpoint: the held-out curves, in `eval_history.jsonl` and TensorBoard's
`eval/`) and save the final model as pretrained checkpoints. A training run
ends by drawing its curves (`keras_bert.trainers.engine.curves`) into
`output_dir/curves.png`: masked LM loss and accuracy, next-sentence accuracy
and the learning rate, with the held-out scores as points.

Precision: `--mixed_precision` (`auto` picks by device,
`keras_bert.trainers.engine.distribution`); the run prints which policy
and why, and a training run records both in `output_dir/run_info.json`
(`mixed_precision`, `mixed_precision_reason`). Variables, checkpoints and
the saved pretrained model are float32 under every policy.
"""

import contextlib
import dataclasses
import json
import os

import tensorflow as tf

from keras_bert import io
from keras_bert.checkpoints import pretrained as pretrained_lib
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_pretrainer import BertPretrainer
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.text.bert_preprocessor import read_vocabulary
from keras_bert.trainers.data import packing
from keras_bert.trainers.data import pretraining_data
from keras_bert.trainers.data import pretraining_input
from keras_bert.trainers.engine import checkpointing
from keras_bert.trainers.engine import curves
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import initialization
from keras_bert.trainers.engine import optimization
from keras_bert.trainers.engine import training_loop
from keras_bert.trainers.programs.options import PretrainingOptions  # noqa: F401 (what run_pretraining takes)

RUN_INFO_FILE = "run_info.json"  # The last training run's precision and why.

SAVE_FORMATS = ("hf", "original")


def check_options(options, config):
    """Raises ValueError (naming the flag) for every contradiction found up front."""
    if not options.output_dir:
        raise ValueError("--output_dir is required")
    if not (options.do_train or options.do_eval):
        raise ValueError("at least one of --do_train and --do_eval must be set")
    if not options.input_file:
        raise ValueError("--input_file is required")
    if options.max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"--max_seq_length={options.max_seq_length} is above the model's "
            f"max_position_embeddings={config.max_position_embeddings}"
        )
    if options.max_seq_length < 5:
        raise ValueError(f"--max_seq_length={options.max_seq_length}: must be >= 5")
    if not 1 <= options.max_predictions_per_seq <= options.max_seq_length - 3:
        raise ValueError(
            f"--max_predictions_per_seq={options.max_predictions_per_seq}: must be in "
            f"[1, max_seq_length - 3 = {options.max_seq_length - 3}] (a sequence holds "
            "[CLS] and two [SEP] that are never predicted)"
        )
    for name in ("train_batch_size", "eval_batch_size", "num_train_steps", "save_checkpoints_steps",
                 "keep_checkpoint_max", "steps_per_execution", "max_eval_steps", "log_steps",
                 "gradient_accumulation_steps"):
        if getattr(options, name) < 1:
            raise ValueError(f"--{name}={getattr(options, name)}: must be >= 1")
    if not 0 <= options.num_warmup_steps <= options.num_train_steps:
        raise ValueError(
            f"--num_warmup_steps={options.num_warmup_steps}: must be in [0, "
            f"--num_train_steps={options.num_train_steps}]"
        )
    if options.learning_rate <= 0:
        raise ValueError(f"--learning_rate={options.learning_rate}: must be > 0")
    if options.optimizer not in optimization.OPTIMIZERS:
        raise ValueError(f"--optimizer={options.optimizer!r}: must be one of {', '.join(optimization.OPTIMIZERS)}")
    if options.train_batch_size % options.gradient_accumulation_steps:
        raise ValueError(
            f"--train_batch_size={options.train_batch_size} must divide by "
            f"--gradient_accumulation_steps={options.gradient_accumulation_steps}"
        )
    if not 0.0 < options.masked_lm_prob <= 1.0:
        raise ValueError(f"--masked_lm_prob={options.masked_lm_prob}: must be in (0, 1]")
    if options.max_sequences_per_row is not None:
        packing.check_max_sequences_per_row_flag(options.max_sequences_per_row)
    if options.dynamic_masking and not options.vocab_file:
        raise ValueError("--dynamic_masking needs --vocab_file (the [CLS]/[SEP]/[MASK] ids and ## pieces)")
    if options.do_whole_word_mask and not options.dynamic_masking:
        raise ValueError(
            "--do_whole_word_mask applies to --dynamic_masking here; for offline data give it "
            "to create-pretraining-data"
        )
    for name in save_formats(options):
        if name not in SAVE_FORMATS:
            raise ValueError(
                f"--save_pretrained_format={options.save_pretrained_format!r}: a comma-separated "
                f"list of {', '.join(SAVE_FORMATS)}, or 'none'"
            )
    if options.vocab_file:
        vocab_size = len(read_vocabulary(options.vocab_file))  # No TF op: see run_pretraining.
        if vocab_size != config.vocab_size:
            raise ValueError(
                f"--vocab_file={options.vocab_file} has {vocab_size} entries but the model's "
                f"vocab_size is {config.vocab_size}"
            )


def save_formats(options):
    value = (options.save_pretrained_format or "none").strip()
    if value == "none":
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def record_lengths(options):
    """`(max_seq_length, masked LM entries, max_sequences_per_row)` of the
    input records: the original format's (`None` sequences per row), or
    packed rows' (`max_predictions_per_row` as create-pretraining-data
    computes it)."""
    if options.max_sequences_per_row is None:
        return options.max_seq_length, options.max_predictions_per_seq, None
    return (options.max_seq_length,
            pretraining_data.max_predictions_per_row(options.max_seq_length, options.max_sequences_per_row,
                                                     options.max_predictions_per_seq, options.masked_lm_prob),
            options.max_sequences_per_row)


def model_features(features):
    """Original TFRecord feature names -> `BertPretrainer` input names
    (packed rows: `sequence_mask` as well)."""
    renamed = {
        "input_word_ids": features["input_ids"],
        "input_mask": features["input_mask"],
        "input_type_ids": features["segment_ids"],
        "masked_lm_positions": features["masked_lm_positions"],
        "masked_lm_ids": features["masked_lm_ids"],
        "masked_lm_weights": features["masked_lm_weights"],
        "next_sentence_labels": features["next_sentence_labels"],
    }
    if "sequence_mask" in features:
        renamed["sequence_mask"] = features["sequence_mask"]
    return renamed


def make_dataset_fn(options, scanned_files, global_batch_size, is_training, masking):
    """`dataset_fn(input_context)` over files scanned by `scan_pretraining_files`."""

    def dataset_fn(input_context):
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        max_seq_length, max_predictions, max_sequences_per_row = record_lengths(options)
        dataset = pretraining_input.pretraining_dataset(
            scanned_files[0],
            batch_size,
            max_seq_length,
            max_predictions,
            max_sequences_per_row=max_sequences_per_row,
            is_training=is_training,
            input_context=input_context,
            seed=options.random_seed,
            dynamic_masking=masking,
            shuffle_buffer_size=options.shuffle_buffer_size,
            scanned_files=scanned_files,
        )
        return dataset.map(model_features)

    return dataset_fn


def _masking(options, config):
    if not options.dynamic_masking:
        return None
    preprocessor = BertPreprocessor(options.vocab_file, lowercase=options.do_lower_case, seq_length=8)
    is_continuation = None
    if options.do_whole_word_mask:
        is_continuation = [t.startswith("##") for t in preprocessor.vocabulary]
    return pretraining_input.dynamic_masking_fn(
        vocab_size=config.vocab_size,
        cls_id=preprocessor.cls_id,
        sep_id=preprocessor.sep_id,
        mask_id=preprocessor.mask_id,
        max_predictions_per_seq=options.max_predictions_per_seq,
        masked_lm_prob=options.masked_lm_prob,
        is_continuation=is_continuation,
        seed=options.random_seed,
    )


def run_pretraining(options):
    """Runs the program; returns a dict with `train` and `eval` results.

    Raises:
      ValueError: for bad options or input files, before any training.
      keras_bert.trainers.engine.training_loop.TrainingError: when the loss diverges (NonFiniteLossError),
        every checkpoint is damaged, or a worker of the cluster is lost.
    """
    config = initialization.resolve_config(
        options.bert_config_file, options.bert_config_preset, options.vocab_file, options.init_checkpoint
    )
    check_options(options, config)
    # The strategy first: multi-worker collectives must be set up before any
    # TensorFlow op (reading the input files runs some) starts the runtime.
    strategy = distribution.get_strategy(
        options.distribution_strategy, tpu_address=options.tpu, num_gpus=options.num_gpus
    )
    precision, precision_reason = distribution.resolve_precision(options.mixed_precision, strategy,
                                                                  jit_compile=options.jit_compile)
    print(f"precision: {precision} ({precision_reason})", flush=True)
    training_loop.make_reproducible(options.random_seed, options.deterministic)
    train_files = pretraining_input.scan_pretraining_files(options.input_file, *record_lengths(options))
    eval_files = train_files
    if options.do_eval and options.eval_input_file:
        eval_files = pretraining_input.scan_pretraining_files(options.eval_input_file, *record_lengths(options))
    init_fn = initialization.make_init_fn(options.init_checkpoint, config, heads=True)
    tf.io.gfile.makedirs(options.output_dir)
    if distribution.is_chief(strategy):
        config.save(os.path.join(options.output_dir, initialization.MODEL_CONFIG_FILE))
        if options.do_train:
            io.write_json(os.path.join(options.output_dir, RUN_INFO_FILE),
                          {"mixed_precision": precision, "mixed_precision_reason": precision_reason})
    trainer = training_loop.Trainer(
        strategy,
        model_fn=lambda: BertPretrainer(BertEncoder(config, max_sequences_per_row=options.max_sequences_per_row)),
        optimizer_fn=lambda: optimization.create_optimizer(
            options.optimizer,
            options.learning_rate,
            options.num_train_steps,
            options.num_warmup_steps,
            weight_decay_rate=options.weight_decay_rate,
            end_learning_rate=options.end_learning_rate,
            power=options.lr_decay_power,
        ),
        output_dir=options.output_dir,
        global_batch_size=options.train_batch_size,
        precision=precision,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        steps_per_execution=options.steps_per_execution,
        jit_compile=options.jit_compile,
        clip_norm=options.clip_norm or None,
        save_checkpoints_steps=options.save_checkpoints_steps,
        keep_checkpoint_max=options.keep_checkpoint_max,
        log_steps=options.log_steps,
        batch_unit="examples" if options.max_sequences_per_row is None else "rows",
    )
    masking = _masking(options, config)
    with _naming_corrupt_shards(train_files[0] + (eval_files[0] if options.do_eval else []), options.output_dir):
        return _train_and_evaluate(options, config, strategy, precision, trainer, init_fn, masking, train_files,
                                   eval_files)


@contextlib.contextmanager
def _naming_corrupt_shards(files, output_dir):
    """Turns a damaged record body met during training or evaluation into a
    ValueError naming the shard, the offset and the checkpoint to resume from."""
    try:
        yield
    except tf.errors.DataLossError as e:
        found = pretraining_input.find_corrupt_record(files)
        where = f"{found[0]}: {checkpointing.error_summary(found[1])}" if found else checkpointing.error_summary(e)
        latest = checkpointing.checkpoint_candidates(output_dir)
        resume = f"checkpoints up to {latest[0]} are intact" if latest else "no checkpoint was written"
        raise ValueError(f"a damaged input record: {where}; {resume}. Replace or leave out the file "
                         "and run again to resume.") from None


# The panels of curves.png: the training values, and the held-out ones where evaluated.
CURVES = ("masked_lm_loss", "masked_lm_accuracy", "next_sentence_accuracy", "learning_rate")

EVAL_HISTORY_FILE = "eval_history.jsonl"  # One line per evaluation: global_step and the scores.


def _evaluate(options, strategy, trainer, masking, eval_files):
    """Scores the eval files at the current step and records the scores:
    TensorBoard scalars (output_dir/eval) and a line of eval_history.jsonl
    (a step already there is replaced, so a resumed run does not count it
    twice). Returns the scores (with `global_step`, `eval_steps`)."""
    results = trainer.evaluate(
        make_dataset_fn(options, eval_files, options.eval_batch_size, False, masking),
        max_steps=options.max_eval_steps,
    )
    if distribution.is_chief(strategy):
        step = results["global_step"]
        trainer.write_scalars("eval", step, {k: v for k, v in results.items() if k not in ("global_step", "eval_steps")})
        history = [h for h in read_eval_history(options.output_dir) if h["global_step"] != step]
        with io.atomic_write(os.path.join(options.output_dir, EVAL_HISTORY_FILE)) as f:
            f.write("".join(json.dumps(h) + "\n" for h in history + [results]))
    return results


def read_eval_history(output_dir):
    """The evaluations `keras-bert pretrain` wrote to output_dir/eval_history.jsonl, in step order."""
    path = os.path.join(output_dir, EVAL_HISTORY_FILE)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        history = [json.loads(line) for line in f if line.strip()]
    return sorted(history, key=lambda h: h["global_step"])


def _format(results):
    return " ".join(f"{k} = {v}" for k, v in sorted(results.items()))


def _train_and_evaluate(options, config, strategy, precision, trainer, init_fn, masking, train_files, eval_files):
    results = {}
    latest = {}  # The newest evaluation made after a checkpoint.
    if options.do_train:
        print(
            f"pretraining {config.num_layers} layers x {config.hidden_size} on {strategy.num_replicas_in_sync} "
            f"replica(s), {precision}, batch {options.train_batch_size}"
            + ("" if options.max_sequences_per_row is None else
               f" packed rows of up to {options.max_sequences_per_row} sequences")
            + f", seq {options.max_seq_length}",
            flush=True,
        )
        on_checkpoint = None
        if options.do_eval and options.eval_every_checkpoint:
            def on_checkpoint(step):
                latest["eval"] = _evaluate(options, strategy, trainer, masking, eval_files)
                if distribution.is_chief(strategy):
                    print(f"eval at step {step}: " + _format(latest["eval"]), flush=True)

        results["train"] = trainer.train(
            make_dataset_fn(options, train_files, options.train_batch_size, True, masking),
            options.num_train_steps,
            init_fn=init_fn,
            on_checkpoint=on_checkpoint,
        )
        if results["train"]["preempted"]:
            return results
    elif trainer.restore(tf.train.Checkpoint(model=trainer.model, global_step=trainer.global_step)) is None:
        if init_fn is None:
            print("warning: no checkpoint in --output_dir and no --init_checkpoint: "
                  "evaluating randomly initialised weights", flush=True)
        else:
            init_fn(trainer.model)
    if options.do_eval:
        eval_results = latest.get("eval")  # The last checkpoint's, when it is the final step.
        if eval_results is None or eval_results["global_step"] != int(trainer.global_step.numpy()):
            eval_results = _evaluate(options, strategy, trainer, masking, eval_files)
        results["eval"] = eval_results
        if distribution.is_chief(strategy):
            training_loop.write_eval_results(os.path.join(options.output_dir, "eval_results.txt"), eval_results)
            print("eval: " + _format(eval_results), flush=True)
    if options.do_train and distribution.is_chief(strategy):
        for fmt in save_formats(options):
            path = os.path.join(options.output_dir, f"pretrained_{fmt}")
            pretrained_lib.save_checkpoint(
                path,
                trainer.model.encoder,
                output_format=fmt,
                masked_lm_head=trainer.model.masked_lm_head,
                next_sentence_head=trainer.model.next_sentence_head,
                vocab_file=options.vocab_file,
                lowercase=options.do_lower_case,
                overwrite=True,
            )
            print(f"saved the pretrained model ({fmt}) to {path}", flush=True)
        drawn = curves.write_curves(options.output_dir, CURVES, title=f"keras-bert pretrain: {options.output_dir}")
        if drawn:
            print(f"training curves: {drawn}", flush=True)
    return results
