"""`export_saved_model`: a task model as a TF Serving SavedModel, raw text in.

Layout (TF Serving's): `export_dir/<version>/` holding `saved_model.pb`,
`variables/`, `assets.extra/tf_serving_warmup_requests` (warmup records,
`keras_bert.export.warmup`) and `assets.extra/keras_bert_export.json` (task, labels,
inputs and outputs of each signature, settings). The signatures are those of
`keras_bert.export.serving`, run on a copy of the model whose encoder skips padding
(`serving_copy`).

Versions: the next free one by default (1 + the highest integer directory
in `export_dir`, 1 for none); an existing version is an error, never
overwritten. The SavedModel is written to a temporary directory inside
`export_dir` (`.tmp-<version>-*`: not an integer, so TF Serving ignores it)
and renamed to its version only when complete, so a crash never leaves a
half-written version that TF Serving would load. Nothing is written
outside `export_dir`.

Beside the versions (never inside one), the export writes TF Serving's
configuration: `batching_parameters.txt`, `models.config` and `SERVING.md`
(`keras_bert.export.serving_config`; a file the user edited is kept).

Before the rename, every op of every graph and function is audited
(`keras_bert.export.op_audit`) for the oldest TF Serving release it must load
on (`serving_target`, default 2.13): only core TensorFlow ops and the
tensorflow-text ops that release links (2.13-2.19: tensorflow-text 2.12.1's),
no attr its TensorFlow lacks (`rewrite_saved_model` drops the debug-only
`VarHandleOp.debug_name` TF 2.20 writes). An export that fails the audit is
not kept.

`quantize="int8"` (`keras-bert export --quantize=int8`) exports an int8 copy
of the model (`serving_copy`): int8 weights with a float scale per output
channel, activations quantized per row at run time, and the matmuls run by
TensorFlow's oneDNN u8 x s8 -> s32 kernel
(`QuantizedMatMulWithBiasAndDequantize`). `quantize="bfloat16"` exports a
bfloat16 copy: weights stored and matmuls run in bfloat16 (oneDNN's
AVX512_BF16 / AMX kernels), LayerNorm statistics in float32, outputs float32.
"""

import json
import os
import re
import uuid
import warnings

import numpy as np
import tensorflow as tf

from keras_bert import cpu_features
from keras_bert import io
from keras_bert.checkpoints import pretrained
from keras_bert.export import op_audit
from keras_bert.export import serving
from keras_bert.export import serving_config as serving_config_lib
from keras_bert.export import serving_releases
from keras_bert.export import warmup as warmup_lib
from keras_bert.io import read_json_file
from keras_bert.layers.self_attention import SelfAttention
from keras_bert.layers.self_attention import fused_projection_weights
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers import run_dir
from keras_bert.trainers import tasks

ASSETS_EXTRA = "assets.extra"
EXPORT_INFO_FILE = "keras_bert_export.json"
_VERSION = re.compile(r"^[0-9]+$")



# ------------------------------------------------------------- versions


def existing_versions(export_dir):
    """Sorted int versions (integer-named subdirectories) in `export_dir`."""
    if not tf.io.gfile.isdir(export_dir):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(export_dir))
    return sorted(int(name) for name in names
                  if _VERSION.match(name) and tf.io.gfile.isdir(io.join(export_dir, name)))


def next_version(export_dir):
    """1 + the highest existing version of `export_dir`, or 1."""
    versions = existing_versions(export_dir)
    return versions[-1] + 1 if versions else 1


def _check_version(version):
    if isinstance(version, str) and _VERSION.match(version.strip()):
        version = int(version.strip())
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"version must be a positive integer (TF Serving's version directory name), got {version!r}"
        )
    return version


def _prepare_export_dir(export_dir):
    if not isinstance(export_dir, (str, os.PathLike)) or not os.fspath(export_dir):
        raise ValueError(f"export_dir must be a directory path, got {export_dir!r}")
    export_dir = _normalized(export_dir)
    if tf.io.gfile.exists(export_dir) and not tf.io.gfile.isdir(export_dir):
        raise ValueError(f"export_dir={export_dir}: exists and is not a directory")
    io.makedirs(export_dir, f"export_dir={export_dir}")
    return export_dir


def _normalized(path):
    """A local path made absolute (its '..' resolved); a URL (gs://, ram:// ...) as it is."""
    path = os.fspath(path)
    return os.path.abspath(path) if io.is_local(path) else path.rstrip("/")


