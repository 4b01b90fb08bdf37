"""Which tool deploys a project directory: its lock file, else its configuration tables.

A lock file decides (it is what the deployment installs from): `uv.lock` → uv, `poetry.lock` →
Poetry, `pdm.lock` → PDM, `Pipfile.lock` → Pipenv. Without one, the configuration: a `Pipfile`,
`[tool.uv]`, `[tool.poetry]` (or the poetry-core backend), `[tool.pdm]`. Anything else is a plain
project that pip installs (`pip install DIR`). Two lock files are ambiguous: `--tool` decides.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import UsageError

__all__ = ["PROJECT_TOOLS", "TOOLS", "ProjectTool", "detect_tool", "read_pyproject"]

ProjectTool = Literal["pip", "uv", "poetry", "pipenv", "pdm"]
TOOLS: tuple[ProjectTool, ...] = ("pip", "uv", "poetry", "pipenv", "pdm")
PROJECT_TOOLS: tuple[ProjectTool, ...] = ("uv", "poetry", "pipenv", "pdm")  # lock + sync tools

_LOCKS: tuple[tuple[str, ProjectTool], ...] = (
    ("uv.lock", "uv"),
    ("poetry.lock", "poetry"),
    ("pdm.lock", "pdm"),
    ("Pipfile.lock", "pipenv"),
)
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
    locks = [(name, tool) for name, tool in _LOCKS if (project / name).is_file()]
    if len(locks) > 1:
        found = ", ".join(name for name, _ in locks)
        raise UsageError(
            f"{project} has several lock files ({found}), so which tool deploys it is not clear. "
            "Name it: --tool uv|poetry|pipenv|pdm."
        )
    if locks:
        return locks[0][1]
    if (project / "Pipfile").is_file():
        return "pipenv"
    data = read_pyproject(project)
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        return "pip"
    build_system = data.get("build-system")
    backend = str(build_system.get("build-backend", "")) if isinstance(build_system, dict) else ""
    if "uv" in tool:
        return "uv"
    if "poetry" in tool or backend.startswith("poetry."):
        return "poetry"
    if "pdm" in tool:
        return "pdm"
    return "pip"
