"""Applying the patch series to the files a wheel installs, with the sdist machinery
(`patching.apply_patches`: git apply on an unpacked tree, repository paths mapped onto the tree's
paths, e.g. src/markupsafe/__init__.py → markupsafe/__init__.py), and the wheel-mode refusals:
a patch to non-Python sources, or to a .py that a compiled module shadows.

Platform wheels of one release usually install the same Python files: the series is applied once
per distinct set of those files (`fingerprint`) and the result reused for every such wheel.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import PatchError
from pyhotfix.patching import AppliedPatch, PatchInput, apply_patches
from pyhotfix.patching.layout import Resolver
from pyhotfix.wheelmode.archive import (
    WheelLayout,
    compiled_module_source,
    is_compiled_module,
    member_mode,
)

__all__ = [
    "NON_PYTHON_SUFFIXES",
    "TreeChanges",
    "check_changes",
    "fingerprint",
    "patch_tree",
    "tree_members",
]

# Sources compiled into a wheel's native code: patching the wheel cannot rebuild them.
NON_PYTHON_SUFFIXES = (
    ".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".pyx", ".pxd", ".pxi",
    ".rs", ".f", ".f90", ".for", ".cu", ".go", ".m", ".mm", ".zig", ".swift",
)  # fmt: skip
_CHUNK = 1 << 20
_MAX_CHANGED_FILE = 512 << 20


@dataclass(frozen=True)
class TreeChanges:
    """What the series did to the installed files: new contents by member path (files the
    series created included), deleted members, and each patch's report."""

    changed: Mapping[str, tuple[bytes, int]]  # member path → (contents, mode)
    deleted: frozenset[str]
    applied: tuple[AppliedPatch, ...]


def tree_members(layout: WheelLayout) -> list[zipfile.ZipInfo]:
    """The members the series is applied to: installed files, compiled modules left out."""
    return [m for m in layout.installed() if not is_compiled_module(m.filename)]


def fingerprint(zf: zipfile.ZipFile, layout: WheelLayout) -> str:
    """sha256 over the paths and contents of the members a patch can change."""
    digest = hashlib.sha256()
    for info in sorted(tree_members(layout), key=lambda m: m.filename):
        content = hashlib.sha256()
        with zf.open(info) as data:
            while chunk := data.read(_CHUNK):
                content.update(chunk)
        digest.update(f"{info.filename}\0{member_mode(info) & 0o111 != 0}\0".encode())
        digest.update(content.digest())
    return digest.hexdigest()


def patch_tree(
    zf: zipfile.ZipFile,
    layout: WheelLayout,
    patches: Sequence[PatchInput],
    root: Path,
    *,
    target: str,
) -> TreeChanges:
    """Extract the wheel's patchable members into the new directory `root` and apply `patches`
    there (never strict: skipped files are judged by `check_changes`)."""
    root.mkdir(parents=True)
    for info in tree_members(layout):
        dest = root / info.filename  # names checked by open_wheel: relative, no "..", no links
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out, zf.open(info) as data:
            while chunk := data.read(_CHUNK):
                out.write(chunk)
        if member_mode(info) & 0o111:
            os.chmod(dest, 0o755)
    patched = apply_patches(root, patches, strict=False, target=target)
    changed: dict[str, tuple[bytes, int]] = {}
    deleted: set[str] = set()
    for path in sorted({p for applied in patched.applied for p in applied.files}):
        try:
            found = os.lstat(root / path)
        except FileNotFoundError:
            deleted.add(path)
            continue
        if stat.S_ISDIR(found.st_mode):
            deleted.add(path)  # a file replaced by a directory: its files are listed too
        elif not stat.S_ISREG(found.st_mode):
            raise PatchError(
                f"The patches make {path} a symbolic link or special file in {target}; a wheel "
                "can only hold regular files. Remove that part of the patch."
            )
        else:
            content = read_regular_file(root / path, _MAX_CHANGED_FILE, _unreadable(path))
            changed[path] = (content, 0o755 if found.st_mode & 0o111 else 0o644)
    return TreeChanges(changed, frozenset(deleted - changed.keys()), patched.applied)


def _unreadable(path: str) -> Callable[[ReadProblem], Exception]:
    def failure(problem: ReadProblem) -> PatchError:
        return PatchError(
            f"The patched file {path} could not be read back ({problem.kind}); nothing was "
            "published. Check the patch and the free space of the temporary directory."
        )

    return failure


def check_changes(
    layout: WheelLayout, changes: TreeChanges, *, strict: bool, target: str
) -> tuple[str, ...]:
    """PatchError when a patch touches non-Python sources, or a .py this wheel also has as a
    compiled module (the interpreter would load the compiled one, unpatched); with `strict`,
    when it skips files. Returns the warnings about skipped files."""
    for applied in changes.applied:
        for path in (*applied.files, *applied.skipped):
            if path.lower().endswith(NON_PYTHON_SUFFIXES):
                raise PatchError(
                    f"The patch {applied.label} changes {path}, a source compiled into native "
                    f"code; patching the published wheels of {target} cannot rebuild it, so "
                    "nothing was built. Build this hotfix from the sdist instead (remove "
                    'from = "wheels"), or drop that part of the patch.'
                )
    shadowing = {
        source: m.filename
        for m in layout.installed()
        if (source := compiled_module_source(m.filename)) is not None
    }
    shadowed_by_path = Resolver(shadowing)
    for applied in changes.applied:
        repo_paths = {installed: repo for repo, installed in applied.mapped}
        touched = [
            (f"{repo_paths[p]} ({p} in the wheel)" if p in repo_paths else p, p)
            for p in applied.files
            if p.endswith(".py")
        ]
        for repo_path in applied.skipped:
            if repo_path.endswith(".py"):
                found = shadowed_by_path.existing(repo_path, learn=False, probe=True)
                if found is not None:
                    touched.append((repo_path, found))
        for shown, path in touched:
            if path in shadowing:
                raise PatchError(
                    f"The patch {applied.label} changes {shown}, but {layout.filename} runs the "
                    f"compiled module {shadowing[path]} instead of that file (mypyc or Cython "
                    "builds it from the .py), so the fix would not take effect; nothing was "
                    'built. Build this hotfix from the sdist instead (remove from = "wheels"), '
                    "or limit platforms to wheels without compiled modules."
                )
    skipped = [a for a in changes.applied if a.skipped]
    if strict and skipped:
        raise PatchError(
            f"--strict: the patch {skipped[0].label} changes files {layout.filename} does not "
            f"install: {', '.join(skipped[0].skipped)}; nothing was built."
        )
    return tuple(
        f"{a.label}: skipped changes to files not in the wheels: {', '.join(a.skipped)}"
        for a in skipped
    )
