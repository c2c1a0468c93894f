"""`keras-bert export` on a `keras-bert finetune` output_dir."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving_config as serving_config_lib
from keras_bert.trainers.programs import export as program

from tests.export.conftest import build_model
from tests.export.conftest import exports  # noqa: F401 (fixture)
from tests.export.conftest import tiny_config
from tests.testing import REPO



def finetune_dir(path, exports, name, task_info, keep="checkpoint", results=None):
    """A directory laid out as `keras-bert finetune` leaves it (trainers/programs/finetuning.py)."""
    os.makedirs(path)
    tiny_config().save(os.path.join(path, "model_config.json"))
    shutil.copyfile(exports.vocab_file, os.path.join(path, "vocab.txt"))
    info = {"max_seq_length": exports.preprocessor.seq_length, "lowercase": True, "label_list": None,
            "text_a_column": "a", "text_b_column": None}
    info.update(task_info)
    with open(os.path.join(path, "task.json"), "w") as f:
        json.dump(info, f)
    model = build_model(name, seed=7)
    if keep == "checkpoint":
        tf.train.Checkpoint(model=model).write(os.path.join(path, "best", "model"))
    else:
        model.save(os.path.join(path, "model.keras"))
    if results is not None:
        os.makedirs(os.path.join(path, "best"), exist_ok=True)
        with open(os.path.join(path, "best", "results.json"), "w") as f:
            json.dump(results, f)
    return model


@pytest.fixture(scope="module")
def mrpc_dir(exports, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("finetune") / "mrpc_out")
    model = finetune_dir(path, exports, "mrpc", {"task": "classification", "label_list": ["no", "yes", "maybe"],
                                                 "text_b_column": "b"})
    return path, model


def test_run_export(exports, mrpc_dir, tmp_path, capsys, monkeypatch):
    model_dir, model = mrpc_dir
    export_dir = str(tmp_path / "serving" / "mrpc")
    path = program.run_export(model_dir, export_dir, encoder_export_dir=str(tmp_path / "hub" / "encoder"),
                              preprocessor_export_dir=str(tmp_path / "hub" / "preprocessor"))
    assert path == os.path.join(export_dir, "1")
    out = capsys.readouterr().out
    assert f"exported the classification model of {model_dir} to {path}" in out
    assert "serving_default (predict): text_a, text_b -> " in out
    assert "serve_examples (classify): inputs -> classes, scores" in out
    assert "all servable" in out and "tensorflow/serving" in out
    # The audit for the default target, the oldest release supported.
    assert "  op audit: TF Serving 2.13 (tensorflow-text 2.12.1): " in out
    assert "  loads on TF Serving 2.13-2.20" in out
    assert "TF Serving configuration: batching_parameters.txt written, models.config written, SERVING.md written" in out
    assert f"-v {export_dir}:/models/mrpc" in out
    assert os.path.exists(str(tmp_path / "hub" / "encoder" / "saved_model.pb"))
    assert os.path.exists(str(tmp_path / "hub" / "preprocessor" / "saved_model.pb"))

    loaded = tf.saved_model.load(path)
    a, b = ["He left early.", "a"], ["He did not stay long.", ""]
    outputs = loaded.signatures["serving_default"](text_a=tf.constant(a), text_b=tf.constant(b))
    expected = model(exports.preprocessor((tf.constant(a), tf.constant(b))))["logits"].numpy()
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5, rtol=0)
    labels = np.array(["no", "yes", "maybe"])[expected.argmax(-1)].tolist()
    assert [x.decode() for x in outputs["labels"].numpy()] == labels

    with pytest.raises(ValueError, match="never overwritten"):
        program.run_export(model_dir, export_dir, version=1)
    with pytest.raises(ValueError, match="target='2.12': not a TF Serving release"):
        program.run_export(model_dir, export_dir, serving_target="2.12")
    capsys.readouterr()
    program.run_export(model_dir, export_dir, serving_target="2.20", warmup=False, serving_config=None)
    assert "  op audit: TF Serving 2.20 (tensorflow-text 2.20.0): " in capsys.readouterr().out
    # A bfloat16 copy with --serving_mixed_precision=auto, on a CPU with AVX512_BF16: served as exported.
    from keras_bert import cpu_features

    monkeypatch.setattr(cpu_features, "read_cpu_flags", lambda *a: frozenset({"avx512f", "avx512_bf16"}))
    program.run_export(model_dir, export_dir, warmup=False, quantize="bfloat16",
                       serving_config=serving_config_lib.ServingConfig(mixed_precision="auto"))
    out = capsys.readouterr().out
    assert "TF Serving precision: bfloat16, as exported (chosen by auto: the model is a bfloat16 copy" in out
    assert "--mixed_precision" not in out


def test_load_finetuned(exports, tmp_path):
    # model.keras when there is no best/ checkpoint.
    path = str(tmp_path / "stsb_out")
    finetune_dir(path, exports, "stsb", {"task": "regression", "text_b_column": "b"}, keep="keras")
    model, preprocessor, settings = saved_model_lib.load_finetuned(path)
    assert type(model).__name__ == "BertRegressor" and settings == {"pairs": True}
    assert preprocessor.seq_length == exports.preprocessor.seq_length

    # SQuAD: the settings of the training run; 2.0 found from the dev scores
    # when task.json leaves it to the data (None).
    path = str(tmp_path / "squad_out")
    finetune_dir(path, exports, "squad", {"task": "squad", "max_query_length": 6, "max_answer_length": 9,
                                          "version_2_with_negative": None, "null_score_diff_threshold": 1.5},
                 results={"exact": 1.0, "f1": 2.0, "HasAns_f1": 3.0, "NoAns_f1": 1.0})
    _, _, settings = saved_model_lib.load_finetuned(path)
    assert settings == {"max_query_length": 6, "max_answer_length": 9, "null_score_diff_threshold": 1.5,
                        "version_2_with_negative": True}

    with pytest.raises(ValueError, match="no such directory"):
        saved_model_lib.load_finetuned(str(tmp_path / "missing"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="task.json: not found"):
        saved_model_lib.load_finetuned(str(tmp_path / "empty"))
    (tmp_path / "empty" / "task.json").write_text('{"task": "pretraining"}')
    with pytest.raises(ValueError, match="task 'pretraining' cannot be exported"):
        saved_model_lib.load_finetuned(str(tmp_path / "empty"))
    os.remove(os.path.join(path, "best", "model.index"))
    with pytest.raises(ValueError, match="no model in "):
        saved_model_lib.load_finetuned(path)


@pytest.mark.slow  # ~17 s of subprocesses; test_run_export covers the program in the default run.
def test_keras_bert_export_command(mrpc_dir, tmp_path):
    model_dir, _ = mrpc_dir
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    export_dir = str(tmp_path / "models" / "mrpc")
    result = subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "export", f"--model_dir={model_dir}", f"--export_dir={export_dir}",
         "--version=3", "--nowarmup", "--serving_cores=3", "--serving_max_batch_size=16", "--serving_target=2.19"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(export_dir)) == ["3", "SERVING.md", "batching_parameters.txt", "models.config"]
    with open(os.path.join(export_dir, "batching_parameters.txt"), encoding="utf-8") as f:
        batching = serving_config_lib.parse_batching_parameters(f.read())
    assert batching["num_batch_threads"] == 3 and batching["allowed_batch_sizes"] == [1, 2, 4, 8, 16]
    assert "--enable_batching --batching_parameters_file=/models/mrpc/batching_parameters.txt" in result.stdout
    assert not os.path.exists(os.path.join(export_dir, "3", "assets.extra", "tf_serving_warmup_requests"))
    assert f"to {os.path.join(export_dir, '3')}" in result.stdout
    assert "op audit: TF Serving 2.19 (tensorflow-text 2.12.1): " in result.stdout
