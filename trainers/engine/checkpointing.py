"""Checkpoints on disk: written atomically, checked before they are trusted.

`CheckpointWriter` saves a `tf.train.Checkpoint` as `DIR/ckpt-STEP` and keeps
the newest `max_to_keep`. A checkpoint is written into a scratch directory,
then its data files and last its `.index` are renamed into place, then the
`checkpoint` list is replaced (itself written to a temporary file and
renamed): a process killed at any moment leaves either the whole
checkpoint under its final name or no `.index` for it -- never a
half-written one that looks complete.

`checkpoint_candidates(DIR)` lists what could be resumed from, newest
first; `checkpoint_problem(prefix)` reads every tensor of one (with its
checksum) and says what is wrong with it, if anything; `set_aside_damaged`
moves damaged ones to `DIR/damaged/`.
"""

import os
import re

import tensorflow as tf

from keras_bert import io

CHECKPOINT_NAME = "ckpt"
DAMAGED_DIR = "damaged"


class CheckpointWriter:
    """Writes `directory/ckpt-STEP` atomically; keeps the newest `max_to_keep`.

    Args:
      checkpoint: a `tf.train.Checkpoint`.
      directory: str, where the checkpoints and the `checkpoint` list go.
      max_to_keep: int >= 1.
    """

    def __init__(self, checkpoint, directory, max_to_keep):
        self.checkpoint = checkpoint
        self.directory = directory
        self.max_to_keep = max_to_keep
        tf.io.gfile.makedirs(directory)
        self._paths = list(reversed(checkpoint_candidates(directory)))  # Oldest first.

    def save(self, step):
        """Writes checkpoint `step`; returns its prefix `directory/ckpt-STEP`."""
        name = f"{CHECKPOINT_NAME}-{step}"
        final = os.path.join(self.directory, name)
        scratch = os.path.join(self.directory, f".{name}.partial")
        io.remove(scratch)
        written = self.checkpoint.write(os.path.join(scratch, name))
        if tf.io.gfile.exists(final + ".index"):  # Rewriting a step: no mix of old index and new data.
            tf.io.gfile.remove(final + ".index")
        index = written + ".index"
        for path in tf.io.gfile.glob(written + ".*"):
            if path != index:
                tf.io.gfile.rename(path, os.path.join(self.directory, os.path.basename(path)), overwrite=True)
        tf.io.gfile.rename(index, final + ".index", overwrite=True)  # Last: now it exists.
        io.remove(scratch)
        self._paths = [p for p in self._paths if p != final] + [final]
        stale, self._paths = self._paths[: -self.max_to_keep], self._paths[-self.max_to_keep:]
        tf.compat.v1.train.update_checkpoint_state(self.directory, final, all_model_checkpoint_paths=self._paths)
        for path in stale:
            for name in tf.io.gfile.glob(path + ".*"):
                tf.io.gfile.remove(name)
        return final


def checkpoint_candidates(directory):
    """The checkpoint prefixes in `directory`, newest (highest step) first.

    Those the `checkpoint` state file lists and those whose `.index` file is
    on disk (a crash between writing a checkpoint and updating the list, or
    a damaged list), by step number.
    """
    paths = set()
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # A damaged state file: the files on disk decide.
        state = None
    if state is not None:
        paths.update(os.path.join(directory, os.path.basename(p)) for p in state.all_model_checkpoint_paths)
    for index in tf.io.gfile.glob(os.path.join(directory, f"{CHECKPOINT_NAME}-*.index")):
        paths.add(index[: -len(".index")])

    def number(path):
        suffix = path.rsplit("-", 1)[-1]
        return int(suffix) if suffix.isdigit() else -1

    return sorted(paths, key=number, reverse=True)


def checkpoint_problem(path):
    """None if every tensor of checkpoint `path` reads back (checksums
    included), else what is wrong with it."""
    if not tf.io.gfile.exists(path + ".index"):
        return "no .index file"
    try:
        reader = tf.train.load_checkpoint(path)
        for key, dtype in reader.get_variable_to_dtype_map().items():
            # RestoreV2 reads any dtype (the input position is a variant).
            tf.raw_ops.RestoreV2(prefix=path, tensor_names=[key], shape_and_slices=[""], dtypes=[dtype])
    except Exception as e:  # DataLossError, OutOfRange, NotFound, ...: all mean damaged.
        return f"{type(e).__name__}: {error_summary(e)}"
    return None


def error_summary(error, limit=300):
    """The first line of a TensorFlow error's message without the traced
    function's node name and the `[Op:...]` suffix."""
    lines = str(error).strip().splitlines() or [""]
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\].*$", "", lines[0])
    return message[:limit]


def set_aside_damaged(directory, damaged, intact, log_fn):
    """Moves the damaged checkpoints' files to `directory/damaged/` and
    writes the checkpoint list of the intact ones (oldest first)."""
    aside = os.path.join(directory, DAMAGED_DIR)
    tf.io.gfile.makedirs(aside)
    for path in damaged:
        for name in tf.io.gfile.glob(path + ".*"):
            tf.io.gfile.rename(name, os.path.join(aside, os.path.basename(name)), overwrite=True)
        log_fn(f"moved the files of {path} to {aside}/")
    intact = list(reversed(intact))
    tf.compat.v1.train.update_checkpoint_state(directory, intact[-1], all_model_checkpoint_paths=intact)
