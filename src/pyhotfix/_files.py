"""Reading a whole file the user named (a manifest, a patch): a regular file, bounded, never a hang.

Opened with O_NONBLOCK so a FIFO or device cannot block the open, then checked with fstat on the
opened descriptor, so what is checked is what is read (no race between the check and the read);
read at most one byte past the limit, so a file that grows meanwhile cannot eat memory. Callers
turn a `ReadProblem` into their own error and message.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["ReadProblem", "read_regular_file"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReadProblem:
    """Why `read_regular_file` gave up.

    `cannot-open`/`cannot-read`: `error` is the OSError. `not-regular`: `mode` is the file's
    st_mode. `too-large`: `size` is the size fstat gave, or with `grew` the bytes read (limit + 1)
    from a file that grew after fstat.
    """

    kind: Literal["cannot-open", "not-regular", "too-large", "cannot-read"]
    error: OSError | None = None
    mode: int = 0
    size: int = 0
    grew: bool = False


def read_regular_file(path: Path, limit: int, failure: Callable[[ReadProblem], Exception]) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; otherwise raises
    `failure(problem)` (chained to the OSError, if there was one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise failure(ReadProblem("cannot-open", error=exc)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise failure(ReadProblem("not-regular", mode=info.st_mode))
        if info.st_size > limit:
            raise failure(ReadProblem("too-large", size=info.st_size))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew after fstat
            raise failure(ReadProblem("too-large", size=total, grew=True))
    except OSError as exc:
        raise failure(ReadProblem("cannot-read", error=exc)) from exc
    finally:
        os.close(fd)
    return b"".join(chunks)
