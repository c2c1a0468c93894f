"""Servability without a TF Serving binary: a fresh process with only tensorflow and
tensorflow_text (TF2 loader and TF Serving's session-based loader), saved_model_cli,
and the warmup records."""

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import fresh_process_load
from keras_bert.export import serving
from keras_bert.export import warmup as warmup_lib
from keras_bert.export.warmup import text_example

TASKS = ("sst2", "mrpc", "stsb", "conll", "squad")
TOLERANCE = 1e-5


def clean_env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    return env


def sample_inputs(exported, signature):
    """{input: numpy array} for a signature of an export."""
    names = list(exported.signature(signature).structured_input_signature[1])
    if signature == serving.SERVE_TOKEN_IDS:
        features = exported.preprocessor(tf.constant(["who visited paris ?", "a"]))
        return {k: v.numpy() for k, v in features.items()}
    texts = {"text": ["Angela Merkel visited Paris .", ""], "text_a": ["He left early.", ""],
             "text_b": ["He did not stay long.", "x"], "question": ["Who visited Paris?", ""],
             "context": ["Angela Merkel visited Paris in May.", ""]}
    if signature == serving.SERVE_EXAMPLES:
        fields = exported.signature().structured_input_signature[1]
        rows = [{name: texts[name][i] for name in fields} for i in range(2)]
        return {"inputs": np.array([text_example(r).SerializeToString() for r in rows], dtype=object)}
    return {name: np.array([t.encode() for t in texts[name]], dtype=object) for name in names}


def to_case(path, signature, inputs, session):
    def spec(value):
        if value.dtype == object:
            return {"dtype": "string", "value": [base64.b64encode(v).decode() for v in value]}
        return {"dtype": value.dtype.name, "value": value.tolist()}

    return {"path": path, "signature": signature, "inputs": {k: spec(v) for k, v in inputs.items()},
            "session": session}


def from_json(spec):
    if spec["dtype"] == "string":
        return np.array([base64.b64decode(v) for v in spec["value"]], dtype=object).reshape(spec["shape"])
    return np.array(spec["value"], dtype=spec["dtype"]).reshape(spec["shape"])


def assert_same(actual, expected, what):
    assert set(actual) == set(expected), what
    for name, value in expected.items():
        value = np.asarray(value)
        got = from_json(actual[name])
        assert got.shape == value.shape, (what, name)
        if value.dtype.kind in ("f",):
            np.testing.assert_allclose(got, value, atol=TOLERANCE, rtol=0, err_msg=f"{what} {name}")
        else:
            assert got.tolist() == value.tolist(), (what, name)


