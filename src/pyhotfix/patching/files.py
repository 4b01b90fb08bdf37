"""Reading a patch file from disk, bounded: only a regular file of sane size, never a hang.

Imports nothing else of `patching` (git, email parsing), and the package loads its other modules
only on first use, so `pipeline.inputs_key`, which hashes the patch files of a `build` with
nothing to do, imports almost nothing.
"""

from __future__ import annotations

import stat
from pathlib import Path

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import PatchFileError

__all__ = ["MAX_PATCH_BYTES", "read_patch_file"]

# Real patches are kilobytes; GitHub refuses diffs of more than a few MB. 20 MiB leaves room for
# binary patches while keeping a mistaken path (a tarball, a disk image) from eating memory.
MAX_PATCH_BYTES = 20 * 1024 * 1024


def read_patch_file(path: Path, shown: str, where: str | None = None) -> bytes:
    """The bytes of the patch file at `path`, which must be a regular file of at most
    MAX_PATCH_BYTES. `shown` is how the user wrote it; `where` ("FILE, line N: KEY") locates it in
    the manifest. Errors are PatchFileError (exit code 2).

    Read with `read_regular_file`: a FIFO cannot block the open, what fstat checked is what is
    read, and at most one byte past the cap is read.
    """
    prefix = f"{where} names the patch file {shown}, which" if where else f"The patch file {shown}"

    def error(problem: str) -> PatchFileError:
        return PatchFileError(f"{prefix} {problem}")

    def failure(problem: ReadProblem) -> PatchFileError:
        if problem.kind == "cannot-open" and isinstance(problem.error, FileNotFoundError):
            relative = "; paths in hotfixes.toml are relative to its directory" if where else ""
            return error(
                f"does not exist (looked for {path}{relative}). Fix the path, or add the file."
            )
        if problem.kind == "not-regular":
            kind = "a directory" if stat.S_ISDIR(problem.mode) else "not a regular file"
            return error(
                f"is {kind} ({path}). A patch must be an ordinary file holding a unified diff "
                "or a git format-patch mail."
            )
        if problem.kind == "too-large":
            return error(_too_large(path, problem.size))
        verb = "opened" if problem.kind == "cannot-open" else "read"
        reason = (problem.error.strerror if problem.error else None) or problem.error
        return error(f"cannot be {verb} ({path}: {reason}). Check that it is a readable file.")

    return read_regular_file(path, MAX_PATCH_BYTES, failure)


def _too_large(path: Path, size: int) -> str:
    return (
        f"is {size} bytes ({path}), more than the limit of {MAX_PATCH_BYTES} bytes "
        f"({MAX_PATCH_BYTES // (1024 * 1024)} MiB) for a patch. Check that the path names the "
        "patch and not another file; split a genuinely larger change into several patches."
    )
