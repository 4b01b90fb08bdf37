"""Reading an upstream wheel as hostile input: its members checked (names, kinds, sizes, one
.dist-info that matches the filename) before anything is extracted or copied, and what the
members are (installed files, compiled modules, the .dist-info and .data directories)."""

from __future__ import annotations

import calendar
import contextlib
import re
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pyhotfix.errors import UnsafeArchiveError
from pyhotfix.unpack import UnpackLimits

__all__ = [
    "WheelLayout",
    "compiled_module_source",
    "is_compiled_module",
    "member_mode",
    "open_wheel",
]

# Files the interpreter loads as native code: never patched, and they shadow a .py of their name.
_COMPILED = re.compile(r"\.(so|pyd|dylib|dll)$")
# md.cpython-311-x86_64-linux-gnu.so, md.abi3.so, md.cp311-win_amd64.pyd, md.so → md.py
_LIMITS = UnpackLimits()  # the sdist limits: members, sizes, name length and depth
_EXTENSION_MODULE = re.compile(r"^(?P<stem>[^./]+)(\.[^/]*)?\.(so|pyd)$")


@dataclass(frozen=True)
class WheelLayout:
    """What a checked wheel holds: its file members in archive order (no directory entries)."""

    filename: str
    members: tuple[zipfile.ZipInfo, ...]
    dist_info: str  # "name-1.0.dist-info", the directory the filename names
    newest_mtime: int  # newest member time (zip times read as UTC), for SOURCE_DATE_EPOCH

    @property
    def data_dir(self) -> str:
        return self.dist_info.removesuffix(".dist-info") + ".data"

    def installed(self) -> list[zipfile.ZipInfo]:
        """Members outside the .dist-info directory (the files the wheel installs)."""
        return [m for m in self.members if not m.filename.startswith(self.dist_info + "/")]


def is_compiled_module(member: str) -> bool:
    return bool(_COMPILED.search(member))


def compiled_module_source(member: str) -> str | None:
    """The .py path an extension module member shadows (pkg/md.cpython-311-….so → pkg/md.py)."""
    directory, _, base = member.rpartition("/")
    found = _EXTENSION_MODULE.match(base)
    if found is None:
        return None
    return (directory + "/" if directory else "") + found["stem"] + ".py"


def member_mode(info: zipfile.ZipInfo) -> int:
    """The member's permission bits (0o644 when the zip was not made on unix)."""
    return (info.external_attr >> 16) & 0o777 if info.create_system == 3 else 0o644


@contextmanager
def open_wheel(
    path: Path, filename: str, limits: UnpackLimits = _LIMITS
) -> Iterator[tuple[zipfile.ZipFile, WheelLayout]]:
    """The wheel at `path` (published as `filename`), opened and checked; UnsafeArchiveError
    naming the wheel when it is unreadable or breaks a rule."""
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf, _layout(zf, filename, limits)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UnsafeArchiveError(
            f"{filename} could not be read as a wheel: {exc}. It is not a readable zip archive "
            "(damaged or not a wheel); nothing from it was used."
        ) from exc


def _refuse(filename: str, problem: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{filename} is unsafe or invalid and was refused: {problem}. Nothing from it was "
        "patched or published. Check where the wheel comes from, and report it to the project "
        "if it is the published file."
    )


def _layout(zf: zipfile.ZipFile, filename: str, limits: UnpackLimits) -> WheelLayout:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise _refuse(filename, f"it has more than {limits.max_members} members (the limit)")
    members: list[zipfile.ZipInfo] = []
    files: set[str] = set()
    dirs: set[str] = set()
    total = 0
    newest = 0
    for info in infos:
        name = info.filename
        shown = repr(name[:200])
        kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
        is_dir = name.endswith("/") or kind == stat.S_IFDIR
        parts = name.rstrip("/").split("/") if is_dir else name.split("/")
        if (
            not name
            or name.startswith("/")
            or "\\" in name
            or "\x00" in name
            or any(p in ("", ".", "..") for p in parts)
            or len(name) > limits.max_path_chars
            or len(parts) > limits.max_depth
        ):
            raise _refuse(filename, f"the member name {shown} is not a safe relative path")
        if info.flag_bits & 0x1:
            raise _refuse(filename, f"the member {shown} is encrypted")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(filename, f"the member {shown} is a link, device or fifo")
        path = "/".join(parts)
        ancestors = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if path in files or (not is_dir and path in dirs) or ancestors & files:
            raise _refuse(filename, f"the member {shown} is listed twice or as file and directory")
        dirs |= ancestors
        with contextlib.suppress(OverflowError, ValueError):  # zip times carry no zone: UTC
            newest = max(newest, calendar.timegm((*info.date_time, 0, 0, 0)))
        if is_dir:
            dirs.add(path)
            continue
        if info.file_size > limits.max_member_bytes:
            raise _refuse(filename, f"the member {shown} is {info.file_size} bytes (the limit)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _refuse(filename, f"it unpacks to more than {limits.max_total_bytes} bytes")
        files.add(path)
        members.append(info)
    return WheelLayout(filename, tuple(members), _dist_info(filename, files), newest)


def _dist_info(filename: str, files: set[str]) -> str:
    """The one top-level NAME-VERSION.dist-info directory, matching the filename."""
    try:
        want_name, want_version, _, _ = parse_wheel_filename(filename)
    except ValueError as exc:
        raise _refuse(filename, f"its filename is not a valid wheel filename ({exc})") from None
    found: list[str] = []
    for top in sorted({f.split("/", 1)[0] for f in files if "/" in f}):
        if not top.endswith(".dist-info"):
            continue
        name, _, version = top.removesuffix(".dist-info").rpartition("-")
        try:
            if canonicalize_name(name) == want_name and Version(version) == want_version:
                found.append(top)
        except InvalidVersion:
            continue
    if len(found) != 1:
        raise _refuse(
            filename,
            f"expected one {want_name}-{want_version}.dist-info directory, found {len(found)}",
        )
    for required in ("METADATA", "RECORD", "WHEEL"):
        if f"{found[0]}/{required}" not in files:
            raise _refuse(filename, f"{found[0]} has no {required}")
    return found[0]
