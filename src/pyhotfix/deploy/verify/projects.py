"""Which tool deploys a project directory: its lock file, else its configuration tables.

A lock file decides (it is what the deployment installs from): `uv.lock` → uv, `poetry.lock` →
Poetry, `pdm.lock` → PDM, `Pipfile.lock` → Pipenv. Without one, the configuration: a `Pipfile`,
`[tool.poetry]`, `[tool.pdm]`, `[tool.uv]`, the poetry-core backend (`deploy.lockfiles`). Anything
else is a plain project that pip installs (`pip install DIR`). Two lock files are ambiguous:
`--tool` decides.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.deploy.lockfiles import configured_tool, lock_tool
from pyhotfix.errors import UsageError

__all__ = ["PROJECT_TOOLS", "TOOLS", "ProjectTool", "detect_tool", "read_pyproject"]

ProjectTool = Literal["pip", "uv", "poetry", "pipenv", "pdm"]
TOOLS: tuple[ProjectTool, ...] = ("pip", "uv", "poetry", "pipenv", "pdm")
PROJECT_TOOLS: tuple[ProjectTool, ...] = ("uv", "poetry", "pipenv", "pdm")  # lock + sync tools

_MAX_PYPROJECT = 4 << 20


def read_pyproject(project: Path) -> dict[str, Any]:
    """The project's pyproject.toml as a table ({} when there is none)."""
    path = project / "pyproject.toml"
    if not path.exists():
        return {}

    def failure(problem: ReadProblem) -> Exception:
        why = problem.error.strerror if problem.error is not None else problem.kind
        return UsageError(f"Cannot read {path}: {why}. Fix the file or name the tool with --tool.")

    data = read_regular_file(path, _MAX_PYPROJECT, failure)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"{path} is not valid TOML ({exc}); the deployment's tool could not read it either. "
            "Fix the file, then verify again."
        ) from exc


def detect_tool(project: Path) -> ProjectTool:
    def several(names: list[str]) -> Exception:
        return UsageError(
            f"{project} has several lock files ({', '.join(names)}), so which tool deploys it is "
            "not clear. Name it: --tool uv|poetry|pipenv|pdm."
        )

    found = lock_tool(project, several)
    if found is None and not (project / "Pipfile").is_file():
        found = configured_tool(read_pyproject(project), project)
    elif found is None:
        found = "pipenv"
    return found or "pip"
