"""Writing files so that the user's old file survives any failure.

Every file graphc writes goes through `write_file`: the new content goes into a temporary
file in the same folder, is flushed to disk, and only then replaces the target in one
`os.replace`. A failure part-way (disk full, file-size limit, Ctrl-C) removes the
temporary file and leaves the old file exactly as it was; the error names the file.

This module is copied whole (by source) into every exported training script, whose
`--save` and `--history` use it too, so it holds functions only and imports only the
standard library.
"""

import contextlib
import os
import tempfile


def write_file(path, write, binary=False):
    """Write `path` atomically: `write(f)` fills an open temporary file beside it, which then
    replaces `path`; on any failure or interrupt the old file is left intact. Returns `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            2, f"cannot write {path}: the folder {os.path.dirname(path)} does not exist"
        )
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
        )
    except OSError as error:
        raise _naming(error, path) from None
    try:
        mode = "wb" if binary else "w"
        with os.fdopen(handle, mode, **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _permissions(path))
        os.replace(temporary, path)
    except BaseException as error:  # also KeyboardInterrupt: never leave the temporary behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _naming(error, path) from None
        raise
    return path


def write_text(path, text):
    """Write a string to `path` atomically (UTF-8); returns `path`."""
    return write_file(path, lambda f: f.write(text))


def write_bytes(path, data):
    """Write bytes to `path` atomically; returns `path`."""
    return write_file(path, lambda f: f.write(data), binary=True)


def _permissions(path):
    """The old file's permission bits, or what a new file gets under the current umask
    (mkstemp makes the temporary private, which a replaced file must not become)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _naming(error, path):
    """`error` as an OSError whose message names `path` (not the temporary file)."""
    reason = error.strerror or str(error)
    if reason.startswith(f"cannot write {path}"):
        return error
    return type(error)(error.errno, f"cannot write {path}: {reason}")