# ------------------------------------------------- a finetune output_dir


def load_finetuned(model_dir, max_seq_length=None, pairs=None):
    """The model, preprocessor and settings of a `keras-bert finetune` output_dir,
    or of a model fine-tuned elsewhere.

    A finetune output_dir is read as `keras_bert.trainers.run_dir` lays it
    out: `task.json` (task, labels, `max_seq_length`, casing, SQuAD
    settings), `model_config.json`, `vocab.txt`, and the kept model:
    `best/model` (a `tf.train.Checkpoint`), else `model.keras`. A directory
    without task.json may be a transformers task model (`BertFor...`'s
    `save_pretrained`, with vocab.txt) or an original run_classifier.py /
    run_squad.py checkpoint (`run_dir.read_task_checkpoint`); only for those,
    `max_seq_length` (default 128) and `pairs` (a classifier of text pairs)
    say what the training run's task.json would.

    Returns:
      `(model, preprocessor, settings)`; settings: dict of `make_spec`
      keyword arguments (`labels`, `pairs`, SQuAD settings).

    Raises:
      ValueError: naming the missing or unreadable file, or an unsupported task.
    """
    if not isinstance(model_dir, (str, os.PathLike)) or not tf.io.gfile.isdir(os.fspath(model_dir)):
        raise ValueError(f"model_dir={model_dir!r}: no such directory (a `keras-bert finetune` output_dir)")
    model_dir = os.fspath(model_dir)
    task_path = run_dir.path(model_dir, run_dir.TASK_FILE)
    if not tf.io.gfile.exists(task_path) and _is_checkpoint(model_dir):
        model, task_info, vocab_file = run_dir.read_task_checkpoint(model_dir, max_seq_length, bool(pairs))
        preprocessor = BertPreprocessor(vocab_file, lowercase=task_info["lowercase"],
                                        seq_length=task_info["max_seq_length"])
        return model, preprocessor, tasks.TASKS[task_info["task"]].serving_settings(task_info, lambda: {})
    for flag, value in (("--max_seq_length", max_seq_length), ("--text_pairs", pairs)):
        if value is not None:
            raise ValueError(f"{flag}={value}: only for a model fine-tuned elsewhere; {model_dir}/task.json says "
                             "what its training run used")
    run_dir.required(task_path, "the task, labels and settings")
    task_info = read_json_file(task_path, "the task, labels and settings")
    name = task_info.get("task") if isinstance(task_info, dict) else None
    if name not in tasks.TASKS:
        raise ValueError(f"{task_path}: task {name!r} cannot be exported for serving "
                         f"(supported: {', '.join(tasks.TASKS)})")
    run_dir.check_task_info(task_info, task_path)
    config = run_dir.read_config(model_dir)
    preprocessor = run_dir.make_preprocessor(model_dir, task_info)
    model = run_dir.load_model(model_dir, task_info, config)
    settings = tasks.TASKS[name].serving_settings(task_info, lambda: _best_results(model_dir))
    return model, preprocessor, settings


def _is_checkpoint(directory):
    """Whether `directory` holds an original or transformers checkpoint."""
    try:
        pretrained.detect_format(directory)
    except ValueError:
        return False
    return True


def _best_results(model_dir):
    """The kept model's dev scores, or {} when there are none or they cannot be read."""
    results_path = run_dir.path(model_dir, run_dir.BEST_DIR, run_dir.RESULTS_FILE)
    try:
        results = read_json_file(results_path, "results file") if tf.io.gfile.exists(results_path) else {}
    except ValueError:
        return {}
    return results if isinstance(results, dict) else {}


# ---------------------------------------------------------- quantization

QUANTIZE_MODES = ("int8", "bfloat16")


def check_quantize(quantize):
    """`quantize` if it is None or one of `QUANTIZE_MODES`; else a ValueError naming the option."""
    if quantize is None or (isinstance(quantize, str) and quantize in QUANTIZE_MODES):
        return quantize
    raise ValueError(
        f"quantize={quantize!r} (--quantize of `keras-bert export`): unknown; use 'int8' (int8 weights and "
        f"matmuls), 'bfloat16' (bfloat16 weights and matmuls) or leave it unset (float32)"
    )


