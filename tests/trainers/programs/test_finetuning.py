"""`keras-bert finetune` / `keras_bert.trainers.programs.finetuning.run_finetuning` end to end on
small learnable synthetic tasks, plus layer-wise learning-rate decay."""

import json
import os
import random
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import saved_model as saved_model_lib
from keras_bert.trainers import run_dir
from keras_bert.trainers.engine import curves
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import optimization
from keras_bert.trainers.programs import finetuning
from tests.testing import REPO
from tests.trainers.engine.test_curves import assert_drawn_png

GOOD = ["good", "great", "fine", "happy"]
BAD = ["bad", "awful", "poor", "sad"]
FILLER = ["the", "a", "movie", "story", "was", "very", "and", "it", "king", "queen", "went", "home"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + GOOD + BAD + FILLER


def sentence(rng, polarity):
    words = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
    words.insert(rng.randint(0, len(words)), rng.choice(GOOD if polarity else BAD))
    return " ".join(words)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetuning")
    rng = random.Random(0)
    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    for name, n in (("train", 240), ("dev", 60)):
        rows = ["sentence\tlabel"]
        pairs = ["\ufeffq\ta\tb\r"]
        reg = ["text\tscore"]
        conll = ["-DOCSTART- O", ""]
        for _ in range(n):
            p = rng.random() < 0.5
            rows.append(f"{sentence(rng, p)}\t{'pos' if p else 'neg'}")
            a, b = sentence(rng, p), sentence(rng, rng.random() < 0.5)
            pairs.append(f"{int(('good' in a) == ('good' in b))}\t{a}\t{b}\r")
            words = sentence(rng, p).split()
            reg.append(f"{' '.join(words)}\t{float(sum(w in GOOD for w in words) * 2.0 - 1.0)}")
            for w in words:
                conll.append(f"{w} {'B-PER' if w in ('king', 'queen') else 'O'}")
            conll.append("")
        (root / f"{name}.tsv").write_text("\n".join(rows) + "\n")
        (root / f"{name}_pairs.tsv").write_text("\n".join(pairs) + "\n")
        (root / f"{name}_reg.tsv").write_text("\n".join(reg) + "\n")
        (root / f"{name}.conll").write_text("\n".join(conll) + "\n")
    return root


def options(data, out, **overrides):
    values = dict(
        task="classification", output_dir=str(out), train_file=str(data / "train.tsv"),
        eval_file=str(data / "dev.tsv"), text_a_column="sentence", label_column="label",
        bert_config_preset="tiny", vocab_file=str(data / "vocab.txt"), max_seq_length=24,
        do_train=True, do_eval=True, train_batch_size=16, learning_rate=2e-3, num_train_epochs=4,
        warmup_proportion=0.1, log_steps=1000, dropout=0.0,
    )
    values.update(overrides)
    return finetuning.FinetuningOptions(**values)


def read_results(path):
    return {k: float(v) for k, v in (line.rstrip("\n").split(" = ") for line in open(path))}


def test_classification_learns_and_predicts(data, tmp_path):
    out = tmp_path / "cls"
    results = finetuning.run_finetuning(options(data, out, do_predict=True, predict_file=str(data / "dev.tsv")))
    written = read_results(out / "eval_results.txt")
    assert set(written) == {"eval_accuracy", "eval_f1", "eval_loss", "eval_mcc", "global_step"}
    assert written["eval_accuracy"] >= 0.9, written  # A word decides the label.
    assert results["eval"]["accuracy"] == written["eval_accuracy"]
    task = json.load(open(out / "task.json"))
    assert task["label_list"] == ["neg", "pos"]
    rows = [line.rstrip("\n").split("\t") for line in open(out / "predictions.tsv")]
    assert len(rows) == 60 and rows[0][0].endswith("dev.tsv:2") and rows[0][1] in ("neg", "pos")
    assert abs(sum(float(x) for x in rows[0][2:]) - 1.0) < 1e-4
    for name in ("best/model.index", "model.keras", "vocab.txt", "model_config.json"):
        assert (out / name).exists(), name
    # Predict-only from the output directory: the kept best model, same answers.
    again = finetuning.run_finetuning(finetuning.FinetuningOptions(
        task="classification", output_dir=str(out), predict_file=str(data / "dev.tsv"),
        text_a_column="sentence", vocab_file=str(out / "vocab.txt"), bert_config_file=str(out / "model_config.json"),
        max_seq_length=24, do_predict=True, prediction_format="jsonl"))
    predicted = [json.loads(line)["label"] for line in open(again["predict"])]
    assert predicted == [row[1] for row in rows]


def test_dev_scores_go_to_tensorboard_and_curves_png(data, tmp_path, capsys):
    """Each checkpoint's dev scores are scalars in eval/ (the printed ones); the run ends with curves.png:
    training loss and learning rate as lines, each dev metric (the dev loss with the training loss)."""
    out = tmp_path / "curves"
    finetuning.run_finetuning(options(data, out, num_train_epochs=2, log_steps=5))  # 15 steps an epoch.
    printed = capsys.readouterr().out.splitlines()
    assert f"training curves: {out / curves.CURVES_FILE}" in printed
    assert_drawn_png(out / curves.CURVES_FILE)
    scalars = curves.read_scalars(str(out))
    for tag in ("loss", "classification_loss", "classification_accuracy", "learning_rate", "examples_per_second"):
        assert [step for step, _ in scalars["train"][tag]] == [5, 10, 15, 20, 25, 30], (tag, scalars["train"])
    assert set(scalars["eval"]) == {"accuracy", "f1", "loss", "mcc"}
    dev_lines = [line for line in printed if line.startswith("dev at step ")]
    assert [line.split(":")[0] for line in dev_lines] == ["dev at step 15", "dev at step 30"]
    for step, line in zip((15, 30), dev_lines):
        for tag, points in scalars["eval"].items():
            assert dict(points)[step] == pytest.approx(float(line.split(f" {tag}=")[1].split()[0]), abs=1e-4)
    assert curves.default_quantities(scalars) == ["loss", "learning_rate", "accuracy", "f1", "mcc"]


def test_without_matplotlib_finetuning_finishes_and_says_how_to_draw(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "plain"
    results = finetuning.run_finetuning(options(data, out, num_train_epochs=0.1))  # Two steps.
    assert results["train"]["global_step"] == 2 and "accuracy" in results["eval"]
    hints = [line for line in capsys.readouterr().out.splitlines() if "not drawn" in line]
    assert hints == [f"{curves.CURVES_FILE} not drawn: matplotlib is not installed ({curves.PLOTS_HINT} draws "
                     "the curves)"]
    assert not (out / curves.CURVES_FILE).exists()
    assert [step for step, _ in curves.read_scalars(str(out))["eval"]["accuracy"]] == [2]


def float32_outputs(model, features):
    """`model`'s outputs on `features`, checked float32 (its variables too)."""
    assert {v.dtype for v in model.weights} == {"float32"}, model.name
    outputs = model(features, training=False)
    assert all(v.dtype == tf.float32 for v in outputs.values()), {k: v.dtype for k, v in outputs.items()}
    return {k: v.numpy() for k, v in outputs.items()}


def test_auto_precision_on_this_cpu_trains_and_saves_float32(data, tmp_path, capsys, host_cpu_flags):
    """`auto` on this machine's own CPU flags (mixed_bfloat16 with AVX512_BF16 or AMX): the run says which and
    why among its first lines, task.json keeps both, it learns, and what it leaves -- best/, model.keras and
    the export -- holds float32 variables and answers in float32; Keras' global policy is float32 again."""
    policy, reason = distribution.choose_precision("auto", "CPU", host_cpu_flags)
    out = tmp_path / "auto"
    results = finetuning.run_finetuning(options(data, out, num_train_epochs=3))
    assert f"precision: {policy} ({reason})" in capsys.readouterr().out.splitlines()[:2]
    task_info = run_dir.read_task_info(str(out))
    assert (task_info["mixed_precision"], task_info["mixed_precision_reason"]) == (policy, reason)
    assert results["eval"]["accuracy"] >= 0.9, results["eval"]  # A word decides the label.
    assert keras.config.dtype_policy().name == "float32"
    preprocessor = run_dir.make_preprocessor(str(out), task_info)
    texts = ["the movie was good", "it was an awful story", "the king went home"]
    features = preprocessor(tf.constant(texts))
    best = float32_outputs(run_dir.load_model(str(out), task_info, run_dir.read_config(str(out))), features)
    saved = float32_outputs(keras.saving.load_model(str(out / "model.keras"), compile=False), features)
    np.testing.assert_allclose(saved["logits"], best["logits"], atol=1e-5)
    version = saved_model_lib.export_saved_model(str(out), str(tmp_path / "export"), warmup=False)
    stored = tf.train.load_checkpoint(os.path.join(version, "variables", "variables")).get_variable_to_dtype_map()
    assert {dtype for dtype in stored.values() if dtype.is_floating} == {tf.float32}
    served = tf.saved_model.load(version).signatures["serving_default"](text=tf.constant(texts))
    assert all(v.dtype == tf.float32 for v in served.values() if v.dtype.is_floating), served
    probabilities = tf.nn.softmax(best["logits"]).numpy()
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities, atol=1e-5)


def test_sentence_pairs_with_bom_and_crlf(data, tmp_path):
    results = finetuning.run_finetuning(options(
        data, tmp_path / "pairs", train_file=str(data / "train_pairs.tsv"), eval_file=str(data / "dev_pairs.tsv"),
        text_a_column="a", text_b_column="b", label_column="q", num_train_epochs=1))
    assert np.isfinite(results["eval"]["loss"])


def test_regression(data, tmp_path):
    results = finetuning.run_finetuning(options(
        data, tmp_path / "reg", task="regression", train_file=str(data / "train_reg.tsv"),
        eval_file=str(data / "dev_reg.tsv"), text_a_column="text", label_column="score", num_train_epochs=6))
    assert results["eval"]["pearson"] > 0.8, results["eval"]


def test_tagging_and_frozen_encoder(data, tmp_path):
    results = finetuning.run_finetuning(options(
        data, tmp_path / "tag", task="tagging", train_file=str(data / "train.conll"),
        eval_file=str(data / "dev.conll"), text_a_column=None, label_column=None, num_train_epochs=4,
        layerwise_lr_decay=0.9))
    assert results["eval"]["f1"] > 0.9, results["eval"]
    frozen = finetuning.run_finetuning(options(
        data, tmp_path / "frozen", task="tagging", train_file=str(data / "train.conll"),
        eval_file=str(data / "dev.conll"), text_a_column=None, label_column=None, num_train_epochs=1,
        train_encoder=False))
    assert np.isfinite(frozen["eval"]["loss"])


@pytest.mark.slow  # ~21 s; test_packed_rows_learn_regression and the packing tests stay in the default run.
def test_packed_rows_learn_classification_and_tagging(data, tmp_path, capsys):
    """--packing: rows of 24 hold several examples; each family still learns
    what it learns unpacked, in fewer steps (the batch counts rows)."""
    results = finetuning.run_finetuning(options(data, tmp_path / "cls", packing=True, max_sequences_per_row=8,
                                                train_batch_size=4, num_train_epochs=6, do_predict=True,
                                                predict_file=str(data / "dev.tsv"), prediction_format="jsonl"))
    assert results["eval"]["accuracy"] >= 0.9, results["eval"]
    task = json.load(open(tmp_path / "cls" / "task.json"))
    assert task["packing"] is True and task["max_sequences_per_row"] == 8
    # Evaluated and predicted on packed rows: the same as `keras-bert predict` unpacked.
    from keras_bert.trainers.programs import prediction

    unpacked = prediction.run_predict(prediction.PredictOptions(
        str(tmp_path / "cls"), str(data / "dev.tsv"), output_file=str(tmp_path / "unpacked.jsonl"), packing=False))
    packed_rows = [json.loads(line) for line in open(results["predict"])]
    unpacked_rows = [json.loads(line) for line in open(unpacked)]
    assert [r["guid"] for r in packed_rows] == [r["guid"] for r in unpacked_rows]
    np.testing.assert_allclose([r["probabilities"] for r in packed_rows],
                               [r["probabilities"] for r in unpacked_rows], atol=1e-5)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("fine-tuning"))
    rows = int(line.split("packed rows (")[1].split()[0])
    assert " rows/s" in out and " examples/s" not in out  # The throughput counts what a batch counts.
    assert rows < 240 / 2  # 240 sentences of 4-9 words + 2: at least two a row.
    assert results["train"]["global_step"] == -(-6 * rows // 4)
    tagging = finetuning.run_finetuning(options(
        data, tmp_path / "tag", task="tagging", train_file=str(data / "train.conll"),
        eval_file=str(data / "dev.conll"), text_a_column=None, label_column=None, num_train_epochs=8,
        packing=True, max_sequences_per_row=8, train_batch_size=4, do_predict=True,
        predict_file=str(data / "dev.conll")))
    assert tagging["eval"]["f1"] > 0.9, tagging["eval"]
    # `keras-bert predict` packs as the training run did (task.json), from model.keras as well.
    from keras_bert.trainers.programs import prediction

    os.rename(tmp_path / "tag" / "best", tmp_path / "best.away")
    again = prediction.run_predict(prediction.PredictOptions(
        str(tmp_path / "tag"), str(data / "dev.conll"), output_file=str(tmp_path / "again.tsv")))
    assert open(again).read() == open(tagging["predict"]).read()


@pytest.mark.slow  # 12 epochs; classification and tagging learn packed in the default run.
def test_packed_rows_learn_regression(data, tmp_path):
    regression = finetuning.run_finetuning(options(
        data, tmp_path / "reg", task="regression", train_file=str(data / "train_reg.tsv"),
        eval_file=str(data / "dev_reg.tsv"), text_a_column="text", label_column="score", num_train_epochs=12,
        packing=True, max_sequences_per_row=8, train_batch_size=4))
    assert regression["eval"]["pearson"] > 0.8, regression["eval"]


def test_packed_epochs_keep_every_example_and_shard_disjointly(data, tmp_path):
    """Each epoch's rows hold every training example once (count in = count
    out, labels and tokens included); epochs are packed in different seeded
    orders; two input pipelines read disjoint halves of the rows."""
    import tensorflow as tf

    from keras_bert.text.bert_preprocessor import BertPreprocessor
    from keras_bert.trainers import tasks

    task = tasks.get("classification")
    o = options(data, tmp_path / "o", packing=True, max_sequences_per_row=8, num_train_epochs=2,
                train_batch_size=4)
    examples = task.read(o, o.train_file, {"label_list": ["neg", "pos"]}, True)
    preprocessor = BertPreprocessor(o.vocab_file, seq_length=o.max_seq_length)
    features, _ = task.features(examples, preprocessor, {"label_list": ["neg", "pos"]}, True, o, is_training=True)
    packed = finetuning._packed_epochs(task, features, o)
    rows = packed["features"]
    per_epoch = rows["sequence_mask"].sum(axis=1).cumsum()
    first = int(np.searchsorted(per_epoch, len(examples))) + 1  # Rows of the first epoch.
    assert per_epoch[first - 1] == len(examples) and per_epoch[-1] == 2 * len(examples)
    for epoch in (slice(0, first), slice(first, None)):
        assert np.bincount(rows["labels"][epoch][rows["sequence_mask"][epoch] == 1]).tolist() == \
            np.bincount(features["labels"]).tolist()
        assert (rows["input_mask"][epoch] > 0).sum() == (features["input_mask"] > 0).sum()
    assert not np.array_equal(rows["input_word_ids"][:first], rows["input_word_ids"][first:2 * first])
    # The rows come in random order, not first-fit decreasing's (from the
    # fewest examples a row to the most): a batch's composition is random.
    counts = rows["sequence_mask"][:first].sum(axis=1)
    assert abs(np.corrcoef(np.arange(first), counts)[0, 1]) < 0.3, counts
    numbered = {"row": np.arange(len(rows["input_mask"]))}
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
        dataset = finetuning._packed_dataset_fn(numbered, o)(context)
        seen.append([int(r) for batch in dataset.take(len(numbered["row"]) // 4) for r in batch["row"]])
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(len(numbered["row"]) // 4 * 4))


def test_packing_refused_where_it_does_not_apply(data, tmp_path):
    with pytest.raises(ValueError, match=r"--packing: squad runs unpacked \(its windows"):
        finetuning.run_finetuning(options(data, tmp_path / "squad", task="squad", text_a_column=None,
                                          label_column=None, packing=True))
    with pytest.raises(ValueError, match="--max_sequences_per_row=0: must be an int >= 1"):
        finetuning.run_finetuning(options(data, tmp_path / "zero", packing=True, max_sequences_per_row=0))


@pytest.mark.parametrize("overrides, message", [
    (dict(text_a_column=None), "--text_a_column"),
    (dict(label_column="nope"), "nope"),
    (dict(task="summarization"), "--task='summarization'"),
    (dict(max_seq_length=1000), "--max_seq_length=1000"),
    (dict(layerwise_lr_decay=1.5), "--layerwise_lr_decay"),
    (dict(do_train=False, do_eval=False), "--do_train"),
    (dict(eval_file=None), "--do_eval needs --eval_file"),
])
def test_errors_before_work(data, tmp_path, overrides, message):
    out = tmp_path / "bad"
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        finetuning.run_finetuning(options(data, out, **overrides))
    assert not (out / "best").exists()


def test_bad_row_names_file_and_line(data, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\ngood movie\tpos\nno label here\n")
    with pytest.raises(ValueError, match="bad.tsv:3"):
        finetuning.run_finetuning(options(data, tmp_path / "o", train_file=str(bad)))


def test_layerwise_multipliers():
    m = optimization.layerwise_lr_multiplier
    assert m("bert_classifier/classifier/kernel", 4, 0.5) == 1.0
    assert m("pooler_dense/kernel", 4, 0.5) == 1.0
    assert m("transformer_layer_3/attention/query/kernel", 4, 0.5) == 0.5
    assert m("transformer_layer_0/output_dense/bias", 4, 0.5) == 0.5 ** 4
    assert m("embeddings/word_embeddings/embeddings", 4, 0.5) == 0.5 ** 5
    assert m("transformer_layer_0/output_dense/bias", 4, 1.0) == 1.0


@pytest.mark.slow  # ~22 s of subprocesses; the command line of this program also runs in tests/reliability (default run).
def test_cli(data, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    args = ["--task=classification", f"--output_dir={tmp_path / 'cli'}", f"--train_file={data / 'train.tsv'}",
            f"--eval_file={data / 'dev.tsv'}", "--text_a_column=sentence", "--label_column=label",
            "--bert_config_preset=tiny", f"--vocab_file={data / 'vocab.txt'}", "--max_seq_length=24",
            "--do_train", "--do_eval", "--num_train_epochs=1", "--train_batch_size=16"]
    run = subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", "finetune", *args],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "dev at step" in run.stdout
    assert (tmp_path / "cli" / "eval_results.txt").exists()
    bad = subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli", "finetune", *args, "--label_column=zzz"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert bad.returncode != 0 and "zzz" in bad.stderr


def write_squad(tmp_path):
    """A SQuAD 2.0 file of three questions (one without an answer) on one context."""
    context = "the king went home . the queen was happy and the story was good ."
    qas = [
        {"id": "q1", "question": "who went home ?", "answers": [{"text": "the king", "answer_start": 0}],
         "is_impossible": False},
        {"id": "q2", "question": "who was happy ?", "answers": [{"text": "the queen", "answer_start": 20}],
         "is_impossible": False},
        {"id": "q3", "question": "was the movie sad ?", "answers": [], "is_impossible": True},
    ]
    squad = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    return path


def test_squad_trains_scores_and_writes_answers(data, tmp_path):
    path = write_squad(tmp_path)
    out = tmp_path / "squad"
    results = finetuning.run_finetuning(options(
        data, out, task="squad", train_file=str(path), eval_file=str(path), predict_file=str(path),
        do_predict=True, text_a_column=None, label_column=None, max_seq_length=32, doc_stride=8,
        max_query_length=8, num_train_epochs=30, train_batch_size=4, learning_rate=3e-3))
    # Memorising three questions: the official script's EM on them.
    assert results["eval"]["exact"] >= 66.0, results["eval"]
    assert {"HasAns_exact", "NoAns_exact", "final_f1"} <= set(results["eval"])
    predictions = json.load(open(out / "predictions.json"))
    assert set(predictions) == {"q1", "q2", "q3"}
    assert set(json.load(open(out / "null_odds.json"))) == {"q1", "q2", "q3"}
    assert read_results(out / "eval_results.txt")["eval_exact"] == results["eval"]["exact"]


BF16_FAMILIES = {
    "classification_packed": lambda data, tmp: dict(packing=True, max_sequences_per_row=8, train_batch_size=4),
    "regression": lambda data, tmp: dict(task="regression", train_file=str(data / "train_reg.tsv"),
                                         eval_file=str(data / "dev_reg.tsv"), text_a_column="text",
                                         label_column="score"),
    "tagging_packed": lambda data, tmp: dict(task="tagging", train_file=str(data / "train.conll"),
                                             eval_file=str(data / "dev.conll"), text_a_column=None, label_column=None,
                                             packing=True, max_sequences_per_row=8, train_batch_size=4),
    "squad": lambda data, tmp: dict(task="squad", train_file=str(write_squad(tmp)), eval_file=str(tmp / "squad.json"),
                                    text_a_column=None, label_column=None, max_seq_length=32, doc_stride=8,
                                    max_query_length=8, train_batch_size=4, num_train_epochs=4),
}


# The default run keeps packed classification; every family in -m slow (the default run is kept under 20 min).
@pytest.mark.parametrize("family", [pytest.param(f, marks=[] if f == "classification_packed" else pytest.mark.slow)
                                    for f in sorted(BF16_FAMILIES)])
def test_mixed_bfloat16_trains_every_family_and_keeps_float32(data, tmp_path, family):
    """--mixed_precision=mixed_bfloat16 (what auto picks on bf16 CPUs), packed too: finite float32 losses and
    scores, the kept model float32 (multiple choice: tests/trainers/data/test_multiple_choice.py)."""
    out = tmp_path / family
    values = dict(num_train_epochs=1, mixed_precision="mixed_bfloat16", do_predict=True)
    values.update(BF16_FAMILIES[family](data, tmp_path))
    values["predict_file"] = values.get("eval_file", str(data / "dev.tsv"))
    results = finetuning.run_finetuning(options(data, out, **values))
    assert results["train"]["global_step"] > 0
    assert all(np.isfinite(v) for v in results["eval"].values()), results["eval"]
    task_info = run_dir.read_task_info(str(out))
    assert task_info["mixed_precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    model = run_dir.load_model(str(out), task_info, run_dir.read_config(str(out)))
    features = run_dir.make_preprocessor(str(out), task_info)((tf.constant(["who went home ?"]),
                                                               tf.constant(["the king went home ."])))
    float32_outputs(model, features)
