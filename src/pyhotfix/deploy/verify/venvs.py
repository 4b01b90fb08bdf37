"""Fresh virtual environments and the commands run in them: an environment isolated from the
developer's pip/uv configuration (the index and credentials go through variables, never argv),
the deployment's environment files, bounded subprocesses, the installer's error lines."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pyhotfix.deploy.verify.report import Runner, VerifyOptions
from pyhotfix.errors import UsageError

__all__ = [
    "INSTALL_TIMEOUT",
    "VENV_TIMEOUT",
    "default_index_env",
    "install_base_env",
    "last_lines",
    "make_venv",
    "read_env_file",
    "run_command",
    "venv_env",
    "venv_python",
]

INSTALL_TIMEOUT = 900.0
VENV_TIMEOUT = 300.0
_ISOLATED_VARS = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as OpenShift's s2i reads .s2i/environment: `#` at the start of a line is a
    comment, lines without `=` are skipped, both sides are trimmed, quotes are kept."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the environment file {path}: {exc.strerror}.") from exc
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip()
    return env


def install_base_env(options: VerifyOptions) -> dict[str, str]:
    if options.use_user_config:
        env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}
    else:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "UV_")) and k not in _ISOLATED_VARS
        }
        env["PIP_CONFIG_FILE"] = os.devnull
        env["UV_NO_CONFIG"] = "1"
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_NO_CACHE_DIR": "1"})
    return env


def default_index_env(url: str) -> dict[str, str]:
    return {"PIP_INDEX_URL": url, "UV_DEFAULT_INDEX": url}


def venv_env() -> dict[str, str]:
    # Creating the venv (and seeding pip into it) may use the developer's uv cache and settings.
    return {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}


def venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_venv(
    uv: str, root: Path, python: str, seed: bool, runner: Runner
) -> tuple[Path | None, str]:
    cmd = [uv, "venv", "--quiet", "--python", python, str(root)]
    if seed:
        cmd.insert(2, "--seed")
    done = run_command(runner, cmd, root.parent, venv_env(), VENV_TIMEOUT)
    if done.returncode != 0:
        return None, f"could not create a virtual environment: {last_lines(done.stderr)}"
    return venv_python(root), ""


def run_command(
    runner: Runner, cmd: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        result: subprocess.CompletedProcess[str] = runner(
            list(cmd), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"timed out after {timeout:.0f} s")
    except OSError as exc:
        return subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: {exc.strerror}")
    return result


def last_lines(text: str, count: int = 2) -> str:
    """The installer's own error lines, shortened: what a user needs to see in a table cell."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [
        line
        for line in lines
        if line.startswith(("ERROR", "error", "\u00d7", "\u2570"))
        and "Ignored the following" not in line
    ]
    chosen = [
        re.sub(r"\(from versions: [^)]*\)", "(from versions: …)", line)
        for line in (errors or lines)[-count:]
    ]
    return " / ".join(chosen) or "no output"
