"""Where a distribution file installs, in words for the build table: "any", "source",
"manylinux_2_17 x86_64", "macosx 11.0 arm64", "windows amd64", from the wheel's tags."""

from __future__ import annotations

import re

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

__all__ = ["file_platform"]

# The legacy manylinux names are aliases of PEP 600 tags (PEP 600): shown once, by the new name.
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_WINDOWS_ARCH = {"win32": "x86", "win_amd64": "amd64", "win_arm64": "arm64", "win_ia64": "ia64"}


def file_platform(filename: str) -> str:
    """The platform of a wheel (or "source" for an sdist), from its filename's tags; several
    platforms (a multi-platform wheel) are joined with " + "."""
    if not filename.endswith(".whl"):
        return "source"
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return "unknown"
    shown: list[str] = []
    for platform in sorted({tag.platform for tag in tags}, key=_legacy_last):
        text = _describe(platform)
        if text not in shown:
            shown.append(text)
    return " + ".join(shown)


def _legacy_last(platform: str) -> tuple[bool, str]:
    return (platform.split("_", 1)[0] in _LEGACY_MANYLINUX, platform)


def _describe(platform: str) -> str:
    if platform == "any":
        return "any"
    if platform in _WINDOWS_ARCH:
        return f"windows {_WINDOWS_ARCH[platform]}"
    found = re.fullmatch(r"(manylinux|musllinux)_(\d+)_(\d+)_(\w+)", platform)
    if found:
        family, major, minor, arch = found.groups()
        return f"{family}_{major}_{minor} {arch}"
    found = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", platform)
    if found:
        major, minor = _LEGACY_MANYLINUX[found.group(1)]
        return f"manylinux_{major}_{minor} {found.group(2)}"
    found = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", platform)
    if found:
        return f"macosx {found.group(1)}.{found.group(2)} {found.group(3)}"
    found = re.fullmatch(r"linux_(\w+)", platform)
    if found:
        # Not repaired by auditwheel: it installs only where this machine's libraries are.
        return f"linux {found.group(1)} (not manylinux)"
    return platform
