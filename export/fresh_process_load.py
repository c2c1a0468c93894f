"""Load SavedModels and call their signatures in a fresh Python process that
imports only `tensorflow` and `tensorflow_text` -- as TF Serving would see
them: no keras_bert, no Keras, no Python state of the process that exported.

In the process that asks (imports nothing but the standard library):

    report = run_cases(cases)                 # any signatures, TF2 and session loaders
    rows = classify(export_path, ["a great film", "a dull film"])
    # [{"text", "label", "probability", "probabilities"}, ...]

As a script, the fresh process itself:

    python fresh_process_load.py CASES.json  ->  prints a JSON report

CASES.json: a list of `{"path", "signature", "inputs": {name: {"dtype",
"value"[, "shape"]}}, "session": bool}`; string values are base64, values
flat (reshaped to "shape" when given). The report: per
case the outputs (lists; strings as base64) of each loader (`tf2`:
`tf.saved_model.load`; `session`: TF Serving's session-based loader, with
the signature's `method_name`), and the modules imported after
`import tensorflow, tensorflow_text` (`new_keras_modules`,
`keras_bert_imported`).
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.abspath(__file__)


# ------------------------------------------------------ the asking process


def clean_env():
    """The environment of the fresh process: no PYTHONPATH (nothing of this
    checkout importable), TensorFlow's C++ logging quiet."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    return env


def string_input(texts, shape=None):
    """A case input for a string tensor `[batch]` (or of `shape`, `texts` flat in row-major order)."""
    spec = {"dtype": "string",
            "value": [base64.b64encode(t.encode("utf-8") if isinstance(t, str) else t).decode() for t in texts]}
    if shape is not None:
        spec["shape"] = list(shape)
    return spec


def decode_output(value):
    """A numpy-free view of a reported output: a nested list (strings as str)."""
    flat = value["value"]
    if value["dtype"] == "string":
        flat = [base64.b64decode(v).decode("utf-8", "replace") for v in flat]
    shape = value["shape"]

    def nest(items, dims):
        if not dims:
            return items[0]
        if len(dims) == 1:
            return list(items)
        step = len(items) // dims[0] if dims[0] else 0
        return [nest(items[i * step:(i + 1) * step], dims[1:]) for i in range(dims[0])]

    return nest(flat, shape)


def run_cases(cases, timeout=600):
    """Runs this file as a script in a fresh process on `cases` (module docstring).

    Args:
      cases: list of case dicts.
      timeout: seconds.

    Returns:
      the JSON report (a dict).

    Raises:
      RuntimeError: the process failed (with the end of its stderr).
    """
    with tempfile.TemporaryDirectory(prefix="keras_bert_fresh_") as directory:
        cases_file = os.path.join(directory, "cases.json")
        with open(cases_file, "w") as f:
            json.dump(cases, f)
        result = subprocess.run([sys.executable, SCRIPT, cases_file], capture_output=True, text=True,
                                env=clean_env(), cwd=directory, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"the fresh process failed (exit {result.returncode}): {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def classify(export_path, texts, signature="serving_default", timeout=600):
    """Classifies `texts` with an exported classifier in a fresh process.

    Args:
      export_path: a version directory of a classification export (input
        `text`; outputs `labels`, `probabilities`).
      texts: list of str.

    Returns:
      list of dicts `text`, `label` (str), `probability` (of that label),
      `probabilities` (all classes), one per text.

    Raises:
      RuntimeError: the process failed, or it imported keras_bert or Keras.
    """
    report = run_cases([{"path": os.path.abspath(export_path), "signature": signature,
                         "inputs": {"text": string_input(texts)}, "session": False}], timeout=timeout)
    if report["keras_bert_imported"] or report["new_keras_modules"]:
        raise RuntimeError(f"loading {export_path} imported {report['new_keras_modules'] or 'keras_bert'}")
    outputs = report["report"][0]["tf2"]
    labels = decode_output(outputs["labels"])
    probabilities = decode_output(outputs["probabilities"])
    return [{"text": text, "label": label, "probability": max(p), "probabilities": p}
            for text, label, p in zip(texts, labels, probabilities)]


# ------------------------------------------------------- the fresh process


class _NoKerasBert:
    """keras_bert must not be needed (an old copy may be in site-packages)."""

    def find_spec(self, name, path=None, target=None):
        if name == "keras_bert" or name.startswith("keras_bert."):
            raise ImportError(f"{name} must not be imported when serving")
        return None


def _main(cases_path):
    # Run as a script, this file's directory (the export package) is
    # sys.path[0]: take it off, so none of its modules can stand in for
    # anything tensorflow imports.
    here = os.path.dirname(SCRIPT)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.meta_path.insert(0, _NoKerasBert())

    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tensorflow-text ops, as TF Serving links them)

    baseline = set(sys.modules)

    def to_array(spec):
        if spec["dtype"] == "string":
            array = np.array([base64.b64decode(v) for v in spec["value"]], dtype=object)
        else:
            array = np.array(spec["value"], dtype=spec["dtype"])
        return array.reshape(spec["shape"]) if "shape" in spec else array

    def to_json(value):
        value = np.asarray(value)
        if value.dtype.kind in ("S", "O"):
            return {"dtype": "string", "shape": list(value.shape),
                    "value": [base64.b64encode(v).decode() for v in value.ravel()]}
        return {"dtype": value.dtype.name, "shape": list(value.shape), "value": value.ravel().tolist()}

    with open(cases_path) as f:
        cases = json.load(f)
    report = [{} for _ in cases]
    by_path = {}
    for index, case in enumerate(cases):
        by_path.setdefault(case["path"], []).append(index)
    for path, indices in by_path.items():
        loaded = tf.saved_model.load(path)
        for index in indices:
            case = cases[index]
            inputs = {name: tf.constant(to_array(spec)) for name, spec in case["inputs"].items()}
            outputs = loaded.signatures[case["signature"]](**inputs)
            report[index]["tf2"] = {name: to_json(value) for name, value in outputs.items()}
        session_cases = [i for i in indices if cases[i].get("session")]
        if not session_cases:
            continue
        graph = tf.Graph()
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
            for index in session_cases:
                case = cases[index]
                signature = meta.signature_def[case["signature"]]
                feed = {signature.inputs[name].name: to_array(spec) for name, spec in case["inputs"].items()}
                names = sorted(signature.outputs)
                values = session.run([signature.outputs[n].name for n in names], feed_dict=feed)
                report[index]["session"] = {name: to_json(value) for name, value in zip(names, values)}
                report[index]["method_name"] = signature.method_name
    new = sorted(m for m in set(sys.modules) - baseline if m.split(".")[0] in ("keras", "keras_bert", "tf_keras"))
    print(json.dumps({"report": report, "new_keras_modules": new,
                      "keras_bert_imported": any(m.startswith("keras_bert") for m in sys.modules)}))


if __name__ == "__main__":
    _main(sys.argv[1])
