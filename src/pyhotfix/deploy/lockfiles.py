"""Project tools and their lock files: which tool deploys a project directory, and what its lock
file (uv.lock, poetry.lock, pdm.lock, Pipfile.lock) says about a package.

A deployment installs what the lock says (`uv sync --locked`, `poetry sync`, `pdm sync`,
`pipenv install --deploy`), so once there is a lock it decides: `pin --check` judges it and
`verify` names it as where a wrong build came from. One reader for both, bounded and typed.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import UsageError

__all__ = [
    "LOCK_FILES",
    "RELOCK",
    "LockTool",
    "LockedEntry",
    "configured_tool",
    "lock_tool",
    "locked_entries",
]

LockTool = Literal["uv", "poetry", "pdm", "pipenv"]
LOCK_FILES: dict[LockTool, str] = {
    "uv": "uv.lock",
    "poetry": "poetry.lock",
    "pdm": "pdm.lock",
    "pipenv": "Pipfile.lock",
}
RELOCK: dict[LockTool, str] = {
    "uv": "uv lock",
    "poetry": "poetry lock",
    "pdm": "pdm lock",
    "pipenv": "pipenv lock",
}
_MAX_LOCK = 64 << 20


def lock_tool(
    directory: Path,
    several: Callable[[list[str]], Exception],
    tools: tuple[LockTool, ...] = ("uv", "poetry", "pdm", "pipenv"),
) -> LockTool | None:
    """The tool whose lock file is in `directory` (None: none); `several(names)` is raised when
    there are more than one, since then which tool deploys the project is not clear."""
    found = [tool for tool in tools if (directory / LOCK_FILES[tool]).is_file()]
    if len(found) > 1:
        raise several([LOCK_FILES[tool] for tool in found])
    return found[0] if found else None


def configured_tool(pyproject: Mapping[str, Any], directory: Path) -> LockTool | None:
    """The tool a project's configuration names when it has no lock file: a Pipfile, then
    `[tool.poetry]`, `[tool.pdm]`, `[tool.uv]`, Poetry's build backend; None: none of them."""
    if (directory / "Pipfile").is_file():
        return "pipenv"
    tables = pyproject.get("tool")
    tool = tables if isinstance(tables, Mapping) else {}
    build_system = pyproject.get("build-system")
    backend = (
        str(build_system.get("build-backend", "")) if isinstance(build_system, Mapping) else ""
    )
    # A tool's own table first (a [tool.poetry] project may well carry a [tool.uv] table for
    # contributors), then Poetry's build backend.
    if "poetry" in tool:
        return "poetry"
    if "pdm" in tool:
        return "pdm"
    if "uv" in tool:
        return "uv"
    if backend.startswith("poetry."):
        return "poetry"
    return None


@dataclass(frozen=True)
class LockedEntry:
    """One locked package."""

    name: str  # canonical
    version: str | None
    where: str | None  # the index or file URL (or path) the lock takes it from; None: the default
    sha256s: tuple[str, ...]  # file hashes; another algorithm's digest is kept as written


def locked_entries(directory: Path, tool: LockTool) -> tuple[LockedEntry, ...] | None:
    """Every package the tool's lock file in `directory` locks; None when there is no lock file.
    An unreadable or invalid lock file is a UsageError that says how to make it again."""
    path = directory / LOCK_FILES[tool]
    if not path.exists():
        return None

    def failure(problem: ReadProblem) -> Exception:
        return UsageError(f"Cannot read {path} ({problem.kind}). Fix or remove it.")

    data = read_regular_file(path, _MAX_LOCK, failure)
    try:
        text = data.decode("utf-8")
        parsed: Any = json.loads(text) if tool == "pipenv" else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError, JSONDecodeError
        raise UsageError(
            f"{path} is not a valid lock file ({exc}). Run `{RELOCK[tool]}` again."
        ) from exc
    if not isinstance(parsed, dict):
        raise UsageError(f"{path} is not a valid lock file. Run `{RELOCK[tool]}` again.")
    if tool == "pipenv":
        return tuple(_pipenv_entries(parsed))
    packages = parsed.get("package", [])
    tables = [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []
    return tuple(_entry(p, tool) for p in tables)


def _entry(package: dict[str, Any], tool: LockTool) -> LockedEntry:
    version = package.get("version")
    source = package.get("source")
    where: str | None = None
    if tool == "uv":
        wheels = package.get("wheels")
        files: list[Any] = [package.get("sdist"), *(wheels if isinstance(wheels, list) else [])]
        if isinstance(source, dict):
            keys = ("registry", "url", "path", "git", "directory", "editable")
            where = next((str(source[k]) for k in keys if k in source), "an unknown source")
    else:
        listed = package.get("files")
        files = listed if isinstance(listed, list) else []
        if tool == "poetry" and isinstance(source, dict):
            where = str(source.get("url") or source.get("reference") or source.get("type", ""))
        elif tool == "pdm":  # PDM records no index, only each file's URL
            urls = [f["url"] for f in files if isinstance(f, dict) and "url" in f]
            where = str(urls[0]).rsplit("/", 1)[0] + "/" if urls else None
    return LockedEntry(
        name=canonicalize_name(str(package.get("name", ""))),
        version=str(version) if version is not None else None,
        where=where or None,
        sha256s=_digests(files),
    )


def _pipenv_entries(data: dict[str, Any]) -> list[LockedEntry]:
    meta = data.get("_meta")
    listed = meta.get("sources") if isinstance(meta, dict) else None
    sources = [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []
    entries: list[LockedEntry] = []
    for section in ("default", "develop"):
        packages = data.get(section)
        if not isinstance(packages, dict):
            continue
        for key, entry in packages.items():
            if not isinstance(entry, dict):
                continue
            index = entry.get("index")
            # Without index = … pipenv searches its sources, the first one first.
            chosen = next((s for s in sources if s.get("name") == index), None)
            chosen = chosen or (sources[0] if sources and index is None else None)
            where = entry.get("file") or (chosen.get("url") if chosen else None)
            version = str(entry.get("version", "")).removeprefix("==") or None
            hashes = entry.get("hashes")
            entries.append(
                LockedEntry(
                    name=canonicalize_name(str(key)),
                    version=version,
                    where=str(where) if where else None,
                    sha256s=_digests(hashes if isinstance(hashes, list) else []),
                )
            )
    return entries


def _digests(entries: list[Any]) -> tuple[str, ...]:
    digests: list[str] = []
    for entry in entries:
        value = entry.get("hash") if isinstance(entry, dict) else entry
        if isinstance(value, str):
            # "sha256:HEX" as the tools write it; another algorithm's digest is kept as written,
            # so it never equals one of a build's sha256s.
            digests.append(value.removeprefix("sha256:"))
    return tuple(digests)
