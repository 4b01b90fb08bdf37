"""Remove a directory tree made from upstream content, however deep, without following links.

`shutil.rmtree` (Python < 3.14) recurses once per directory level, so a tree a few thousand
levels deep raises RecursionError, and its fd-based walk keeps one descriptor open per level.
Here the walk is an explicit stack: one directory descriptor is open at a time (the way back up is
`..` of the current one, checked to be the directory we came from), and what is left to visit in
each level is a list of names in memory, so cost and memory are O(entries), whatever the depth.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path) -> None:
    """Remove `path` and everything under it; links are removed, never followed.

    A missing `path` is fine. A `path` that is a file or a link is unlinked.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    remove_contents(path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def remove_contents(path: Path) -> None:
    """Empty the directory `path` (which stays), at any depth, without following links."""
    fd = os.open(path, _DIR_FLAGS)
    # One level per entry: (its identity, the subdirectory names still to visit in it).
    stack: list[tuple[tuple[int, int], list[str]]] = []
    try:
        stack.append((_identity(fd), _clear_files(fd, unlock=False)))  # `path` keeps its mode
        while stack:
            _, subdirs = stack[-1]
            if subdirs:
                name = subdirs[-1]
                child = _open_child(fd, name)
                if child is None:  # gone, or replaced by a non-directory meanwhile
                    subdirs.pop()
                    _unlink_quietly(fd, name)
                    continue
                os.close(fd)
                fd = child
                stack.append((_identity(fd), _clear_files(fd)))
                continue
            stack.pop()
            if not stack:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            expected, subdirs = stack[-1]
            if _identity(fd) != expected:
                raise OSError(f"a directory under {path} was moved while it was being removed")
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(subdirs.pop(), dir_fd=fd)
    finally:
        os.close(fd)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _open_child(fd: int, name: str) -> int | None:
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            return None
        raise
    return child


def _unlink_quietly(fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        os.unlink(name, dir_fd=fd)


def _clear_files(fd: int, *, unlock: bool = True) -> list[str]:
    """Unlink every non-directory in the directory `fd`; return its subdirectories' names."""
    if unlock:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o700)  # a tree a build made read-only can still be emptied
    subdirs: list[str] = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                _unlink_quietly(fd, entry.name)
    return subdirs


@contextlib.contextmanager
def temporary_directory(prefix: str, dir: Path | None = None) -> Iterator[Path]:
    """Like `tempfile.TemporaryDirectory`, but removed with `remove_tree` (any depth)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    try:
        yield path
    finally:
        remove_tree(path)
