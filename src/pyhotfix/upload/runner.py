"""Running `uv publish`: the `Runner` the upload target is given, and the real one (a subprocess
without a terminal, so nothing can prompt for a password)."""

from __future__ import annotations

import glob
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunResult", "Runner", "run_subprocess", "uv_bin", "uv_publish_call"]

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


def uv_publish_call(
    upload_url: str,
    path: Path,
    username: str | None,
    password: str | None,
    environ: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of the `uv publish` run that uploads `path`: the credentials go in
    the environment, never on the command line (other users can read it)."""
    env = {
        k: v
        for k, v in environ.items()
        # Ours, resolved above, replace these; the others would redirect or change the run.
        if not k.startswith(("UV_PUBLISH_", "TWINE_", "PYHOTFIX_UPLOAD_"))
    }
    env.update({"UV_NO_PROGRESS": "1", "NO_COLOR": "1"})
    if username is not None:
        env["UV_PUBLISH_USERNAME"] = username
    if password is not None:
        env["UV_PUBLISH_PASSWORD"] = password
    argv = [
        uv_bin(),
        "publish",
        "--no-config",  # a uv.toml / pyproject.toml nearby must not change the target
        # Trusted publishing is PyPI's, which refuses local versions anyway; uv's attempt
        # at it without credentials costs ~12 s of retries and a confusing message.
        *("--trusted-publishing", "never"),
        *("--publish-url", upload_url),
        glob.escape(str(path.absolute())),  # uv reads its file arguments as globs
    ]
    return argv, env
