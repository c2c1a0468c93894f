"""The task families: one object each, the only place that knows them apart."""

import dataclasses

import numpy as np
import pytest

from keras_bert.config import BertConfig
from keras_bert.trainers import run_dir
from keras_bert.trainers import tasks
from keras_bert.trainers.programs.options import FinetuningOptions
from keras_bert.trainers.tasks import task as task_lib

CONFIG = BertConfig(vocab_size=30, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16,
                    max_position_embeddings=16)


def test_every_family_is_complete():
    assert list(tasks.TASKS) == ["classification", "regression", "tagging", "squad", "multiple_choice"]
    for name, task in tasks.TASKS.items():
        assert task.name == name
        assert task.default_metric
        info = {"task": name, "label_list": ["a", "b", "c"] if task.labelled else None}
        model = task.build_model(CONFIG, info)
        assert isinstance(model, task.model_class)
        assert tasks.of_model(model) is task
        assert task.examples_method in (task_lib.PREDICT, task_lib.CLASSIFY, task_lib.REGRESS)
        assert task.token_rank in (2, 3)


def test_serving_knows_every_family_and_no_other():
    from keras_bert.export import serving

    assert set(serving.SIGNATURE_CLASSES) == set(tasks.TASKS)


def test_get_names_the_flag_and_the_choices():
    with pytest.raises(ValueError, match=r"--task='pretraining': must be one of classification, regression"):
        tasks.get("pretraining")
    with pytest.raises(ValueError, match="task.json=None"):
        tasks.get(None, "task.json")
    with pytest.raises(ValueError, match="BertClassifier, BertRegressor"):
        tasks.of_model(object())


def test_options_each_family_needs():
    base = FinetuningOptions(task="classification", output_dir="o")
    with pytest.raises(ValueError, match="--task=classification needs --text_a_column"):
        tasks.TASKS["classification"].check_options(base, training=False)
    with pytest.raises(ValueError, match="--label_column"):
        tasks.TASKS["regression"].check_options(dataclasses.replace(base, text_a_column="s"), training=True)
    with pytest.raises(ValueError, match="--task=multiple_choice needs --choice_columns"):
        tasks.TASKS["multiple_choice"].check_options(dataclasses.replace(base, text_a_column="s"), training=False)
    with pytest.raises(ValueError, match=r"not squad \(SQuAD windows with --doc_stride\)"):
        tasks.TASKS["squad"].check_options(dataclasses.replace(base, long_text_stride=8), training=False)
    with pytest.raises(ValueError, match="not tagging"):
        tasks.TASKS["tagging"].check_options(dataclasses.replace(base, long_text_stride=8), training=False)
    tasks.TASKS["tagging"].check_options(base, training=True)  # CoNLL files: no columns.


def test_scores_against_hand_computed_values():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    labels = np.array([0, 1, 1])
    results = tasks.TASKS["classification"].score({"logits": logits}, {"labels": labels}, {}, {}, None)
    assert results["accuracy"] == pytest.approx(2 / 3)
    expected_loss = -np.mean([np.log(np.exp(2) / (np.exp(2) + 1)), np.log(np.e / (np.e + 1)),
                              np.log(1 / (np.exp(3) + 1))])
    assert results["loss"] == pytest.approx(expected_loss)
    regression = tasks.TASKS["regression"].score({"score": np.array([1.0, 2.0, 3.0])},
                                                 {"labels": np.array([1.0, 2.0, 4.0])}, {}, {}, None)
    assert regression["loss"] == pytest.approx(1 / 3)
    assert regression["spearman"] == pytest.approx(1.0)


def test_prediction_files_per_family(tmp_path):
    assert tasks.TASKS["classification"].prediction_path("out", "jsonl") == "out/predictions.jsonl"
    assert tasks.TASKS["squad"].prediction_path("out", "tsv") == "out/predictions.json"
    assert tasks.TASKS["squad"].prediction_path("out", "tsv", "x/dev_predictions.json") == "x/dev_predictions.json"
    with pytest.raises(ValueError, match=r"--output_file=x.tsv: a SQuAD predictions file must be named"):
        tasks.TASKS["squad"].prediction_path("out", "tsv", "x.tsv")


