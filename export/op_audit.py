"""Op audit: can a TF Serving release run every op of a SavedModel?

TF Serving links TensorFlow's core ops and the tensorflow-text ops of the
tensorflow-text it builds; a SavedModel with any other op (a
`tf.py_function`, an op of another custom library, a tensorflow-text op that
release lacks) fails to load there with "Op type not registered", and a node
setting an attr its TensorFlow does not know with "NodeDef mentions attr ...
not in Op". No `tensorflow_model_server` binary can be installed here
(DESIGN.md), so the audit reads `saved_model.pb` and checks every node of
every graph and every function of its library against the target release
(`keras_bert.export.serving_releases`, where the lists come from):

  * a core op: one the release's TensorFlow registers (for 2.20 the
    installed TensorFlow's: the op list of a Python process that imports
    `tensorflow` and nothing else; for 2.13-2.19 TensorFlow 2.13's), except
    the Python callback ops `PyFunc`, `PyFuncStateless` and `EagerPyFunc`,
    which only exist inside a Python process; and none of its attrs one that
    release's TensorFlow lacks (`VarHandleOp.debug_name` ...);
  * or one of the release's tensorflow-text ops (2.13-2.19 link
    tensorflow-text 2.12.1: NormalizeUTF8, RegexSplitWithOffsets,
    FastWordpieceTokenizeWithOffsets ... but no `TFText>RoundRobinTrim`; 2.20
    links 2.20.0);
  * or a call of a function of the library (audited itself), which must not
    be marked for XLA (`tf.function(jit_compile=True)` sets
    `_XlaMustCompile`): TF Serving runs signatures without XLA unless
    started with `--xla_cpu_compilation_enabled`, and such a function fails
    its first request.

Anything else fails. The default target is `serving_releases.OLDEST`
("2.13"): an export that passes it loads on every release from 2.13 to 2.20.
`python -m keras_bert.export.op_audit [--target=2.13] DIR...` prints the
audit for each release (or the one given).
"""

import argparse
import collections
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile

from keras_bert.export import serving_releases

DEFAULT_TARGET = serving_releases.OLDEST

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


