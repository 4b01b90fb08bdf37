"""What a project tool's lock file says about a hotfixed package: the version it locks, where it
takes it from (an index URL, a file), and whether its hashes are the hotfix build's. This names
where a wrong build came from; the verdict itself is always the installed bytes."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pyhotfix.deploy import HotfixBuild
from pyhotfix.deploy.verify.projects import ProjectTool
from pyhotfix.httpclient import redact

__all__ = ["LOCK_FILES", "LockedPackage", "locked_package"]

LOCK_FILES: dict[ProjectTool, str] = {
    "uv": "uv.lock",
    "poetry": "poetry.lock",
    "pdm": "pdm.lock",
    "pipenv": "Pipfile.lock",
}
_MAX_LOCK = 32 << 20


@dataclass(frozen=True)
class LockedPackage:
    lock: str  # the lock file's name
    version: str | None
    where: str | None  # an index or file URL, when the lock records one
    ours: bool  # a hash in the lock is one of the hotfix build's files

    def describe(self) -> str:
        version = f"{self.version} " if self.version else ""
        origin = f" from {redact(self.where)}" if self.where else ""
        built = ", the hotfix build's sha256" if self.ours else ", not the hotfix build's sha256"
        return f"{self.lock} locks {version.strip()}{origin}{built}"


def locked_package(tool: ProjectTool, project: Path, build: HotfixBuild) -> LockedPackage | None:
    """The lock's entry for `build.name`, or None when the lock is missing, unreadable or silent."""
    name = LOCK_FILES.get(tool)
    if name is None:
        return None
    path = project / name
    try:
        if not path.is_file() or path.stat().st_size > _MAX_LOCK:
            return None
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if tool == "pipenv" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    ours = {f.sha256 for f in build.files}
    found = {
        "uv": _uv,
        "poetry": _poetry,
        "pdm": _pdm,
        "pipenv": _pipenv,
    }[tool](data, build.name)
    if found is None:
        return None
    version, where, hashes = found
    return LockedPackage(name, version, where, bool(ours & set(hashes)))


_Found = tuple[str | None, str | None, list[str]]


def _packages(data: dict[str, Any], name: str) -> Iterable[dict[str, Any]]:
    packages = data.get("package")
    if not isinstance(packages, list):
        return []
    return [
        p
        for p in packages
        if isinstance(p, dict) and canonicalize_name(str(p.get("name", ""))) == name
    ]


def _sha256s(entries: Any) -> list[str]:
    out: list[str] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        value = entry.get("hash") if isinstance(entry, dict) else entry
        if isinstance(value, str) and value.startswith("sha256:"):
            out.append(value.removeprefix("sha256:"))
    return out


def _uv(data: dict[str, Any], name: str) -> _Found | None:
    for package in _packages(data, name):
        source = package.get("source")
        where = None
        if isinstance(source, dict):
            where = next(
                (str(source[k]) for k in ("registry", "url", "path", "git") if k in source), None
            )
        hashes = _sha256s(package.get("sdist")) + _sha256s(package.get("wheels"))
        return str(package.get("version")), where, hashes
    return None


def _poetry(data: dict[str, Any], name: str) -> _Found | None:
    for package in _packages(data, name):
        source = package.get("source")
        where = "https://pypi.org/simple/"  # Poetry records no source for PyPI
        if isinstance(source, dict):
            where = str(source.get("url") or source.get("reference") or where)
        return str(package.get("version")), where, _sha256s(package.get("files"))
    return None


def _pdm(data: dict[str, Any], name: str) -> _Found | None:
    for package in _packages(data, name):
        files = package.get("files")
        urls = (
            [f["url"] for f in files if isinstance(f, dict) and "url" in f]
            if isinstance(files, list)
            else []
        )
        where = str(urls[0]).rsplit("/", 1)[0] + "/" if urls else None
        return str(package.get("version")), where, _sha256s(files)
    return None


def _pipenv(data: dict[str, Any], name: str) -> _Found | None:
    default = data.get("default")
    if not isinstance(default, dict):
        return None
    for key, entry in default.items():
        if canonicalize_name(str(key)) != name or not isinstance(entry, dict):
            continue
        version = str(entry.get("version", "")).removeprefix("==") or None
        meta = data.get("_meta")
        sources = meta.get("sources") if isinstance(meta, dict) else None
        index = entry.get("index")
        where = None
        if isinstance(sources, list):
            named = [s for s in sources if isinstance(s, dict)]
            chosen = next((s for s in named if s.get("name") == index), None)
            # Without an index= entry pipenv searches its sources, the first one first.
            chosen = chosen or (named[0] if named and index is None else None)
            where = str(chosen.get("url")) if chosen else None
        hashes = entry.get("hashes")
        return version, where, _sha256s(hashes if isinstance(hashes, list) else [])
    return None
