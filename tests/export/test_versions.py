"""TF Serving's layout: next free version, no overwrite, temporary directory then rename."""

import os

import pytest

from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving_config as serving_config_lib
from keras_bert.export import warmup as warmup_lib

from tests.export.conftest import build_model


@pytest.fixture(scope="module")
def regressor():
    return build_model("stsb")


def export(model, preprocessor, export_dir, version=None, **kwargs):
    kwargs.setdefault("audit", False)
    return saved_model_lib.export_saved_model(model, export_dir, version, preprocessor=preprocessor, **kwargs)


def listing(directory):
    return sorted(os.listdir(directory))


def versions_listing(base):
    """{version directory: its listing}; the TF Serving files beside them are not versions."""
    return {name: listing(os.path.join(base, name)) for name in listing(base) if name not in serving_config_lib.FILES}


def test_next_free_version_and_no_overwrite(exports, regressor, tmp_path):
    preprocessor = exports.preprocessor
    base = str(tmp_path / "model")
    assert export(regressor, preprocessor, base, warmup=False) == os.path.join(base, "1")
    assert export(regressor, preprocessor, base, version=5, warmup=False) == os.path.join(base, "5")
    os.makedirs(os.path.join(base, "not_a_version"))  # Ignored, as TF Serving ignores it.
    assert saved_model_lib.next_version(base) == 6
    before = versions_listing(base)
    mtime = os.path.getmtime(os.path.join(base, "5", "saved_model.pb"))
    for version in (5, "5", 1):
        with pytest.raises(ValueError, match="exists in .*; an exported version is never overwritten"):
            export(regressor, preprocessor, base, version=version)
    assert versions_listing(base) == before
    assert os.path.getmtime(os.path.join(base, "5", "saved_model.pb")) == mtime
    assert export(regressor, preprocessor, base, version="7", warmup=False) == os.path.join(base, "7")
    assert saved_model_lib.existing_versions(base) == [1, 5, 7]
    os.rename(os.path.join(base, "7"), os.path.join(base, "0007"))  # TF Serving reads it as version 7.
    with pytest.raises(ValueError, match="never overwritten"):
        export(regressor, preprocessor, base, version=7)
    assert saved_model_lib.next_version(base) == 8


@pytest.mark.parametrize("version", [0, -1, True, 1.5, "../2", "2/../../x", "", "x"])
def test_bad_versions_write_nothing(exports, regressor, tmp_path, version):
    with pytest.raises(ValueError, match="version must be a positive integer"):
        export(regressor, exports.preprocessor, str(tmp_path / "model"), version=version)
    assert listing(tmp_path) in ([], ["model"])
    if listing(tmp_path):
        assert listing(tmp_path / "model") == []


def test_written_to_a_temporary_directory_then_renamed(exports, regressor, tmp_path, monkeypatch):
    base = str(tmp_path / "model")
    seen = {}
    real_write = warmup_lib.write_warmup_file

    def spy(path, logs):
        # While the export is written, the version does not exist; the
        # temporary directory is inside export_dir and not an integer name.
        seen["listing"] = listing(base)
        seen["path"] = path
        assert not os.path.exists(os.path.join(base, "1"))
        real_write(path, logs)

    monkeypatch.setattr(warmup_lib, "write_warmup_file", spy)
    path = export(regressor, exports.preprocessor, base)
    assert path == os.path.join(base, "1")
    (temp,) = seen["listing"]
    assert temp.startswith(".tmp-1-") and not temp.isdigit()
    assert seen["path"].startswith(os.path.join(base, temp) + os.sep)
    assert listing(base) == sorted(["1", *serving_config_lib.FILES])  # Renamed; nothing else left.
    assert os.path.exists(os.path.join(path, "assets.extra", warmup_lib.WARMUP_FILE))


def test_a_crash_leaves_no_version(exports, regressor, tmp_path, monkeypatch):
    base = str(tmp_path / "model")

    def crash(path, logs):
        raise KeyboardInterrupt  # Also for non-Exception interruptions.

    monkeypatch.setattr(warmup_lib, "write_warmup_file", crash)
    with pytest.raises(KeyboardInterrupt):
        export(regressor, exports.preprocessor, base)
    assert listing(base) == []
    monkeypatch.undo()

    def failed_audit(path, **kwargs):
        raise ValueError("op audit failed")

    monkeypatch.setattr(saved_model_lib.op_audit, "check_saved_model", failed_audit)
    with pytest.raises(ValueError, match="op audit failed"):
        export(regressor, exports.preprocessor, base, audit=True, warmup=False)
    assert listing(base) == []


def test_export_dir_that_is_a_file(exports, regressor, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        export(regressor, exports.preprocessor, str(path))
