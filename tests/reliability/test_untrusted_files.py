"""Untrusted files and arguments are refused: no code from a file runs, nothing is written outside.

- A Hugging Face checkpoint directory (`config.json`, `vocab.txt`) whose
  `pytorch_model.bin` carries a pickle payload -- `open` or `exec` creating
  a marker file, `os.system` running `touch` --, in torch's zip container,
  its legacy format or a bare pickle, alone, in a state dict or among real
  weights: `keras_bert.load_checkpoint` and `keras_bert.from_pretrained`
  refuse each with a `ValueError` naming the file, and no marker file is
  ever created. Each payload is then unpickled without the guard (torch.load
  with `weights_only=False`) to show it does create its marker: the files
  are live, the refusal is what stopped them.
- A Hugging Face checkpoint directory whose `model.safetensors` is hostile
  (a header length of 2**62, random bytes, empty) or truncated, whose
  `model.safetensors.index.json` names a shard that is not safetensors, or
  whose `config.json` / `tokenizer_config.json` is JSON nested 100,000 deep,
  holds an integer of 5,000 digits or is not UTF-8: `load_checkpoint` and
  `from_pretrained` refuse each with a `ValueError` naming the file (the
  bare readers -- `safetensors.numpy.load_file`, `json.loads` -- raise
  `SafetensorError`, `RecursionError` ... on the same files).
- A `model.keras` in a `keras-bert finetune` output directory that needs
  Python code to rebuild -- a `Lambda` layer holding a lambda, a lambda
  activation, a named function of a non-Keras module, a layer class or an
  activation hand-edited to `os.system` / `exec` -- or that is not a Keras
  file at all: `keras_bert.trainers.run_dir.load_model` (what `keras-bert predict`
  and `keras-bert export` load with) refuses each with a `ValueError`
  naming the file, and the marker is never created. Unsafe loading of the
  `Lambda` file does create it.
- `keras_bert.export.saved_model.export_saved_model` given hostile versions (absolute
  paths, `..` pieces, NUL, non-ASCII digits, bytes, floats) or versions
  that exist (as written, zero-padded, padded with whitespace, or as
  symlinks to a directory or a file outside) raises `ValueError`; a version
  that is a dangling symlink to a path outside is refused when the export
  is renamed into place. Afterwards every file under the test's temporary
  directory -- the existing version's, the outside directory's -- is
  byte-identical, with the same modification time, and no temporary export
  directory is left. An `export_dir` with `..` pieces writes its version
  under the normalized directory and nowhere else. An `export_dir` that is
  a regular file, lies under one, or is a dangling symlink is refused with
  a `ValueError` naming it, and the file is left as it was.

Every hostile file or argument is one input counted for RELIABILITY.md;
a crash is one that was not refused cleanly (always 0 when the test passes).
"""

import hashlib
import json
import os
import pickle
import random
import re
import shlex
import struct
import zipfile

import keras
import pytest

import keras_bert
from tests.reliability.record import record

ROW = "Untrusted files"


def snapshot(root):
    """Every entry under `root`: symlinks (their target), directories, files (size, mtime, sha256)."""
    entries = {}
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                entries[relative] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                entries[relative] = ("dir",)
            else:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                stat = os.stat(path)
                entries[relative] = ("file", stat.st_size, stat.st_mtime_ns, digest)
    return entries


# --------------------------------------------------- pickled checkpoints


