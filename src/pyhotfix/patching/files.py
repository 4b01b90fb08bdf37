"""Reading a patch file from disk, bounded: only a regular file of sane size, never a hang.

Imports nothing else of `patching` (git, email parsing), and the package loads its other modules
only on first use, so `pipeline.inputs_key`, which hashes the patch files of a `build` with
nothing to do, imports almost nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pyhotfix.errors import PatchFileError

__all__ = ["MAX_PATCH_BYTES", "read_patch_file"]

# Real patches are kilobytes; GitHub refuses diffs of more than a few MB. 20 MiB leaves room for
# binary patches while keeping a mistaken path (a tarball, a disk image) from eating memory.
MAX_PATCH_BYTES = 20 * 1024 * 1024


def read_patch_file(path: Path, shown: str, where: str | None = None) -> bytes:
    """The bytes of the patch file at `path`, which must be a regular file of at most
    MAX_PATCH_BYTES. `shown` is how the user wrote it; `where` ("FILE, line N: KEY") locates it in
    the manifest. Errors are PatchFileError (exit code 2).

    Opened with O_NONBLOCK so a FIFO cannot block the open, then checked with fstat on the opened
    descriptor (no race between the check and the read); read at most one byte past the cap.
    """
    prefix = f"{where} names the patch file {shown}, which" if where else f"The patch file {shown}"

    def error(problem: str) -> PatchFileError:
        return PatchFileError(f"{prefix} {problem}")

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        relative = "; paths in hotfixes.toml are relative to its directory" if where else ""
        raise error(
            f"does not exist (looked for {path}{relative}). Fix the path, or add the file."
        ) from exc
    except OSError as exc:
        raise error(
            f"cannot be opened ({path}: {exc.strerror or exc}). Check that it is a readable file."
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise error(
                f"is {kind} ({path}). A patch must be an ordinary file holding a unified diff "
                "or a git format-patch mail."
            )
        if info.st_size > MAX_PATCH_BYTES:
            raise error(_too_large(path, info.st_size))
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_PATCH_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_PATCH_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_PATCH_BYTES:  # it grew while we read it
            raise error(_too_large(path, total))
    except OSError as exc:
        raise error(
            f"cannot be read ({path}: {exc.strerror or exc}). Check that it is a readable file."
        ) from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def _too_large(path: Path, size: int) -> str:
    return (
        f"is {size} bytes ({path}), more than the limit of {MAX_PATCH_BYTES} bytes "
        f"({MAX_PATCH_BYTES // (1024 * 1024)} MiB) for a patch. Check that the path names the "
        "patch and not another file; split a genuinely larger change into several patches."
    )
