"""The encoder and the preprocessor as reusable TF Hub-style SavedModels.

The conventions of TF Hub's BERT models (and Model Garden's export), so
`hub.KerasLayer(path)` or `tf.saved_model.load(path)` reuse them:

`export_encoder(encoder, export_dir)`:
  `__call__(inputs, training=False)`: inputs a dict of int32 `[batch, seq]`
  `input_word_ids`, `input_mask`, `input_type_ids` -> dict `pooled_output`
  `[batch, hidden]`, `sequence_output` `[batch, seq, hidden]`,
  `encoder_outputs` (list, one `[batch, seq, hidden]` per layer);
  `variables`, `trainable_variables`, `regularization_losses` (for
  fine-tuning through `hub.KerasLayer(trainable=True)`); signature
  `serving_default`: the three inputs -> `pooled_output`, `sequence_output`.

`export_preprocessor(preprocessor, export_dir)`:
  `__call__(text)`: string `[batch]` -> the three int32 features
  `[batch, seq_length]`; `tokenize(text)` -> int32 ragged `[batch, (words),
  (pieces)]`; `bert_pack_inputs(segments)` (a list of one or two such
  ragged tensors) -> the features; `vocab_file` (asset), `do_lower_case`,
  `seq_length`; signatures `serving_default` (`text`) and `serve_pairs`
  (`text_a`, `text_b`) -> the features.

Both directories are written atomically (a temporary sibling, then renamed)
and never overwritten.
"""

import tensorflow as tf

from keras_bert import training_kernels
from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.text.bert_preprocessor import BertPreprocessor


def _input_specs():
    return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_NAMES}


def export_encoder(encoder, export_dir):
    """Writes `encoder` (a `BertEncoder`) as a TF Hub-style SavedModel.

    Returns:
      str, `export_dir` (absolute).

    Raises:
      ValueError: `encoder` is not a `BertEncoder`, or `export_dir` exists
        and is not empty.
    """
    if not isinstance(encoder, BertEncoder):
        raise ValueError(f"encoder must be a keras_bert.BertEncoder, got {type(encoder).__name__}")

    @tf.function
    def call(inputs, training=False):
        outputs = encoder({name: inputs[name] for name in INPUT_NAMES}, training=training)
        return {
            "pooled_output": outputs["pooled_output"],
            "sequence_output": outputs["sequence_output"],
            "encoder_outputs": list(outputs["encoder_outputs"]),
        }

    @tf.function(input_signature=[_input_specs()[name] for name in INPUT_NAMES])
    def serve(input_word_ids, input_mask, input_type_ids):
        outputs = encoder(
            {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids},
            training=False,
        )
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}

    def write(path):
        root = tf.__internal__.tracking.AutoTrackable()
        root.variables = saved_model_lib.tf_variables(encoder.weights)
        root.trainable_variables = saved_model_lib.tf_variables(encoder.trainable_weights)
        root.regularization_losses = []
        root.__call__ = call
        tf.saved_model.save(root, path, signatures={serving.SERVING_DEFAULT: serve.get_concrete_function()})
        saved_model_lib.rewrite_saved_model(path)  # Loads on TF Serving 2.13 too.

    # The training function too runs where XLA may not (TF Serving loads the
    # whole library): traced, and saved, with TensorFlow's own ops, not the
    # fused training kernels.
    with training_kernels.disabled():
        for training in (False, True):
            call.get_concrete_function(_input_specs(), training=training)
        return saved_model_lib.write_saved_model_dir(export_dir, write)


def export_preprocessor(preprocessor, export_dir):
    """Writes `preprocessor` (a `BertPreprocessor`) as a TF Hub-style SavedModel.

    Returns:
      str, `export_dir` (absolute).

    Raises:
      ValueError: `preprocessor` is not a `BertPreprocessor`, or
        `export_dir` exists and is not empty.
    """
    if not isinstance(preprocessor, BertPreprocessor):
        raise ValueError(f"preprocessor must be a keras_bert.BertPreprocessor, got {type(preprocessor).__name__}")
    text_spec = tf.TensorSpec([None], tf.string, name="text")
    ragged_spec = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)

    @tf.function(input_signature=[text_spec])
    def call(text):
        return preprocessor(serving.sanitize_text(text))

    @tf.function(input_signature=[text_spec])
    def tokenize(text):
        return preprocessor.tokenize(serving.sanitize_text(text))

    @tf.function
    def bert_pack_inputs(segments):
        return preprocessor.pack(list(segments))

    for count in (1, 2):
        bert_pack_inputs.get_concrete_function([ragged_spec] * count)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a"),
                                  tf.TensorSpec([None], tf.string, name="text_b")])
    def serve_pairs(text_a, text_b):
        return preprocessor((serving.sanitize_text(text_a), serving.sanitize_text(text_b)))

    def write(path):
        root = tf.__internal__.tracking.AutoTrackable()
        root.__call__ = call
        root.tokenize = tokenize
        root.bert_pack_inputs = bert_pack_inputs
        root.vocab_file = tf.saved_model.Asset(preprocessor.vocab_file)
        root.do_lower_case = tf.Variable(preprocessor.lowercase, trainable=False, name="do_lower_case")
        root.seq_length = tf.Variable(preprocessor.seq_length, trainable=False, name="seq_length")
        tf.saved_model.save(root, path, signatures={
            serving.SERVING_DEFAULT: call.get_concrete_function(),
            "serve_pairs": serve_pairs.get_concrete_function(),
        })
        saved_model_lib.rewrite_saved_model(path)

    return saved_model_lib.write_saved_model_dir(export_dir, write)
