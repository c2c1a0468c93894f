"""What `pip install .` puts on a machine: one top-level import name, `keras_bert`.

trainers/ and export/ sit at the repository's top level but install as
`keras_bert.trainers` and `keras_bert.export` (setup.py's package_dir): a
PyPI package called `export` exists, and a user's own export.py or
trainers.py beside their script must break nothing of ours.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.testing import REPO

# A user's own modules with our folders' names, in the directory they run from.
STRAY = "raise SystemExit('the stray {name}.py was imported')\n"
# What the console script and the README's Python examples import.
IMPORTS = ("import keras_bert.trainers.cli as cli; import importlib; "
           "importlib.import_module(cli.SUBCOMMANDS['export'][0]); "
           "from keras_bert import export; from keras_bert.trainers.programs import finetuning; "
           "assert callable(export.export_saved_model); print('ok', export.__file__)")


@pytest.fixture(scope="module")
def wheel_file(tmp_path_factory):
    # Built from a copy: pip builds in the tree, and setuptools' build/ of an
    # earlier layout would leak stale files into the wheel.
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.py", "README.md", "MANIFEST.in"):
        shutil.copy(os.path.join(REPO, name), source)
    for name in ("keras_bert", "trainers", "export"):
        shutil.copytree(os.path.join(REPO, name), source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(source)], check=True, capture_output=True, timeout=600)
    (path,) = [os.path.join(out, name) for name in os.listdir(out) if name.endswith(".whl")]
    return path


@pytest.fixture(scope="module")
def wheel(wheel_file):
    with zipfile.ZipFile(wheel_file) as f:
        return f.namelist()


def test_wheel_has_one_top_level_package(wheel):
    tops = {name.split("/")[0] for name in wheel}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"keras_bert"}
    for expected in ("keras_bert/trainers/cli/__main__.py", "keras_bert/trainers/tasks/squad.py",
                     "keras_bert/trainers/run_dir.py", "keras_bert/export/saved_model.py",
                     "keras_bert/trainers/programs/quickstart_data/train.tsv",
                     "keras_bert/trainers/programs/quickstart_data/dev.tsv"):
        assert expected in wheel
    assert not [name for name in wheel if name.startswith(("keras_bert/tests", "keras_bert/references"))]
    entry_points = [name for name in wheel if name.endswith("entry_points.txt")]
    assert entry_points


def _run_beside_strays(tmp_path, env):
    for name in ("export", "trainers"):
        (tmp_path / f"{name}.py").write_text(STRAY.format(name=name))
    return subprocess.run([sys.executable, "-c", IMPORTS], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_stray_export_py_in_the_working_directory_breaks_nothing_in_a_checkout(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    result = _run_beside_strays(tmp_path, env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok " + os.path.join(REPO, "export"))


def test_stray_export_py_in_the_working_directory_breaks_nothing_installed(wheel_file, tmp_path):
    # The wheel installed on its own into a directory (its dependencies are
    # this environment's), so the installed layout is what gets imported.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel_file],
                   check=True, capture_output=True, timeout=600)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    result = _run_beside_strays(work, env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok " + os.path.join(str(target), "keras_bert", "export"))