def bfloat16_serving_note(cpu_flags=None):
    """What a bfloat16 export means for the CPU it is made on: a sentence
    naming this CPU's bfloat16 instructions, or saying it has none (then
    oneDNN emulates the bfloat16 matmuls, slower than float32's)."""
    found = cpu_features.bf16_instructions(cpu_features.read_cpu_flags() if cpu_flags is None else cpu_flags)
    if found:
        return f"quantize='bfloat16': this machine's CPU has {', '.join(found)} (native bfloat16 matmuls)"
    return ("quantize='bfloat16': this machine's CPU has neither AVX512_BF16 nor AMX, so it would serve the "
            "bfloat16 copy slower than float32; serve it on a CPU that has one of them")


def serving_copy(model, quantize=None):
    """The copy of a task model that an export serves; `model` is unchanged.

    Its encoder skips padding (`BertEncoder(skip_padding=True)`): the
    position-wise layers run on the real tokens of a batch only, which the
    serving functions' outputs never read past (classification, regression
    and multiple choice use `[CLS]`; tagging and SQuAD real pieces), so they
    are those of `model` to float rounding while padding costs no time.
    Its attention layers project queries, keys and values with one `[H, 3H]`
    matmul (`fused_projections=True`; the three kernels side by side, the
    query's times the 1 / sqrt(head_size) attention scales it by, so the
    same numbers), unless the model's user quantized it (then its layers are
    copied as they are). Its rows hold one sequence each, as the serving
    functions' own preprocessing packs them (`packed_rows=False`: original
    BERT's positions and padding mask, no per-sequence `[batch, seq, seq]`
    work). Built under `model`'s dtype policy, with its weights.

    `quantize="bfloat16"`: the copy is built under Keras's "bfloat16"
    policy, its weights stored in bfloat16 (half their float32 size) and its
    matmuls, attention and activations computed in bfloat16, which oneDNN
    runs on AVX512_BF16 / AMX; LayerNorm computes its statistics in float32
    (`layer_norm_kernels.layer_norm_on_rows`: written out in float32 on
    few tokens, oneDNN's fused kernel, bfloat16 in and out, on many) and
    the serving functions return float32. Unlike TF Serving's
    `--mixed_precision=bfloat16` (grappler casts around each op of a float32
    graph at load), no weight is cast per request.

    `quantize="int8"`: the copy's `Dense` and `Embedding` layers are then
    quantized. Keras's `Model.quantize("int8")` gives every one an int8
    weight (symmetric, round(w * scale), one float scale per output unit or
    embedding row) and quantizes the input of each Dense at run time (per
    row: 127 / max |x|). Its matmul of the two int8 tensors is a
    `BatchMatMulV3` (int8 x int8 -> int32) that TensorFlow runs with a
    generic kernel, several times slower than the float32 matmul on CPU. So
    each quantized Dense here computes the same integer product with
    oneDNN's u8 x s8 -> s32 kernel instead (AVX512-VNNI / AMX;
    `QuantizedMatMulWithBiasAndDequantize`, float32 out): the row-quantized
    input is shifted by 128 into uint8, and 128 x (column sums of the int8
    kernel) is subtracted as the kernel's bias, which makes the product
    exact. That kernel is part of TensorFlow builds with oneDNN (the x86-64
    Linux default) and runs while oneDNN is on (`TF_ENABLE_ONEDNN_OPTS` not
    0); elsewhere the op has no working kernel, and the export says so
    (`check_onednn_int8`).

    Raises:
      ValueError: `quantize` is not None, "int8" or "bfloat16", the model
        is already quantized, or the int8 kernel cannot run here.
    """
    import keras

    check_quantize(quantize)
    # Layers quantized by the user, by path (the copy's encoder has layers of its own, so positions differ).
    already_quantized = {layer.path: layer.quantization_mode for layer in model._flatten_layers()
                         if getattr(layer, "quantization_mode", None)}
    if quantize:
        if already_quantized:
            raise ValueError(f"quantize={quantize!r}: the model is already quantized (export it with quantize=None)")
        if quantize == "int8":
            check_onednn_int8()
    global_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("bfloat16" if quantize == "bfloat16" else model.encoder.dtype_policy)
    try:
        encoder = BertEncoder(model.encoder.config, skip_padding=True, fused_projections=not already_quantized,
                              packed_rows=False, name=model.encoder.name)
        copy = model.__class__.from_config(dict(model.get_config(), encoder=encoder))
    finally:
        keras.config.set_dtype_policy(global_policy)
    # A model quantized by its user (Keras's own int8 layers) is copied as it is.
    for layer in copy._flatten_layers():
        if layer.path in already_quantized:
            layer.quantize(already_quantized.pop(layer.path))
    if already_quantized:
        raise ValueError(f"serving_copy: no layer of the copy matches the quantized {sorted(already_quantized)}")
    copy.set_weights(_weights_for_copy(model, copy.encoder.fused_projections))  # Cast to the copy's dtype.
    if quantize == "int8":
        with warnings.catch_warnings():  # One per layer without weights ("... does not have a `quantize` method").
            warnings.filterwarnings("ignore", message=".*does not have a `quantize` method", category=UserWarning)
            copy.quantize(quantize)
        for layer in copy._flatten_layers():
            if isinstance(layer, keras.layers.Dense) and layer.quantization_mode == "int8":
                # Dense.call dispatches to `self._int8_call` in int8 mode.
                layer._int8_call = _Int8Matmul(layer)
    return copy


