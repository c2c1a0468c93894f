"""The layout rules of DESIGN.md, checked on the source text.

Data flows one way: text -> features -> encoder -> head -> loss or signature.
Each folder is a layer and may import only the layers below it:

    keras_bert/ (the library)   nothing above it, no absl, no tf.distribute
    trainers/engine, data       the library (data: no models' training, no flags)
    trainers/tasks              the library, engine, data
    trainers/run_dir.py         the library, engine, data, tasks
    export/                     the library, tasks, run_dir (never a program)
    trainers/programs           anything but the CLI
    trainers/cli                anything (the composition root; nothing imports it)
    benchmarks/                 anything installed, and references/ (never tests/)

Plus: one public class per module in keras_bert/.
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Layer of a source file (by its path in the repository) -> the layers it may import.
LIBRARY = "library"
ALLOWED = {
    LIBRARY: {LIBRARY},
    "engine": {LIBRARY, "engine"},
    "data": {LIBRARY, "data"},
    "tasks": {LIBRARY, "engine", "data", "tasks"},
    "run_dir": {LIBRARY, "engine", "data", "tasks"},
    "export": {LIBRARY, "tasks", "run_dir", "export"},
    "programs": {LIBRARY, "engine", "data", "tasks", "run_dir", "export", "programs"},
    "cli": {LIBRARY, "engine", "data", "tasks", "run_dir", "export", "programs", "cli"},
    "benchmarks": {LIBRARY, "engine", "data", "tasks", "run_dir", "export", "programs", "cli", "benchmarks",
                   "references"},
}
NO_ABSL = {LIBRARY, "engine", "data", "tasks", "run_dir", "export", "programs"}


def layer_of_file(relpath):
    parts = relpath.split("/")
    if parts[0] == "keras_bert":
        return LIBRARY
    if parts[0] == "export":
        return "export"
    if parts[0] == "benchmarks":
        return "benchmarks"
    if parts[0] == "trainers":
        if parts[1] == "run_dir.py":
            return "run_dir"
        if parts[1] == "__init__.py":
            return LIBRARY  # The container's docstring: it imports nothing.
        return parts[1]
    return None


def layer_of_module(name):
    """The layer a dotted module name belongs to; None outside the project (tensorflow ...)."""
    parts = name.split(".")
    if parts[0] in ("tests", "references"):
        return parts[0]
    if parts[0] in ("trainers", "export"):
        # The installed names are keras_bert.trainers / keras_bert.export;
        # the bare top-level names must not be used at all.
        return "bare " + parts[0]
    if parts[0] != "keras_bert":
        return None
    if len(parts) == 1 or parts[1] not in ("trainers", "export"):
        return LIBRARY
    if parts[1] == "export":
        return "export"
    if len(parts) == 2:
        return None  # keras_bert.trainers itself: a docstring, a container of the layers
    return "run_dir" if parts[2] == "run_dir" else parts[2]


def imported_modules(tree):
    """(line, dotted name) of every import, `from a import b` giving a.b too
    (so `from keras_bert.trainers import cli` names the cli layer)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def source_files():
    for top in ("keras_bert", "trainers", "export", "benchmarks"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    yield os.path.relpath(path, REPO), ast.parse(open(path, encoding="utf-8").read())


FILES = list(source_files())
LIBRARY_FILES = [(p, t) for p, t in FILES if layer_of_file(p) == LIBRARY]


def layering_violations(relpath, tree):
    """Messages for each import of `tree` (the file at `relpath`) that breaks the rules."""
    layer = layer_of_file(relpath)
    problems = []
    for line, name in imported_modules(tree):
        target = layer_of_module(name)
        if name.split(".")[0] == "absl" and layer in NO_ABSL:
            problems.append(f"{relpath}:{line} imports {name} (absl belongs to trainers/cli)")
        if target is None:
            continue
        if target.startswith("bare ") or target == "tests" and layer != "tests":
            problems.append(f"{relpath}:{line} imports {name}")
        elif target not in ALLOWED[layer]:
            problems.append(f"{relpath}:{line} ({layer}) imports {name} ({target})")
    if layer == LIBRARY:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "distribute":
                problems.append(f"{relpath}:{node.lineno} uses tf.distribute")
    return problems


def test_every_layer_is_found():
    layers = {layer_of_file(p) for p, _ in FILES}
    assert layers >= {LIBRARY, "engine", "data", "tasks", "export", "programs", "cli", "benchmarks"}
    assert len(LIBRARY_FILES) >= 8


@pytest.mark.parametrize("path, tree", FILES, ids=[p for p, _ in FILES])
def test_imports_only_layers_below(path, tree):
    assert layering_violations(path, tree) == []


@pytest.mark.parametrize("source, layer_path", [
    ("from keras_bert.trainers.programs import finetuning", "export/saved_model.py"),
    ("from keras_bert.trainers import cli", "trainers/programs/finetuning.py"),
    ("from keras_bert.export import saved_model", "trainers/engine/training_loop.py"),
    ("import keras_bert.trainers.engine.training_loop", "keras_bert/models/bert_task.py"),
    ("from keras_bert.trainers.engine import training_loop", "trainers/data/squad_data.py"),
    ("from trainers import finetuning", "trainers/programs/prediction.py"),
    ("from tests import references", "benchmarks/serving.py"),
    ("from references import peers", "trainers/programs/finetuning.py"),
    ("from absl import flags", "trainers/engine/training_loop.py"),
    ("x = tf.distribute.get_strategy()", "keras_bert/models/bert_encoder.py"),
])
def test_a_back_edge_fails(source, layer_path):
    """The rule is not vacuous: each of these lines, placed in that file, is caught."""
    assert layering_violations(layer_path, ast.parse(source))


def test_forward_edges_pass():
    assert not layering_violations("trainers/cli/finetune.py", ast.parse(
        "from keras_bert.trainers.programs import finetuning\nfrom absl import flags"))
    assert not layering_violations("trainers/tasks/metrics.py", ast.parse(
        "from keras_bert.trainers.data import squad_data\nimport tensorflow as tf\nimport keras_bert"))


@pytest.mark.parametrize("path, tree", LIBRARY_FILES, ids=[p for p, _ in LIBRARY_FILES])
def test_one_public_class_per_module(path, tree):
    public = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    assert len(public) <= 1, f"{path} defines public classes {public}"
