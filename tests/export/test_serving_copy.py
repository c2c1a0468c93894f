"""`keras_bert.export.saved_model.serving_copy`: the model an export serves.

The copy's encoder skips padding and fuses each layer's query, key and
value projections; its outputs must be the model's (whose
equality with Hugging Face's encoder is tested in
tests/keras_bert/test_reference_parity.py), and it keeps what the model was
trained as: task head, frozen encoder, dtype policy, a user's own int8
quantization. The model itself is left as it was.
"""

import keras
import numpy as np
import pytest

import keras_bert
from keras_bert.export import saved_model as saved_model_lib
from tests import testing


def _inputs(config):
    inputs = testing.encoder_inputs(config, batch=3, seq=12)
    assert not inputs["input_mask"].all()  # Padding for the copy to skip.
    return inputs


@pytest.mark.parametrize("task", ["classifier", "token_classifier"])
def test_copy_skips_padding_same_outputs(task):
    config = testing.tiny_config()
    keras.utils.set_random_seed(3)
    if task == "classifier":
        model = keras_bert.BertClassifier(config, num_classes=3, train_encoder=False)
    else:
        model = keras_bert.BertTokenClassifier(config, num_classes=4)
    inputs = _inputs(config)
    expected = model(inputs)["logits"].numpy()
    copy = saved_model_lib.serving_copy(model)
    assert copy is not model and type(copy) is type(model)
    assert copy.encoder.skip_padding and not model.encoder.skip_padding
    assert not copy.encoder.packed_rows and model.encoder.packed_rows  # One sequence a row, as served.
    # One [H, 3H] query/key/value projection per layer, in place of the three.
    paths = [variable.path for variable in copy.weights]
    assert copy.encoder.fused_projections and not model.encoder.fused_projections
    assert sum("attention/query_key_value/kernel" in path for path in paths) == config.num_layers
    assert not any(name in path for path in paths for name in ("/query/", "/key/", "/value/"))
    assert len(paths) == len(model.weights) - 4 * config.num_layers
    assert copy.train_encoder == model.train_encoder
    actual = copy(inputs)["logits"].numpy()
    if task == "token_classifier":  # Per token: real positions only.
        real = inputs["input_mask"].astype(bool)
        actual, expected = actual[real], expected[real]
    np.testing.assert_allclose(actual, expected, atol=1e-7, rtol=1e-4)
    assert np.ptp(expected, axis=0).min() > 1e-3  # Not vacuous: the logits depend on the input.


@pytest.mark.slow  # ~35 s; the int8 export tests of test_quantized_export.py stay in the default run.
def test_copy_keeps_dtype_policy_and_user_quantization():
    config = testing.tiny_config()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = keras_bert.BertClassifier(config, num_classes=2)
    finally:
        keras.config.set_dtype_policy("float32")
    inputs = _inputs(config)
    model(inputs)
    copy = saved_model_lib.serving_copy(model)
    assert copy.encoder.embeddings.dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # The global policy is restored.

    model = keras_bert.BertClassifier(config, num_classes=2)
    model(inputs)
    model.quantize("int8")  # Keras's own int8 layers, quantized by the user.
    expected = model(inputs)["logits"].numpy()
    copy = saved_model_lib.serving_copy(model)
    modes = {getattr(layer, "quantization_mode", None) for layer in copy._flatten_layers()}
    assert "int8" in modes
    assert not copy.encoder.fused_projections  # The user's quantized layers, copied as they are.
    np.testing.assert_allclose(copy(inputs)["logits"].numpy(), expected, atol=1e-5, rtol=0)
