"""Choosing the upstream wheels of exactly one release, optionally only those whose platform tag
matches one of the hotfix's `platforms` globs (`manylinux*`, `macosx*`, `win_amd64`, `any`)."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion

from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import redact
from pyhotfix.simpleapi import DistFile
from pyhotfix.upstream.choose import parse_version

__all__ = ["choose_wheels", "platform_matches", "platform_tags"]


def platform_tags(filename: str) -> frozenset[str]:
    """The platform tags a wheel filename names (`any` for pure wheels); empty if no wheel."""
    try:
        return frozenset(tag.platform for tag in parse_wheel_filename(filename)[3])
    except (InvalidWheelFilename, InvalidVersion):
        return frozenset()


def platform_matches(filename: str, platforms: Sequence[str]) -> bool:
    """Whether a platform tag of the wheel matches a glob of `platforms` (none: every wheel)."""
    return not platforms or any(
        fnmatchcase(tag, glob) for tag in platform_tags(filename) for glob in platforms
    )


def choose_wheels(
    files: Sequence[DistFile],
    name: str,
    version: str,
    platforms: Sequence[str],
    index_url: str,
) -> list[DistFile]:
    """The wheels of exactly `version` (PEP 440 equality) whose platform matches a glob of
    `platforms` (none: every wheel), by filename; yanked ones included, as for sdists (pinned
    exactly, a yanked release stays installable). UpstreamError when none are left."""
    project = canonicalize_name(name)
    wanted = parse_version(version)
    wheels: dict[str, DistFile] = {}
    for f in files:
        if not f.filename.endswith(".whl"):
            continue
        try:
            found_name, found_version, _, _ = parse_wheel_filename(f.filename)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if found_name == project and found_version == wanted:
            wheels.setdefault(f.filename, f)
    where = f"{project} {version} on {redact(index_url)}"
    if not wheels:
        raise UpstreamError(
            f'no wheels of {where}: a hotfix with from = "wheels" patches the wheels upstream '
            "published, and this release has none. Check the version, or build from the sdist "
            '(remove from = "wheels").'
        )
    chosen = [wheels[n] for n in sorted(wheels) if platform_matches(n, platforms)]
    if not chosen:
        tags = sorted({tag for n in wheels for tag in platform_tags(n)})
        raise UpstreamError(
            f"none of the {len(wheels)} wheels of {where} has a platform tag matching "
            f"platforms = {list(platforms)}; their platform tags are: {', '.join(tags)}. "
            'Fix the globs in platforms (they match whole tags, e.g. "manylinux*").'
        )
    return chosen
