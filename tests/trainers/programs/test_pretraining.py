"""`keras-bert pretrain` / `keras_bert.trainers.programs.pretraining.run_pretraining` end to end."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_bert import load_checkpoint
from keras_bert.trainers.data import pretraining_data
from keras_bert.trainers.engine import curves
from keras_bert.trainers.engine import initialization
from keras_bert.trainers.programs import pretraining
from tests.testing import REPO
from tests.trainers.data.test_pretraining_data import VOCAB
from tests.trainers.data.test_pretraining_data import corpus_text
from tests.trainers.engine.test_curves import assert_drawn_png

SEQ, PRED, PER_ROW = 32, 5, 3
EVAL_KEYS = {"masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy", "next_sentence_loss",
             "global_step", "loss", "eval_steps"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretraining")
    vocab_file = root / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    text_file = root / "corpus.txt"
    text_file.write_text(corpus_text(num_docs=12))
    config_file = root / "bert_config.json"  # The original format.
    config_file.write_text(json.dumps(dict(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, hidden_act="gelu", max_position_embeddings=64, type_vocab_size=2,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02)))
    files = {}
    for seq, pred in ((SEQ, PRED), (48, 7)):
        shards = [str(root / f"train{seq}-{i}.tfrecord") for i in range(2)]
        pretraining_data.create_pretraining_data(
            str(text_file), ",".join(shards), str(vocab_file), max_seq_length=seq,
            max_predictions_per_seq=pred, dupe_factor=3,
        )
        files[seq] = str(root / f"train{seq}-*.tfrecord")
    # The same instances (a seed, short_seq_prob 0.5 for some short ones) one per record and packed.
    for name, pack in (("short", False), ("packed", True)):
        shards = [str(root / f"{name}-{i}.tfrecord") for i in range(2)]
        pretraining_data.create_pretraining_data(
            str(text_file), ",".join(shards), str(vocab_file), max_seq_length=SEQ, max_predictions_per_seq=PRED,
            dupe_factor=2, short_seq_prob=0.5, pack=pack, max_sequences_per_row=PER_ROW)
        files[name] = str(root / f"{name}-*.tfrecord")
    return dict(root=root, vocab=str(vocab_file), config=str(config_file), files=files)


def options(corpus, output_dir, **overrides):
    values = dict(
        output_dir=str(output_dir), input_file=corpus["files"][SEQ], bert_config_file=corpus["config"],
        vocab_file=corpus["vocab"], max_seq_length=SEQ, max_predictions_per_seq=PRED, do_train=True,
        train_batch_size=8, eval_batch_size=8, learning_rate=1e-3, num_train_steps=6, num_warmup_steps=2,
        save_checkpoints_steps=3, log_steps=3, max_eval_steps=4, shuffle_buffer_size=100,
    )
    values.update(overrides)
    return pretraining.PretrainingOptions(**values)


def read_eval_results(path):
    results = {}
    for line in open(path):
        key, value = line.rstrip("\n").split(" = ")
        results[key] = float(value)
    return results


def test_train_eval_and_save(corpus, tmp_path):
    out = tmp_path / "run"
    results = pretraining.run_pretraining(options(corpus, out, do_eval=True, save_pretrained_format="hf,original"))
    assert results["train"]["global_step"] == 6
    written = read_eval_results(out / "eval_results.txt")
    assert set(written) == EVAL_KEYS
    assert written["global_step"] == 6
    assert all(np.isfinite(v) for v in written.values())
    assert 0.0 <= written["masked_lm_accuracy"] <= 1.0
    # The saved pretrained models hold the trained weights, heads included.
    checkpoint_weights = None
    for fmt in ("hf", "original"):
        loaded = load_checkpoint(str(out / f"pretrained_{fmt}"))
        assert loaded.masked_lm_head is not None and loaded.next_sentence_head is not None
        weights = loaded.encoder.get_weights()
        if checkpoint_weights is None:
            checkpoint_weights = weights
        else:
            for a, b in zip(weights, checkpoint_weights):
                np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in out.glob("ckpt-*.index")) == ["ckpt-3.index", "ckpt-6.index"]
    # TensorBoard scalars at every log step.
    import tensorflow as tf

    scalars = {}
    for event_file in (out / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(event.step)
    for tag in ("loss", "masked_lm_accuracy", "next_sentence_accuracy", "learning_rate", "examples_per_second"):
        assert scalars.get(tag) == [3, 6], (tag, scalars)


def test_eval_every_checkpoint_records_held_out_curves(corpus, tmp_path):
    """--eval_every_checkpoint: an evaluation after each checkpoint, each the same as evaluating that
    checkpoint alone, in eval_history.jsonl and TensorBoard's eval/; the final one is not run twice, and
    a resumed run replaces the step it repeats instead of counting it again."""
    import tensorflow as tf

    out = tmp_path / "run"
    held_out = dict(eval_input_file=corpus["files"]["short"], do_eval=True, eval_every_checkpoint=True)
    pretraining.run_pretraining(options(corpus, out, num_train_steps=3, **held_out))
    results = pretraining.run_pretraining(options(corpus, out, **held_out))
    history = pretraining.read_eval_history(str(out))
    assert [h["global_step"] for h in history] == [3, 6]
    assert all(set(h) == EVAL_KEYS for h in history)
    assert history[-1] == results["eval"] == read_eval_results(out / "eval_results.txt")
    # The step-3 curve point is that checkpoint's evaluation.
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("checkpoint", "ckpt-3.index", "ckpt-3.data-00000-of-00001"):
        if name == "checkpoint":
            (alone / name).write_text('model_checkpoint_path: "ckpt-3"\n')
        else:
            (alone / name).write_bytes((out / name).read_bytes())
    again = pretraining.run_pretraining(options(corpus, alone, do_train=False, do_eval=True,
                                                eval_input_file=corpus["files"]["short"]))
    for key in ("masked_lm_loss", "masked_lm_accuracy", "next_sentence_accuracy"):
        assert again["eval"][key] == pytest.approx(history[0][key], abs=1e-6)
    scalars = {}
    for event_file in (out / "eval").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(event.step)
    for tag in ("loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy"):
        assert sorted(scalars.get(tag, [])) == [3, 6], (tag, scalars)


def test_a_training_run_draws_its_curves(corpus, tmp_path, capsys):
    """curves.png at the end of a (resumed) training run: the scalars it logged to train/ and, with
    --eval_every_checkpoint, eval/ -- each step once, the resumed run's value for the step it repeats."""
    out = tmp_path / "run"
    held_out = dict(eval_input_file=corpus["files"]["short"], do_eval=True, eval_every_checkpoint=True)
    pretraining.run_pretraining(options(corpus, out, num_train_steps=3, **held_out))
    capsys.readouterr()
    pretraining.run_pretraining(options(corpus, out, **held_out))
    assert f"training curves: {out / curves.CURVES_FILE}" in capsys.readouterr().out.splitlines()
    assert_drawn_png(out / curves.CURVES_FILE)
    scalars = curves.read_scalars(str(out))
    for tag in ("loss", "masked_lm_loss", "masked_lm_accuracy", "next_sentence_accuracy", "learning_rate",
                "examples_per_second", "gradient_norm"):
        assert [step for step, _ in scalars["train"][tag]] == [3, 6], (tag, scalars["train"])
    assert set(scalars["eval"]) == EVAL_KEYS - {"global_step", "eval_steps"}
    history = pretraining.read_eval_history(str(out))
    for tag, points in scalars["eval"].items():
        assert [step for step, _ in points] == [3, 6]
        np.testing.assert_allclose([v for _, v in points], [h[tag] for h in history], rtol=1e-6)


