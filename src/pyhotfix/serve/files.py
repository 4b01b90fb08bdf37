"""Opening the files `pyhotfix serve` sends: only regular files that resolve inside simple/,
without following a symlink swapped in meanwhile and without blocking on a FIFO; their media type.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Final

__all__ = ["OutOfDescriptors", "file_type", "open_regular", "read_all"]

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class OutOfDescriptors(Exception):
    """A file could not be opened for want of descriptors: the reply is 503, not 404."""


def open_regular(simple: str, path: str) -> int | None:
    """A descriptor of the file at `path` if it resolves inside simple/, else None (→ 404).

    Symlinks are followed only to targets inside simple/ (`realpath`), then the resolved path
    is opened one component at a time from simple/ with O_NOFOLLOW, so a symlink swapped in
    meanwhile fails the open instead of leading out; O_NONBLOCK, so that opening a FIFO or a
    device never waits. Raises OutOfDescriptors on EMFILE/ENFILE (→ 503, not 404).
    """
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    prefix = simple + os.sep
    if not real.startswith(prefix):
        return None  # a symlink leading out of simple/
    *dirs, name = real[len(prefix) :].split(os.sep)
    dir_fd = -1
    try:
        dir_fd = os.open(simple, _DIR_FLAGS)
        for part in dirs:
            parent, dir_fd = dir_fd, -1
            try:
                dir_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
            finally:
                os.close(parent)
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise OutOfDescriptors from exc
        return None
    except ValueError:  # NUL in a name (refused earlier; kept for safety)
        return None
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd


def file_type(filename: str) -> str:
    if filename.endswith((".whl", ".zip")):
        return "application/zip"
    if filename.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    if filename.endswith(".metadata"):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def read_all(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