class OpenPayload:
    """Unpickling this creates `marker` (through `open`)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


class ExecPayload(OpenPayload):
    """Unpickling this runs Python source that creates `marker`."""

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


class SystemPayload(OpenPayload):
    """Unpickling this runs a shell command that creates `marker`."""

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(self.marker)}",)


def hf_directory(directory):
    """A Hugging Face BERT directory without weights: config.json and vocab.txt."""
    from tests.keras_bert.checkpoints import writers

    os.makedirs(directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(dict(writers.TINY, model_type="bert", hidden_act="gelu"), f)
    writers.write_vocab(os.path.join(directory, "vocab.txt"))
    return directory


def hostile_checkpoints(root):
    """{name: (directory, marker)}: pytorch_model.bin files carrying payloads."""
    torch = pytest.importorskip("torch")
    from tests.keras_bert.checkpoints import writers

    real_weights = writers.hf_pretraining_model("gelu").state_dict()
    key = "bert.embeddings.word_embeddings.weight"
    cases = {
        "torch.save zip, open() in a state dict": (lambda m: {key: OpenPayload(m)}, "zip"),
        "torch.save zip, the payload alone": (lambda m: ExecPayload(m), "zip"),
        "torch.save legacy format, exec()": (lambda m: {key: ExecPayload(m)}, "legacy"),
        "bare pickle, os.system()": (lambda m: {key: SystemPayload(m)}, "pickle"),
        "real weights plus one payload": (lambda m: dict(real_weights, **{"bert.pooler.extra": SystemPayload(m)}),
                                          "zip"),
    }
    checkpoints = {}
    for i, (name, (make, container)) in enumerate(cases.items()):
        directory = hf_directory(os.path.join(root, f"checkpoint{i}"))
        marker = os.path.join(root, f"marker{i}")
        path = os.path.join(directory, "pytorch_model.bin")
        if container == "pickle":
            with open(path, "wb") as f:
                pickle.dump(make(marker), f, protocol=2)
        else:
            torch.save(make(marker), path, _use_new_zipfile_serialization=container == "zip")
        assert not os.path.exists(marker)
        checkpoints[name] = (directory, marker)
    return checkpoints


@pytest.mark.filterwarnings("ignore:Detected pickle protocol", "ignore:.*weights_only=False")
def test_pickled_checkpoints_never_run(tmp_path):
    checkpoints = hostile_checkpoints(str(tmp_path))  # (Skips without torch.)
    import torch

    for name, (directory, marker) in checkpoints.items():
        for load in (keras_bert.load_checkpoint, keras_bert.from_pretrained):
            with pytest.raises(ValueError, match=r"pytorch_model\.bin: torch\.load\(weights_only=True\) refused"):
                load(directory)
            assert not os.path.exists(marker), f"{name}: the pickled code ran in {load.__name__}"
    # The files are live: unpickled without the guard, each payload runs.
    for name, (directory, marker) in checkpoints.items():
        try:
            torch.load(os.path.join(directory, "pytorch_model.bin"), weights_only=False)
        except Exception:  # The payload's return value is not a valid checkpoint; it has run by then.
            pass
        assert os.path.exists(marker), f"{name}: the payload does not run when unpickled unguarded"
        os.remove(marker)
    record(ROW, inputs=len(checkpoints), crashes=0,
           detail="pytorch_model.bin pickle payloads refused by load_checkpoint and from_pretrained: "
                  + "; ".join(checkpoints))


# ------------------------------------------- unreadable checkpoint files


def hostile_checkpoint_files(root):
    """{name: (directory, named, message)}: Hugging Face directories with one file that cannot be read;
    the refusal must name the file `named` and say `message`."""
    import numpy as np
    from safetensors.numpy import save_file

    good = os.path.join(root, "good.safetensors")
    save_file({"embeddings.word_embeddings.weight": np.ones((4, 4), np.float32)}, good)
    with open(good, "rb") as f:
        safetensors = f.read()
    deep, huge = "[" * 100_000, '{"model_type": "bert", "vocab_size": ' + "9" * 5000 + "}"
    unreadable = "not a readable safetensors file"
    cases = {  # name: (file written, its content, the file the error names, what it says)
        "model.safetensors with a header length of 2**62": (
            "model.safetensors", struct.pack("<Q", 2**62) + b"{}", "model.safetensors", unreadable),
        "model.safetensors truncated": ("model.safetensors", safetensors[:-7], "model.safetensors", unreadable),
        "model.safetensors of random bytes": (
            "model.safetensors", random.Random(0).randbytes(4096), "model.safetensors", unreadable),
        "model.safetensors empty": ("model.safetensors", b"", "model.safetensors", unreadable),
        "index naming a shard that is not safetensors": (
            "model.safetensors.index.json", json.dumps({"weight_map": {"a": "vocab.txt"}}), "vocab.txt", unreadable),
        "config.json nested too deeply": ("config.json", deep, "config.json", "not valid JSON: nested too deeply"),
        "config.json with an integer of 5,000 digits": (
            "config.json", huge, "config.json", "not valid JSON: Exceeds the limit"),
        "config.json not UTF-8": ("config.json", b'{"model_type": "b\xe9rt"}', "config.json", "not UTF-8"),
        "tokenizer_config.json nested too deeply": (
            "tokenizer_config.json", deep, "tokenizer_config.json", "not valid JSON: nested too deeply"),
        "tokenizer_config.json with an integer of 5,000 digits": (
            "tokenizer_config.json", '{"do_lower_case": ' + "1" * 5000 + "}", "tokenizer_config.json",
            "not valid JSON: Exceeds the limit"),
    }
    checkpoints = {}
    for i, (name, (file, content, named, message)) in enumerate(cases.items()):
        directory = hf_directory(os.path.join(root, f"checkpoint{i}"))
        if file != "model.safetensors.index.json":  # (With model.safetensors, the index is not read.)
            with open(os.path.join(directory, "model.safetensors"), "wb") as f:
                f.write(safetensors)
        with open(os.path.join(directory, file), "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        checkpoints[name] = (directory, os.path.join(directory, named), message)
    return checkpoints


def test_unreadable_checkpoint_files_are_refused(tmp_path):
    from safetensors.numpy import load_file

    checkpoints = hostile_checkpoint_files(str(tmp_path))
    for name, (directory, named, message) in checkpoints.items():
        for load in (keras_bert.load_checkpoint, keras_bert.from_pretrained):
            with pytest.raises(ValueError, match=re.escape(f"{named}: {message}")):
                load(directory)
        # The files are hostile: the bare reader fails on each (SafetensorError, RecursionError ...)
        # without naming it.
        with pytest.raises(Exception) as raised:
            if named.endswith(".json"):
                with open(named, encoding="utf-8") as f:
                    json.load(f)
            else:
                load_file(named)
        assert named not in str(raised.value), name
    record(ROW, inputs=len(checkpoints), crashes=0,
           detail="unreadable Hugging Face checkpoint files refused by load_checkpoint and from_pretrained: "
                  + "; ".join(checkpoints))


# ------------------------------------------------------------ model.keras


def lambda_payload(marker):
    """A lambda that creates `marker` when called (its closure is saved with it)."""
    return lambda x: x if open(marker, "w").close() is None else x


def payload_function(x):
    """A named function of this (non-Keras) module."""
    return x


def edited(source, target, edit):
    """A copy of the .keras file `source` with its config.json changed by `edit(config)`."""
    with zipfile.ZipFile(source) as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def dense_layer(config):
    (layer,) = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
    return layer


def to_os_system(config):
    layer = dense_layer(config)
    layer.update(module="os", class_name="system", registered_name=None)


def exec_activation(config):
    dense_layer(config)["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"}


def hostile_keras_files(root, marker):
    """{name: output_dir}: finetune-like output directories whose model.keras needs code to load."""
    def save(name, layer=None, activation=None):
        inputs = keras.Input((4,))
        outputs = keras.layers.Dense(2, activation=activation)(inputs)
        if layer is not None:
            outputs = layer(outputs)
        directory = os.path.join(root, name.replace(" ", "_"))
        os.makedirs(directory)
        keras.Model(inputs, outputs).save(os.path.join(directory, "model.keras"))
        return directory

    with pytest.warns(UserWarning, match="lambda"):
        directories = {
            "Lambda layer holding a lambda": save("lambda layer", layer=keras.layers.Lambda(lambda_payload(marker))),
            "lambda activation": save("lambda activation", activation=lambda_payload(marker)),
        }
    directories["Lambda layer holding a function of another module"] = save(
        "named function", layer=keras.layers.Lambda(payload_function))
    source = os.path.join(directories["Lambda layer holding a function of another module"], "model.keras")
    for name, edit in (("layer class edited to os.system", to_os_system),
                       ("activation edited to exec", exec_activation)):
        directory = os.path.join(root, name.replace(" ", "_"))
        os.makedirs(directory)
        edited(source, os.path.join(directory, "model.keras"), edit)
        directories[name] = directory
    directory = os.path.join(root, "not_a_keras_file")
    os.makedirs(directory)
    with open(os.path.join(directory, "model.keras"), "wb") as f:
        f.write(b"PK\x03\x04" + bytes(range(256)) * 4)
    directories["not a Keras file"] = directory
    if os.path.exists(marker):  # Building the Lambda model called its lambda once.
        os.remove(marker)
    return directories


def test_keras_files_needing_code_are_refused(tmp_path):
    from keras_bert.trainers import run_dir

    marker = str(tmp_path / "marker")
    directories = hostile_keras_files(str(tmp_path / "models"), marker)
    for name, directory in directories.items():
        keras_file = os.path.join(directory, "model.keras")
        with pytest.raises(ValueError, match=re.escape(f"{keras_file}: cannot load it")):
            run_dir.load_model(directory, {"task": "classification"}, None)
        assert not os.path.exists(marker), f"{name}: its code ran"
    # The Lambda file is live: loaded unsafely, its lambda runs.
    keras.saving.load_model(os.path.join(directories["Lambda layer holding a lambda"], "model.keras"),
                            compile=False, safe_mode=False)
    assert os.path.exists(marker), "the Lambda payload does not run when loaded unsafely"
    record(ROW, inputs=len(directories), crashes=0,
           detail="model.keras refused by keras_bert.trainers.run_dir.load_model (safe_mode=True): " + "; ".join(directories))


# ------------------------------------------------------------------ export


@pytest.fixture(scope="module")
def exportable(tmp_path_factory):
    """(model, preprocessor): the tiny regressor of tests/export."""
    from keras_bert.text.bert_preprocessor import BertPreprocessor
    from tests.export.conftest import SEQ_LENGTH
    from tests.export.conftest import build_model
    from tests.export.conftest import write_vocab

    preprocessor = BertPreprocessor(write_vocab(str(tmp_path_factory.mktemp("vocab"))), seq_length=SEQ_LENGTH)
    return build_model("stsb"), preprocessor


def test_export_never_writes_outside_or_overwrites(exportable, tmp_path):
    from keras_bert.export import saved_model as saved_model_lib
    from keras_bert.export import serving_config as serving_config_lib

    model, preprocessor = exportable

    def export(export_dir, version):
        return saved_model_lib.export_saved_model(model, export_dir, version, preprocessor=preprocessor,
                                                  audit=False, warmup=False)

    base = str(tmp_path / "models" / "m")
    assert export(base, None) == os.path.join(base, "1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("not to be touched\n")
    os.symlink(str(outside), os.path.join(base, "2"))  # A version that is a directory elsewhere,
    os.symlink(str(outside / "victim.txt"), os.path.join(base, "3"))  # a file elsewhere,
    os.symlink(str(outside / "new"), os.path.join(base, "4"))  # a path elsewhere that does not exist yet.
    dangling = str(tmp_path / "dangling")
    os.symlink(str(outside / "new_dir"), dangling)
    before = snapshot(str(tmp_path))

    refused = {
        "absolute path": str(outside), "/etc": "/etc", "'..' pieces": "1/../../../outside", "'../2'": "../2",
        "NUL": "5\x00", "Arabic-Indic digit": "\u0665", "bytes": b"5", "float": 5.0, "negative": -5,
        "True": True,
        "existing 1": 1, "existing '1\\n'": "1\n", "existing '01'": "01", "existing ' 1 '": " 1 ",
        "symlink to a directory outside": 2, "symlink to a file outside": "3",
    }
    for name, version in refused.items():
        with pytest.raises(ValueError, match="version must be a positive integer|never overwritten"):
            export(base, version)
    with pytest.raises(ValueError, match=r"version=4: cannot create .*/m/4 \(Not a directory\); nothing was written"):
        export(base, 4)  # A dangling symlink: refused at the final rename.
    victim = str(outside / "victim.txt")
    refused_dirs = {"export_dir a regular file": victim, "export_dir under a regular file": os.path.join(victim, "m"),
                    "export_dir two levels under a regular file": os.path.join(victim, "a", "b"),
                    "export_dir a dangling symlink": dangling}
    for name, export_dir in refused_dirs.items():
        with pytest.raises(ValueError, match=re.escape(f"export_dir={export_dir}: ")):
            export(export_dir, None)
    assert snapshot(str(tmp_path)) == before, "an export wrote, or changed, something"
    assert not (outside / "new").exists() and not (outside / "new_dir").exists()

    # An export_dir with '..' pieces: the version goes under the normalized directory, nothing else changes.
    written = export(os.path.join(base, "..", "m2", ".", "..", "m2"), None)
    assert written == str(tmp_path / "models" / "m2" / "1")
    after = snapshot(str(tmp_path))
    new = set(after) - set(before)
    beside = {os.path.join("models", "m2", name) for name in serving_config_lib.FILES}  # TF Serving's files.
    assert new and all(path == os.path.join("models", "m2") or path in beside
                       or path.startswith(os.path.join("models", "m2", "1")) for path in new), sorted(new)
    assert {path: after[path] for path in before} == before
    record(ROW, inputs=len(refused) + 2 + len(refused_dirs), crashes=0,
           detail="export_saved_model: hostile or existing versions and export_dirs refused, nothing written "
                  "outside, the existing version byte-identical: "
                  + "; ".join(list(refused) + ["dangling symlink", "'..' in export_dir"] + list(refused_dirs)))
