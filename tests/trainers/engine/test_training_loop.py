"""The Trainer in one process (default strategy), the schedule and the optimizers.

Equality tests train the tiny BertPretrainer (no dropout) from the same
initial weights on the same global batches (`distributed_run.make_data`:
masked LM weights unevenly spread over the micro-batches), with SGD +
momentum on the warmup/decay schedule and no clipping, so that a wrong
gradient scale or a per-micro-batch normalisation shows in the weights.
"""

import glob
import os
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert.models.bert_pretrainer import BertPretrainer
from keras_bert.trainers.engine import optimization
from keras_bert.trainers.engine.training_loop import NonFiniteLossError
from keras_bert.trainers.engine.training_loop import Trainer
from tests.trainers.engine import distributed_run as fixtures

B = fixtures.GLOBAL_BATCH
STEPS = 6
DATA = fixtures.make_data(num_batches=STEPS)


def max_diff(a, b):
    assert len(a) == len(b)
    return max(float(np.max(np.abs(np.asarray(x, "float64") - np.asarray(y, "float64")))) for x, y in zip(a, b))


def assert_bitwise_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


_INITIAL = []


def initial_weights():
    if not _INITIAL:
        keras.utils.set_random_seed(1)
        _INITIAL.extend(BertPretrainer(fixtures.tiny_config()).get_weights())
    return _INITIAL


class RecordingPretrainer(BertPretrainer):
    """Records the `batch_id` of every batch the train step consumes."""

    seen = []

    def call(self, inputs, training=False):
        def record(batch_id):
            RecordingPretrainer.seen.append(int(batch_id[0]))
            return batch_id

        tf.py_function(record, [inputs["batch_id"]], tf.int32)
        return super().call(inputs, training=training)


def make_trainer(output_dir, model_cls=BertPretrainer, optimizer="sgd", **kwargs):
    def model_fn():
        model = model_cls(fixtures.tiny_config())
        model.set_weights(initial_weights())
        return model

    kwargs.setdefault("clip_norm", None)
    kwargs.setdefault("log_fn", lambda line: None)
    return Trainer(
        tf.distribute.get_strategy(),
        model_fn,
        lambda: fixtures.make_optimizer(optimizer, STEPS),
        str(output_dir),
        B,
        **kwargs,
    )


def train(trainer, num_steps=STEPS, data=DATA):
    return trainer.train(fixtures.dataset_fn(data), num_steps)


def weights(trainer):
    return [np.array(v) for v in trainer.model.trainable_variables]


def optimizer_state(trainer):
    return [np.array(v) for v in trainer.optimizer.variables]


def checkpoint_numbers(directory):
    return sorted(int(p.rsplit("-", 1)[1][: -len(".index")]) for p in glob.glob(os.path.join(directory, "ckpt-*.index")))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """6 straight steps: one execution per step, no accumulation, no XLA."""
    trainer = make_trainer(tmp_path_factory.mktemp("baseline"))
    metrics = train(trainer)
    assert metrics["global_step"] == STEPS and not metrics["preempted"]
    result = {"trainer": trainer, "weights": weights(trainer), "optimizer": optimizer_state(trainer)}
    moved = max_diff(result["weights"], initial_weights())
    print(f"baseline: max |w6 - w0| = {moved:.3g}")
    assert moved > 0.05  # Training moved the weights a lot more than any tolerance.
    return result


# ------------------------------------------------------------ equalities


def test_gradient_accumulation_equals_one_big_batch(baseline, tmp_path):
    # 4 micro-batches of 2 rows; their masked LM weight sums differ (some
    # are 0), so only a normalisation by the global weight sum matches.
    trainer = make_trainer(tmp_path, gradient_accumulation_steps=4)
    train(trainer)
    diff = max_diff(weights(trainer), baseline["weights"])
    print(f"accumulation k=4 vs k=1: max diff {diff:.3g}")
    assert diff <= 1e-5