def test_task_file_schema_names_the_key(tmp_path):
    path = tmp_path / "task.json"
    path.write_text('{"task": "classification", "label_list": ["a", 3]}')
    with pytest.raises(ValueError, match=r"task.json: \"label_list\" is \['a', 3\]"):
        run_dir.read_task_file(str(path))
    path.write_text('{"task": "classification", "max_seq_length": true}')
    with pytest.raises(ValueError, match=r"\"max_seq_length\" is True; it must be .* \(an integer\)"):
        run_dir.read_task_file(str(path))
    path.write_text('{"task": "summarization"}')
    with pytest.raises(ValueError, match="not a task.json of `keras-bert finetune`"):
        run_dir.read_task_file(str(path))
    path.write_text('{"task": "squad", "version_2_with_negative": null, "null_score_diff_threshold": 1}')
    assert run_dir.read_task_file(str(path))["task"] == "squad"


def random_features(lengths, seq, vocab_size, seed=0):
    """Unpacked features of examples of `lengths`: `[CLS]`-first ids, two segments."""
    rng = np.random.default_rng(seed)
    n = len(lengths)
    features = {name: np.zeros((n, seq), np.int32) for name in ("input_word_ids", "input_mask", "input_type_ids")}
    for i, length in enumerate(lengths):
        features["input_word_ids"][i, :length] = rng.integers(1, vocab_size, length)
        features["input_mask"][i, :length] = 1
        features["input_type_ids"][i, length // 2:length] = 1
    return features


@pytest.mark.parametrize("name", ["classification", "regression", "tagging"])
def test_packed_prediction_equals_unpacked(name):
    """Offline prediction on packed rows gives every example what it gets
    unpacked, in input order: per-example outputs and per-token ones."""
    import keras

    keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                        max_position_embeddings=32)
    task = tasks.TASKS[name]
    info = {"task": name, "label_list": ["a", "b", "c"] if task.labelled else None}
    packed_model = task.build_model(config, info, max_sequences_per_row=4)
    lengths = np.random.default_rng(1).integers(2, 33, 37)
    lengths[[3, 10]] = [32, 1]  # A full row and a sequence of one token.
    inputs = {"features": random_features(lengths, 32, 50), "extras": {}}
    unpacked = task.predict(packed_model, inputs, batch_size=5)
    packed = task.predict(packed_model, inputs, batch_size=3, max_sequences_per_row=4)
    assert unpacked.keys() == packed.keys()
    real = inputs["features"]["input_mask"] > 0
    for key in unpacked:
        assert packed[key].shape == unpacked[key].shape
        if key in task.sequence_outputs:  # Per token: real positions agree; padding is 0 when packed.
            assert not packed[key][~real].any()
            packed[key], unpacked[key] = packed[key][real], unpacked[key][real]
        np.testing.assert_allclose(packed[key], unpacked[key], atol=1e-5, err_msg=key)
    if name == "classification":  # Windows of long texts, pooled per example after unpacking.
        window_example = np.repeat(np.arange(13), 3)[:37]  # 13 texts of 3 windows (the last of 1).
        windows = {"features": inputs["features"], "extras": {"window_example": window_example, "pooling": "mean"}}
        np.testing.assert_allclose(task.predict(packed_model, windows, 8, max_sequences_per_row=4)["logits"],
                                   task.predict(packed_model, windows, 8)["logits"], atol=1e-5)
        other = task.build_model(config, info, max_sequences_per_row=2)
        with pytest.raises(ValueError, match="max_sequences_per_row=4: the model's encoder was built for 2"):
            task.predict(other, inputs, 3, max_sequences_per_row=4)


def test_packed_prediction_refused_for_unpackable_families():
    task = tasks.TASKS["multiple_choice"]
    with pytest.raises(ValueError, match="packed prediction: multiple_choice is not packable"):
        task.predict(None, {"features": {}, "extras": {}}, 4, max_sequences_per_row=4)