def run_fresh_process(exports, hub_exports, tmp_path, session_tasks):
    """Calls every signature of every export in a fresh process (TF2 loader), and
    with TF Serving's session-based loader for the exports of `session_tasks`."""
    cases, expected = [], []
    for name in TASKS:
        exported = exports.get(name)
        for signature in serving.SIGNATURE_NAMES:
            inputs = sample_inputs(exported, signature)
            cases.append(to_case(exported.path, signature, inputs, session=name in session_tasks))
            outputs = exported.signature(signature)(**{k: tf.constant(v) for k, v in inputs.items()})
            expected.append((f"{name} {signature}", {k: v.numpy() for k, v in outputs.items()}))
    encoder_dir, preprocessor_dir = hub_exports
    features = {k: v.numpy() for k, v in exports.preprocessor(tf.constant(["paris", "a b c"])).items()}
    encoder = exports.get("sst2").model.encoder(features)
    cases.append(to_case(encoder_dir, "serving_default", features, session=True))
    expected.append(("encoder", {k: encoder[k].numpy() for k in ("pooled_output", "sequence_output")}))
    text = np.array([b"paris", b"a b c"], dtype=object)
    cases.append(to_case(preprocessor_dir, "serving_default", {"text": text}, session=True))
    expected.append(("preprocessor", features))

    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    result = subprocess.run(
        [sys.executable, fresh_process_load.SCRIPT, str(cases_file)],
        capture_output=True, text=True, env=clean_env(), cwd=str(tmp_path), timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["keras_bert_imported"]
    assert report["new_keras_modules"] == []  # Loading and calling imported no Keras.
    for (what, outputs), entry in zip(expected, report["report"]):
        assert_same(entry["tf2"], outputs, f"{what} (tf.saved_model.load)")
        if "session" in entry:
            assert_same(entry["session"], outputs, f"{what} (session, as TF Serving loads)")
    assert sum("session" in entry for entry in report["report"]) == sum(c["session"] for c in cases)
    return {(c["path"], c["signature"]): e.get("method_name") for c, e in zip(cases, report["report"])}


def test_fresh_process_calls_every_signature(exports, hub_exports, tmp_path):
    # The session-based loader for the classify and regress exports (and the
    # TF Hub ones); for all of them in the slow test below.
    methods = run_fresh_process(exports, hub_exports, tmp_path, session_tasks=("sst2", "stsb"))
    assert methods[(exports.get("sst2").path, "serve_examples")] == serving.CLASSIFY_METHOD
    assert methods[(exports.get("stsb").path, "serve_examples")] == serving.REGRESS_METHOD


@pytest.mark.slow
def test_fresh_process_session_loader_for_every_task(exports, hub_exports, tmp_path):
    methods = run_fresh_process(exports, hub_exports, tmp_path, session_tasks=TASKS)
    assert methods[(exports.get("squad").path, "serve_examples")] == serving.PREDICT_METHOD


@pytest.mark.slow  # ~12 s; the fresh-process tests above load and call every signature in the default run.
def test_saved_model_cli_show_and_run(exports, tmp_path):
    path = exports.get("sst2").path
    show = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", path, "--all"],
        capture_output=True, text=True, env=clean_env(), cwd=str(tmp_path), timeout=300,
    )
    assert show.returncode == 0, show.stderr[-3000:]
    for signature in serving.SIGNATURE_NAMES:
        assert f"signature_def['{signature}']" in show.stdout
    assert "Method name is: tensorflow/serving/classify" in show.stdout
    assert "inputs['text'] tensor_info" in show.stdout and "outputs['probabilities']" in show.stdout

    # `saved_model_cli run` with the tensorflow-text ops registered, as in
    # TF Serving (which links them); the plain binary lacks them.
    run = subprocess.run(
        [sys.executable, "-c",
         "import tensorflow_text; from tensorflow.python.tools import saved_model_cli; saved_model_cli.main()",
         "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
         "--input_exprs", 'text=["Angela Merkel visited Paris .", ""]'],
        capture_output=True, text=True, env=clean_env(), cwd=str(tmp_path), timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Result for output key labels" in run.stdout
    assert "Result for output key probabilities" in run.stdout


@pytest.mark.parametrize("name", TASKS)
def test_warmup_records_replay(exports, name):
    exported = exports.get(name)
    path = os.path.join(exported.path, "assets.extra", warmup_lib.WARMUP_FILE)
    logs = warmup_lib.read_warmup_file(path)
    kinds = [log.WhichOneof("log_type") for log in logs]
    method = serving.make_spec(exported.model, exported.preprocessor, **exported.settings).examples_method
    example_kind = {serving.CLASSIFY_METHOD: "classify_log", serving.REGRESS_METHOD: "regress_log"}.get(
        method, "predict_log")
    assert kinds == ["predict_log", "predict_log", example_kind]
    replayed = set()
    for log in logs:
        signature, outputs = warmup_lib.replay(exported.loaded, log)
        replayed.add(signature)
        assert getattr(log, log.WhichOneof("log_type")).request.model_spec.name == name  # export_dir's name.
        for value in outputs.values():
            if value.dtype.is_floating:
                assert np.isfinite(value.numpy()).all()
    assert replayed == set(serving.SIGNATURE_NAMES)
