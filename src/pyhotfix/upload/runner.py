"""Running `uv publish`: the `Runner` the upload target is given, and the real one (a subprocess
without a terminal, so nothing can prompt for a password)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RunResult", "Runner", "run_subprocess", "uv_bin"]

_UPLOAD_TIMEOUT = 1800.0  # large wheels over slow links; uv has its own per-request timeouts


@dataclass(frozen=True)
class RunResult:
    """What a command did: its exit status and its output (stdout and stderr, interleaved)."""

    returncode: int
    output: str


Runner = Callable[[Sequence[str], Mapping[str, str]], RunResult]


def run_subprocess(argv: Sequence[str], env: Mapping[str, str]) -> RunResult:
    """Run `argv` without a terminal (so nothing can prompt for a password) and capture it."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=_UPLOAD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RunResult(-1, f"error: the upload did not finish within {_UPLOAD_TIMEOUT:.0f} s")
    except OSError as exc:
        return RunResult(-1, f"error: could not run {argv[0]}: {exc.strerror or exc}")
    return RunResult(done.returncode, done.stdout or "")


def uv_bin() -> str:
    from uv import find_uv_bin

    return find_uv_bin()
