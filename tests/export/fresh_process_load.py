"""Run as a script in a fresh process: loads SavedModels importing only tensorflow
and tensorflow_text, and calls signatures (TF2 loader and TF Serving's
session-based loader).

    python fresh_process_load.py CASES.json  ->  prints a JSON report

CASES.json: a list of `{"path", "signature", "inputs": {name: {"dtype",
"value"}}, "session": bool}`; string values are base64. The report: per
case the outputs (lists; strings as base64) of each loader, and the modules
imported after `import tensorflow, tensorflow_text`.
"""

import base64
import json
import sys


class _NoKerasBert:
    """keras_bert must not be needed (an old copy may be in site-packages)."""

    def find_spec(self, name, path=None, target=None):
        if name == "keras_bert" or name.startswith("keras_bert."):
            raise ImportError(f"{name} must not be imported when serving")
        return None


sys.meta_path.insert(0, _NoKerasBert())

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the tensorflow-text ops, as TF Serving links them)

BASELINE = set(sys.modules)


def to_array(spec):
    if spec["dtype"] == "string":
        return np.array([base64.b64decode(v) for v in spec["value"]], dtype=object)
    return np.array(spec["value"], dtype=spec["dtype"])


def to_json(value):
    value = np.asarray(value)
    if value.dtype.kind in ("S", "O"):
        return {"dtype": "string", "shape": list(value.shape),
                "value": [base64.b64encode(v).decode() for v in value.ravel()]}
    return {"dtype": value.dtype.name, "shape": list(value.shape), "value": value.ravel().tolist()}


def main(cases_path):
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
    new = sorted(m for m in set(sys.modules) - BASELINE if m.split(".")[0] in ("keras", "keras_bert", "tf_keras"))
    print(json.dumps({"report": report, "new_keras_modules": new,
                      "keras_bert_imported": any(m.startswith("keras_bert") for m in sys.modules)}))


if __name__ == "__main__":
    main(sys.argv[1])
