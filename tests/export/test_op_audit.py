"""The op audit: every export passes it, and it catches what TF Serving could not run."""

import os
import re

import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert.export import op_audit
from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving_releases

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def design_md_text_ops():
    """The tensorflow-text op names (and `Name*` prefixes) DESIGN.md says TF
    Serving 2.20 links; "RoundRobinTrim/GenerateMasks" names two ops."""
    path = os.path.join(REPO, "..", "shared", "DESIGN.md")
    if not os.path.exists(path):
        pytest.skip("../shared/DESIGN.md not found")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("TF Serving 2.20 links tensorflow-text")
    sentence = text[start: text.index("among others", start)]
    names = set()
    for first, second in re.findall(r"([A-Z][A-Za-z0-9]+\*?)(?:/([A-Z][A-Za-z0-9]+))?", sentence.split(":", 1)[1]):
        names.add(first)
        if second:
            names.add("".join(re.findall(r"[A-Z][a-z0-9]*", first)[:-1]) + second)
    return names


def test_design_md_text_ops_are_in_the_2_20_list():
    """Every op DESIGN.md says TF Serving 2.20 links is in the list read from
    tensorflow-text 2.20.0's ops_lib (it lists only some: "among others")."""
    named = design_md_text_ops()
    assert "RoundRobinGenerateMasks" in named and "FastWordpieceTokenize*" in named
    text_ops = serving_releases.TEXT_OPS_2_20_0
    for name in named:
        assert any(op.split(">")[-1].startswith(name.rstrip("*")) for op in text_ops), name


@pytest.mark.parametrize("name", ["sst2", "mrpc", "stsb", "conll", "squad"])
def test_every_export_is_servable_from_tf_serving_2_13_on(exports, name):
    """The default target is 2.13: nothing an export holds is missing from TF
    Serving 2.13's lists (tensorflow-text 2.12.1, TensorFlow 2.13), nor 2.20's."""
    assert op_audit.DEFAULT_TARGET == serving_releases.OLDEST == "2.13"
    path = exports.get(name).path
    result = op_audit.audit_saved_model(path)
    print(f"{name}: {result.summary()}")
    assert result.ok and result.target == "2.13", result.summary()
    assert set(result.text_ops) >= {"RegexSplitWithOffsets", "FastWordpieceTokenizeWithOffsets"}
    assert set(result.text_ops) <= serving_releases.TEXT_OPS_2_12_1
    assert not set(result.ops) - serving_releases.TEXT_OPS_2_12_1 - serving_releases.RELEASES["2.13"].core_ops
    assert "EagerPyFunc" not in result.ops
    assert not {op for op in result.ops if "RoundRobin" in op}  # mrpc, stsb, squad pack pairs.
    assert "VarHandleOp" in result.ops and not result.unknown_attrs  # debug_name dropped.
    assert op_audit.audit_saved_model(path, target="2.20").ok


def save(module, fn, path):
    tf.saved_model.save(module, path, signatures={"serving_default": fn.get_concrete_function()})
    return path


