"""`Trainer`: the one training engine for pretraining and fine-tuning.

A custom loop over a `tf.distribute` strategy (TPU, mirrored, multi-worker,
one device, default), in the manner of Model Garden's orbit trainers but
without their registries:

* the model and optimizer are built inside the strategy scope under the
  chosen dtype policy (`float32`, `mixed_bfloat16`, `mixed_float16` with
  dynamic loss scaling);
* data comes from `dataset_fn(input_context)`: per-replica batches, one
  input pipeline per worker (see `Trainer._make_iterator`);
* each train step normalises the loss by the weight sums of the *global*
  batch, accumulates gradients over `gradient_accumulation_steps`
  micro-batches, all-reduces, clips the global norm, applies the optimizer;
  the result equals one step on the whole batch on one device;
* `steps_per_execution` steps run inside one `tf.function` call; the
  gradient computation (or, on one replica, the whole step) can be
  XLA-compiled;
* checkpoints (model, optimizer, step, dropout seeds and the input
  iterator, so resuming continues with the next unseen batch and draws the
  same dropout masks) every `save_checkpoints_steps`, written atomically,
  keeping the last `keep_checkpoint_max` (`keras_bert.trainers.engine.checkpointing`); resume
  from the newest intact one on start (a damaged one is reported and set
  aside); never a checkpoint with non-finite weights; a checkpoint on
  SIGTERM (preemption) and a clean stop; a lost worker of a multi-worker
  cluster stops the job with `WorkerLostError`;
* TensorBoard scalars and a progress line with examples/s.

The model must provide the two-part loss of `keras_bert.models.BertTask`:
`loss_terms`, `accuracy_terms`, `loss_weights(features) -> {term: weights}`
(from labels only) and `item_losses(features, outputs) -> {term: (loss,
correct)}`. The loss is `sum over terms of sum(weights * loss) /
sum(weights)`, reported per term as `{term}_loss` (and `{term}_accuracy`).
"""

import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import keras
import tensorflow as tf

from keras_bert import io
from keras_bert.trainers.engine import checkpointing
from keras_bert.trainers.engine import distribution


class TrainingError(RuntimeError):
    """Training stopped for a reason the message explains (the CLIs print it
    and exit non-zero, without a traceback)."""


class NonFiniteLossError(TrainingError):
    """The training loss (or the weights) became NaN or infinite."""


class DamagedCheckpointsError(TrainingError):
    """Every checkpoint in the output directory is damaged."""


class WorkerLostError(TrainingError):
    """A worker of a multi-worker cluster died or stopped responding."""


# What a collective op raises when a peer is gone (aborted by the
# coordination service's heartbeat check, or unreachable).
_LOST_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.DeadlineExceededError,
    tf.errors.FailedPreconditionError,
)


