"""Damaged state and numerical faults in the Trainer (one process, tiny model).

* A save cut short (the process dies while renaming the files into place)
  leaves no checkpoint under its final name.
* A damaged newest checkpoint -- a flipped byte, a truncated or missing data
  file, a truncated or empty index, a garbage `checkpoint` list -- is found
  before anything is restored (every tensor is read with its checksum);
  training resumes from the previous intact checkpoint with a message
  saying so, moves the damaged files to `damaged/`, and ends bit-identical
  to a run that was never interrupted (dropout on: the dropout seeds are
  part of the state). All checkpoints damaged: an error naming them.
* A NaN loss stops training naming the step; a non-finite gradient behind a
  finite loss stops it before the poisoned weights are saved; no checkpoint
  ever holds a non-finite number.
* With mixed_float16 a loss scale far too large overflows the float16
  gradients; the optimizer skips those steps, halves the scale and training
  goes on with finite weights.
"""

import dataclasses
import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert.models.bert_pretrainer import BertPretrainer
from keras_bert.trainers.engine.training_loop import DamagedCheckpointsError
from keras_bert.trainers.engine.training_loop import NonFiniteLossError
from keras_bert.trainers.engine.training_loop import Trainer
from tests.reliability.faults import checkpoint_tensors
from tests.reliability.record import record
from tests.trainers.engine import distributed_run as fixtures

B = fixtures.GLOBAL_BATCH
STEPS = 6
DATA = fixtures.make_data(num_batches=STEPS)


def dropout_config():
    return dataclasses.replace(fixtures.tiny_config(), hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def make_trainer(output_dir, model_cls=BertPretrainer, dropout=True, log=None, optimizer="sgd", **kwargs):
    def model_fn():
        keras.utils.set_random_seed(5)  # Same weights and dropout seeds in every trainer.
        return model_cls(dropout_config() if dropout else fixtures.tiny_config())

    kwargs.setdefault("clip_norm", None)
    kwargs.setdefault("save_checkpoints_steps", 1)
    kwargs.setdefault("keep_checkpoint_max", 3)
    return Trainer(tf.distribute.get_strategy(), model_fn, lambda: fixtures.make_optimizer(optimizer, STEPS),
                   str(output_dir), B, log_fn=(log.append if log is not None else lambda line: None), **kwargs)


def weights(trainer):
    return [np.array(v) for v in trainer.model.trainable_variables + trainer.optimizer.variables]


def checkpoint_numbers(directory):
    return sorted(int(p.rsplit("-", 1)[1][: -len(".index")]) for p in glob.glob(os.path.join(directory, "ckpt-*.index")))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    trainer = make_trainer(tmp_path_factory.mktemp("uninterrupted"))
    trainer.train(fixtures.dataset_fn(DATA), STEPS)
    return weights(trainer)


def flip_byte(prefix):
    path = prefix + ".data-00000-of-00001"
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x10
    open(path, "wb").write(bytes(data))


def truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])


