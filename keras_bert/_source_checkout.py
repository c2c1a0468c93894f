"""`keras_bert.trainers` and `keras_bert.export` in a source checkout.

The repository keeps `trainers/` and `export/` at its top level, beside
`keras_bert/` (the design card's layout); setup.py installs them inside the
`keras_bert` package (`package_dir`), so an installed copy has
`keras_bert/trainers/` and `keras_bert/export/` and needs nothing from here.
Run from a checkout (pytest, Bazel, `python -m keras_bert.trainers.cli`), the
two subpackages are not inside `keras_bert/`: a finder at the end of
`sys.meta_path` maps exactly those two names to the top-level folders, so the
code imports under one name either way. It imports none of their code.
"""

import importlib.abc
import importlib.util
import os
import sys

SUBPACKAGES = ("trainers", "export")


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    def __init__(self, locations):
        self.locations = locations  # {"keras_bert.trainers": "/repo/trainers", ...}

    def find_spec(self, fullname, path=None, target=None):
        directory = self.locations.get(fullname)
        if directory is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(directory, "__init__.py"), submodule_search_locations=[directory])


def find_programs_beside(package_path):
    """Registers the finder if `package_path` (keras_bert's `__path__`) is a
    checkout's `keras_bert/` with `trainers/` and `export/` beside it."""
    locations = {}
    for directory in package_path:
        root = os.path.dirname(os.path.abspath(directory))
        for name in SUBPACKAGES:
            inside = os.path.join(directory, name)
            beside = os.path.join(root, name)
            if not os.path.isdir(inside) and os.path.isfile(os.path.join(beside, "__init__.py")):
                locations[f"keras_bert.{name}"] = beside
    if locations and not any(isinstance(f, _CheckoutFinder) for f in sys.meta_path):
        sys.meta_path.append(_CheckoutFinder(locations))
