"""What a project's lock file says about each hotfixed package: `pin --check` fails when uv.lock,
poetry.lock or pdm.lock would install it from anywhere but the hotfix build.

A deployment installs what the lock says (`uv sync --locked`, `poetry sync`, `pdm sync`), so the
lock is the truth once there is one: a right pyproject.toml with a stale lock still installs
upstream. Each locked entry of a hotfixed package must be the hotfix version, and every file it
lists must be one of the build's files (by sha256); uv and Poetry also record the index, which must
be the hotfix index. A package the lock does not list is not installed, which is fine.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.errors import UsageError

__all__ = ["LOCK_FILES", "LockTool", "lock_problems", "locked_names"]

LockTool = Literal["uv", "poetry", "pdm"]
LOCK_FILES: dict[LockTool, str] = {"uv": "uv.lock", "poetry": "poetry.lock", "pdm": "pdm.lock"}
RELOCK: dict[LockTool, str] = {"uv": "uv lock", "poetry": "poetry lock", "pdm": "pdm lock"}
_MAX_LOCK = 64 << 20


def _read_lock(path: Path) -> list[dict[str, Any]] | None:
    """The [[package]] tables of a lock file, or None when there is no lock file."""
    if not path.exists():
        return None

    def failure(problem: ReadProblem) -> Exception:
        return UsageError(f"Cannot read {path} ({problem.kind}). Fix or remove it.")

    data = read_regular_file(path, _MAX_LOCK, failure)
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"{path} is not a valid lock file ({exc}). Run `{RELOCK[_tool_of(path)]}` again."
        ) from exc
    packages = parsed.get("package", [])
    return [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []


def _tool_of(path: Path) -> LockTool:
    return next(tool for tool, name in LOCK_FILES.items() if name == path.name)


def locked_names(directory: Path, tool: LockTool) -> frozenset[str] | None:
    """The package names the tool's lock file lists; None without a lock file."""
    packages = _read_lock(directory / LOCK_FILES[tool])
    if packages is None:
        return None
    return frozenset(canonicalize_name(str(p.get("name", ""))) for p in packages)


def lock_problems(directory: Path, tool: LockTool, deployment: Deployment) -> tuple[str, ...]:
    """One sentence per locked entry of a hotfixed package that is not the hotfix build."""
    path = directory / LOCK_FILES[tool]
    packages = _read_lock(path)
    if packages is None:
        return ()
    problems: list[str] = []
    for package in packages:
        build = deployment.get(str(package.get("name", "")))
        if build is None:
            continue
        wrong = _wrong(package, tool, build, deployment)
        if wrong:
            problems.append(
                f"{path.name} installs {build.name} {package.get('version', '?')} {wrong}, not "
                f"the hotfix {build.hotfix_version}: once `pyhotfix pin --pyproject` has pinned "
                f"pyproject.toml, run `{RELOCK[tool]}` and commit {path.name}."
            )
    return tuple(problems)


def _wrong(
    package: dict[str, Any], tool: LockTool, build: HotfixBuild, deployment: Deployment
) -> str:
    """Why this locked entry is not the hotfix build ("" when it is)."""
    try:
        if Version(str(package.get("version", ""))) != Version(build.hotfix_version):
            return f"from {_origin(package, tool)}"
    except InvalidVersion:
        return f"from {_origin(package, tool)}"
    origin = _origin(package, tool)
    if tool != "pdm" and not _is_hotfix_index(origin, deployment):
        return f"from {origin}"
    allowed = {f.sha256 for f in build.files}
    hashes = _hashes(package, tool)
    if not hashes:
        return "with no file hashes"
    foreign = [h for h in hashes if h not in allowed]
    if foreign:
        return f"with files that are not the hotfix build (sha256 {foreign[0][:12]}…)"
    return ""


def _is_hotfix_index(origin: str, deployment: Deployment) -> bool:
    index = deployment.index_url.rstrip("/")
    return origin.rstrip("/") == index or origin.startswith(deployment.index_url)


def _origin(package: dict[str, Any], tool: LockTool) -> str:
    source = package.get("source")
    if not isinstance(source, dict):
        return "the default index"
    if tool == "uv":
        for key in ("registry", "url", "path", "git", "directory", "editable"):
            if key in source:
                return str(source[key])
        return "an unknown source"
    if "url" in source:
        return str(source["url"])
    return str(source.get("type", "an unknown source"))


def _hashes(package: dict[str, Any], tool: LockTool) -> list[str]:
    entries: list[Any] = []
    if tool == "uv":
        sdist = package.get("sdist")
        entries = [sdist] if isinstance(sdist, dict) else []
        wheels = package.get("wheels")
        entries += wheels if isinstance(wheels, list) else []
    else:
        files = package.get("files")
        entries = files if isinstance(files, list) else []
    hashes: list[str] = []
    for entry in entries:
        value = entry.get("hash") if isinstance(entry, dict) else None
        if isinstance(value, str) and value.startswith("sha256:"):
            hashes.append(value.removeprefix("sha256:"))
        elif isinstance(value, str):
            hashes.append(value)  # another algorithm: never one of the build's sha256
    return hashes