DAMAGE = {
    "flipped byte in the data file": flip_byte,
    "truncated data file": lambda p: truncate(p + ".data-00000-of-00001"),
    "missing data file": lambda p: os.remove(p + ".data-00000-of-00001"),
    "truncated index": lambda p: truncate(p + ".index"),
    "empty index": lambda p: open(p + ".index", "wb").close(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_previous(damage, uninterrupted, tmp_path):
    first = make_trainer(tmp_path)
    first.train(fixtures.dataset_fn(DATA), STEPS, stop_at=4)
    assert checkpoint_numbers(tmp_path) == [2, 3, 4]
    DAMAGE[damage](str(tmp_path / "ckpt-4"))

    log = []
    second = make_trainer(tmp_path, log=log)
    result = second.train(fixtures.dataset_fn(DATA), STEPS)
    text = "\n".join(log)
    assert result["resumed_from"].endswith("ckpt-3"), text
    assert "ckpt-4 is damaged" in text and "previous intact checkpoint" in text and "ckpt-3" in text
    assert glob.glob(str(tmp_path / "damaged" / "ckpt-4.*")), os.listdir(tmp_path)
    for mine, theirs in zip(weights(second), uninterrupted):
        np.testing.assert_array_equal(mine, theirs)
    # The checkpoint list was rewritten and the run went on saving.
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith(f"ckpt-{STEPS}")
    record("Damaged newest checkpoint -> previous intact one", faults=1, survived=1, data_lost=0,
           detail=damage)


def test_garbage_checkpoint_list_uses_the_files(uninterrupted, tmp_path):
    first = make_trainer(tmp_path)
    first.train(fixtures.dataset_fn(DATA), STEPS, stop_at=4)
    (tmp_path / "checkpoint").write_bytes(b"\x00garbage {{{\n")
    second = make_trainer(tmp_path)
    result = second.train(fixtures.dataset_fn(DATA), STEPS)
    assert result["resumed_from"].endswith("ckpt-4")
    for mine, theirs in zip(weights(second), uninterrupted):
        np.testing.assert_array_equal(mine, theirs)
    record("Damaged newest checkpoint -> previous intact one", faults=1, survived=1, data_lost=0,
           detail="garbage `checkpoint` list file")


class Crash(BaseException):
    """Stands for the process dying inside a save."""


@pytest.mark.parametrize("moment", ["data file renamed", "before the index is renamed"])
def test_a_save_cut_short_leaves_no_checkpoint_under_its_final_name(moment, uninterrupted, tmp_path, monkeypatch):
    first = make_trainer(tmp_path)
    first.train(fixtures.dataset_fn(DATA), STEPS, stop_at=2)
    real_rename = tf.io.gfile.rename

    def rename(source, target, overwrite=False):
        if "ckpt-3" in target and (target.endswith(".index") or moment == "data file renamed"):
            if moment == "data file renamed":
                real_rename(source, target, overwrite)
            raise Crash()
        return real_rename(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", rename)
    with pytest.raises(Crash):
        make_trainer(tmp_path).train(fixtures.dataset_fn(DATA), STEPS)
    monkeypatch.setattr(tf.io.gfile, "rename", real_rename)
    assert not (tmp_path / "ckpt-3.index").exists()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")
    second = make_trainer(tmp_path)
    result = second.train(fixtures.dataset_fn(DATA), STEPS)
    assert result["resumed_from"].endswith("ckpt-2")
    for mine, theirs in zip(weights(second), uninterrupted):
        np.testing.assert_array_equal(mine, theirs)
    assert not glob.glob(str(tmp_path / ".ckpt-*.partial"))  # Cleaned up when step 3 was saved again.
    record("Damaged newest checkpoint -> previous intact one", faults=1, survived=1, data_lost=0,
           detail=f"a save cut short ({moment}): no ckpt-3 under its final name; resumed from ckpt-2")


def test_every_checkpoint_damaged_is_an_error(tmp_path):
    first = make_trainer(tmp_path, keep_checkpoint_max=2)
    first.train(fixtures.dataset_fn(DATA), STEPS, stop_at=2)
    for number in (1, 2):
        flip_byte(str(tmp_path / f"ckpt-{number}"))
    second = make_trainer(tmp_path)
    with pytest.raises(DamagedCheckpointsError, match=r"every checkpoint is damaged .*ckpt-2.*ckpt-1"):
        second.train(fixtures.dataset_fn(DATA), STEPS)
    # Nothing was moved or overwritten: the files stay for the user to inspect.
    assert checkpoint_numbers(tmp_path) == [1, 2] and not (tmp_path / "damaged").exists()
    record("Damaged newest checkpoint -> previous intact one", faults=2, survived=2, data_lost=0,
           detail="all checkpoints damaged: a clear error, nothing overwritten")


def assert_all_checkpoints_finite(directory):
    numbers = checkpoint_numbers(directory)
    for number in numbers:
        for key, value in checkpoint_tensors(os.path.join(directory, f"ckpt-{number}")).items():
            if value.dtype.kind == "f":
                assert np.isfinite(value).all(), (number, key)
    return numbers


def test_nan_loss_stops_with_the_step_and_no_nan_checkpoint(tmp_path):
    data = {k: v.copy() for k, v in DATA.items()}
    data["masked_lm_weights"][2 * B : 3 * B] = np.nan  # The third global batch.
    trainer = make_trainer(tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"not finite within steps 3\.\.3"):
        trainer.train(fixtures.dataset_fn(data), STEPS)
    assert assert_all_checkpoints_finite(str(tmp_path)) == [1, 2]
    record("NaN / Inf in training", faults=1, survived=1, data_lost=0,
           detail="NaN loss at step 3: stopped naming steps 3..3; checkpoints 1-2 finite")


class PoisonedGradient(BertPretrainer):
    """The loss is unchanged, but at global batch 2 the gradient of the word
    embeddings is +inf: a non-finite gradient behind a finite loss."""

    def item_losses(self, features, outputs):
        losses = super().item_losses(features, outputs)
        flag = tf.equal(features["batch_id"][0], 2)

        @tf.custom_gradient
        def poison(x):
            def grad(upstream):
                return tf.where(flag, np.inf, 0.0) * tf.ones_like(x)

            return tf.zeros([]), grad

        term = next(iter(losses))
        loss, correct = losses[term]
        losses[term] = (loss + poison(tf.reduce_sum(self.trainable_variables[0])), correct)
        return losses


def test_non_finite_gradient_with_finite_loss_is_not_saved(tmp_path):
    trainer = make_trainer(tmp_path, model_cls=PoisonedGradient)
    with pytest.raises(NonFiniteLossError, match="weights after step 3 are not finite"):
        trainer.train(fixtures.dataset_fn(DATA), STEPS)
    assert assert_all_checkpoints_finite(str(tmp_path)) == [1, 2]
    record("NaN / Inf in training", faults=1, survived=1, data_lost=0,
           detail="+inf gradient behind a finite loss at step 3: stopped before saving; checkpoints 1-2 finite")


def test_mixed_float16_loss_scale_recovers_from_overflow(tmp_path):
    trainer = make_trainer(tmp_path, dropout=False, precision="mixed_float16", optimizer="adamw",
                           clip_norm=1.0, save_checkpoints_steps=100)
    scale = trainer.optimizer.dynamic_scale
    scale.assign(2.0**40)  # float16 gradients overflow at this scale.
    before = [np.array(v) for v in trainer.model.trainable_variables]
    steps = 30
    result = trainer.train(fixtures.dataset_fn(DATA), steps)
    final_scale = float(scale.numpy())
    halvings = int(round(np.log2(2.0**40 / final_scale)))
    assert result["global_step"] == steps
    assert 1 <= halvings < steps, final_scale  # Some steps overflowed and were skipped; not all.
    after = [np.array(v) for v in trainer.model.trainable_variables]
    assert all(np.isfinite(w).all() for w in after)
    assert max(float(np.abs(a - b).max()) for a, b in zip(after, before)) > 0  # The other steps trained.
    assert np.isfinite(result["loss"])
    assert assert_all_checkpoints_finite(str(tmp_path)) == [steps]
    record("Loss-scale overflow (mixed_float16)", faults=halvings, survived=halvings, data_lost=0,
           detail=f"scale 2^40 -> 2^{np.log2(final_scale):.0f}: {halvings} overflowing steps skipped, "
                  f"{steps - halvings} applied, weights finite")