def test_audit_catches_unservable_ops(tmp_path):
    spec = [tf.TensorSpec([None], tf.string)]

    # A Python callback.
    @tf.function(input_signature=spec)
    def with_py_function(text):
        return {"length": tf.py_function(lambda t: tf.strings.length(t), [text], tf.int32)}

    # A tensorflow-text op that 2.12.1 (TF Serving 2.13-2.19) lacks.
    @tf.function(input_signature=spec)
    def with_other_text_op(text):
        return {"bits": tf_text.utf8_binarize(text)}

    # Only core and allowed ops.
    @tf.function(input_signature=spec)
    def servable(text):
        return {"words": tf_text.regex_split(text, r"\s").to_tensor("")}

    py_path = save(tf.Module(), with_py_function, str(tmp_path / "py"))
    text_path = save(tf.Module(), with_other_text_op, str(tmp_path / "text"))
    ok_path = save(tf.Module(), servable, str(tmp_path / "ok"))

    result = op_audit.audit_saved_model(py_path)
    assert not result.ok and "EagerPyFunc" in result.disallowed
    assert any(place.startswith("function ") for place in result.disallowed["EagerPyFunc"])
    with pytest.raises(ValueError, match="NOT servable by TF Serving 2.13: EagerPyFunc"):
        op_audit.check_saved_model(py_path)

    result = op_audit.audit_saved_model(text_path)
    assert set(result.disallowed) == {"TFText>Utf8Binarize"}
    assert op_audit.audit_saved_model(text_path, target="2.20").ok

    result = op_audit.audit_saved_model(ok_path)
    assert result.ok and result.text_ops == ["RegexSplitWithOffsets"]

    # An op of an unknown library, written into the graph.
    from tensorflow.core.protobuf import saved_model_pb2

    pb = os.path.join(ok_path, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with open(pb, "rb") as f:
        proto.ParseFromString(f.read())
    function = next(f for f in proto.meta_graphs[0].graph_def.library.function
                    if any(n.op == "RegexSplitWithOffsets" for n in f.node_def))
    next(n for n in function.node_def if n.op == "RegexSplitWithOffsets").op = "MyCustomSplit"
    with open(pb, "wb") as f:
        f.write(proto.SerializeToString())
    result = op_audit.audit_saved_model(ok_path)
    assert set(result.disallowed) == {"MyCustomSplit"}
    assert result.disallowed["MyCustomSplit"] == [f"function {function.signature.name}"]


def test_audit_catches_functions_marked_for_xla(tmp_path):
    """TF Serving runs signatures without XLA by default; a function traced
    with jit_compile=True (as keras_bert's training-only GELU kernels are)
    must not reach an export, however core its ops."""
    from keras_bert import activations

    spec = [tf.TensorSpec([None, 4], tf.float32)]

    @tf.function(input_signature=spec)
    def with_training_gelu(x):
        return {"y": activations.get_activation("gelu_approximate")(x)}

    @tf.function(input_signature=spec)
    def with_serving_gelu(x):
        return {"y": activations.get_fusable_activation("gelu_approximate")(x)}

    result = op_audit.audit_saved_model(save(tf.Module(), with_training_gelu, str(tmp_path / "xla")))
    assert not result.ok and not result.disallowed and result.xla_functions
    assert "marked jit_compile" in result.summary()
    assert op_audit.audit_saved_model(save(tf.Module(), with_serving_gelu, str(tmp_path / "plain"))).ok


def test_export_refuses_an_unservable_model(exports, tmp_path, monkeypatch):
    """export_saved_model audits before the rename: a failing export leaves nothing."""
    exported = exports.get("stsb")
    real = op_audit.check_saved_model
    monkeypatch.setattr(op_audit, "check_saved_model",
                        lambda path, **kwargs: real(path, allowed_text_ops=frozenset(), **kwargs))
    with pytest.raises(ValueError, match="NOT servable by TF Serving 2.13: .*FastWordpieceTokenizeWithOffsets"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path), preprocessor=exported.preprocessor,
                                           warmup=False)
    assert os.listdir(tmp_path) == []


def test_core_ops_exclude_text_and_python_ops():
    core = op_audit.core_ops()
    assert {"MatMul", "StringLower", "StaticRegexReplace", "UnicodeTranscode", "ParseExampleV2"} <= core
    assert not core & {"NormalizeUTF8", "RegexSplitWithOffsets", "EagerPyFunc", "PyFunc"}


def round_robin_model(tmp_path):
    """A SavedModel trimming a pair with tensorflow_text.RoundRobinTrimmer."""
    spec = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)

    @tf.function(input_signature=[spec, spec])
    def trim(a, b):
        a, b = tf_text.RoundRobinTrimmer(max_seq_length=5).trim([a, b])
        return {"a": a.to_tensor(), "b": b.to_tensor()}

    return save(tf.Module(), trim, str(tmp_path / "round_robin"))


def test_round_robin_trim_fails_2_13_and_passes_2_20(tmp_path):
    path = round_robin_model(tmp_path)
    result = op_audit.audit_saved_model(path, target="2.13")
    assert set(result.disallowed) == {"TFText>RoundRobinTrim"}
    message = result.summary()
    assert "NOT servable by TF Serving 2.13: TFText>RoundRobinTrim (in function" in message, message
    assert "tensorflow-text 2.12.1" in message
    with pytest.raises(ValueError, match=r"TF Serving 2\.13.*NOT servable by TF Serving 2\.13: TFText>RoundRobinTrim"):
        op_audit.check_saved_model(path)  # The default target.
    for target in ("2.14", "2.19", "2.19.1"):
        assert set(op_audit.audit_saved_model(path, target=target).disallowed) == {"TFText>RoundRobinTrim"}
    result = op_audit.audit_saved_model(path, target="2.20")
    assert result.ok and "TFText>RoundRobinTrim" in result.text_ops, result.summary()
    assert result.summary().startswith("TF Serving 2.20 (tensorflow-text 2.20.0)")