def test_gradient_accumulation_with_all_weights_one(tmp_path):
    data = dict(DATA, masked_lm_weights=np.ones_like(DATA["masked_lm_weights"]))
    one = make_trainer(tmp_path / "k1")
    train(one, 3, data)
    four = make_trainer(tmp_path / "k4", gradient_accumulation_steps=4)
    train(four, 3, data)
    diff = max_diff(weights(four), weights(one))
    print(f"accumulation k=4 vs k=1, all weights 1: max diff {diff:.3g}")
    assert diff <= 1e-5


def _xla_functions(trainer):
    """The functions of the train step graph marked for XLA, and the ops each reaches."""
    dataset = trainer.strategy.distribute_datasets_from_function(fixtures.dataset_fn(DATA))
    concrete = trainer._train_function.get_concrete_function(iter(dataset), tf.constant(1))
    library = {f.signature.name: f for f in concrete.graph.as_graph_def().library.function}

    def reachable_ops(name, seen):
        if name in seen or name not in library:
            return set()
        seen.add(name)
        ops = set()
        for node in library[name].node_def:
            ops.add(node.op)
            ops |= reachable_ops(node.op, seen)  # A direct call to a library function.
            for attr in node.attr.values():
                for func in [attr.func] + list(attr.list.func):
                    if func.name:
                        ops |= reachable_ops(func.name, seen)
        return ops

    return {
        name: reachable_ops(name, set())
        for name, f in library.items()
        if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b
    }


def test_jit_compile_compiles_the_whole_step_and_matches(baseline, tmp_path):
    trainer = make_trainer(tmp_path, jit_compile=True, gradient_accumulation_steps=2)
    train(trainer)
    diff = max_diff(weights(trainer), baseline["weights"])
    print(f"jit_compile=True (k=2) vs no XLA: max diff {diff:.3g}")
    assert diff <= 1e-5

    compiled = _xla_functions(trainer)
    assert compiled, "jit_compile=True but no function of the train step is marked _XlaMustCompile"
    ops = set().union(*compiled.values())
    # The forward pass, the gradient, the accumulation loop and the
    # optimizer's variable updates are all inside the compiled function.
    assert ops & {"BatchMatMulV2", "MatMul", "Einsum"}, sorted(ops)
    assert any("Grad" in op for op in ops) or "BroadcastGradientArgs" in ops, sorted(ops)
    assert ops & {"While", "StatelessWhile"}, sorted(ops)
    assert ops & {"AssignSubVariableOp", "AssignVariableOp", "AssignAddVariableOp"}, sorted(ops)
    assert not ops & {"IteratorGetNext", "IteratorGetNextAsOptional"}
    # Without jit_compile only the element-wise training kernels
    # (keras_bert.training_kernels) are marked: no matmul, loop or update,
    # so the checks above can fail.
    kernels = _xla_functions(baseline["trainer"])
    assert kernels and all("_forward" in name or "_backward" in name for name in kernels), sorted(kernels)
    kernel_ops = set().union(*kernels.values())
    assert not kernel_ops & {"BatchMatMulV2", "MatMul", "Einsum", "While", "StatelessWhile", "AssignSubVariableOp",
                             "AssignVariableOp", "AssignAddVariableOp"}, sorted(kernel_ops)


def test_steps_per_execution_matches(baseline, tmp_path):
    trainer = make_trainer(tmp_path, steps_per_execution=3)
    train(trainer)
    diff = max_diff(weights(trainer), baseline["weights"])
    print(f"steps_per_execution=3 vs 1: max diff {diff:.3g}")
    assert diff <= 1e-5


