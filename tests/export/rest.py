"""TF Serving's REST API, emulated on a loaded SavedModel (for tests and local checks).

`rest_call(loaded, verb, body)` turns the JSON body of a request to
`POST /v1/models/NAME[/versions/N]:VERB` into a signature call the way
TF Serving 2.20's `json_tensor` code does, and gives the JSON reply's
structure:

  predict   `{"signature_name"?, "instances": [...]}` (row format: one item
            per example, an object `{input: value}`, or a bare value when
            the signature has one input) -> `{"predictions": [...]}` (one
            object per example, or a bare value when there is one output);
            `{"signature_name"?, "inputs": {input: [...]}}` (columnar; a bare
            list for one input) -> `{"outputs": {output: [...]}}` (or bare).
  classify  `{"signature_name"?, "context"?: {...}, "examples": [{feature:
            value}, ...]}` -> `{"results": [[[class, score], ...], ...]}`.
  regress   same body -> `{"results": [value, ...]}`.

`{"b64": "..."}` values are base64-decoded bytes; strings are UTF-8 bytes.
Output strings are UTF-8 text (TF Serving base64-encodes only outputs
whose names end in `_bytes`; none of ours do). This is a faithful-enough
model of the server for checking documented requests, not the server.
"""

import base64
import json

import numpy as np
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _tensor(value, spec):
    return tf.constant(_decode_value(value), dtype=spec.dtype)


def _json_value(array):
    array = np.asarray(array)
    if array.dtype.kind in ("S", "O"):
        return np.vectorize(lambda b: b.decode("utf-8") if isinstance(b, bytes) else b, otypes=[object])(
            array).tolist() if array.size else array.tolist()
    return array.tolist()


def _signature(loaded, body):
    name = body.get("signature_name") or DEFAULT_SIGNATURE
    if name not in loaded.signatures:
        raise ValueError(f"signature_name {name!r}: the model has {sorted(loaded.signatures)}")
    fn = loaded.signatures[name]
    return name, fn, fn.structured_input_signature[1]


def _predict(loaded, body):
    _, fn, specs = _signature(loaded, body)
    if ("instances" in body) == ("inputs" in body):
        raise ValueError("a predict body has exactly one of 'instances' (row format) and 'inputs' (columnar)")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError("'instances' must be a non-empty list")
        if all(isinstance(item, dict) and not set(item) <= {"b64"} for item in instances):
            names = set(instances[0])
            if any(set(item) != names for item in instances) or names != set(specs):
                raise ValueError(f"every instance must have the inputs {sorted(specs)}")
            columns = {name: [item[name] for item in instances] for name in names}
        elif len(specs) == 1:
            columns = {next(iter(specs)): instances}
        else:
            raise ValueError(f"instances must be objects with the inputs {sorted(specs)}")
    else:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and not set(inputs) <= {"b64"}:
            if set(inputs) != set(specs):
                raise ValueError(f"'inputs' must have the inputs {sorted(specs)}, got {sorted(inputs)}")
            columns = inputs
        elif len(specs) == 1:
            columns = {next(iter(specs)): inputs}
        else:
            raise ValueError(f"'inputs' must be an object with the inputs {sorted(specs)}")
    outputs = fn(**{name: _tensor(value, specs[name]) for name, value in columns.items()})
    outputs = {name: _json_value(value) for name, value in outputs.items()}
    if "inputs" in body:
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    batch = len(next(iter(outputs.values())))
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    return {"predictions": [{name: value[i] for name, value in outputs.items()} for i in range(batch)]}


def _feature(value):
    values = value if isinstance(value, list) else [value]
    if all(isinstance(v, (str, dict)) for v in values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_decode_value(v) for v in values]))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def json_examples(body):
    """The serialized `tf.Example`s of a classify/regress body (context merged in)."""
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise ValueError("a classify/regress body needs a non-empty 'examples' list")
    context = body.get("context", {})
    serialized = []
    for example in examples:
        features = {name: _feature(value) for name, value in {**context, **example}.items()}
        serialized.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return serialized


def _classify_or_regress(loaded, body, verb):
    _, fn, specs = _signature(loaded, body)
    if list(specs) != ["inputs"]:
        raise ValueError(f"the signature takes {sorted(specs)}, not serialized examples ('inputs')")
    outputs = fn(inputs=tf.constant(json_examples(body), tf.string))
    if verb == "regress":
        return {"results": _json_value(tf.reshape(outputs["outputs"], [-1]))}
    classes, scores = _json_value(outputs["classes"]), _json_value(outputs["scores"])
    return {"results": [[[c, s] for c, s in zip(row_classes, row_scores)]
                        for row_classes, row_scores in zip(classes, scores)]}


def rest_call(loaded, verb, body):
    """The JSON reply TF Serving gives to `body` (a dict or JSON text) at `:verb`."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    if verb == "predict":
        return _predict(loaded, body)
    if verb in ("classify", "regress"):
        return _classify_or_regress(loaded, body, verb)
    raise ValueError(f"verb must be predict, classify or regress, got {verb!r}")