def test_attrs_tensorflow_2_13_lacks_fail_2_13(tmp_path):
    """A node setting an attr TF 2.13 does not know (VarHandleOp.debug_name,
    as tf.saved_model.save writes it) fails the 2.13 audit, passes 2.20's;
    rewrite_saved_model drops it."""
    module = tf.Module()
    module.v = tf.Variable([1.0, 2.0], name="kernel")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def scale(x):
        return {"y": x * tf.reduce_sum(module.v)}

    path = save(module, scale, str(tmp_path / "variable"))
    result = op_audit.audit_saved_model(path)
    assert not result.disallowed and set(result.unknown_attrs) == {"VarHandleOp.debug_name"}
    assert "attr VarHandleOp.debug_name unknown to TensorFlow 2.13" in result.summary()
    assert op_audit.audit_saved_model(path, target="2.20").ok
    saved_model_lib.rewrite_saved_model(path)
    assert op_audit.audit_saved_model(path).ok
    loaded = tf.saved_model.load(path)
    assert loaded.signatures["serving_default"](tf.constant([2.0]))["y"].numpy().tolist() == [6.0]


def test_audit_releases_reads_once_and_equals_each_release_alone(tmp_path, monkeypatch):
    """`audit_releases` (what export prints, and the command line): one read of
    saved_model.pb, and for each release the same result as auditing it alone."""
    module = tf.Module()
    module.v = tf.Variable([1.0, 2.0], name="kernel")  # debug_name: fails 2.13-2.19's attr check.

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def scale(x):
        return {"y": x * tf.reduce_sum(module.v)}

    path = save(module, scale, str(tmp_path / "variable"))
    alone = {target: op_audit.audit_saved_model(path, target=target) for target in serving_releases.RELEASES}
    reads = []
    read = op_audit._read_saved_model
    monkeypatch.setattr(op_audit, "_read_saved_model", lambda d: reads.append(d) or read(d))
    together = op_audit.audit_releases(path)
    assert reads == [path]
    assert list(together) == list(serving_releases.RELEASES)
    assert together == alone
    assert [t for t, r in together.items() if r.ok] == ["2.20"]
    assert list(op_audit.audit_releases(path, ["2.20", "2.13"])) == ["2.20", "2.13"]


def test_unknown_target_is_refused(tmp_path):
    for target in ("2.12", "3.0", "latest"):
        with pytest.raises(ValueError, match=f"target='{target}': not a TF Serving release the op audit knows"):
            op_audit.audit_saved_model(str(tmp_path), target=target)
    with pytest.raises(ValueError, match="target='2.11'"):
        saved_model_lib.export_saved_model(str(tmp_path / "nothing"), str(tmp_path / "out"), serving_target="2.11")


def test_release_table():
    """2.13-2.19 link tensorflow-text 2.12.1, 2.20 links 2.20.0; the difference
    is the trimmer and Utf8Binarize ops (tensorflow/serving workspace.bzl,
    tensorflow/text tensorflow_text/BUILD ops_lib)."""
    assert list(serving_releases.RELEASES) == ["2.13", "2.14", "2.15", "2.16", "2.17", "2.18", "2.19", "2.20"]
    for name, release in serving_releases.RELEASES.items():
        assert release.tensorflow_text == ("2.20.0" if name == "2.20" else "2.12.1")
    assert serving_releases.TEXT_OPS_2_20_0 - serving_releases.TEXT_OPS_2_12_1 == {
        "TFText>RoundRobinTrim", "TFText>RoundRobinGenerateMasks", "TFText>Utf8Binarize"}
    assert {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets", "NormalizeUTF8", "CaseFoldUTF8",
            "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets"} <= serving_releases.TEXT_OPS_2_12_1
    core_2_13 = serving_releases.RELEASES["2.13"].core_ops
    assert {"MatMul", "RaggedRange", "StaticRegexReplace", "VarHandleOp"} <= core_2_13
    assert "FFTND" not in core_2_13  # Added after 2.13.


def test_installed_tensorflow_text_registers_the_2_20_list():
    """Cross-check of the list read from the sources: this process imported
    tensorflow_text 2.20.1, whose ops are exactly ops_lib's at v2.20.0."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    registered = {op.name for op in op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList())).op}
    assert registered - op_audit.core_ops() - op_audit.PYTHON_ONLY_OPS == serving_releases.TEXT_OPS_2_20_0


def test_command_line_prints_every_release(tmp_path, capsys):
    path = round_robin_model(tmp_path)
    assert op_audit.main(["op_audit", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("TF Serving ")[1].split(" ")[0] for line in lines] == list(serving_releases.RELEASES)
    assert all("NOT servable" in line for line in lines[:-1]) and lines[-1].endswith("all servable")
    assert op_audit.main(["op_audit", "--target", "2.20", path]) == 0
    assert capsys.readouterr().out.count("\n") == 1
