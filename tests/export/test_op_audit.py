"""The op audit: every export passes it, and it catches what TF Serving could not run."""

import os
import re

import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert.export import op_audit
from keras_bert.export import saved_model as saved_model_lib

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


def test_allowed_list_is_design_md():
    named = design_md_text_ops()
    assert "RoundRobinGenerateMasks" in named and "FastWordpieceTokenize*" in named
    for op in op_audit.ALLOWED_TEXT_OPS:
        base = op.split(">")[-1]  # Newer tensorflow-text ops are registered as "TFText>Name".
        assert base in named or any(n.endswith("*") and base.startswith(n[:-1]) for n in named), op
    for name in named:
        assert any(op.split(">")[-1].startswith(name.rstrip("*")) for op in op_audit.ALLOWED_TEXT_OPS), name


@pytest.mark.parametrize("name", ["sst2", "mrpc", "stsb", "conll", "squad"])
def test_every_export_is_servable(exports, name):
    result = op_audit.audit_saved_model(exports.get(name).path)
    print(f"{name}: {result.summary()}")
    assert result.ok, result.summary()
    assert set(result.text_ops) >= {"RegexSplitWithOffsets", "FastWordpieceTokenizeWithOffsets"}
    assert "EagerPyFunc" not in result.ops


def save(module, fn, path):
    tf.saved_model.save(module, path, signatures={"serving_default": fn.get_concrete_function()})
    return path


def test_audit_catches_unservable_ops(tmp_path):
    spec = [tf.TensorSpec([None], tf.string)]

    # A Python callback.
    @tf.function(input_signature=spec)
    def with_py_function(text):
        return {"length": tf.py_function(lambda t: tf.strings.length(t), [text], tf.int32)}

    # A tensorflow-text op DESIGN.md does not list.
    @tf.function(input_signature=spec)
    def with_other_text_op(text):
        return {"tokens": tf_text.WhitespaceTokenizer().tokenize(text).to_tensor("")}

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
    with pytest.raises(ValueError, match="NOT servable by TF Serving 2.20: EagerPyFunc"):
        op_audit.check_saved_model(py_path)

    result = op_audit.audit_saved_model(text_path)
    assert set(result.disallowed) == {"TFText>WhitespaceTokenizeWithOffsetsV2"}

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


def test_export_refuses_an_unservable_model(exports, tmp_path, monkeypatch):
    """export_saved_model audits before the rename: a failing export leaves nothing."""
    exported = exports.get("stsb")
    monkeypatch.setattr(op_audit, "ALLOWED_TEXT_OPS", frozenset())
    real = op_audit.check_saved_model
    monkeypatch.setattr(op_audit, "check_saved_model",
                        lambda path: real(path, allowed_text_ops=op_audit.ALLOWED_TEXT_OPS))
    with pytest.raises(ValueError, match="NOT servable by TF Serving 2.20: .*FastWordpieceTokenizeWithOffsets"):
        saved_model_lib.export_saved_model(exported.model, str(tmp_path), preprocessor=exported.preprocessor,
                                           warmup=False)
    assert os.listdir(tmp_path) == []


def test_core_ops_exclude_text_and_python_ops():
    core = op_audit.core_ops()
    assert {"MatMul", "StringLower", "StaticRegexReplace", "UnicodeTranscode", "ParseExampleV2"} <= core
    assert not core & {"NormalizeUTF8", "RegexSplitWithOffsets", "EagerPyFunc", "PyFunc"}
