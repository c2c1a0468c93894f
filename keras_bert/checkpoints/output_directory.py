"""Writing a checkpoint directory all at once: a temporary sibling, then a rename."""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yields a temporary directory that becomes `path` when the block succeeds.

    The temporary directory is a sibling of `path` (same file system, so the
    final step is a rename); if the block raises it is removed and `path` is
    untouched. An existing non-empty `path` is a `ValueError` unless
    `overwrite`, in which case it is replaced only after the new one is
    complete.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ValueError(f"output_dir={path}: exists and is not a directory.")
        if os.listdir(path) and not overwrite:
            raise ValueError(
                f"output_dir={path}: exists and is not empty; pass overwrite=True "
                "(--overwrite) to replace it."
            )
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
            os.rename(path, os.path.join(old, "replaced"))
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
