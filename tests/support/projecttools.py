"""Running the pyproject tools (uv projects, Poetry, PDM) for real on a deploy world's app, for the
deploy matrix: an app project whose main index is the fake PyPI or the attacker's, its `.venv`
fresh or with upstream's build installed, `pyhotfix pin` as the README tells users, then the tool's
own lock and install commands with its caches and configuration in temp dirs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from uv import find_uv_bin

from tests.conftest import Run, clean_pip_env
from tests.support.deployworld import HOTFIXED, DeployWorld

__all__ = [
    "Scenario",
    "ToolRun",
    "main_index",
    "make_venv",
    "pin_project",
    "run_tool",
    "tool_env",
]

Scenario = Literal["fresh", "upstream-installed", "other-index"]


@dataclass(frozen=True)
class ToolRun:
    command: list[str]
    code: int
    output: str


def main_index(world: DeployWorld, scenario: Scenario) -> str:
    """The app's own main index: the attacker's replaces the fake PyPI in the other-index cells."""
    return world.attacker_url if scenario == "other-index" else world.pypi_url


def tool_env(scratch: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The machine's pip/uv/Poetry/PDM configuration left out; caches under `scratch`."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = clean_pip_env(
        {
            "XDG_CONFIG_HOME": str(scratch / "config"),
            "XDG_CACHE_HOME": str(scratch / "cache"),
            "XDG_DATA_HOME": str(scratch / "data"),
            "UV_CACHE_DIR": str(scratch / "uv-cache"),
            "POETRY_CACHE_DIR": str(scratch / "poetry-cache"),
            "POETRY_CONFIG_DIR": str(scratch / "poetry-config"),
            "POETRY_DATA_DIR": str(scratch / "poetry-data"),
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "POETRY_NO_INTERACTION": "1",
            "PDM_CACHE_DIR": str(scratch / "pdm-cache"),
            "PDM_CONFIG_FILE": str(scratch / "pdm-config.toml"),
            "PDM_CHECK_UPDATE": "false",
            "PDM_NON_INTERACTIVE": "1",
        }
    )
    env.pop("PIP_NO_CACHE_DIR", None)
    env.update(extra or {})
    return env


def run_tool(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> ToolRun:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return ToolRun(command, done.returncode, done.stdout + done.stderr)


def make_venv(project: Path, world: DeployWorld, scenario: Scenario, env: dict[str, str]) -> Path:
    """project/.venv, which the tools install into; upstream's demo-six 1.0 already in it for the
    upstream-installed cells. Returns its python."""
    uv = find_uv_bin()
    venv = project / ".venv"
    subprocess.run(
        [uv, "venv", "-q", "--no-config", "--python", sys.executable, str(venv)],
        check=True,
        env=env,
        timeout=120,
    )
    python = venv / "bin" / "python"
    if scenario == "upstream-installed":
        upstream = ["--index-url", world.pypi_url, f"{HOTFIXED}==1.0"]
        subprocess.run(
            [uv, "pip", "install", "-q", "--no-config", "--python", str(python), *upstream],
            check=True,
            env=env,
            cwd=venv,  # not the project: `uv pip` would read its [tool.uv]
            timeout=300,
        )
    return python


def pin_project(world: DeployWorld, project: Path, *extra: str) -> Run:
    """`pyhotfix pin --pyproject` as the README tells users, with the hotfix index's HTTP URL."""
    return world.cli(
        "pin",
        "--pyproject",
        project / "pyproject.toml",
        "--index-url",
        world.hotfix_url,
        *extra,
        cwd=world.app,
    )
