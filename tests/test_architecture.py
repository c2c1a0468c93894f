"""The layout rules of DESIGN.md, checked on the source text.

- keras_bert/ (the library) never imports trainers/, export/, absl or
  tf.distribute: data flows one way, and the model never sees a strategy.
- One public class per module in keras_bert/.
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = os.path.join(REPO, "keras_bert")
FORBIDDEN_IMPORTS = ("trainers", "export", "absl")


def library_modules():
    for root, _, files in os.walk(LIBRARY):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                yield os.path.relpath(path, REPO), ast.parse(open(path, encoding="utf-8").read())


MODULES = list(library_modules())


def test_library_is_found():
    assert len(MODULES) >= 8


@pytest.mark.parametrize("path, tree", MODULES, ids=[p for p, _ in MODULES])
def test_library_imports_nothing_above_it(path, tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{path}:{node.lineno} imports {name}"
        if isinstance(node, ast.Attribute) and node.attr == "distribute":
            raise AssertionError(f"{path}:{node.lineno} uses tf.distribute")


@pytest.mark.parametrize("path, tree", MODULES, ids=[p for p, _ in MODULES])
def test_one_public_class_per_module(path, tree):
    public = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    assert len(public) <= 1, f"{path} defines public classes {public}"