def _weights_for_copy(model, fused_projections):
    """`model.get_weights()` in the order of its serving copy's weights:
    with `fused_projections`, each attention layer's query, key and value
    kernels (and biases) are one fused kernel (bias), in the place of the
    query's (`SelfAttention.build` builds its projections first)."""
    if not fused_projections:
        return model.get_weights()
    fused = {}  # id of a query / key / value variable -> its fused weight, or None where it is dropped
    for layer in model._flatten_layers():
        if isinstance(layer, SelfAttention):
            kernel, bias = fused_projection_weights(layer)
            fused[id(layer.query_dense.kernel)], fused[id(layer.query_dense.bias)] = kernel, bias
            for dense in (layer.key_dense, layer.value_dense):
                fused[id(dense.kernel)] = fused[id(dense.bias)] = None
    weights = [fused.get(id(variable), variable) for variable in model.weights]
    return [np.asarray(weight) for weight in weights if weight is not None]


class _Int8Matmul:
    """A quantized `keras.layers.Dense`'s forward pass on oneDNN's int8 kernel:
    `dense(x) = (x_q W_q) / (x_scale * kernel_scale) + bias`, then the
    activation, with the integer product from oneDNN."""

    def __init__(self, layer):
        if getattr(layer, "lora_enabled", False):
            raise ValueError(f"{layer.path}: LoRA layers cannot be exported quantized")
        self.layer = layer
        kernel = np.asarray(layer._kernel.numpy(), np.int64)
        # The uint8 input is x_q + 128: -128 * column sum, passed as the
        # kernel's bias, takes the excess off (with the unit ranges below the
        # kernel adds it unscaled, and its float output is the exact integer
        # product).
        self.compensation = tf.constant(-128 * kernel.sum(axis=0), tf.float32)

    def __call__(self, inputs, training=None):
        layer = self.layer
        x = tf.cast(inputs, tf.float32)
        rank_2 = x.shape.rank == 2  # Our Dense layers get [batch * seq, hidden] but for the heads.
        if not rank_2:
            shape = tf.shape(x)
            x = tf.reshape(x, [-1, x.shape[-1]])
        amax = tf.reduce_max(tf.abs(x), axis=-1, keepdims=True) + 1e-7
        # |x * 127 / amax| < 127, so x_q + 128 is in [1, 255]; + 0.5 and the
        # (truncating) cast round to nearest.
        x_u8 = tf.cast(x * (127.0 / amax) + 128.5, tf.uint8)
        y = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
            a=tf.bitcast(x_u8, tf.quint8), b=tf.bitcast(tf.convert_to_tensor(layer._kernel), tf.qint8),
            bias=self.compensation, min_a=0.0, max_a=255.0, min_b=-127.0, max_b=127.0, min_freezed_output=0.0,
            max_freezed_output=0.0, Toutput=tf.float32, input_quant_mode="SCALED",
        )
        y = y * (amax / 127.0) * (1.0 / tf.convert_to_tensor(layer.kernel_scale))
        if layer.bias is not None:
            y = tf.nn.bias_add(y, tf.convert_to_tensor(layer.bias))
        if not rank_2:
            y = tf.reshape(y, tf.concat([shape[:-1], [layer.units]], axis=0))
        y = tf.cast(y, layer.compute_dtype)
        return layer.activation(y) if layer.activation is not None else y