class Trainer:
    """Trains a model that provides `loss_weights`/`item_losses` (see module).

    Args:
      strategy: a `tf.distribute.Strategy`.
      model_fn: `() -> keras.Model`, called inside the strategy scope under
        the dtype policy `precision`.
      optimizer_fn: `() -> keras.optimizers.Optimizer`, called inside the
        scope; wrapped in a `LossScaleOptimizer` for `mixed_float16`.
      output_dir: str, where checkpoints, `train/` summaries and results go.
      global_batch_size: int, examples (packed input: rows) per step over
        all replicas (and all micro-batches).
      precision: `float32`, `mixed_bfloat16` or `mixed_float16`.
      gradient_accumulation_steps: int >= 1, micro-batches per step; each
        replica's batch must divide by it.
      steps_per_execution: int >= 1, train steps per `tf.function` call.
      jit_compile: bool, XLA-compile the step (the whole step on one
        replica; the forward/backward pass under a multi-replica strategy,
        where the all-reduce stays outside XLA; TPUs compile everything).
      clip_norm: float or None, clip the global gradient norm to this.
      save_checkpoints_steps: int, checkpoint every this many steps.
      keep_checkpoint_max: int, how many checkpoints to keep.
      log_steps: int, print a progress line and write summaries this often.
      log_fn: `(str) -> None` for progress lines (default: stdout).
      batch_unit: str, what `global_batch_size` counts -- "examples", or
        "rows" for packed input -- in the throughput `{batch_unit}_per_second`
        (progress line and TensorBoard).
    """

    def __init__(
        self,
        strategy,
        model_fn,
        optimizer_fn,
        output_dir,
        global_batch_size,
        precision="float32",
        gradient_accumulation_steps=1,
        steps_per_execution=1,
        jit_compile=False,
        clip_norm=1.0,
        save_checkpoints_steps=1000,
        keep_checkpoint_max=5,
        log_steps=100,
        log_fn=None,
        batch_unit="examples",
    ):
        replicas = strategy.num_replicas_in_sync
        for name, value in (
            ("global_batch_size", global_batch_size),
            ("gradient_accumulation_steps", gradient_accumulation_steps),
            ("steps_per_execution", steps_per_execution),
            ("save_checkpoints_steps", save_checkpoints_steps),
            ("keep_checkpoint_max", keep_checkpoint_max),
            ("log_steps", log_steps),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if global_batch_size % (replicas * gradient_accumulation_steps):
            raise ValueError(
                f"global_batch_size={global_batch_size} must divide by the number of "
                f"replicas ({replicas}) times gradient_accumulation_steps "
                f"({gradient_accumulation_steps})."
            )
        if precision not in ("float32", "mixed_bfloat16", "mixed_float16"):
            raise ValueError(f"precision={precision!r}: must be float32, mixed_bfloat16 or mixed_float16")
        self.strategy = strategy
        self.output_dir = output_dir
        self.global_batch_size = global_batch_size
        self.batch_unit = batch_unit
        self.precision = precision
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit_compile
        self.clip_norm = clip_norm
        self.save_checkpoints_steps = save_checkpoints_steps
        self.keep_checkpoint_max = keep_checkpoint_max
        self.log_steps = log_steps
        self.log_fn = log_fn or _print
        self.is_chief = distribution.is_chief(strategy)

        with distribution.dtype_policy(precision), strategy.scope():
            self.model = model_fn()
            for attribute in ("loss_terms", "accuracy_terms", "loss_weights", "item_losses"):
                if not hasattr(self.model, attribute):
                    raise ValueError(
                        f"Trainer: the model ({type(self.model).__name__}) has no "
                        f"{attribute} (see keras_bert.trainers.engine.training_loop)."
                    )
            optimizer = optimizer_fn()
            if precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
            self.global_step = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="global_step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
        self._train_function = None
        self._eval_function = None
        self._writers = {}  # write_scalars' summary writers by name.
        self._stop_signal = None
        self._vote = None
        self._last_saved = None  # The checkpoint this Trainer wrote last (trusted on resume).

    # ------------------------------------------------------------------ steps

    def _loss_scale(self):
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return tf.cast(self.optimizer.dynamic_scale, tf.float32)
        return tf.constant(1.0, tf.float32)

    def _micro_batch(self, features, denominators, loss_scale, num_micro_batches):
        """Gradients of the (scaled) loss share of one micro-batch, and its sums."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(features, training=True)
            weights = self.model.loss_weights(features)
            loss = 0.0
            sums = {}
            for term, (item_loss, correct) in self.model.item_losses(features, outputs).items():
                w = weights[term]
                loss_sum = tf.reduce_sum(w * item_loss)
                loss += tf.math.divide_no_nan(loss_sum, denominators[term])
                sums[f"{term}_loss_sum"] = loss_sum
                if correct is not None:
                    sums[f"{term}_correct_sum"] = tf.reduce_sum(w * correct)
            if self.model.losses:  # Regularisers: once per global step.
                replicas = tf.distribute.get_replica_context().num_replicas_in_sync
                loss += tf.add_n(self.model.losses) / float(replicas * num_micro_batches)
            scaled_loss = tf.cast(loss, tf.float32) * loss_scale
        grads = tape.gradient(scaled_loss, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
        return grads, sums

    def _gradients(self, features, denominators, loss_scale):
        """Gradients summed over the micro-batches of this replica's batch."""
        k = self.gradient_accumulation_steps
        if k == 1:
            return self._micro_batch(features, denominators, loss_scale, 1)
        # Static batch size (drop_remainder); other dimensions may be dynamic.
        split = {
            name: tf.reshape(value, tf.concat([[k, value.shape[0] // k], tf.shape(value)[1:]], axis=0))
            for name, value in features.items()
        }
        grads, sums = self._micro_batch({n: v[0] for n, v in split.items()}, denominators, loss_scale, k)

        def body(i, grads, sums):
            more_grads, more_sums = self._micro_batch(
                {n: tf.gather(v, i) for n, v in split.items()}, denominators, loss_scale, k
            )
            grads = [a + b for a, b in zip(grads, more_grads)]
            sums = {n: sums[n] + more_sums[n] for n in sums}
            return i + 1, grads, sums

        _, grads, sums = tf.while_loop(lambda i, *_: i < k, body, (tf.constant(1), grads, sums))
        return grads, sums

    def _replica_train_step(self, features):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        weights = self.model.loss_weights(features)
        denominators = context.all_reduce(
            tf.distribute.ReduceOp.SUM, {t: tf.reduce_sum(w) for t, w in weights.items()}
        )
        loss_scale = self._loss_scale()
        grads, sums = self._gradients_fn(features, denominators, loss_scale)
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if self.clip_norm:
            # Clipping the scaled gradient at clip_norm * scale clips the
            # true gradient at clip_norm; a non-finite norm makes the
            # gradients NaN, which the loss-scale optimizer skips.
            grads, norm = tf.clip_by_global_norm(grads, self.clip_norm * loss_scale)
        else:
            norm = tf.linalg.global_norm(grads)
        if replicas > 1:
            # Keras's TF optimizer sums gradients over replicas inside
            # apply(); hand it each replica's equal share of the sum.
            grads = [g / float(replicas) for g in grads]
        self.optimizer.apply(grads, self.model.trainable_variables)
        sums = context.all_reduce(tf.distribute.ReduceOp.SUM, sums)
        for term, denominator in denominators.items():
            sums[f"{term}_weight_sum"] = denominator
        sums["gradient_norm_sum"] = norm / loss_scale
        return sums

    def _build_train_function(self):
        one_replica = self.strategy.num_replicas_in_sync == 1 and not distribution.is_tpu(self.strategy)
        self._gradients_fn = self._gradients
        replica_step = self._replica_train_step
        if self.jit_compile and one_replica:
            replica_step = tf.function(self._replica_train_step, jit_compile=True)
        elif self.jit_compile and not distribution.is_tpu(self.strategy):
            self._gradients_fn = tf.function(self._gradients, jit_compile=True)
        strategy = self.strategy
        global_step = self.global_step

        keys = [f"{t}_{s}" for t in self.model.loss_terms for s in ("loss_sum", "weight_sum")]
        keys += [f"{t}_correct_sum" for t in self.model.accuracy_terms]
        keys.append("gradient_norm_sum")

        next_batch = self._next_batch_fn()

        @tf.function
        def train_steps(iterator, num_steps):
            totals = {key: tf.constant(0.0) for key in keys}
            for _ in tf.range(num_steps):
                sums = _first_replica(strategy, strategy.run(replica_step, args=(next_batch(iterator),)))
                totals = {key: totals[key] + sums[key] for key in keys}
                global_step.assign_add(1)
            return totals

        return train_steps

    # ------------------------------------------------------------------ input

    def _input_context(self):
        """This worker's `InputContext` (one input pipeline per worker)."""
        extended = self.strategy.extended
        if hasattr(extended, "_make_input_context"):  # Multi-worker strategies.
            return extended._make_input_context()
        return tf.distribute.InputContext(1, 0, self.strategy.num_replicas_in_sync)

    def _make_iterator(self, dataset_fn):
        """The training input and whether its position can be checkpointed.

        On TPUs: `strategy.distribute_datasets_from_function` (infeed with
        prefetch to the devices); its iterator cannot be checkpointed, so a
        resumed run restarts its input (the seeded order from the start).
        Elsewhere: one ordinary `tf.data` iterator per worker over
        `dataset_fn(this worker's InputContext)`, whose per-replica batches
        are handed to the local replicas each step; it is saved with every
        checkpoint, so a resumed run continues with the next unseen batch.
        """
        if distribution.is_tpu(self.strategy):
            return iter(self.strategy.distribute_datasets_from_function(dataset_fn)), False
        return iter(dataset_fn(self._input_context())), True

    def _next_batch_fn(self):
        """`(iterator) -> per-replica features` for `strategy.run`, traced."""
        strategy = self.strategy
        if distribution.is_tpu(strategy):
            return next
        if strategy.num_replicas_in_sync == 1:
            return next
        local_replicas = _local_replicas(strategy)

        def next_batch(iterator):
            batches = [next(iterator) for _ in range(local_replicas)]
            return strategy.experimental_distribute_values_from_function(
                lambda context: batches[context.replica_id_in_sync_group % local_replicas]
            )

        return next_batch

    # --------------------------------------------------------------- training

    def train(self, dataset_fn, num_train_steps, init_fn=None, stop_at=None, on_checkpoint=None):
        """Trains until `global_step == num_train_steps`, resuming if possible.

        Args:
          dataset_fn: `(tf.distribute.InputContext) -> tf.data.Dataset` of
            per-replica batches (dicts of features and labels), repeating.
          num_train_steps: int, the step to stop at.
          init_fn: `(model) -> None`, called when there is no checkpoint to
            resume from (e.g. to load `--init_checkpoint`).
          stop_at: int or None: stop (with a checkpoint) at this step instead;
            the schedule and progress still count to `num_train_steps`.
          on_checkpoint: `(step) -> None` or None, called after each
            checkpoint is written (every `save_checkpoints_steps` and at the
            end, not when preempted), inside the loop: e.g. to score a dev
            set with the model as it is, without leaving and re-entering
            training (its time is not counted in examples/s).

        Returns:
          dict: `global_step`, `preempted` (bool), `resumed_from` (checkpoint
          path or None), and the last logged metrics.
        """
        if num_train_steps < 1:
            raise ValueError(f"num_train_steps must be >= 1, got {num_train_steps}")
        stop_at = num_train_steps if stop_at is None else min(stop_at, num_train_steps)
        iterator, iterator_saved = self._make_iterator(dataset_fn)
        state = dict(model=self.model, optimizer=self.optimizer, global_step=self.global_step,
                     dropout_seeds=_seed_states(self.model))
        if iterator_saved:
            state["train_iterator"] = iterator
        checkpoint = tf.train.Checkpoint(**state)
        # Under several workers each has its own input position; the chief's
        # goes into the checkpoint, every other worker's into its own file.
        input_manager = None
        if iterator_saved and not self.is_chief:
            input_manager = checkpointing.CheckpointWriter(
                tf.train.Checkpoint(train_iterator=iterator),
                os.path.join(self.output_dir, f"input-worker-{self._input_context().input_pipeline_id}"),
                self.keep_checkpoint_max,
            )
        resumed_from = self.restore(checkpoint)
        manager = self._checkpoint_manager(checkpoint)
        if resumed_from is not None and input_manager is not None:
            own = os.path.join(input_manager.directory, os.path.basename(resumed_from))
            if tf.io.gfile.exists(own + ".index"):
                input_manager.checkpoint.restore(own)
            else:
                self.log_fn(f"no saved input position {own}: this worker's input restarts")
        if resumed_from is not None and not iterator_saved:
            self.log_fn("the input position is not saved on TPU: the input restarts from its seed")
        if resumed_from is None and init_fn is not None:
            init_fn(self.model)
        if self._train_function is None:
            self._train_function = self._build_train_function()
        step = int(self.global_step.numpy())
        results = {"global_step": step, "preempted": False, "resumed_from": resumed_from}
        if step >= stop_at:
            self.log_fn(f"step {step} >= {stop_at}: nothing to train")
            return results
        try:
            step, preempted = self._train_loop(iterator, manager, input_manager, step, stop_at,
                                               num_train_steps, results, on_checkpoint)
        except _LOST_PEER_ERRORS as e:
            if self.strategy.num_replicas_in_sync == _local_replicas(self.strategy):
                raise  # One worker: not a lost peer.
            raise WorkerLostError(self._lost_worker_message(e)) from None
        results["global_step"] = step
        results["preempted"] = preempted
        if not self.is_chief:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
        return results

    def _lost_worker_message(self, error):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = next((i for i, line in enumerate(lines) if "unhealthy" in line or "is down" in line
                      or "aborted" in line.lower()), 0)
        detail = " ".join(lines[cause: cause + 2])[:500]
        latest = checkpointing.checkpoint_candidates(self.output_dir)
        resume = f"the newest checkpoint is {latest[0]}" if latest else "there is no checkpoint yet"
        return (f"a worker of the cluster was lost at step {int(self.global_step.numpy())} "
                f"({type(error).__name__}: {detail}); {resume}. Restart every worker with the same "
                "flags to resume from it.")

    def _train_loop(self, iterator, manager, input_manager, step, stop_at, num_train_steps, results,
                    on_checkpoint=None):
        """Trains from `step` to `stop_at` (see `train`); returns (step, preempted)."""
        summary_writer = self._summary_writer("train")
        preempted = False
        window = None
        window_start, window_step = time.perf_counter(), step
        with self._catch_sigterm():
            while step < stop_at:
                until_save = self.save_checkpoints_steps - step % self.save_checkpoints_steps
                until_log = self.log_steps - step % self.log_steps
                n = min(self.steps_per_execution, stop_at - step, until_save, until_log)
                sums = self._train_function(iterator, tf.constant(n))
                sums = {k: float(v) for k, v in sums.items()}
                step += n
                window = sums if window is None else {k: window[k] + sums[k] for k in sums}
                if not all(math.isfinite(sums[f"{t}_loss_sum"]) for t in _terms(sums)):
                    raise NonFiniteLossError(
                        f"the training loss is not finite within steps {step - n + 1}..{step} "
                        f"({_format_metrics(_means(sums, n))}); no checkpoint was written for it. "
                        "Lower --learning_rate, check the input data, or use float32."
                    )
                if step % self.log_steps == 0 or step == stop_at:
                    elapsed = time.perf_counter() - window_start
                    metrics = _means(window, step - window_step)
                    metrics["learning_rate"] = float(self._learning_rate())
                    metrics[f"{self.batch_unit}_per_second"] = (step - window_step) * self.global_batch_size / elapsed
                    if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                        metrics["loss_scale"] = float(self.optimizer.dynamic_scale.numpy())
                    self._log_progress(step, num_train_steps, metrics)
                    self._write_summaries(summary_writer, step, metrics)
                    results.update(metrics)
                    window, window_start, window_step = None, time.perf_counter(), step
                stop = self._agree_to_stop()
                if step % self.save_checkpoints_steps == 0 or step == stop_at or stop:
                    if input_manager is not None:
                        input_manager.save(step)
                    path = self._save(manager, step)
                    if stop:
                        self.log_fn(f"SIGTERM: saved {path} at step {step}; stopping")
                        preempted = True
                        break
                    if on_checkpoint is not None:
                        hook_start = time.perf_counter()
                        on_checkpoint(step)
                        window_start += time.perf_counter() - hook_start  # Not training time.
        return step, preempted

    def _agree_to_stop(self):
        """True when SIGTERM reached this process -- or, with several
        workers, any of them (all must stop at the same step, or the others
        would wait in the next collective)."""
        stop = self._stop_signal is not None
        if self.strategy.num_replicas_in_sync == _local_replicas(self.strategy):
            return stop  # One worker.
        if self._vote is None:  # Traced once: eager collectives are slow and noisy.
            strategy = self.strategy

            @tf.function
            def vote(flag):
                votes = strategy.run(lambda: tf.identity(flag))
                return strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)

            self._vote = vote
        return float(self._vote(tf.constant(1.0 if stop else 0.0))) > 0

    def _checkpoint_manager(self, checkpoint):
        directory = self.output_dir
        if not self.is_chief:
            # Saving is collective under multi-worker strategies: other
            # workers write to a scratch directory that is removed after.
            directory = tempfile.mkdtemp(prefix="keras_bert_worker_")
            self._scratch_dir = directory
        return checkpointing.CheckpointWriter(checkpoint, directory, self.keep_checkpoint_max)

    def _save(self, manager, step):
        if not bool(self._weights_are_finite()):
            raise NonFiniteLossError(
                f"the weights after step {step} are not finite (a non-finite gradient with a finite "
                "loss); no checkpoint was written for it. Lower --learning_rate, set --clip_norm, "
                "or check the input data."
            )
        path = manager.save(step)
        self._last_saved = path
        if not self.is_chief:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            os.makedirs(self._scratch_dir, exist_ok=True)
        return path

    @tf.function
    def _weights_are_finite(self):
        variables = self.model.trainable_variables + self.optimizer.variables
        checks = [tf.reduce_all(tf.math.is_finite(v)) for v in variables if tf.as_dtype(v.dtype).is_floating]
        return tf.reduce_all(tf.stack(checks))

    def restore(self, checkpoint):
        """Restores the newest intact checkpoint in `output_dir`; returns its path.

        Every tensor of a candidate is read (with its checksum) before
        anything is restored -- except the checkpoint this Trainer wrote
        itself last (fine-tuning resumes from it after every evaluation). A damaged newest checkpoint (truncated,
        corrupt, missing files) is reported and the next older one is used;
        the chief moves the damaged files to `output_dir/damaged/` and
        rewrites the checkpoint list without them. No checkpoint: returns
        None. Checkpoints that are all damaged: an error naming them (the
        run does not silently start over).
        """
        candidates = checkpointing.checkpoint_candidates(self.output_dir)
        damaged = []
        for path in candidates:
            problem = None if path == self._last_saved else checkpointing.checkpoint_problem(path)
            if problem is None:
                try:
                    checkpoint.restore(path).expect_partial()
                except (tf.errors.OpError, ValueError, AssertionError) as e:
                    problem = f"{type(e).__name__}: {checkpointing.error_summary(e)}"
            if problem is not None:
                self.log_fn(f"checkpoint {path} is damaged ({problem}); trying the previous one")
                damaged.append(path)
                continue
            if damaged:
                self.log_fn(f"resuming from the previous intact checkpoint {path}, not from the damaged "
                            f"{', '.join(damaged)}")
                if self.is_chief:
                    intact = [p for p in candidates if p not in damaged]
                    checkpointing.set_aside_damaged(self.output_dir, damaged, intact, self.log_fn)
            self.log_fn(f"resuming from {path} at step {int(self.global_step.numpy())}")
            return path
        if damaged:
            raise DamagedCheckpointsError(
                f"{self.output_dir}: every checkpoint is damaged ({', '.join(damaged)}); move them away "
                "to start over, or restore them from a copy"
            )
        return None

    def _learning_rate(self):
        optimizer = self.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        return optimizer.learning_rate

    # ------------------------------------------------------------- evaluation

    def evaluate(self, dataset_fn, max_steps=None):
        """Weighted means of the loss terms and accuracies over a dataset.

        Args:
          dataset_fn: as for `train`, a finite dataset (or give `max_steps`).
          max_steps: int or None, stop after this many batches.

        Returns:
          dict: `{term}_loss`, `{term}_accuracy` for each term, `loss` (their
          sum), `global_step`, `eval_steps`.
        """
        if self._eval_function is None:
            strategy = self.strategy

            def replica_eval_step(features):
                context = tf.distribute.get_replica_context()
                outputs = self.model(features, training=False)
                weights = self.model.loss_weights(features)
                sums = {}
                for term, (item_loss, correct) in self.model.item_losses(features, outputs).items():
                    w = weights[term]
                    sums[f"{term}_loss_sum"] = tf.reduce_sum(w * item_loss)
                    sums[f"{term}_weight_sum"] = tf.reduce_sum(w)
                    if correct is not None:
                        sums[f"{term}_correct_sum"] = tf.reduce_sum(w * correct)
                return context.all_reduce(tf.distribute.ReduceOp.SUM, sums)

            @tf.function
            def eval_step(features):
                return _first_replica(strategy, strategy.run(replica_eval_step, args=(features,)))

            self._eval_function = eval_step
        dataset = self.strategy.distribute_datasets_from_function(dataset_fn)
        totals, steps = None, 0
        for features in dataset:
            if max_steps is not None and steps >= max_steps:
                break
            sums = {k: float(v) for k, v in self._eval_function(features).items()}
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in sums}
            steps += 1
        if totals is None:
            raise ValueError("evaluate: the evaluation data gave no complete batch")
        results = _means(totals, steps)
        results.pop("gradient_norm", None)
        results["global_step"] = int(self.global_step.numpy())
        results["eval_steps"] = steps
        return results

    # --------------------------------------------------------------- plumbing

    def _summary_writer(self, name):
        if not self.is_chief:
            return None
        return tf.summary.create_file_writer(os.path.join(self.output_dir, name))

    def write_scalars(self, name, step, metrics):
        """TensorBoard scalars `metrics` ({tag: float}) at `step` in
        output_dir/`name` (e.g. "eval"); the chief only."""
        if name not in self._writers:
            self._writers[name] = self._summary_writer(name)
        self._write_summaries(self._writers[name], step, metrics)

    def _write_summaries(self, writer, step, metrics):
        if writer is None:
            return
        with writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)
        writer.flush()

    def _log_progress(self, step, num_train_steps, metrics):
        if not self.is_chief:
            return
        self.log_fn(
            f"step {step}/{num_train_steps} ({100.0 * step / num_train_steps:.0f}%) "
            + _format_metrics(metrics)
        )

    def _catch_sigterm(self):
        trainer = self

        class _Handler:
            def __enter__(self):
                trainer._stop_signal = None
                self.previous = None
                if threading.current_thread() is threading.main_thread():
                    self.previous = signal.signal(signal.SIGTERM, self.handle)
                return self

            def handle(self, signum, frame):
                trainer._stop_signal = signum

            def __exit__(self, *exc):
                if self.previous is not None:
                    signal.signal(signal.SIGTERM, self.previous)
                return False

        return _Handler()


def make_reproducible(seed, deterministic=False):
    """Seeds Python, NumPy, TensorFlow and Keras (initial weights, dropout
    seed generators) with `seed`; `deterministic` also turns on TensorFlow's
    op determinism (a rerun or a resumed run computes bit-identical weights;
    slower on GPUs, where some kernels then take deterministic paths)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _seed_states(model):
    """The model's dropout seed-generator states, in layer order: Keras keeps
    them out of `weights` and out of the checkpoint graph, but a resumed run
    must continue their sequence to draw the same dropout masks. (A list, not
    keyed by path: Keras numbers seed generators process-wide, so a second
    model in one process has other paths.)"""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def write_eval_results(path, results):
    """Writes `key = value` lines sorted by key, as google-research/bert does."""
    with io.atomic_write(path) as f:
        for key in sorted(results):
            f.write(f"{key} = {results[key]}\n")


def _local_replicas(strategy):
    """Replicas on this worker (1 for the default strategy)."""
    try:
        return len(strategy.extended.worker_devices)
    except (RuntimeError, NotImplementedError, AttributeError):
        return 1


def _first_replica(strategy, per_replica):
    """The value from the first local replica (all-reduced values are equal)."""
    return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], per_replica)


def _terms(sums):
    return [k[: -len("_loss_sum")] for k in sums if k.endswith("_loss_sum")]


def _means(sums, num_steps):
    metrics = {}
    total = 0.0
    for term in _terms(sums):
        weight = sums[f"{term}_weight_sum"]
        metrics[f"{term}_loss"] = sums[f"{term}_loss_sum"] / weight if weight else 0.0
        if f"{term}_correct_sum" in sums:
            metrics[f"{term}_accuracy"] = sums[f"{term}_correct_sum"] / weight if weight else 0.0
        total += metrics[f"{term}_loss"]
    metrics["loss"] = total
    if "gradient_norm_sum" in sums:
        metrics["gradient_norm"] = sums["gradient_norm_sum"] / num_steps
    return metrics


def _format_metrics(metrics):
    parts = []
    for key, value in metrics.items():
        if key.endswith("_per_second"):
            parts.append(f"{value:.1f} {key[:-len('_per_second')]}/s")
        elif key == "learning_rate":
            parts.append(f"lr={value:.3g}")
        else:
            parts.append(f"{key}={value:.4f}")
    return " ".join(parts)


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
