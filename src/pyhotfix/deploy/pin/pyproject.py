"""Pinning a pyproject.toml: find which tool manages the project, pin its [project] dependencies,
and write that tool's configuration only (`uvproject`, `poetry`, `pdm`); then read the tool's lock
file (`lockfiles`), which is what a deployment really installs.

The tool: its lock file (uv.lock, poetry.lock, pdm.lock) when there is one, else its [tool.*]
table (Poetry, then PDM, then uv) or Poetry's build backend; uv when nothing says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.pin.lockfiles import LOCK_FILES, LockTool, lock_problems, locked_names
from pyhotfix.deploy.pin.pdm import pin_pdm
from pyhotfix.deploy.pin.poetry import pin_poetry
from pyhotfix.deploy.pin.tomledit import PyprojectEdit, pin_project_arrays
from pyhotfix.deploy.pin.uvproject import pin_uv
from pyhotfix.deploy.pin.values import PinResult
from pyhotfix.errors import DeployError, UsageError

__all__ = ["ProjectTool", "detect_tool", "pin_pyproject"]

ProjectTool = Literal["uv", "poetry", "poetry-pep621", "pdm"]
_LOCK_OF: dict[ProjectTool, LockTool] = {
    "uv": "uv",
    "poetry": "poetry",
    "poetry-pep621": "poetry",
    "pdm": "pdm",
}
_DESCRIPTION: dict[ProjectTool, str] = {
    "uv": "a uv project",
    "poetry": "a Poetry project ([tool.poetry] dependencies)",
    "poetry-pep621": "a Poetry project ([project] dependencies)",
    "pdm": "a PDM project",
}


def detect_tool(doc: Any, directory: Path) -> ProjectTool:
    locks = [tool for tool, name in LOCK_FILES.items() if (directory / name).is_file()]
    if len(locks) > 1:
        names = " and ".join(LOCK_FILES[t] for t in locks)
        raise UsageError(
            f"{directory / 'pyproject.toml'} has both {names} beside it, so pyhotfix cannot tell "
            "which tool deploys the project. Delete the lock file of the tool you do not use, "
            "then run pin again."
        )
    tool_table = doc.get("tool")
    tables = tool_table if isinstance(tool_table, dict) else {}
    build_system = doc.get("build-system")
    backend = build_system.get("build-backend", "") if isinstance(build_system, dict) else ""
    found: LockTool
    if locks:
        found = locks[0]
    elif "poetry" in tables or str(backend).startswith("poetry."):
        found = "poetry"
    elif "pdm" in tables:
        found = "pdm"
    else:
        found = "uv"
    if found != "poetry":
        return found
    project = doc.get("project")
    # Poetry 2 reads [project] dependencies unless the project declares them dynamic.
    dynamic = project.get("dynamic") if isinstance(project, dict) else None
    if isinstance(project, dict) and not (isinstance(dynamic, list) and "dependencies" in dynamic):
        return "poetry-pep621"
    return "poetry"


def pin_pyproject(text: str, path: Path, deployment: Deployment) -> PinResult:
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises its own ParseError subclasses
        raise UsageError(f"{path} is not valid TOML: {exc}. Fix it and run pin again.") from exc
    directory = path.parent
    tool = detect_tool(doc, directory)
    edit = PyprojectEdit(doc, deployment, path, set(), [], [])
    pin_project_arrays(edit)
    if not edit.errors:
        if tool == "uv":
            pin_uv(edit)
        elif tool == "pdm":
            pin_pdm(edit)
        else:
            pin_poetry(edit, tool == "poetry-pep621", locked_names(directory, "poetry"))
    if edit.errors:
        raise DeployError("\n".join(edit.errors))
    problems = lock_problems(directory, _LOCK_OF[tool], deployment)
    new_text = tomlkit.dumps(doc)
    changed = new_text != text
    notes = (f"{path.name} is {_DESCRIPTION[tool]}: pin wrote that tool's configuration.",)
    return PinResult(
        path, new_text, changed, tuple(edit.changes), notes if changed else (), problems=problems
    )