def check_onednn_int8():
    """Raises a ValueError unless this TensorFlow runs `QuantizedMatMulWithBiasAndDequantize` exactly, as used above.

    The probe's products add up past int16: oneDNN without AVX-512 VNNI (on
    AVX2, e.g.) sums pairs of u8 x s8 products in int16 with saturation
    (255 * 127 * 2 = 64770 becomes 32767), which makes a whole model's
    outputs wrong rather than rounded. Seen on an AVX2 AMD EPYC with
    TF_ENABLE_ONEDNN_OPTS=1: the probe gave 7044 for 39047.
    """
    a, b = [[255, 255, 200, 1]], [[127], [127], [-128], [5]]
    expected = sum(x * y[0] for x, y in zip(a[0], b)) - 128.0
    try:
        product = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
            a=tf.bitcast(tf.constant(a, tf.uint8), tf.quint8), b=tf.bitcast(tf.constant(b, tf.int8), tf.qint8),
            bias=tf.constant([-128.0]), min_a=0.0, max_a=255.0, min_b=-127.0, max_b=127.0,
            min_freezed_output=0.0, max_freezed_output=0.0, Toutput=tf.float32, input_quant_mode="SCALED",
        )
        result = float(product.numpy()[0, 0])
    except (tf.errors.OpError, IndexError, ValueError):
        result = None
    if result != expected:
        got = "fails to run" if result is None else f"gives {result:g} for {expected:g} (int16 saturation)"
        raise ValueError(
            f"quantize='int8': this TensorFlow's QuantizedMatMulWithBiasAndDequantize (oneDNN's int8 matmul) "
            f"{got}; it needs an x86-64 build with oneDNN on (TF_ENABLE_ONEDNN_OPTS=1; TensorFlow turns it on by "
            "default only on CPUs with AVX-512 VNNI or AMX) and a CPU with VNNI; a server without them could not "
            "serve the int8 model either"
        )


# --------------------------------------------------------------- writing


# Attrs TensorFlow 2.20 sets that only name things for debugging and that
# TensorFlow 2.13 (TF Serving 2.13-2.19) does not know: a node carrying one
# fails to load there ("NodeDef mentions attr 'debug_name' not in Op").
# Dropped from saved_model.pb (the op reads its default, ""); see
# `keras_bert.export.serving_releases`.
DEBUG_ONLY_ATTRS = {"VarHandleOp": ("debug_name",)}


def rewrite_saved_model(saved_model_dir, method_names=None):
    """Rewrites a SavedModel's saved_model.pb for TF Serving, then its fingerprint.

    Drops the `DEBUG_ONLY_ATTRS` of every node (graph and library
    functions), so that TF Serving 2.13-2.19 load it; sets signature
    method names (`method_names` `{signature: method}`: TF2's saver writes
    predict for all). Writes only if something changed.
    """
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.saved_model import fingerprinting_utils

    path = io.join(saved_model_dir, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as f:
        proto.ParseFromString(f.read())
    changed = False
    for meta_graph in proto.meta_graphs:
        for name, method in (method_names or {}).items():
            if name in meta_graph.signature_def and meta_graph.signature_def[name].method_name != method:
                meta_graph.signature_def[name].method_name = method
                changed = True
        graph = meta_graph.graph_def
        for nodes in [graph.node] + [function.node_def for function in graph.library.function]:
            for node in nodes:
                for attr in DEBUG_ONLY_ATTRS.get(node.op, ()):
                    if attr in node.attr:
                        del node.attr[attr]
                        changed = True
    if changed:
        with io.atomic_write(path, "wb") as f:  # (A GFile reopened for writing appends on ram://.)
            f.write(proto.SerializeToString(deterministic=True))
        fingerprinting_utils.write_fingerprint(saved_model_dir)


def tf_variables(variables):
    """The `tf.Variable`s behind Keras variables.

    Keras 3 saves a Keras variable as a second `tf.Variable` copied from the
    first, while the traced functions read the first: a session-based
    loader (TF Serving, `saved_model_cli run`) restores the copy and then
    fails with "Could not find variable ...". Tracking the `tf.Variable`s
    themselves gives one variable, restored where it is read.
    """
    result = []
    for variable in variables:
        value = getattr(variable, "value", variable)
        if not isinstance(value, tf.Variable):
            raise ValueError(f"variable {getattr(variable, 'path', variable)!r} is not backed by a tf.Variable")
        result.append(value)
    return result


def save_with_signatures(variables, functions, saved_model_dir, assets=None):
    """`tf.saved_model.save` of a bare trackable holding `variables` (and
    `assets`, tracked as attributes), with `functions` `{name: (concrete
    function, method name)}` as signatures."""
    root = tf.__internal__.tracking.AutoTrackable()
    root.model_variables = tf_variables(variables)
    for key, value in (assets or {}).items():
        setattr(root, key, value)
    tf.saved_model.save(root, saved_model_dir, signatures={name: fn for name, (fn, _) in functions.items()})
    rewrite_saved_model(saved_model_dir, {name: method for name, (_, method) in functions.items()})


def _signature_info(functions):
    info = {}
    for name, (fn, method) in functions.items():
        specs = tf.nest.flatten(fn.structured_input_signature)  # Positional, named TensorSpecs.
        info[name] = {
            "method_name": method,
            "inputs": {spec.name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()} for spec in specs},
            "outputs": {
                key: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                for key, spec in fn.structured_outputs.items()
            },
        }
    return info


