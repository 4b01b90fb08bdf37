"""Choosing the sdist of exactly the wanted version from a project's files, and the nearby
versions to suggest when the index lacks it."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from pyhotfix.distfile import dist_kind, parse_dist_filename
from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import redact
from pyhotfix.simpleapi import DistFile
from pyhotfix.upstream.advice import CHECK_VERSION

__all__ = ["find_sdist", "parse_version"]


def parse_version(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion as exc:
        raise UpstreamError(
            f"{version!r} is not a valid version (PEP 440), so no upstream sdist can match it. "
            f"{CHECK_VERSION}"
        ) from exc


def _parse_filename(filename: str) -> tuple[NormalizedName, Version, bool] | None:
    """(project, version, is_sdist) from an sdist or wheel filename; None if it is neither."""
    if dist_kind(filename) is None:
        return None
    try:
        parsed = parse_dist_filename(filename)
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        return None
    return parsed.name, parsed.version, parsed.kind == "sdist"


def _nearest(versions: Sequence[Version], wanted: Version, count: int = 10) -> list[Version]:
    ordered = sorted(set(versions))
    i = bisect_left(ordered, wanted)
    start = max(0, min(i - count // 2, len(ordered) - count))
    return ordered[start : start + count]


def _available(versions: Sequence[Version], wanted: Version, count: int = 10) -> str:
    """The versions to show for a version the index lacks: all when few, else the `count`
    nearest to `wanted`, and always the newest (the usual answer to "which one did you mean")."""
    total = len(set(versions))
    nearest = _nearest(versions, wanted, count)
    if len(nearest) == total:
        return f"versions available: {', '.join(map(str, nearest))} (all {total})"
    newest = max(versions)
    shown = ", ".join(map(str, nearest))
    if newest not in nearest:
        return (
            f"versions available: {shown} (the {len(nearest)} nearest to {wanted} of {total}); "
            f"the newest is {newest}"
        )
    return f"versions available: {shown} (the {len(nearest)} nearest to {wanted} of {total})"


def find_sdist(files: Sequence[DistFile], name: str, version: str, index_url: str) -> DistFile:
    """The sdist of exactly `version` (PEP 440 equality). A yanked one is fine: pinned exactly,
    it stays installable (PEP 592), and a hotfix of a yanked release is a legitimate need."""
    project = canonicalize_name(name)
    wanted = parse_version(version)
    sdists: list[DistFile] = []
    same_version: list[str] = []
    seen_versions: list[Version] = []
    for f in files:
        parsed = _parse_filename(f.filename)
        if parsed is None or parsed[0] != project:
            continue
        seen_versions.append(parsed[1])
        if parsed[1] == wanted:
            same_version.append(f.filename)
            if parsed[2]:
                sdists.append(f)
    if sdists:
        # Prefer a file that is not yanked, then .tar.gz (the PEP 625 format) over .zip.
        return min(sdists, key=lambda f: (f.yanked, not f.filename.endswith(".tar.gz")))
    where = f"no sdist of {project} {version} on {redact(index_url)}"
    if same_version and all(n.endswith(".whl") for n in same_version):
        raise UpstreamError(
            f"{where}; files for that version: {', '.join(sorted(same_version))}. pyhotfix "
            "needs the sdist to build from source; this release has only wheels: patch the wheels "
            f'upstream published instead: add from = "wheels" to [hotfix.{project}] (or use '
            f"`pyhotfix add {project}=={version} --patch PATCH --from wheels`)."
        )
    if same_version:
        raise UpstreamError(
            f"{where}; files for that version: {', '.join(sorted(same_version))}. pyhotfix "
            "rebuilds from source, so it needs the sdist: pick a version that publishes one, or "
            "point [settings] upstream at an index that has it."
        )
    if seen_versions:
        raise UpstreamError(
            f"{where}; no files for that version; {_available(seen_versions, wanted)}. "
            f"{CHECK_VERSION}"
        )
    raise UpstreamError(
        f"{where}; the index lists no sdists or wheels for {project} at all. Check the project "
        "name in hotfixes.toml and [settings] upstream."
    )
