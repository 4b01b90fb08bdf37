"""What `status` needs for a wheel-mode hotfix: one wheel per newer release to judge the series
against, and a wheel's installed Python files as a source archive (one top-level directory), so
the series machinery that reads sdists (`lifecycle.series`) reads wheels the same way."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pyhotfix.manifest import SourceMode
from pyhotfix.simpleapi import DistFile
from pyhotfix.treeremove import temporary_directory
from pyhotfix.upstream import Cache, fetch_sdist
from pyhotfix.wheelmode.apply import tree_members
from pyhotfix.wheelmode.archive import member_mode, open_wheel
from pyhotfix.wheelmode.choose import platform_matches
from pyhotfix.wheelmode.fetch import fetch_wheels

if TYPE_CHECKING:
    import httpx

__all__ = ["fetch_upstream_source", "newer_wheel_releases", "wheel_source_archive"]


def newer_wheel_releases(
    files: Sequence[DistFile], name: str, version: str, platforms: Sequence[str], *, pre: bool
) -> list[tuple[str, DistFile | None]]:
    """(version, a wheel matching `platforms` or None) for each release newer than `version`
    with a file that is not yanked, oldest first; the wheel is the first such by filename."""
    project = canonicalize_name(name)
    base = Version(version)
    by_version: dict[Version, list[DistFile]] = {}
    for f in files:
        if f.filename.endswith((".tar.gz", ".zip")):
            found = _sdist_version(f.filename, project)
            if found is not None and found > base and not f.yanked:
                by_version.setdefault(found, [])
            continue
        try:
            wheel_name, found, _, _ = parse_wheel_filename(f.filename)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if wheel_name != project or found <= base or found.local is not None or f.yanked:
            continue
        by_version.setdefault(found, [])
        if platform_matches(f.filename, platforms):
            by_version[found].append(f)
    return [
        (str(v), min(by_version[v], key=lambda f: f.filename) if by_version[v] else None)
        for v in sorted(by_version)
        if pre or not v.is_prerelease
    ]


def _sdist_version(filename: str, project: str) -> Version | None:
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    try:
        found_name, found = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion):
        return None
    return found if found_name == project and found.local is None else None


def wheel_source_archive(wheel: Path, filename: str, dest: Path) -> Path:
    """Write the Python files `wheel` installs (as `patch_tree` patches them) into the tar
    `dest`, under one top-level directory; the wheel is checked as in `open_wheel` first."""
    with open_wheel(wheel, filename) as (zf, layout), tarfile.open(dest, "w") as tar:
        top = filename.removesuffix(".whl")
        for info in tree_members(layout):
            entry = tarfile.TarInfo(f"{top}/{info.filename}")
            entry.size = info.file_size
            entry.mode = 0o755 if member_mode(info) & 0o111 else 0o644
            entry.mtime = layout.newest_mtime
            with zf.open(info) as data:
                tar.addfile(entry, data)
    return dest


def fetch_upstream_source(
    index_url: str,
    name: str,
    version: str,
    source: SourceMode,
    platforms: Sequence[str],
    cache: Cache,
    client_factory: Callable[[str], httpx.Client],
) -> tuple[Path, str]:
    """(archive, its display name) of the upstream release a hotfix's patches apply to, for
    `edit` and `rebase`: the sdist, or in wheel mode the Python files of its first wheel
    matching `platforms` as an sdist-shaped tar (kept in the cache, deterministic)."""
    if source == "sdist":
        sdist = fetch_sdist(index_url, name, version, cache, client_factory)
        return sdist.path, sdist.filename
    wheel = fetch_wheels(index_url, name, version, platforms, cache, client_factory)[0]
    with temporary_directory("pyhotfix-wheel-source-") as tmp:
        archive = wheel_source_archive(wheel.path, wheel.filename, tmp / "source.tar")
        return cache.put_file(archive)[1], wheel.filename