def test_without_matplotlib_a_run_finishes_and_says_how_to_draw(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "run"
    results = pretraining.run_pretraining(options(corpus, out, num_train_steps=1, num_warmup_steps=0))
    assert results["train"]["global_step"] == 1
    hints = [line for line in capsys.readouterr().out.splitlines() if "not drawn" in line]
    assert hints == [f"{curves.CURVES_FILE} not drawn: matplotlib is not installed ({curves.PLOTS_HINT} draws "
                     "the curves)"]
    assert not (out / curves.CURVES_FILE).exists()


def test_mixed_bfloat16_pretrains_and_saves_float32(corpus, tmp_path, capsys):
    """--mixed_precision=mixed_bfloat16 (what auto picks on bf16 CPUs): the run says so, run_info.json keeps
    it, the losses are float32 and finite, the saved pretrained model is float32."""
    import keras

    out = tmp_path / "bf16"
    results = pretraining.run_pretraining(options(corpus, out, do_eval=True, mixed_precision="mixed_bfloat16",
                                                  save_pretrained_format="hf"))
    assert "precision: mixed_bfloat16 (--mixed_precision=mixed_bfloat16)" in capsys.readouterr().out
    assert json.load(open(out / pretraining.RUN_INFO_FILE)) == {
        "mixed_precision": "mixed_bfloat16", "mixed_precision_reason": "--mixed_precision=mixed_bfloat16"}
    assert all(np.isfinite(v) for v in results["eval"].values()) and np.isfinite(results["train"]["loss"])
    assert keras.config.dtype_policy().name == "float32"
    loaded = load_checkpoint(str(out / "pretrained_hf"))
    assert {w.dtype for w in loaded.encoder.get_weights() + loaded.masked_lm_head.get_weights()} == {
        np.dtype("float32")}
    # `auto` in this suite: as on a CPU without bf16 (tests/conftest.py).
    pretraining.run_pretraining(options(corpus, tmp_path / "auto", num_train_steps=1, num_warmup_steps=0))
    assert json.load(open(tmp_path / "auto" / pretraining.RUN_INFO_FILE))["mixed_precision"] == "float32"


def test_resume_continues_from_the_newest_checkpoint(corpus, tmp_path):
    out = tmp_path / "run"
    first = pretraining.run_pretraining(options(corpus, out, num_train_steps=3))
    assert first["train"]["resumed_from"] is None
    second = pretraining.run_pretraining(options(corpus, out, num_train_steps=6))
    assert second["train"]["resumed_from"].endswith("ckpt-3")
    assert second["train"]["global_step"] == 6


def test_two_phase_continues_at_a_longer_length(corpus, tmp_path):
    phase1 = tmp_path / "phase1"
    pretraining.run_pretraining(options(corpus, phase1, num_train_steps=3))
    phase2 = tmp_path / "phase2"
    results = pretraining.run_pretraining(options(
        corpus, phase2, bert_config_file=None, init_checkpoint=str(phase1), input_file=corpus["files"][48],
        max_seq_length=48, max_predictions_per_seq=7, num_train_steps=3, do_eval=True,
    ))
    assert results["train"]["resumed_from"] is None
    assert results["train"]["global_step"] == 3
    assert read_eval_results(phase2 / "eval_results.txt")["global_step"] == 3


def test_init_from_a_pretrained_checkpoint_and_eval_only(corpus, tmp_path):
    first = tmp_path / "first"
    pretraining.run_pretraining(options(corpus, first, num_train_steps=3))
    second = tmp_path / "second"
    results = pretraining.run_pretraining(options(
        corpus, second, bert_config_file=None, init_checkpoint=str(first / "pretrained_hf"),
        do_train=False, do_eval=True,
    ))
    # Same weights, same data: eval-only from the saved model equals an eval of the run.
    again = pretraining.run_pretraining(options(corpus, first, num_train_steps=3, do_train=False, do_eval=True))
    assert results["eval"]["masked_lm_loss"] == pytest.approx(again["eval"]["masked_lm_loss"], rel=1e-5)
    assert results["eval"]["global_step"] == 0 and again["eval"]["global_step"] == 3


def test_dynamic_masking_trains(corpus, tmp_path):
    results = pretraining.run_pretraining(options(
        corpus, tmp_path / "run", dynamic_masking=True, do_whole_word_mask=True, num_train_steps=3,
    ))
    assert np.isfinite(results["train"]["loss"])


@pytest.mark.parametrize("overrides, message", [
    (dict(max_seq_length=128), "--max_seq_length=128 is above the model's max_position_embeddings=64"),
    (dict(max_predictions_per_seq=30), "--max_predictions_per_seq=30"),
    (dict(max_seq_length=48), "max_seq_length"),  # The data holds 32-token examples.
    (dict(input_file="/nonexistent/train-*.tfrecord"), "nonexistent"),
    (dict(do_train=False), "--do_train"),
    (dict(num_warmup_steps=100), "--num_warmup_steps=100"),
    (dict(dynamic_masking=True, vocab_file=None), "--dynamic_masking needs --vocab_file"),
    (dict(train_batch_size=6, gradient_accumulation_steps=4), "--gradient_accumulation_steps=4"),
    (dict(bert_config_file=None), "no model configuration"),
    (dict(init_checkpoint="/nonexistent/model"), "--init_checkpoint=/nonexistent/model"),
    (dict(save_pretrained_format="onnx"), "--save_pretrained_format"),
    (dict(max_sequences_per_row=0), "--max_sequences_per_row=0: must be an int >= 1"),
    (dict(max_sequences_per_row=PER_ROW, dynamic_masking=True, vocab_file=None), "--dynamic_masking needs --vocab_file"),
    (dict(max_sequences_per_row=PER_ROW, do_whole_word_mask=True), "--do_whole_word_mask applies to --dynamic_masking"),
    (dict(max_sequences_per_row=PER_ROW), r"train32-0.tfrecord': record 0 lacks the feature 'sequence_mask'"),
    (dict(input_file="packed"), r"packed-0.tfrecord': holds packed rows .* give --max_sequences_per_row"),
    (dict(input_file="packed", max_sequences_per_row=2), "next_sentence_labels has 3 values, --max_sequences_per_row is 2"),
    (dict(input_file="packed", max_sequences_per_row=PER_ROW, masked_lm_prob=0.5),
     r"masked_lm_positions has 7 values, max_predictions_per_row is 15 \(computed from --max_seq_length"),
])
def test_contradictions_fail_before_any_work(corpus, tmp_path, overrides, message):
    out = tmp_path / "run"
    if overrides.get("input_file") == "packed":
        overrides = dict(overrides, input_file=corpus["files"]["packed"])
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        pretraining.run_pretraining(options(corpus, out, **overrides))
    assert not out.exists(), "nothing may be written before the checks pass"


def test_truncated_shard_is_named(corpus, tmp_path):
    bad = tmp_path / "bad.tfrecord"
    data = open(corpus["files"][SEQ].replace("*", "0"), "rb").read()
    bad.write_bytes(data[:-7])
    with pytest.raises(ValueError, match="bad.tfrecord"):
        pretraining.run_pretraining(options(corpus, tmp_path / "run", input_file=str(bad)))


@pytest.mark.slow  # ~22 s of subprocesses; the command line of this program also runs in tests/reliability (default run).
def test_cli(corpus, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    o = options(corpus, tmp_path / "cli", do_eval=True, num_train_steps=2, save_checkpoints_steps=2, log_steps=1)
    args = [f"--{f.name}={getattr(o, f.name)}" for f in dataclasses.fields(o)
            if getattr(o, f.name) is not None and not isinstance(getattr(o, f.name), bool)
            and f.name != "steps_per_execution"]
    args += ["--do_train", "--do_eval", "--iterations_per_loop=2"]
    run = subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", "pretrain", *args],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step 2/2 (100%)" in run.stdout and "examples/s" in run.stdout
    assert read_eval_results(tmp_path / "cli" / "eval_results.txt")["global_step"] == 2
    bad = subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", "pretrain", *args, "--max_seq_length=999"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert bad.returncode != 0
    assert "--max_seq_length=999" in bad.stderr


@pytest.mark.parametrize("masking", [
    # The default run keeps the dynamic variant (it reads the packed files too); this one is slow.
    pytest.param({}, marks=pytest.mark.slow), dict(dynamic_masking=True, do_whole_word_mask=True)],
    ids=["file_masks", "dynamic_masking"])
def test_packed_input_trains_resumes_and_counts_rows(corpus, tmp_path, masking):
    """Packed files: a batch is train_batch_size rows holding more instances
    than rows; the run trains, checkpoints and resumes. With --dynamic_masking
    the rows are the same, their masked LM targets drawn afresh per sequence."""
    import tensorflow as tf

    packed = dict(input_file=corpus["files"]["packed"], max_sequences_per_row=PER_ROW, **masking)
    o = options(corpus, tmp_path / "run", num_train_steps=3, **packed)
    scanned = pretraining.pretraining_input.scan_pretraining_files(o.input_file, *pretraining.record_lengths(o))
    dynamic = pretraining._masking(o, initialization.resolve_config(o.bert_config_file, vocab_file=o.vocab_file))
    batch = next(iter(pretraining.make_dataset_fn(o, scanned, o.train_batch_size, True, dynamic)(
        tf.distribute.InputContext())))
    assert batch["input_word_ids"].shape == (o.train_batch_size, SEQ)
    assert batch["sequence_mask"].shape == batch["next_sentence_labels"].shape == (o.train_batch_size, PER_ROW)
    assert batch["masked_lm_positions"].shape == (o.train_batch_size, 7)  # floor(32 * 0.15) + 3.
    rows = list(pretraining.make_dataset_fn(o, scanned, 1, False, dynamic)(tf.distribute.InputContext()))
    assert len(rows) == sum(scanned[1]) < sum(int(tf.reduce_sum(row["sequence_mask"])) for row in rows)
    assert max(int(tf.reduce_max(row["input_mask"])) for row in rows) >= 2
    if dynamic:  # The files' rows, masked afresh inside each sequence.
        files = list(pretraining.make_dataset_fn(o, scanned, 1, False, None)(tf.distribute.InputContext()))
        restore = pretraining.pretraining_input.restore_masked_tokens
        as_read = {"input_word_ids": "input_ids"}
        for row, file_row in zip(rows, files):
            restored = [restore({as_read.get(k, k): v for k, v in r.items()}).numpy() for r in (row, file_row)]
            np.testing.assert_array_equal(*restored)
            np.testing.assert_array_equal(row["input_mask"], file_row["input_mask"])
        changed = [(r["masked_lm_positions"].numpy() != f["masked_lm_positions"].numpy()).any()
                   for r, f in zip(rows, files)]
        assert np.mean(changed) > 0.5
        sequences = np.concatenate([np.take_along_axis(r["input_mask"].numpy(), r["masked_lm_positions"].numpy(),
                                                       axis=1)[r["masked_lm_weights"].numpy() > 0] for r in rows])
        assert sequences.min() >= 1 and sequences.max() >= 2  # Inside sequences, not only the first.
    first = pretraining.run_pretraining(o)
    assert first["train"]["resumed_from"] is None and np.isfinite(first["train"]["loss"])
    second = pretraining.run_pretraining(options(corpus, tmp_path / "run", num_train_steps=6, do_eval=True, **packed))
    assert second["train"]["resumed_from"].endswith("ckpt-3")
    assert second["train"]["global_step"] == 6
    assert np.isfinite(second["eval"]["loss"])


def test_packed_evaluation_equals_unpacked(corpus, tmp_path):
    """The same weights scored on the same instances, one per record or
    packed: the same losses and accuracies (the evaluation's weighted means
    over all of them; batch 1 so no record is left out). The weights come
    through the saved pretrained model (the training checkpoint's way is the
    next test)."""
    trained = tmp_path / "run"
    pretraining.run_pretraining(options(corpus, trained, input_file=corpus["files"]["short"], num_train_steps=3))
    scores = {}
    for name, extra in (("short", {}), ("packed", dict(max_sequences_per_row=PER_ROW))):
        scores[name] = pretraining.run_pretraining(options(
            corpus, tmp_path / name, input_file=corpus["files"][name], bert_config_file=None,
            init_checkpoint=str(trained / "pretrained_hf"), do_train=False, do_eval=True, eval_batch_size=1,
            max_eval_steps=10000, **extra))["eval"]
    assert scores["packed"]["eval_steps"] < scores["short"]["eval_steps"]  # Rows, fewer than instances.
    for key in ("masked_lm_loss", "next_sentence_loss", "masked_lm_accuracy", "next_sentence_accuracy", "loss"):
        assert scores["packed"][key] == pytest.approx(scores["short"][key], rel=1e-5, abs=1e-6), key


@pytest.mark.slow  # Two programs; tests/keras_bert/test_packed_rows.py checks the checkpoint names in the default run.
def test_a_training_checkpoint_restores_across_packing(corpus, tmp_path):
    """An unpacked run's checkpoint, evaluated by a packed and an unpacked
    model: the blocks restore into both (BertEncoder names them by layer)."""
    out = tmp_path / "run"
    pretraining.run_pretraining(options(corpus, out, input_file=corpus["files"]["short"], num_train_steps=3))
    scores = {name: pretraining.run_pretraining(options(
        corpus, out, input_file=corpus["files"][name], do_train=False, do_eval=True, eval_batch_size=1,
        max_eval_steps=10000, **extra))["eval"]
        for name, extra in (("short", {}), ("packed", dict(max_sequences_per_row=PER_ROW)))}
    assert scores["packed"]["masked_lm_loss"] == pytest.approx(scores["short"]["masked_lm_loss"], rel=1e-5)
