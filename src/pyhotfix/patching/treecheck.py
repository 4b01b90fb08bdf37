"""The patched tree may only hold what an sdist may publish: nothing that reads the builder's disk.

A patch can create a symlink (`new file mode 120000`) to `/etc/passwd` or `../../secret`; the build
backend follows it and the file's content lands in the published sdist and wheel. So, after the
patches are applied and before anything is built, every entry of the tree is checked with `lstat`:

- a symlink must be relative and resolve inside the tree, resolved the way the kernel would but
  textually, component by component, following the tree's own symlinks (never `realpath`, which
  would consult the disk outside the tree), and must not be named `.git` or lead through `.git`;
- a regular file must not have links outside the tree (`st_nlink` larger than the number of its
  names inside the tree: a hard link made by the sdist between two of its own files is harmless);
- directories are walked; anything else (device, FIFO, socket) is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["TreeProblem", "check_link_target", "check_tree"]

# As the kernel's MAXSYMLINKS: more symlinks than this on one path is a loop.
_MAX_HOPS = 40


@dataclass(frozen=True)
class TreeProblem:
    path: str  # relative to the tree's root, POSIX separators
    problem: str  # what is wrong, a clause ("is a symlink to /etc/passwd, outside the tree")


def check_link_target(link: str, target: str) -> str | None:
    """Why a symlink at `link` (tree-relative) with `target` is refused, judged textually without
    the tree (for a patch before it is applied); None if it stays inside."""
    return _resolve(link, target, lambda rel: None)


def check_tree(root: Path, *, skip_git: bool = True) -> list[TreeProblem]:
    """Every entry of the tree at `root` that must not be built (see the module docstring).

    With `skip_git`, `root/.git` (pyhotfix's own throwaway repository) is not walked.
    """
    problems: list[TreeProblem] = []
    names_of: dict[tuple[int, int], list[str]] = {}
    nlink_of: dict[tuple[int, int], int] = {}

    def read_link(rel: str) -> str | None:
        """The target of `rel` if it is a symlink in the tree, else None."""
        try:
            info = os.lstat(root / rel)
        except OSError:
            return None
        return os.readlink(root / rel) if stat.S_ISLNK(info.st_mode) else None

    stack = [""]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(root / directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:  # e.g. a directory the sdist made unreadable
            problems.append(TreeProblem(directory or ".", f"cannot be read ({exc.strerror})"))
            continue
        for entry in entries:
            rel = f"{directory}/{entry.name}" if directory else entry.name
            if skip_git and rel == ".git":
                continue
            info = entry.stat(follow_symlinks=False)
            mode = info.st_mode
            if stat.S_ISDIR(mode):
                stack.append(rel)
            elif stat.S_ISLNK(mode):
                why = _resolve(rel, os.readlink(entry.path), read_link)
                if why is not None:
                    problems.append(TreeProblem(rel, why))
            elif stat.S_ISREG(mode):
                if info.st_nlink > 1:
                    key = (info.st_dev, info.st_ino)
                    names_of.setdefault(key, []).append(rel)
                    nlink_of[key] = info.st_nlink
            else:
                problems.append(TreeProblem(rel, f"is {_kind(mode)}, which a package cannot ship"))
    for key, names in names_of.items():
        if nlink_of[key] > len(names):
            problems.append(
                TreeProblem(
                    names[0],
                    f"is a hard link to a file outside the tree ({nlink_of[key]} links, "
                    f"{len(names)} inside)",
                )
            )
    return sorted(problems, key=lambda p: p.path)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file, directory or symlink"


def _resolve(link: str, target: str, read_link: Callable[[str], str | None]) -> str | None:
    """Why the symlink `link` -> `target` leaves the tree, or None. `read_link(rel)` gives the
    target of a symlink inside the tree (None: not a symlink), so chains are followed as the
    kernel would: `..` after a symlinked directory goes up from where that symlink points."""
    if PurePosixPath(link).name == ".git":
        return f"is a symlink named .git (to {target!r})"
    if not target:
        return "is a symlink with an empty target"
    if target.startswith("/"):
        return f"is a symlink to the absolute path {target!r}, outside the tree"
    resolved: list[str] = list(PurePosixPath(link).parent.parts)
    pending = target.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return f"is a symlink to {target!r}, which points outside the tree"
            resolved.pop()
            continue
        if part == ".git":
            return f"is a symlink to {target!r}, into .git"
        resolved.append(part)
        inner = read_link("/".join(resolved))
        if inner is None:
            continue
        hops += 1
        if hops > _MAX_HOPS:
            return f"is a symlink to {target!r}, which loops"
        if inner.startswith("/"):
            return f"is a symlink to {target!r}, which leads to the absolute path {inner!r}"
        resolved.pop()  # the symlink's own name is replaced by its target
        pending = inner.split("/") + pending
    return None