def test_one_device_strategy_equals_default(baseline, tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")

    def model_fn():
        model = BertPretrainer(fixtures.tiny_config())
        model.set_weights(initial_weights())
        return model

    trainer = Trainer(
        strategy, model_fn, lambda: fixtures.make_optimizer("sgd", STEPS), str(tmp_path), B,
        clip_norm=None, log_fn=lambda line: None,
    )
    train(trainer)
    diff = max_diff(weights(trainer), baseline["weights"])
    print(f"OneDeviceStrategy vs default strategy: max diff {diff:.3g}")
    assert diff <= 1e-5


# --------------------------------------------------------- checkpoints


def test_resume_is_bit_identical_and_continues_the_input(baseline, tmp_path):
    RecordingPretrainer.seen = []
    first = make_trainer(tmp_path, RecordingPretrainer, save_checkpoints_steps=1, keep_checkpoint_max=2)
    metrics = train(first, 3)
    assert metrics["global_step"] == 3 and metrics["resumed_from"] is None
    assert RecordingPretrainer.seen == [0, 1, 2]
    assert checkpoint_numbers(tmp_path) == [2, 3]

    RecordingPretrainer.seen = []
    second = make_trainer(tmp_path, RecordingPretrainer, save_checkpoints_steps=1, keep_checkpoint_max=2)
    metrics = train(second)
    assert metrics["resumed_from"].endswith("ckpt-3")
    assert metrics["global_step"] == STEPS
    # The restored iterator continues with the 4th batch, not the 1st.
    assert RecordingPretrainer.seen == [3, 4, 5]
    assert_bitwise_equal(weights(second), baseline["weights"])
    assert_bitwise_equal(optimizer_state(second), baseline["optimizer"])
    assert int(second.optimizer.iterations.numpy()) == STEPS
    # keep_checkpoint_max=2, including the checkpoints of the first run.
    assert checkpoint_numbers(tmp_path) == [5, 6]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == ["5", "6"]

    # At num_train_steps already: nothing to do.
    third = make_trainer(tmp_path)
    metrics = train(third)
    assert metrics["global_step"] == STEPS and metrics["resumed_from"].endswith("ckpt-6")
    assert_bitwise_equal(weights(third), baseline["weights"])


def test_sigterm_saves_stops_and_resumes(baseline, tmp_path):
    caught_outside = []

    def outside_handler(signum, frame):
        caught_outside.append(signum)

    previous = signal.signal(signal.SIGTERM, outside_handler)
    try:

        def log_fn(line):
            if line.startswith("step 2/"):
                os.kill(os.getpid(), signal.SIGTERM)

        trainer = make_trainer(tmp_path, log_steps=1, log_fn=log_fn)
        metrics = train(trainer)
        # The trainer's handler took the signal and put ours back.
        assert not caught_outside
        assert signal.getsignal(signal.SIGTERM) is outside_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert metrics["preempted"] is True
    assert metrics["global_step"] == 2
    assert checkpoint_numbers(tmp_path) == [2]

    resumed = make_trainer(tmp_path)
    metrics = train(resumed)
    assert metrics["resumed_from"].endswith("ckpt-2")
    assert metrics["preempted"] is False and metrics["global_step"] == STEPS
    assert_bitwise_equal(weights(resumed), baseline["weights"])
    assert_bitwise_equal(optimizer_state(resumed), baseline["optimizer"])


# ----------------------------------------------------------- precision


@pytest.mark.parametrize("precision, optimizer", [("mixed_float16", "adamw"), ("mixed_bfloat16", "lamb")])
def test_mixed_precision(precision, optimizer, tmp_path):
    trainer = make_trainer(tmp_path, optimizer=optimizer, precision=precision, clip_norm=1.0)
    metrics = train(trainer, 3)
    assert metrics["global_step"] == 3
    for key in ("loss", "masked_lm_loss", "next_sentence_loss", "gradient_norm"):
        assert np.isfinite(metrics[key]), (key, metrics)
    assert 0.0 < metrics["loss"] < 10.0
    assert trainer.model.dtype_policy.name == precision
    assert all(v.dtype == "float32" for v in trainer.model.trainable_variables)
    assert keras.config.dtype_policy().name == "float32"  # Restored after building.
    if precision == "mixed_float16":
        assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
        assert metrics["loss_scale"] > 1.0
    else:
        assert "loss_scale" not in metrics
    assert max_diff(weights(trainer), initial_weights()) > 0


def test_non_finite_loss_raises_without_checkpoint(tmp_path):
    def model_fn():
        model = BertPretrainer(fixtures.tiny_config())
        model.set_weights(initial_weights())
        return model

    trainer = Trainer(
        tf.distribute.get_strategy(),
        model_fn,
        lambda: keras.optimizers.SGD(learning_rate=1e30),
        str(tmp_path),
        B,
        clip_norm=None,
        save_checkpoints_steps=1,
        log_fn=lambda line: None,
    )
    with pytest.raises(NonFiniteLossError, match="not finite within steps 2..2"):
        train(trainer)
    # Step 1 (finite loss) was saved; the step whose loss was NaN was not.
    assert checkpoint_numbers(tmp_path) == [1]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")


# ---------------------------------------------------------- evaluation


def _log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def test_evaluate_matches_numpy(baseline):
    trainer = baseline["trainer"]
    data = fixtures.make_data(num_batches=3, seed=7)
    data["masked_lm_weights"][B:2 * B, 1:] = 0.0  # Batch weight sums 12, 8, 12.
    results = trainer.evaluate(fixtures.dataset_fn(data, repeat=False))
    assert results["eval_steps"] == 3 and results["global_step"] == STEPS

    features = {k: tf.constant(v) for k, v in data.items()}
    outputs = trainer.model(features, training=False)
    mlm_logp = _log_softmax(np.asarray(outputs["masked_lm_logits"], "float64"))
    nsp_logp = _log_softmax(np.asarray(outputs["next_sentence_logits"], "float64"))
    ids, w = data["masked_lm_ids"], data["masked_lm_weights"].astype("float64")
    mlm_ce = -np.take_along_axis(mlm_logp, ids[..., None], axis=-1)[..., 0]
    labels = data["next_sentence_labels"][:, 0]
    nsp_ce = -nsp_logp[np.arange(len(labels)), labels]
    expected = {
        "masked_lm_loss": np.sum(w * mlm_ce) / np.sum(w),
        "masked_lm_accuracy": np.sum(w * (mlm_logp.argmax(-1) == ids)) / np.sum(w),
        "next_sentence_loss": np.mean(nsp_ce),
        "next_sentence_accuracy": np.mean(nsp_logp.argmax(-1) == labels),
    }
    expected["loss"] = expected["masked_lm_loss"] + expected["next_sentence_loss"]
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    # Means over all items, not means of per-batch means: the batches'
    # weight sums differ, so the two are not the same here.
    per_batch = [np.sum((w * mlm_ce)[i * B:(i + 1) * B]) / np.sum(w[i * B:(i + 1) * B]) for i in range(3)]
    assert abs(np.mean(per_batch) - expected["masked_lm_loss"]) > 1e-3

    first = trainer.evaluate(fixtures.dataset_fn(data, repeat=False), max_steps=1)
    assert first["eval_steps"] == 1
    assert first["masked_lm_loss"] == pytest.approx(per_batch[0], rel=1e-5)


# ---------------------------------------------------------- validation


def _never_called():
    raise AssertionError("model_fn must not run when the arguments are invalid")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(global_batch_size=8, gradient_accumulation_steps=3), "global_batch_size=8 must divide"),
        (dict(global_batch_size=6, gradient_accumulation_steps=4), "global_batch_size=6 must divide"),
        (dict(global_batch_size=0), "global_batch_size must be an integer >= 1, got 0"),
        (dict(global_batch_size=8.0), "global_batch_size must be an integer >= 1, got 8.0"),
        (dict(gradient_accumulation_steps=0), "gradient_accumulation_steps must be an integer >= 1, got 0"),
        (dict(steps_per_execution=-1), "steps_per_execution must be an integer >= 1, got -1"),
        (dict(save_checkpoints_steps=0), "save_checkpoints_steps must be an integer >= 1, got 0"),
        (dict(keep_checkpoint_max=0), "keep_checkpoint_max must be an integer >= 1, got 0"),
        (dict(log_steps=0), "log_steps must be an integer >= 1, got 0"),
        (dict(precision="float16"), "precision='float16'"),
    ],
)
def test_invalid_arguments(kwargs, message, tmp_path):
    kwargs = dict(dict(global_batch_size=8), **kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Trainer(tf.distribute.get_strategy(), _never_called, _never_called, str(tmp_path), **kwargs)


def test_invalid_num_train_steps(baseline):
    with pytest.raises(ValueError, match="num_train_steps must be >= 1, got 0"):
        baseline["trainer"].train(fixtures.dataset_fn(DATA), 0)


# ------------------------------------------------ schedule and optimizers


def bert_learning_rate(step, init_lr, num_train_steps, num_warmup_steps, end_lr=0.0, power=1.0):
    """google-research/bert optimization.py, in numpy (float64)."""
    # tf.train.polynomial_decay(init_lr, global_step, num_train_steps,
    #                           end_learning_rate, power, cycle=False)
    decay_step = min(step, num_train_steps)
    learning_rate = (init_lr - end_lr) * (1 - decay_step / num_train_steps) ** power + end_lr
    if num_warmup_steps:
        warmup_learning_rate = init_lr * step / num_warmup_steps
        is_warmup = float(step < num_warmup_steps)
        learning_rate = (1.0 - is_warmup) * learning_rate + is_warmup * warmup_learning_rate
    return learning_rate


@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("end_lr", [0.0, 1e-5])
@pytest.mark.parametrize("num_warmup_steps", [0, 100])
def test_learning_rate_schedule_is_the_original(power, end_lr, num_warmup_steps):
    init_lr, num_train_steps = 5e-4, 1000
    schedule = optimization.WarmupPolynomialDecay(init_lr, num_train_steps, num_warmup_steps, end_lr, power)
    for step in (0, 1, 50, 99, 100, 101, 550, 999, 1000, 1001, 5000):
        expected = bert_learning_rate(step, init_lr, num_train_steps, num_warmup_steps, end_lr, power)
        actual = float(schedule(step))
        # float32 (as the original): 1 - step / num_train_steps loses digits
        # near the end, so the absolute tolerance is relative to the peak.
        assert actual == pytest.approx(expected, rel=1e-6, abs=init_lr * 1e-6), step
    if num_warmup_steps:
        assert float(schedule(0)) == 0.0
        assert float(schedule(50)) == pytest.approx(init_lr / 2, rel=1e-6)
    assert float(schedule(5000)) == pytest.approx(end_lr, abs=1e-12)


def test_lamb_matches_model_garden():
    lamb_module = pytest.importorskip("official.modeling.optimization.lamb")
    rng = np.random.default_rng(0)
    dense = keras.layers.Dense(6, name="dense")
    dense.build((None, 5))
    norm = keras.layers.LayerNormalization(name="layer_norm")
    norm.build((None, 6))
    ours = [dense.kernel, dense.bias, norm.gamma, norm.beta]
    values = [rng.normal(size=v.shape).astype("float32") for v in ours]
    for variable, value in zip(ours, values):
        variable.assign(value)
    assert [v.path for v in ours] == ["dense/kernel", "dense/bias", "layer_norm/gamma", "layer_norm/beta"]
    assert [optimization.decays(v) for v in ours] == [True, False, False, False]
    theirs = [tf.Variable(value, name=v.path) for v, value in zip(ours, values)]

    kwargs = dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6, weight_decay_rate=0.01)
    our_lamb = optimization.Lamb(**kwargs)
    their_lamb = lamb_module.LAMB(
        **kwargs, exclude_from_weight_decay=["layer_norm", "bias"], exclude_from_layer_adaptation=["layer_norm", "bias"]
    )
    diffs = []
    for _ in range(3):
        grads = [rng.normal(size=v.shape).astype("float32") for v in ours]
        our_lamb.apply([tf.constant(g) for g in grads], ours)
        their_lamb.apply_gradients(zip([tf.constant(g) for g in grads], theirs))
        diffs.append(max_diff([np.array(v) for v in ours], [v.numpy() for v in theirs]))
    print(f"LAMB vs Model Garden LAMB, per step max diff: {diffs}")
    assert max(diffs) <= 1e-6
    assert max_diff([np.array(v) for v in ours], values) > 1e-3  # They did move.


