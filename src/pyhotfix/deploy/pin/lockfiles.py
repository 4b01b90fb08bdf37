"""`pin --check` on a project's lock file: it fails when uv.lock, poetry.lock or pdm.lock would
install a hotfixed package from anywhere but the hotfix build.

A right pyproject.toml with a stale lock still installs upstream. Each locked entry of a hotfixed
package must be the hotfix version, and every file it lists must be one of the build's files (by
sha256); uv and Poetry also record the index, which must be the hotfix index. A package the lock
does not list is not installed, which is fine. The lock files are read by `deploy.lockfiles`.
"""

from __future__ import annotations

from pathlib import Path

from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.lockfiles import LOCK_FILES, RELOCK, LockedEntry, LockTool, locked_entries

__all__ = ["lock_problems", "locked_names"]


def locked_names(directory: Path, tool: LockTool) -> frozenset[str] | None:
    """The package names the tool's lock file lists; None without a lock file."""
    entries = locked_entries(directory, tool)
    return None if entries is None else frozenset(e.name for e in entries)


def lock_problems(directory: Path, tool: LockTool, deployment: Deployment) -> tuple[str, ...]:
    """One sentence per locked entry of a hotfixed package that is not the hotfix build."""
    name = LOCK_FILES[tool]
    problems: list[str] = []
    for entry in locked_entries(directory, tool) or ():
        build = deployment.get(entry.name)
        if build is None:
            continue
        wrong = _wrong(entry, tool, build, deployment)
        if wrong:
            problems.append(
                f"{name} installs {build.name} {entry.version or '?'} {wrong}, not the hotfix "
                f"{build.hotfix_version}: once `pyhotfix pin --pyproject` has pinned "
                f"pyproject.toml, run `{RELOCK[tool]}` and commit {name}."
            )
    return tuple(problems)


def _wrong(entry: LockedEntry, tool: LockTool, build: HotfixBuild, deployment: Deployment) -> str:
    """Why this locked entry is not the hotfix build ("" when it is)."""
    origin = f"from {entry.where or 'the default index'}"
    try:
        if Version(entry.version or "") != Version(build.hotfix_version):
            return origin
    except InvalidVersion:
        return origin
    # PDM records no index (only file URLs): there the hashes alone tell.
    if tool != "pdm" and not _is_hotfix_index(entry.where or "", deployment):
        return origin
    if not entry.sha256s:
        return "with no file hashes"
    allowed = {f.sha256 for f in build.files}
    foreign = [h for h in entry.sha256s if h not in allowed]
    if foreign:
        return f"with files that are not the hotfix build (sha256 {foreign[0][:12]}…)"
    return ""


def _is_hotfix_index(origin: str, deployment: Deployment) -> bool:
    index = deployment.index_url.rstrip("/")
    return origin.rstrip("/") == index or origin.startswith(deployment.index_url)
