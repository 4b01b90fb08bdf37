"""Unpack an sdist safely: nothing is ever written outside the destination directory."""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pyhotfix.errors import UnsafeArchiveError


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds that keep a hostile archive from filling the disk."""

    max_members: int = 20_000
    max_total_bytes: int = 1 << 30  # 1 GiB uncompressed
    max_member_bytes: int = 512 << 20


@dataclass(frozen=True)
class SourceTree:
    """An unpacked source tree; `root` is the project directory (the one holding pyproject/setup.py)."""

    root: Path


def unpack_sdist(archive: Path, dest: Path, limits: UnpackLimits = UnpackLimits()) -> SourceTree:
    """Unpack a .tar.gz / .tar / .zip sdist into `dest` and return its single top-level directory.

    Absolute paths, `..`, links pointing outside, device files and oversize archives are refused
    before anything is written (tarfile's "data" filter enforces the path rules per member).
    """
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name
    try:
        if zipfile.is_zipfile(archive):
            _unpack_zip(archive, dest, limits)
        else:
            _unpack_tar(archive, dest, limits)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise UnsafeArchiveError(
                f"{name} is unsafe to unpack and was refused: {exc}. An sdist must only contain "
                "regular files and directories inside its own top-level directory."
            ) from exc
        raise UnsafeArchiveError(f"{name} could not be unpacked: {exc}") from exc
    entries = [p for p in dest.iterdir()]
    if len(entries) != 1 or not entries[0].is_dir():
        raise UnsafeArchiveError(
            f"{name} does not have exactly one top-level directory (found: "
            f"{', '.join(sorted(p.name for p in entries)) or 'nothing'}); it is not a valid sdist."
        )
    return SourceTree(root=entries[0])


def _check_bounds(name: str, sizes: list[int], limits: UnpackLimits) -> None:
    if len(sizes) > limits.max_members:
        raise UnsafeArchiveError(
            f"{name} has {len(sizes)} members, more than the limit of {limits.max_members}; refused."
        )
    if sizes and max(sizes) > limits.max_member_bytes:
        raise UnsafeArchiveError(
            f"{name} has a member over {limits.max_member_bytes} bytes; refused."
        )
    if sum(sizes) > limits.max_total_bytes:
        raise UnsafeArchiveError(
            f"{name} unpacks to {sum(sizes)} bytes, more than the limit of {limits.max_total_bytes}; refused."
        )


def _unpack_tar(archive: Path, dest: Path, limits: UnpackLimits) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        _check_bounds(archive.name, [m.size for m in members], limits)
        for member in members:
            # Checked here, not only by the data filter: it would silently strip a leading "/".
            _check_member_path(member.name)
            if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                raise tarfile.FilterError(f"{member.name!r} is a device or fifo")
            if member.issym() or member.islnk():
                # The data filter only checks the link target; a hardlink to a file outside is
                # refused there, but we also refuse any link whose target escapes the archive root.
                _check_inside(member.name, member.linkname, member.issym())
        tar.extractall(dest, filter="data")


def _check_member_path(name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise tarfile.FilterError(f"{name!r} points outside the destination")


def _check_inside(member: str, target: str, relative_to_member: bool) -> None:
    base = PurePosixPath(member).parent if relative_to_member else PurePosixPath()
    if PurePosixPath(target).is_absolute():
        raise tarfile.FilterError(f"{member!r} links to an absolute path {target!r}")
    depth = 0
    for part in (base / target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise tarfile.FilterError(f"{member!r} links outside the archive ({target!r})")


def _unpack_zip(archive: Path, dest: Path, limits: UnpackLimits) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        _check_bounds(archive.name, [i.file_size for i in infos], limits)
        root = dest.resolve()
        for info in infos:
            _check_member_path(info.filename)
            path = PurePosixPath(info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode not in (0, 0o100000, 0o040000):  # only regular files and directories
                raise tarfile.FilterError(f"{info.filename!r} is not a regular file")
            if not (root / path).resolve().is_relative_to(root):
                raise tarfile.FilterError(f"{info.filename!r} points outside the destination")
        zf.extractall(dest)