def test_adamw_skips_biases_and_layer_norm():
    keras.utils.set_random_seed(3)
    model = BertPretrainer(fixtures.tiny_config())
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    for v in variables:  # Non-zero biases and betas, so decay would show.
        v.assign(rng.normal(size=v.shape).astype("float32") + 1.0)
    before = [np.array(v) for v in variables]
    lr, rate = 0.1, 0.5
    optimizer = optimization.create_optimizer("adamw", lr, 10, 0, weight_decay_rate=rate)
    optimizer.apply([tf.zeros_like(v) for v in variables], variables)
    decayed = set()
    for v, old in zip(variables, before):
        new = np.array(v)
        if not np.array_equal(new, old):
            decayed.add(v.path)
            # Decoupled decay alone (zero gradient): w <- w - lr * rate * w.
            np.testing.assert_allclose(new, old * (1 - lr * rate), rtol=1e-6)
    assert decayed == {v.path for v in variables if optimization.decays(v)}
    assert "transformer_layer_0/attention/query/kernel" in decayed
    assert not any(p.endswith(("bias", "gamma", "beta")) for p in decayed)


def _dense_and_layer_norm_variables(rng):
    dense = keras.layers.Dense(6, name="dense")
    dense.build((None, 5))
    norm = keras.layers.LayerNormalization(name="layer_norm")
    norm.build((None, 6))
    variables = [dense.kernel, dense.bias, norm.gamma, norm.beta]
    for variable in variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return variables