def _read_saved_model(saved_model_dir):
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not tf.io.gfile.exists(path):
        raise ValueError(f"saved_model_dir={saved_model_dir}: no saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def _saved_model_proto(saved_model):
    """A SavedModel proto: `saved_model` itself if it is one, else read from that directory."""
    if isinstance(saved_model, (str, os.PathLike)):
        return _read_saved_model(saved_model)
    return saved_model


def _nodes(proto):
    """(node, where) of every node of every meta graph and library function,
    calls of library functions left out (the functions are listed themselves)."""
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {function.signature.name for function in library.function}
        for node in meta_graph.graph_def.node:
            if node.op not in functions:
                yield node, "graph"
        for function in library.function:
            for node in function.node_def:
                if node.op not in functions:
                    yield node, f"function {function.signature.name}"


def saved_model_ops(saved_model_dir):
    """Every op of a SavedModel.

    Returns:
      dict `{op name: sorted list of where it occurs}` ("graph" or
      "function <name>"), over every meta graph's nodes and every function
      of its library. Calls of library functions are left out (the
      functions are listed themselves).
    """
    where = collections.defaultdict(set)
    for node, place in _nodes(_saved_model_proto(saved_model_dir)):
        where[node.op].add(place)
    return {op: sorted(places) for op, places in where.items()}


def saved_model_attrs(saved_model_dir, attrs):
    """Where nodes of a SavedModel set the given attrs.

    Args:
      attrs: dict `{op: collection of attr names}`.

    Returns:
      dict `{"op.attr": sorted list of where}` for each attr of `attrs`
      that a node of that op sets.
    """
    where = collections.defaultdict(set)
    for node, place in _nodes(_saved_model_proto(saved_model_dir)):
        for attr in set(node.attr) & set(attrs.get(node.op, ())):
            where[f"{node.op}.{attr}"].add(place)
    return {name: sorted(places) for name, places in where.items()}


def saved_model_xla_functions(saved_model_dir):
    """Sorted names of the library functions of a SavedModel that must be
    compiled by XLA (attr `_XlaMustCompile` true)."""
    proto = _saved_model_proto(saved_model_dir)
    return sorted({function.signature.name for meta_graph in proto.meta_graphs
                   for function in meta_graph.graph_def.library.function
                   if function.attr["_XlaMustCompile"].b})


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """What `audit_saved_model` found.

    Attributes:
      target: the TF Serving release line audited for ("2.13").
      ops: sorted list of every op in the SavedModel.
      text_ops: sorted list of the allowed tensorflow-text ops among them.
      disallowed: dict `{op: [where]}` of the ops that release cannot run.
      unknown_attrs: dict `{"op.attr": [where]}` of attrs set on nodes
        that the release's TensorFlow does not know.
      xla_functions: sorted list of functions marked for XLA compilation.
    """

    target: str
    ops: list
    text_ops: list
    disallowed: dict
    unknown_attrs: dict = dataclasses.field(default_factory=dict)
    xla_functions: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return not self.disallowed and not self.unknown_attrs and not self.xla_functions

    def summary(self):
        release = serving_releases.get_release(self.target)
        line = f"TF Serving {self.target} (tensorflow-text {release.tensorflow_text}): {len(self.ops)} ops: " \
               f"{len(self.ops) - len(self.text_ops)} core TensorFlow, " \
               f"{len(self.text_ops)} tensorflow-text ({', '.join(self.text_ops) or 'none'})"
        if self.ok:
            return line + "; all servable"
        bad = [f"{op} (in {_places(places)})" for op, places in sorted(self.disallowed.items())]
        bad += [f"attr {name} unknown to {release.core_source} (in {_places(places)})"
                for name, places in sorted(self.unknown_attrs.items())]
        if self.xla_functions:
            bad.append(f"functions marked jit_compile, which TF Serving runs without XLA "
                       f"({_places(self.xla_functions)})")
        return line + f"; NOT servable by TF Serving {self.target}: " + "; ".join(bad)


def _places(places):
    return ", ".join(places[:3]) + (" ..." if len(places) > 3 else "")


def audit_saved_model(saved_model_dir, target=DEFAULT_TARGET, allowed_text_ops=None, core=None):
    """Audits a SavedModel's ops for a TF Serving release (module docstring).

    Args:
      saved_model_dir: a SavedModel directory (or its parsed
        `saved_model_pb2.SavedModel`, as `audit_releases` passes it).
      target: the TF Serving release line, "2.13" (default, the oldest
        supported) ... "2.20" (`serving_releases.RELEASES`).
      allowed_text_ops: op names allowed besides the core ones (default:
        the release's tensorflow-text ops).
      core: set of core op names (default: the release's).

    Returns:
      `AuditResult`.

    Raises:
      ValueError: `target` unknown, or no SavedModel in `saved_model_dir`.
    """
    release = serving_releases.get_release(target)
    if allowed_text_ops is None:
        allowed_text_ops = release.text_ops
    if core is None:
        core = core_ops() if release.core_ops is None else release.core_ops
    core = frozenset(core) - PYTHON_ONLY_OPS
    proto = _saved_model_proto(saved_model_dir)  # Read once for the ops and the attrs.
    ops = saved_model_ops(proto)
    text_ops = sorted(op for op in ops if op in allowed_text_ops and op not in core)
    disallowed = {op: places for op, places in ops.items() if op not in core and op not in allowed_text_ops}
    unknown_attrs = saved_model_attrs(proto, release.newer_attrs) if release.newer_attrs else {}
    return AuditResult(target=release.name, ops=sorted(ops), text_ops=text_ops, disallowed=disallowed,
                       unknown_attrs=unknown_attrs, xla_functions=saved_model_xla_functions(proto))


def audit_releases(saved_model_dir, targets=None):
    """`audit_saved_model` for several releases, reading the SavedModel once.

    Args:
      saved_model_dir: a SavedModel directory.
      targets: release names (default: every one of `serving_releases.RELEASES`).

    Returns:
      dict `{release name: AuditResult}` in the order of `targets`.
    """
    proto = _read_saved_model(saved_model_dir)
    return {target: audit_saved_model(proto, target=target)
            for target in (serving_releases.RELEASES if targets is None else targets)}


def check_saved_model(saved_model_dir, **kwargs):
    """`audit_saved_model`, raising when an op is not servable.

    Returns:
      the `AuditResult`.

    Raises:
      ValueError: naming the release and listing each disallowed op (or
        unknown attr) and where it occurs.
    """
    result = audit_saved_model(saved_model_dir, **kwargs)
    if not result.ok:
        raise ValueError(f"{saved_model_dir}: {result.summary()}")
    return result


def main(argv):
    """`python -m keras_bert.export.op_audit [--target=2.13] DIR...`: the audit
    of each SavedModel for the release given, or for every release known.
    Exit status 1 if one fails."""
    parser = argparse.ArgumentParser(prog="python -m keras_bert.export.op_audit", description=main.__doc__)
    parser.add_argument("--target", choices=list(serving_releases.RELEASES),
                        help="one TF Serving release line (default: every one)")
    parser.add_argument("saved_model_dirs", nargs="+", metavar="DIR")
    args = parser.parse_args(argv[1:])
    targets = [args.target] if args.target else list(serving_releases.RELEASES)
    status = 0
    for path in args.saved_model_dirs:
        for result in audit_releases(path, targets).values():
            print(f"{path}: {result.summary()}")
            status |= 0 if result.ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
