"""Files, the one way keras_bert and its programs touch them.

Every path goes through `tf.io.gfile`, so a path may be local or on any
filesystem TensorFlow has (`gs://` buckets, where TPU users keep data and
checkpoints and TF Serving reads models from; `ram://` in tests; HDFS ...).

- `atomic_write(path)`: a file that appears whole or not at all.
- `atomic_directory(path)`: the same for a directory (e.g. `best/`);
  `rename_tree` moves a directory on any filesystem.
- `read_json_file(path, what)`: JSON from a user's file; every failure is a
  `ValueError` starting with the path.
- `expand_patterns(patterns)`: comma-separated files or glob patterns ->
  the files, sorted (as google-research/bert's `--input_file`).

Atomicity comes from rename. The local disk renames a file or a directory
atomically, so a reader sees the old one or the new one, never a part.
Object stores (`gs://`, `s3://`) have no rename: gfile copies then deletes,
so a crash mid-write can leave the temporary name beside the target, and a
reader may for a moment see no file; it never sees a partly written file
under the final name, because object writes become visible when closed. A
directory there is moved file by file (`rename_tree`): a crash can leave it
part moved, under both names; the previous directory is kept as
`NAME.old` until the new one is complete, and `recover_directory` puts it
back when the new one is missing.
"""

import contextlib
import json
import os
import uuid

import tensorflow as tf


def is_local(path):
    """True for a path of the local filesystem (no `scheme://`)."""
    return "://" not in os.fspath(path)


def join(path, *parts):
    """`os.path.join` that keeps a URL's scheme (gs://bucket/dir) intact."""
    return os.path.join(os.fspath(path), *parts)


def temporary_name(path):
    """A unique name beside `path` to write to before renaming (for writers that take a path)."""
    return f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def makedirs(path, where):
    """Creates the directory `path` and its parents unless it exists.

    Raises:
      ValueError: "<where>: cannot create it (<reason>)" -- a parent that is
        a file, no permission ..., or a local dangling symbolic link (which
        gfile would otherwise take for an existing directory).
    """
    path = os.fspath(path)
    if is_local(path) and os.path.islink(path) and not os.path.exists(path):
        raise ValueError(f"{where}: cannot create it (a symbolic link to {os.readlink(path)}, which does not exist)")
    try:
        tf.io.gfile.makedirs(path)
    except tf.errors.OpError as e:
        raise ValueError(f"{where}: cannot create it ({error_reason(e)})") from None


def rename_tree(source, target):
    """Renames the directory `source` to `target` (which must not exist).

    One atomic rename on the local filesystem. Filesystems without a
    directory rename (object stores; `ram://`, whose rename moves the
    directory's name but not its files) get its files renamed one by one,
    then `source` removed: not atomic, which `atomic_directory` says.

    Raises:
      tf.errors.OpError: from the filesystem (e.g. `target` exists).
    """
    source, target = os.fspath(source).rstrip("/"), os.fspath(target).rstrip("/")
    if is_local(source):
        tf.io.gfile.rename(source, target)
        return
    if tf.io.gfile.exists(target):
        raise tf.errors.AlreadyExistsError(None, None, f"{target}; File exists")
    for root, _, files in tf.io.gfile.walk(source):
        relative = root.rstrip("/")[len(source):].lstrip("/")
        directory = join(target, relative) if relative else target
        tf.io.gfile.makedirs(directory)
        for name in files:
            if tf.io.gfile.exists(join(root, name)):  # (ram:// lists a sibling's files by name prefix.)
                tf.io.gfile.rename(join(root, name), join(directory, name))
    remove(source)


