"""Real third-party tools (Poetry, Pipenv, PDM, pip-tools, maturin, …) for the tests.

Each tool is installed once, at a pinned version, into its own virtual environment in a cache shared
by every test worker and every run on this machine (`PYHOTFIX_TEST_TOOLS`, default: a directory
beside pytest's temporary directories). Workers that ask at the same time wait on a lock, so a fresh
machine downloads each tool once. Tests get the path of the tool's executable and run it for real.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["PINNED", "tool_executable", "tool_venv"]

PINNED: dict[str, str] = {
    # tool name -> the requirement installed for it (pinned: tests must not drift with PyPI)
    "poetry": "poetry==2.5.1",
    "pipenv": "pipenv==2026.10.3",
    "pdm": "pdm==2.29.4 hishel[httpx2]<2",  # hishel 2 dropped the storage pdm 2.29 imports
    "pip-tools": "pip-tools==7.6.2",
    "maturin": "maturin==1.16.0",
    "pip-audit": "pip-audit==2.10.1",
}


def _tools_root() -> Path:
    configured = os.environ.get("PYHOTFIX_TEST_TOOLS")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"pyhotfix-test-tools-{os.getuid()}"


def _clean_env() -> dict[str, str]:
    # The machine's pip/uv configuration (extra indexes, constraints) must not shape the tool's venv.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_NO_CONFIG"] = "1"
    return env


def tool_venv(name: str, requirement: str | None = None) -> Path:
    """The root of a virtual environment with `requirement` (default: `PINNED[name]`) installed."""
    wanted = requirement or PINNED[name]
    key = re.sub(r"[^A-Za-z0-9._-]", "_", wanted.replace("==", "-"))  # several: space-separated
    root = _tools_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / key
    requirements = wanted.split()
    done = venv / ".complete"
    if done.exists():
        return venv
    with open(root / f"{key}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if done.exists():
            return venv
        from uv import find_uv_bin

        uv = find_uv_bin()
        env = _clean_env()
        subprocess.run(
            [uv, "venv", "--seed", "--quiet", "--clear", "--python", sys.executable, str(venv)],
            check=True,
            env=env,
            timeout=300,
        )
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                *requirements,
            ],
            check=True,
            env=env,
            timeout=900,
        )
        done.write_text(wanted + "\n")
    return venv


def tool_executable(name: str, command: str | None = None) -> Path:
    """The path of a pinned tool's command (default: the tool's name) in its cached venv."""
    return tool_venv(name) / "bin" / (command or name)