def test_fused_adamw_matches_model_garden_and_keras():
    """Our AdamW runs its dense steps on TF's fused ResourceApplyAdam kernel;
    the weights must follow Model Garden's AdamWeightDecay and Keras's AdamW."""
    legacy_adamw = pytest.importorskip("official.modeling.optimization.legacy_adamw")
    rng = np.random.default_rng(1)
    ours = _dense_and_layer_norm_variables(rng)
    values = [np.array(v) for v in ours]
    keras_vars = [keras.Variable(value, name=v.path.split("/")[-1]) for v, value in zip(ours, values)]
    garden_vars = [tf.Variable(value, name=v.path) for v, value in zip(ours, values)]

    lr, rate = 0.01, 0.1
    our_adamw = optimization.create_optimizer("adamw", lr, 1000, 0, weight_decay_rate=rate, end_learning_rate=lr)
    assert type(our_adamw) is optimization.AdamW
    keras_adamw = keras.optimizers.AdamW(learning_rate=lr, weight_decay=rate, epsilon=1e-6)
    keras_adamw.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    garden_adamw = legacy_adamw.AdamWeightDecay(
        learning_rate=lr, epsilon=1e-6, weight_decay_rate=rate, gradient_clip_norm=0.0,
        exclude_from_weight_decay=["layer_norm", "bias"],
    )
    diffs = []
    for _ in range(5):
        grads = [rng.normal(size=v.shape).astype("float32") for v in ours]
        our_adamw.apply([tf.constant(g) for g in grads], ours)
        keras_adamw.apply([tf.constant(g) for g in grads], keras_vars)
        garden_adamw.apply_gradients(zip([tf.constant(g) for g in grads], garden_vars))
        ours_now = [np.array(v) for v in ours]
        diffs.append((max_diff(ours_now, [np.array(v) for v in keras_vars]),
                      max_diff(ours_now, [v.numpy() for v in garden_vars])))
    print(f"fused AdamW vs (Keras AdamW, Model Garden AdamWeightDecay), per step max diff: {diffs}")
    assert max(max(d) for d in diffs) <= 1e-6
    assert max_diff([np.array(v) for v in ours], values) > 1e-2  # They did move.


def test_fused_adamw_sparse_gradients_take_the_keras_path():
    rng = np.random.default_rng(2)
    table = keras.Variable(rng.normal(size=(10, 4)).astype("float32"), name="embeddings")
    reference = keras.Variable(np.array(table), name="embeddings")
    ours = optimization.create_optimizer("adamw", 0.01, 100, 0, weight_decay_rate=0.0, end_learning_rate=0.01)
    keras_adamw = keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.0, epsilon=1e-6)
    for _ in range(3):
        slices = tf.IndexedSlices(
            tf.constant(rng.normal(size=(3, 4)).astype("float32")), tf.constant([1, 4, 4]), tf.constant([10, 4])
        )
        ours.apply([slices], [table])
        keras_adamw.apply([slices], [reference])
    np.testing.assert_allclose(np.array(table), np.array(reference), atol=1e-7)
