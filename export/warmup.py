"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests`.

A TFRecord file of `tensorflow.serving.PredictionLog` protos (from the
`tensorflow-serving-api` package, which TF Serving's own protos come from)
that TF Serving replays when it loads a version, before it takes traffic,
so the first real request does not pay for graph initialization. One record
per signature: `serving_default` (a few texts, one of them empty),
`serve_token_ids` (one `[CLS] [SEP]` sequence padded to `max_seq_length`;
multiple choice: one row of two such choices),
`serve_examples` (a `ClassifyLog`, `RegressLog` or `PredictLog` as its
method name says).

`replay(loaded, log)` runs one record through a SavedModel loaded with
`tf.saved_model.load`, as TF Serving would.
"""

import tensorflow as tf

from keras_bert.export import serving

WARMUP_FILE = "tf_serving_warmup_requests"

SAMPLE_TEXTS = ("The quick brown fox jumps over the lazy dog.", "")
SAMPLE_PAIRS = (("A man is playing a guitar.", "Someone plays music."), ("", ""))
SAMPLE_SQUAD = (
    ("Who jumps over the dog?", "The quick brown fox jumps over the lazy dog."),
    ("", ""),
)
SAMPLE_CHOICES = (
    ("A man is playing a guitar.", ("He sings.", "The dog jumps over the fox.")),
    ("", ("", "")),
)


def _apis():
    # tensorflow-serving-api: a dependency of the package (setup.py).
    try:
        from tensorflow_serving.apis import classification_pb2
        from tensorflow_serving.apis import input_pb2
        from tensorflow_serving.apis import predict_pb2
        from tensorflow_serving.apis import prediction_log_pb2
        from tensorflow_serving.apis import regression_pb2
    except ImportError as e:
        raise ImportError(
            f"warmup records need TF Serving's protos: pip install tensorflow-serving-api==2.20.0 ({e}); "
            "or export with warmup=False (--nowarmup)"
        ) from e

    return classification_pb2, input_pb2, predict_pb2, prediction_log_pb2, regression_pb2


def sample_texts(spec):
    """`{input name: list of str}`: the warmup texts for `spec.text_inputs`."""
    names = spec.text_inputs
    if names == ("context", "choices"):
        return {"context": [row[0] for row in SAMPLE_CHOICES], "choices": [list(row[1]) for row in SAMPLE_CHOICES]}
    if names == ("text",):
        return {"text": list(SAMPLE_TEXTS)}
    rows = SAMPLE_SQUAD if names == ("question", "context") else SAMPLE_PAIRS
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def text_example(texts):
    """A `tf.train.Example` with one bytes feature per `{name: str or list of str}`."""
    return tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[v.encode("utf-8") for v in ([value] if isinstance(value, str) else value)]))
        for name, value in texts.items()
    }))


def warmup_requests(spec, preprocessor, model_name):
    """One `PredictionLog` per signature of an export with `spec`.

    Args:
      spec: the export's `serving.ServingSpec`.
      preprocessor: its `BertPreprocessor` (special ids, `seq_length`).
      model_name: the model name in the requests' `model_spec`.

    Returns:
      list of `prediction_log_pb2.PredictionLog`.
    """
    classification_pb2, input_pb2, predict_pb2, prediction_log_pb2, regression_pb2 = _apis()
    logs = []

    def predict(signature, inputs):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))

    texts = sample_texts(spec)
    predict(serving.SERVING_DEFAULT, {name: tf.constant(values, tf.string) for name, values in texts.items()})
    seq = preprocessor.seq_length
    ids = [preprocessor.cls_id, preprocessor.sep_id] + [preprocessor.pad_id] * (seq - 2)
    token_ids = {
        "input_word_ids": tf.constant([ids], tf.int32),
        "input_mask": tf.constant([[1, 1] + [0] * (seq - 2)], tf.int32),
        "input_type_ids": tf.zeros([1, seq], tf.int32),
    }
    if spec.family.token_rank == 3:  # [1, 2 choices, seq].
        token_ids = {name: tf.stack([value, value], axis=1) for name, value in token_ids.items()}
    predict(serving.SERVE_TOKEN_IDS, token_ids)
    examples = [text_example({name: values[i] for name, values in texts.items()})
                for i in range(len(next(iter(texts.values()))))]
    method = spec.examples_method
    if method == serving.PREDICT_METHOD:
        predict(serving.SERVE_EXAMPLES, {serving.EXAMPLES_INPUT: [e.SerializeToString() for e in examples]})
    else:
        example_input = input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples))
        # (Protobuf constructors copy their arguments: the request is complete first.)
        if method == serving.CLASSIFY_METHOD:
            request = classification_pb2.ClassificationRequest(input=example_input)
            request.model_spec.name = model_name
            request.model_spec.signature_name = serving.SERVE_EXAMPLES
            log = prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))
        else:
            request = regression_pb2.RegressionRequest(input=example_input)
            request.model_spec.name = model_name
            request.model_spec.signature_name = serving.SERVE_EXAMPLES
            log = prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=request))
        logs.append(log)
    return logs


def write_warmup_file(path, logs):
    """Writes `PredictionLog`s as a TFRecord file (TF Serving's warmup format)."""
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def read_warmup_file(path):
    """The `PredictionLog`s of a warmup file."""
    prediction_log_pb2 = _apis()[3]
    logs = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs


def replay(loaded, log):
    """Runs one warmup record through a loaded SavedModel.

    Args:
      loaded: `tf.saved_model.load(version_dir)`.
      log: a `PredictionLog` (predict, classify or regress).

    Returns:
      `(signature name, outputs dict of tensors)`.
    """
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    elif kind in ("classify_log", "regress_log"):
        request = getattr(log, kind).request
        serialized = [example.SerializeToString() for example in request.input.example_list.examples]
        inputs = {serving.EXAMPLES_INPUT: tf.constant(serialized, tf.string)}
    else:
        raise ValueError(f"log: a predict, classify or regress PredictionLog, got {kind!r}")
    name = request.model_spec.signature_name or serving.SERVING_DEFAULT
    return name, loaded.signatures[name](**inputs)
