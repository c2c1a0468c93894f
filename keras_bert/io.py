"""Files, the one way keras_bert and its programs touch them.

Every path goes through `tf.io.gfile`, so a path may be local or on any
filesystem TensorFlow has (`gs://` buckets, where TPU users keep data and
checkpoints and TF Serving reads models from; `ram://` in tests; HDFS ...).

- `atomic_write(path)`: a file that appears whole or not at all.
- `atomic_directory(path)`: the same for a directory (e.g. `best/`).
- `read_json_file(path, what)`: JSON from a user's file; every failure is a
  `ValueError` starting with the path.
- `expand_patterns(patterns)`: comma-separated files or glob patterns ->
  the files, sorted (as google-research/bert's `--input_file`).

Atomicity comes from rename. Local disks, `ram://` and HDFS rename
atomically, so a reader sees the old file or the new one, never a part.
Object stores (`gs://`, `s3://`) have no rename: gfile copies then deletes,
so a crash mid-write can leave the temporary name beside the target, and a
reader may for a moment see no file; it never sees a partly written one
under the final name, because object writes become visible when closed.
"""

import contextlib
import json
import os
import uuid

import tensorflow as tf

_OBJECT_STORES = ("gs://", "s3://")


def is_object_store(path):
    """True for paths whose filesystem has no atomic rename (gs://, s3://)."""
    return os.fspath(path).startswith(_OBJECT_STORES)


def join(path, *parts):
    """`os.path.join` that keeps a URL's scheme (gs://bucket/dir) intact."""
    return os.path.join(os.fspath(path), *parts)


def _temporary_name(path):
    return f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove(path):
    """Deletes the file or directory tree at `path` if it exists."""
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Opens a temporary file beside `path` for writing; renames it to `path`
    when the block ends without an exception, removes it otherwise.

    Args:
      path: str, the file to write (local or any gfile filesystem).
      mode: "w" (text, UTF-8) or "wb".

    Yields:
      the open file.
    """
    path = os.fspath(path)
    temp = _temporary_name(path)
    try:
        with tf.io.gfile.GFile(temp, mode) as f:
            yield f
        tf.io.gfile.rename(temp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(temp):
            tf.io.gfile.remove(temp)
        raise


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary directory beside `path` to fill; when the block
    ends without an exception it replaces `path` (renamed to `path.old`
    first, removed last, so a crash leaves `path` or `path.old` whole:
    `recover_directory` puts `path.old` back). On an exception the
    temporary directory is removed and `path` is untouched.
    """
    path = os.fspath(path).rstrip("/")
    temp = path + ".tmp"
    old = path + ".old"
    remove(temp)
    tf.io.gfile.makedirs(temp)
    try:
        yield temp
    except BaseException:
        remove(temp)
        raise
    remove(old)
    if tf.io.gfile.exists(path):
        tf.io.gfile.rename(path, old)
    tf.io.gfile.rename(temp, path)
    remove(old)


def recover_directory(path):
    """After a crash inside `atomic_directory`'s swap: `path.old` back to `path`."""
    path = os.fspath(path).rstrip("/")
    if not tf.io.gfile.exists(path) and tf.io.gfile.exists(path + ".old"):
        tf.io.gfile.rename(path + ".old", path)


def write_json(path, value):
    """`value` as indented JSON in the file `path`, written atomically."""
    with atomic_write(path) as f:
        f.write(json.dumps(value, indent=1))


def read_json_file(path, what):
    """The JSON value held by the file `path` (any JSON type: the caller checks its shape).

    Every way a file a user brings can fail to read is a `ValueError` whose
    message starts with the path, never another exception: a missing or
    unreadable file, bytes that are not UTF-8, text that is not JSON (with
    its line), JSON nested deeper than Python's recursion limit, an integer
    of more digits than Python converts to an int.

    Args:
      path: str or os.PathLike, the file.
      what: str, what the file is, for the message of a missing one ("no
        such {what}"), e.g. "config file".

    Raises:
      ValueError: "<path>: ..." saying why it cannot be read.
    """
    path = os.fspath(path)
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
    except tf.errors.NotFoundError:
        raise ValueError(f"{path}: no such {what}.") from None
    except tf.errors.OpError as e:
        raise ValueError(f"{path}: cannot read it ({_reason(e)}).") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 ({e.reason}).") from None
    return loads_json(text, path)


def _reason(error):
    """The OS's words in a gfile error ("Permission denied", "Is a directory" ...)."""
    message = error.message or type(error).__name__
    return message.split(";")[-1].strip() if ";" in message else message


def loads_json(text, where):
    """`json.loads(text)`; a failure is a ValueError starting with `where` (and the line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}:{e.lineno}: not valid JSON: {e.msg}.") from None
    except RecursionError:
        raise ValueError(f"{where}: not valid JSON: nested too deeply to read.") from None
    except ValueError as e:  # An integer of more digits than Python converts ...
        raise ValueError(f"{where}: not valid JSON: {str(e).split(';')[0]}.") from None


def expand_patterns(patterns, flag="input_file"):
    """Comma-separated files or glob patterns (or a list of them) -> the
    matching files: each pattern's matches sorted, in the order of the
    patterns. Globs with `tf.io.gfile.glob` (`gs://bucket/*.txt` works).

    Args:
      patterns: str "a.txt,dir/*.txt", or a list of such strings.
      flag: the flag's name, for messages.

    Raises:
      ValueError: naming the pattern that matches no file or cannot be listed.
    """
    parts = patterns.split(",") if isinstance(patterns, str) else list(patterns)
    paths = []
    for pattern in (os.fspath(p).strip() for p in parts):
        if not pattern:
            continue
        try:
            matches = sorted(tf.io.gfile.glob(pattern))
        except tf.errors.OpError as e:
            raise ValueError(f"{flag} pattern {pattern!r}: cannot list it ({e.message})") from None
        if not matches:
            raise ValueError(f"{flag} pattern {pattern!r} matches no file")
        paths.extend(matches)
    if not paths:
        raise ValueError(f"{flag}={patterns!r} names no file")
    return paths