def export_saved_model(model_or_output_dir, export_dir, version=None, *, preprocessor=None, labels=None,
                       pairs=None, fill_tag=None, max_query_length=None, max_answer_length=None,
                       version_2_with_negative=None, null_score_diff_threshold=None, warmup=True,
                       audit=True, serving_target=op_audit.DEFAULT_TARGET, model_name=None, quantize=None,
                       serving_config=serving_config_lib.DEFAULT):
    """Exports a task model for TF Serving: `export_dir/<version>/`.

    Args:
      model_or_output_dir: a task model (`BertClassifier`, `BertRegressor`,
        `BertTokenClassifier`, `BertQuestionAnswerer`, `BertMultipleChoice`),
        or the `output_dir`
        of `keras-bert finetune` (its task.json gives the labels, pairs,
        `max_seq_length`, casing and SQuAD settings; the arguments below
        override them).
      export_dir: the model's base directory for TF Serving (created if
        missing).
      version: positive int; None: the next free version.
      preprocessor: the model's `keras_bert.BertPreprocessor` (required
        with a model; its `seq_length` is the `max_seq_length` served).
      labels: class (tag) names, index = class id. Default for a
        classifier: "0", "1", ...; a tagger needs them.
      pairs: classification/regression of text pairs (`text_a`, `text_b`).
      fill_tag: tagging: the tag of a word without a wordpiece (default "O").
      max_query_length, max_answer_length, version_2_with_negative,
      null_score_diff_threshold: SQuAD (defaults 64, 30, False, 0.0).
      warmup: write `assets.extra/tf_serving_warmup_requests`.
      audit: check the ops (`keras_bert.export.op_audit`) before keeping the export.
      serving_target: the oldest TF Serving release the export must load on,
        "2.13" (default; every release from 2.13 on) ... "2.20"
        (`keras_bert.export.serving_releases`): the audit's target.
      model_name: the model name in the warmup requests (default: the
        base name of `export_dir`).
      quantize: None (float32 weights, as trained), "int8": export an
        int8 copy (`serving_copy`): Dense and embedding weights a quarter of the size, int8
        matmuls on oneDNN (x86-64 CPUs), predictions a little off the
        float model's; or "bfloat16": a bfloat16 copy (half the size,
        matmuls in bfloat16: faster on CPUs with AVX512_BF16 or AMX, slower
        without; outputs move by bfloat16 rounding). The model passed in is
        not changed.
      serving_config: a `serving_config.ServingConfig` (batch threads =
        this machine's cores, batches up to 32 ...): after the version,
        writes `batching_parameters.txt`, `models.config` and `SERVING.md`
        into `export_dir`, keeping any the user edited. None: not written.

    Returns:
      str, the path of the version directory written.

    Raises:
      ValueError: naming the argument (an existing version, a bad version,
        a model that is not a task model, ...), or listing the ops that
        fail the audit. Nothing is left in `export_dir` then.
    """
    check_quantize(quantize)
    serving_releases.get_release(serving_target)  # A ValueError naming serving_target, before any work.
    if serving_config is not None:
        serving_config_lib.check_serving_config(serving_config)
    if isinstance(model_or_output_dir, (str, os.PathLike)):
        model, loaded_preprocessor, settings = load_finetuned(model_or_output_dir)
        preprocessor = preprocessor or loaded_preprocessor
    else:
        model, settings = model_or_output_dir, {}
        if preprocessor is None:
            raise ValueError("preprocessor: required when exporting a model (the BertPreprocessor it was trained with)")
    overrides = dict(labels=labels, pairs=pairs, fill_tag=fill_tag, max_query_length=max_query_length,
                     max_answer_length=max_answer_length, version_2_with_negative=version_2_with_negative,
                     null_score_diff_threshold=null_score_diff_threshold)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    spec = serving.make_spec(model, preprocessor, **settings)
    model = serving_copy(model, quantize)

    export_dir = _prepare_export_dir(export_dir)
    version = next_version(export_dir) if version is None else _check_version(version)
    target = io.join(export_dir, str(version))
    if tf.io.gfile.exists(target) or version in existing_versions(export_dir):  # ("0007" is version 7 too.)
        raise ValueError(
            f"version={version}: exists in {export_dir}; an exported version is never overwritten "
            f"(give another version, or none for the next free one, {next_version(export_dir)})"
        )
    temp = io.join(export_dir, f".tmp-{version}-{uuid.uuid4().hex[:12]}")  # Not an integer: TF Serving skips it.
    tf.io.gfile.makedirs(temp)
    try:
        functions = serving.build_serving_functions(model, preprocessor, spec)
        save_with_signatures(model.weights, functions, temp)
        extra = io.join(temp, ASSETS_EXTRA)
        tf.io.gfile.makedirs(extra)
        if warmup:
            warmup_lib.write_warmup_file(
                io.join(extra, warmup_lib.WARMUP_FILE),
                warmup_lib.warmup_requests(spec, preprocessor, model_name or os.path.basename(export_dir)),
            )
        info = {
            "task": spec.task,
            "labels": list(spec.labels) if spec.labels else None,
            "text_inputs": list(spec.text_inputs),
            "max_seq_length": preprocessor.seq_length,
            "lowercase": preprocessor.lowercase,
            "quantize": quantize,
            "signatures": _signature_info(functions),
        }
        info.update(serving.SIGNATURE_CLASSES[spec.task].export_settings(spec))
        with tf.io.gfile.GFile(io.join(extra, EXPORT_INFO_FILE), "w") as f:
            f.write(json.dumps(info, indent=1))
        if audit:
            op_audit.check_saved_model(temp, target=serving_target)
        try:
            # Fails if another export took the version meanwhile (or it is a dangling symlink).
            io.rename_tree(temp, target)
        except tf.errors.OpError as e:
            reason = e.message.split(";")[-1].strip()
            raise ValueError(f"version={version}: cannot create {target} ({reason}); nothing was written") from None
    except BaseException:
        io.remove(temp)
        raise
    if serving_config is not None:
        serving_config_lib.write_serving_config(export_dir, model_name or os.path.basename(export_dir), serving_config,
                                                quantize)
    return target


def write_saved_model_dir(export_dir, write):
    """Writes a (non-versioned) SavedModel directory atomically.

    `write(temp_dir)` fills a temporary sibling of `export_dir`, which is
    then renamed to it. `export_dir` must not exist or be an empty directory.

    Returns:
      str, `export_dir` (absolute).
    """
    if not isinstance(export_dir, (str, os.PathLike)) or not os.fspath(export_dir):
        raise ValueError(f"export_dir must be a directory path, got {export_dir!r}")
    export_dir = _normalized(export_dir)
    if tf.io.gfile.exists(export_dir) and (not tf.io.gfile.isdir(export_dir) or tf.io.gfile.listdir(export_dir)):
        raise ValueError(f"export_dir={export_dir}: exists and is not an empty directory; it is never overwritten")
    parent, name = os.path.split(export_dir)
    io.makedirs(parent, f"export_dir={export_dir}")
    temp = io.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
    tf.io.gfile.makedirs(temp)
    try:
        write(temp)
        if tf.io.gfile.isdir(export_dir):
            tf.io.gfile.rmtree(export_dir)  # Empty (checked above).
        io.rename_tree(temp, export_dir)
    except BaseException:
        io.remove(temp)
        raise
    return export_dir
