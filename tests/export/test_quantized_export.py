"""`export_saved_model(..., quantize="int8")`: an int8 SavedModel that serves like the float32 one."""

import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export import fresh_process_load
from keras_bert.export import op_audit
from keras_bert.export import saved_model as saved_model_lib
from keras_bert.trainers.programs import export as program


def _onednn_int8_runs():
    try:
        saved_model_lib.check_onednn_int8()
    except ValueError:
        return False
    return True


# The int8 kernel runs exactly only with oneDNN on and a CPU with VNNI: on
# an AVX2 machine (oneDNN off by default; with TF_ENABLE_ONEDNN_OPTS=1 its
# int16 sums saturate) the export refuses, and only the refusal is tested.
ONEDNN_INT8 = _onednn_int8_runs()
needs_onednn_int8 = pytest.mark.skipif(
    not ONEDNN_INT8, reason="this TensorFlow cannot run oneDNN's int8 matmul exactly (oneDNN off, or no VNNI)"
)

TEXTS = ["the movie was great", "a dull mess", "I love this film !", "he left early", "", "中文 paris"]


@pytest.fixture(scope="module")
def int8_export(exports):
    """(the float32 sst2 export, the int8 export of the same model)."""
    return exports.get("sst2"), exports.quantized("sst2", "int8")


@pytest.fixture(scope="module")
def fresh_logits(int8_export):
    """`serving_default` logits on TEXTS in a fresh process: {(export, loader): array}."""
    exported, path = int8_export
    cases = [{"path": p, "signature": "serving_default", "session": True,
              "inputs": {"text": fresh_process_load.string_input(TEXTS)}} for p in (exported.path, path)]
    report = fresh_process_load.run_cases(cases)
    assert not report["keras_bert_imported"] and not report["new_keras_modules"]
    return {(export, loader): np.array(fresh_process_load.decode_output(case[loader]["logits"]))
            for export, case in zip(("float32", "int8"), report["report"]) for loader in ("tf2", "session")}


@pytest.fixture(scope="module")
def keras_int8(int8_export):
    """Keras's own int8 model (`Model.quantize("int8")` on a copy, its matmuls as they are)."""
    model = int8_export[0].model
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Layer ... does not have a `quantize` method".
        copy.quantize("int8")
    return copy


@pytest.mark.slow  # A fresh process and the Keras int8 twin, ~40 s; the op audit and weight tests stay.
@needs_onednn_int8
def test_loads_in_a_fresh_process_close_to_float32(fresh_logits):
    float_logits = fresh_logits["float32", "tf2"]
    for loader in ("tf2", "session"):  # TF Serving's loader is the session one.
        logits = fresh_logits["int8", loader]
        # int8 rounds each weight to 1/254 of its output channel's largest
        # |weight| and each matmul input to 1/254 of its row's largest |x|: a
        # relative error of a few parts in a thousand per matmul, compounding
        # over this model's 2 layers, pooler and head (wide random weights,
        # logits up to ~0.8). 0.06 is ~2.5x the largest difference seen
        # (0.023); a wrong scale or a missing zero-point correction is off by
        # orders of magnitude.
        np.testing.assert_allclose(logits, float_logits, atol=0.06, rtol=0)
        assert np.abs(logits - float_logits).max() > 1e-4  # It is not the float32 model.


@pytest.mark.slow  # Needs the fresh-process logits above.
@needs_onednn_int8
def test_matches_keras_int8_model(int8_export, keras_int8, fresh_logits):
    """The oneDNN kernel computes Keras's own int8 model: the same int8
    weights, scales and integer products, so only the order of the float
    rescaling differs (seen: 2e-7; a rounding tie going the other way would
    move one input by one step, ~1e-3 here, but these inputs have none)."""
    exported, _ = int8_export
    expected = keras_int8(exported.preprocessor(tf.constant(TEXTS)))["logits"].numpy()
    for loader in ("tf2", "session"):
        np.testing.assert_allclose(fresh_logits["int8", loader], expected, atol=1e-4, rtol=0)