def remove(path):
    """Deletes the file or directory tree at `path` if it exists."""
    try:
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        elif tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
    except tf.errors.NotFoundError:
        # Gone meanwhile, or ram://, which lists files of a sibling whose
        # name it prefixes (assets/ and assets.extra/): what exists, deepest first.
        for root, dirs, files in reversed(list(tf.io.gfile.walk(path))):
            for name in files + dirs:
                child = join(root, name)
                if tf.io.gfile.exists(child) and not tf.io.gfile.isdir(child):
                    tf.io.gfile.remove(child)
                elif tf.io.gfile.isdir(child):
                    try:
                        tf.io.gfile.rmtree(child)
                    except tf.errors.NotFoundError:
                        pass
        try:
            tf.io.gfile.rmtree(path)
        except tf.errors.NotFoundError:
            pass


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
    temp = temporary_name(path)
    try:
        with tf.io.gfile.GFile(temp, mode) as f:
            yield f
        tf.io.gfile.rename(temp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(temp):
            tf.io.gfile.remove(temp)
        raise


@contextlib.contextmanager
def atomic_directory(path, overwrite=False, what="output_dir"):
    """Yields a temporary directory, beside `path`, that becomes `path` when
    the block ends without an exception; on an exception it is removed and
    `path` is untouched.

    An existing `path` is replaced only after the new one is complete: it is
    renamed to `path.old` first and removed last, so a crash in between
    leaves `path` or `path.old` whole (`recover_directory` puts it back).

    Args:
      path: str, the directory to write.
      overwrite: False: an existing non-empty `path` is an error.
      what: the argument `path` came from, for messages.

    Raises:
      ValueError: `path` is a file, or non-empty without `overwrite`.
    """
    path = os.fspath(path).rstrip("/")
    if tf.io.gfile.exists(path):
        if not tf.io.gfile.isdir(path):
            raise ValueError(f"{what}={path}: exists and is not a directory.")
        if tf.io.gfile.listdir(path) and not overwrite:
            raise ValueError(f"{what}={path}: exists and is not empty; pass overwrite=True (--overwrite) to "
                             "replace it.")
    parent, name = os.path.split(path)
    temp = join(parent, f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tf.io.gfile.makedirs(temp)
    try:
        yield temp
    except BaseException:
        remove(temp)
        raise
    old = path + ".old"
    remove(old)
    if tf.io.gfile.exists(path):
        rename_tree(path, old)
    rename_tree(temp, path)
    remove(old)


def recover_directory(path):
    """After a crash inside `atomic_directory`'s swap: `path.old` back to `path`."""
    path = os.fspath(path).rstrip("/")
    if not tf.io.gfile.exists(path) and tf.io.gfile.exists(path + ".old"):
        rename_tree(path + ".old", path)


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
        raise ValueError(f"{path}: cannot read it ({error_reason(e)}).") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 ({e.reason}).") from None
    return loads_json(text, path)


def read_bytes(path, where):
    """The bytes of the file `path` (any gfile path).

    Raises:
      ValueError: "<where>: cannot read it (<reason>)".
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{where}: must be a file path")
    try:
        with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
            return f.read()
    except tf.errors.OpError as e:
        raise ValueError(f"{where}: cannot read it ({error_reason(e)})") from None


def binary_lines(path, where):
    """The lines of the file `path` as bytes, each with its `\\n` (the last may
    lack one). Unlike gfile's own line reading, which turns `\\r\\n` into
    `\\n`, the bytes are the file's.

    Raises:
      ValueError: as `read_bytes`.
    """
    data = read_bytes(path, where)
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def read_text(path, where, encoding="utf-8"):
    """The text of the file `path` (any gfile path), decoded as `encoding`
    ("utf-8-sig" drops a BOM).

    Raises:
      ValueError: "<where>: cannot read it (<reason>)" or "<where>: not UTF-8 (<reason>)".
    """
    data = read_bytes(path, where)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 ({e.reason})") from None


def error_reason(error):
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
    matching files: each pattern's matches sorted, patterns in their order,
    a file matched twice kept once. Globs with `tf.io.gfile.glob`
    (`gs://bucket/*.txt` works).

    Args:
      patterns: str "a.txt,dir/*.txt", or a list of such strings.
      flag: the flag's name, for messages.

    Raises:
      ValueError: naming the pattern that matches no file or cannot be listed.
    """
    if isinstance(patterns, (str, bytes, os.PathLike)) or not hasattr(patterns, "__iter__"):
        patterns = os.fspath(patterns).split(",") if isinstance(patterns, os.PathLike) else str(patterns).split(",")
    paths = {}  # An ordered set.
    for pattern in (os.fspath(p).strip() if isinstance(p, os.PathLike) else str(p).strip() for p in patterns):
        if not pattern:
            continue
        try:
            matches = sorted(tf.io.gfile.glob(pattern))
        except tf.errors.OpError as e:
            raise ValueError(f"{flag} pattern {pattern!r}: cannot list it ({e.message})") from None
        if not matches:
            raise ValueError(f"{flag} pattern {pattern!r} matches no file")
        paths.update(dict.fromkeys(matches))
    if not paths:
        raise ValueError(f"{flag}={patterns!r} names no file")
    return list(paths)
