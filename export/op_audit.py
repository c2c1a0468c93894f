"""Op audit: can TF Serving 2.20 run every op of a SavedModel?

TF Serving links TensorFlow's core ops and a set of tensorflow-text ops; a
SavedModel with any other op (a `tf.py_function`, an op of another custom
library, a tensorflow-text op it lacks) fails to load there with "Op type
not registered". No `tensorflow_model_server` binary can be installed here
(DESIGN.md), so the audit reads `saved_model.pb` and checks every node of
every graph and every function of its library:

  * a core op: registered by TensorFlow itself -- the op list of a Python
    process that imports `tensorflow` and nothing else -- except the Python
    callback ops `PyFunc`, `PyFuncStateless` and `EagerPyFunc`, which only
    exist inside a Python process;
  * or one of `ALLOWED_TEXT_OPS`, the tensorflow-text ops TF Serving 2.20
    links according to DESIGN.md (normalize: CaseFoldUTF8, NormalizeUTF8;
    RegexSplitWithOffsets; WordpieceTokenizeWithOffsets; FastWordpieceTokenize* (the
    one registered op, FastWordpieceTokenizeWithOffsets);
    FastBertNormalize; RoundRobinTrim / RoundRobinGenerateMasks);
  * or a call of a function of the library (audited itself).

Anything else fails. `python -m keras_bert.export.op_audit DIR...` prints the audit.
"""

import collections
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile

# tensorflow-text ops TF Serving 2.20 links (DESIGN.md), by registered op name.
ALLOWED_TEXT_OPS = frozenset({
    "CaseFoldUTF8",
    "NormalizeUTF8",
    "RegexSplitWithOffsets",
    "WordpieceTokenizeWithOffsets",
    "FastWordpieceTokenizeWithOffsets",
    "FastBertNormalize",
    "TFText>RoundRobinTrim",
    "TFText>RoundRobinGenerateMasks",
})

# Registered by TensorFlow's Python library, but they call back into the
# Python interpreter that traced them: unservable.
PYTHON_ONLY_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})

_CORE_OPS_SCRIPT = """
import json, sys
import tensorflow
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api
buffer = c_api.TF_GetAllOpList()
ops = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(buffer))
json.dump(sorted(op.name for op in ops.op), sys.stdout)
"""


@functools.lru_cache(maxsize=1)
def core_ops():
    """frozenset of the ops TensorFlow registers on its own (no tensorflow-text,
    nothing else imported), minus `PYTHON_ONLY_OPS`; computed once per process
    in a fresh Python process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as cwd:  # Nothing local importable.
        result = subprocess.run(
            [sys.executable, "-c", _CORE_OPS_SCRIPT], capture_output=True, text=True, env=env, cwd=cwd,
            timeout=300,
        )
    if result.returncode != 0:
        raise RuntimeError(f"listing TensorFlow's core ops failed: {result.stderr[-2000:]}")
    return frozenset(json.loads(result.stdout)) - PYTHON_ONLY_OPS


def saved_model_ops(saved_model_dir):
    """Every op of a SavedModel.

    Returns:
      dict `{op name: sorted list of where it occurs}` ("graph" or
      "function <name>"), over every meta graph's nodes and every function
      of its library. Calls of library functions are left out (the
      functions are listed themselves).
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not tf.io.gfile.exists(path):
        raise ValueError(f"saved_model_dir={saved_model_dir}: no saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as f:
        proto.ParseFromString(f.read())
    where = collections.defaultdict(set)
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {function.signature.name for function in library.function}
        for node in meta_graph.graph_def.node:
            if node.op not in functions:
                where[node.op].add("graph")
        for function in library.function:
            for node in function.node_def:
                if node.op not in functions:
                    where[node.op].add(f"function {function.signature.name}")
    return {op: sorted(places) for op, places in where.items()}


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """What `audit_saved_model` found.

    Attributes:
      ops: sorted list of every op in the SavedModel.
      text_ops: sorted list of the allowed tensorflow-text ops among them.
      disallowed: dict `{op: [where]}` of the ops TF Serving cannot run.
    """

    ops: list
    text_ops: list
    disallowed: dict

    @property
    def ok(self):
        return not self.disallowed

    def summary(self):
        line = f"{len(self.ops)} ops: {len(self.ops) - len(self.text_ops)} core TensorFlow, " \
               f"{len(self.text_ops)} tensorflow-text ({', '.join(self.text_ops) or 'none'})"
        if self.ok:
            return line + "; all servable"
        bad = "; ".join(f"{op} (in {', '.join(places[:3])}{' ...' if len(places) > 3 else ''})"
                        for op, places in sorted(self.disallowed.items()))
        return line + f"; NOT servable by TF Serving 2.20: {bad}"


def audit_saved_model(saved_model_dir, allowed_text_ops=ALLOWED_TEXT_OPS, core=None):
    """Audits a SavedModel's ops (module docstring).

    Args:
      saved_model_dir: a SavedModel directory.
      allowed_text_ops: op names allowed besides the core ones.
      core: set of core op names (default: `core_ops()`).

    Returns:
      `AuditResult`.
    """
    ops = saved_model_ops(saved_model_dir)
    core = core_ops() if core is None else frozenset(core) - PYTHON_ONLY_OPS
    text_ops = sorted(op for op in ops if op in allowed_text_ops and op not in core)
    disallowed = {op: places for op, places in ops.items() if op not in core and op not in allowed_text_ops}
    return AuditResult(ops=sorted(ops), text_ops=text_ops, disallowed=disallowed)


def check_saved_model(saved_model_dir, **kwargs):
    """`audit_saved_model`, raising when an op is not servable.

    Returns:
      the `AuditResult`.

    Raises:
      ValueError: listing each disallowed op and where it occurs.
    """
    result = audit_saved_model(saved_model_dir, **kwargs)
    if not result.ok:
        raise ValueError(f"{saved_model_dir}: {result.summary()}")
    return result


def main(argv):
    status = 0
    for path in argv[1:]:
        result = audit_saved_model(path)
        print(f"{path}: {result.summary()}")
        status |= 0 if result.ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