@needs_onednn_int8
def test_op_audit_and_int8_ops(int8_export):
    exported, path = int8_export
    result = op_audit.audit_saved_model(path)
    assert result.ok, result.summary()
    assert "QuantizedMatMulWithBiasAndDequantize" in result.ops
    assert "MatMul" not in result.ops  # Every Dense is quantized (attention's BatchMatMulV2 stays float).
    # Not Keras's slow int8 x int8 matmul (the attention's float BatchMatMulV3 is SelfAttention's own).
    int8_matmuls = [node.name for node, _ in op_audit._nodes(op_audit._read_saved_model(path))
                    if node.op == "BatchMatMulV3" and node.attr["Ta"].type == tf.int8.as_datatype_enum]
    assert not int8_matmuls
    assert "BatchMatMulV3" in result.ops
    assert "MatMul" in op_audit.audit_saved_model(exported.path).ops


@needs_onednn_int8
def test_variables_are_int8(int8_export):
    exported, path = int8_export
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    dtypes = reader.get_variable_to_dtype_map()
    shapes = reader.get_variable_to_shape_map()
    sizes = {}
    for name, dtype in dtypes.items():
        sizes[dtype.name] = sizes.get(dtype.name, 0) + int(np.prod(shapes[name]))
    # 2 layers x 4 Dense (query/key/value fused, attention output, feed-forward in and out) + pooler +
    # classifier, word and segment embeddings.
    assert sum(dtype == tf.int8 for dtype in dtypes.values()) == 12
    hidden = exported.model.encoder.config.hidden_size
    assert sum(dtypes[name] == tf.int8 and shapes[name] == [hidden, 3 * hidden] for name in dtypes) == 2
    assert sizes["int8"] > 2 * sizes["float32"]  # Most parameters are int8.
    float_variables = tf.train.load_checkpoint(os.path.join(exported.path, "variables", "variables"))
    assert tf.int8 not in float_variables.get_variable_to_dtype_map().values()
    with open(os.path.join(path, saved_model_lib.ASSETS_EXTRA, saved_model_lib.EXPORT_INFO_FILE)) as f:
        assert json.load(f)["quantize"] == "int8"


@needs_onednn_int8
def test_model_is_not_changed(int8_export):
    exported, _ = int8_export
    assert not any(getattr(layer, "quantization_mode", None) for layer in exported.model._flatten_layers())
    assert all(w.dtype == "float32" for w in exported.model.weights)


@pytest.mark.parametrize("bad", ["int4", "INT8", "float16", True, 8])
def test_bad_quantize_value(exports, tmp_path, bad):
    exported = exports.get("sst2")
    export_dir = tmp_path / "bad"
    with pytest.raises(ValueError, match="--quantize"):
        saved_model_lib.export_saved_model(exported.model, str(export_dir), preprocessor=exported.preprocessor,
                                           quantize=bad)
    assert not export_dir.exists()
    with pytest.raises(ValueError, match="--quantize"):  # keras-bert export: before loading anything.
        program.run_export(str(tmp_path / "no_such_model_dir"), str(export_dir), quantize=bad)


@needs_onednn_int8
def test_already_quantized_model(int8_export, keras_int8, tmp_path):
    exported, _ = int8_export
    with pytest.raises(ValueError, match="already quantized"):
        saved_model_lib.export_saved_model(keras_int8, str(tmp_path / "again"), preprocessor=exported.preprocessor,
                                           quantize="int8")


@pytest.mark.skipif(ONEDNN_INT8, reason="this TensorFlow runs oneDNN's int8 kernel")
def test_refused_where_the_int8_kernel_cannot_run(exports, tmp_path):
    exported = exports.get("sst2")
    export_dir = tmp_path / "int8"
    with pytest.raises(ValueError, match="TF_ENABLE_ONEDNN_OPTS"):
        saved_model_lib.export_saved_model(exported.model, str(export_dir), preprocessor=exported.preprocessor,
                                           quantize="int8")
    assert not export_dir.exists()  # Refused before anything is written.


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return set()


CPU_FLAGS = _cpu_flags()


@pytest.mark.skipif(CPU_FLAGS & {"avx512_vnni", "avx_vnni", "amx_int8"} or not CPU_FLAGS,
                    reason="this CPU has VNNI (or its flags cannot be read)")
def test_saturating_kernel_is_refused_with_onednn_forced_on():
    """Without VNNI, oneDNN forced on runs the int8 matmul with int16 sums
    that saturate (seen on an AVX2 AMD EPYC): the probe must catch it."""
    import subprocess
    import sys

    code = ("from export import saved_model as s\n"
            "try:\n    s.check_onednn_int8()\n    print('accepted')\n"
            "except ValueError as e:\n    print(e)\n")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True,
                         timeout=300).stdout
    assert "quantize='int8'" in out and "accepted" not in out, out
