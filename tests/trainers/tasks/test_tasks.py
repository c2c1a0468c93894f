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
