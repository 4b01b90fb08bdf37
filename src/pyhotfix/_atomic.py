"""Atomic file replacement: readers see the old file or the new one, never a partial one.

Every temp-file-then-rename in pyhotfix goes through here, so there is one naming scheme for
temp files (`.<name>.<random>.tmp` beside the target, so `os.replace` never crosses a file
system) and one place that decides when to fsync.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["is_temp_name", "open_atomic", "store_atomic", "temp_name", "write_atomic"]


def temp_name(path: Path) -> Path:
    """The temp file used while `path` is written: hidden, beside it, unique per writer."""
    return path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")


def is_temp_name(name: str) -> bool:
    """True for a name `temp_name` makes (a leftover of a write that was interrupted)."""
    return name.startswith(".") and name.endswith(".tmp")


@contextlib.contextmanager
def open_atomic(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` when the block exits normally.

    On any exception the temp file is removed and `path` is untouched. With `durable`, the data
    and then the directory entry are fsynced, so a crash cannot leave an empty file under the
    real name. The file is created 0o666 minus umask (not mkstemp's 0o600), like a plain write.
    """
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with open(fd, "wb") as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_directory(path.parent)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (see `open_atomic`)."""
    with open_atomic(path, durable=durable) as out:
        out.write(data)


def store_atomic(
    tmp_dir: Path, write: Callable[[BinaryIO], str], dest_for: Callable[[str], Path]
) -> Path:
    """Like `open_atomic` for a file whose name is known only once it is written (a content
    hash): `write` fills a temp file in `tmp_dir` and returns the key; the file then replaces
    `dest_for(key)` (same file system as `tmp_dir`), durably. Two writers of the same content
    both win; on any exception nothing is stored."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(tmp_dir / "store")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with open(fd, "wb") as out:
            key = write(out)
            out.flush()
            os.fsync(out.fileno())
        dest = dest_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, dest)
        except PermissionError:
            # Windows refuses to replace a file another process has open; same content anyway.
            if not dest.is_file():
                raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(dest.parent)
    return dest


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself survive a crash. Some file systems refuse fsync on a directory;
    the data is already safe then, so that is not an error."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
