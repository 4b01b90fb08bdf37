"""What a project tool's lock file says about a hotfixed package: the version it locks, where it
takes it from (an index URL, a file), and whether its hashes are the hotfix build's. This names
where a wrong build came from; the verdict itself is always the installed bytes. The lock files
are read by `deploy.lockfiles`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyhotfix.deploy import HotfixBuild
from pyhotfix.deploy.lockfiles import LOCK_FILES, locked_entries
from pyhotfix.deploy.verify.projects import ProjectTool
from pyhotfix.errors import PyhotfixError
from pyhotfix.httpclient import redact

__all__ = ["LOCK_FILES", "LockedPackage", "locked_package"]


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
    if tool == "pip":
        return None
    try:
        entries = locked_entries(project, tool)
    except PyhotfixError:
        return None  # the tool itself reports an unreadable lock; this only names an origin
    found = next((e for e in entries or () if e.name == build.name), None)
    if found is None:
        return None
    where = found.where
    if where is None and tool == "poetry":
        where = "https://pypi.org/simple/"  # Poetry records no source for PyPI
    ours = {f.sha256 for f in build.files}
    return LockedPackage(LOCK_FILES[tool], found.version, where, bool(ours & set(found.sha256s)))
