"""Distribution files (sdists and wheels): filenames, core metadata, sha256 and size.

What the index, the upload target, the build and the lifecycle commands ask of a file on disk,
answered once: which project and version its filename names (`parse_dist_filename`), its core
metadata read bounded (`wheel_metadata`, `sdist_pkg_info`) and checked against the filename
(`check_metadata`), and its sha256 and size (`file_sha256_size`, the one file hashing loop).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from packaging.utils import (
    InvalidName,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pyhotfix.errors import PublishError

__all__ = [
    "METADATA_MAX",
    "DistFilename",
    "DistKind",
    "canonical_project",
    "check_metadata",
    "dist_kind",
    "file_sha256_size",
    "parse_dist_filename",
    "sdist_pkg_info",
    "stream_sha256_size",
    "wheel_metadata",
]

METADATA_MAX = 16 << 20  # refuse absurd METADATA / PKG-INFO members (zip bombs)
_CHUNK = 1 << 20

DistKind = Literal["sdist", "wheel"]


@dataclass(frozen=True)
class DistFilename:
    """What a distribution's filename says."""

    kind: DistKind
    name: NormalizedName
    version: Version


def dist_kind(filename: str) -> DistKind | None:
    """ "wheel" for .whl, "sdist" for .tar.gz / .zip (PEP 625), else None."""
    if filename.endswith(".whl"):
        return "wheel"
    if filename.endswith((".tar.gz", ".zip")):
        return "sdist"
    return None


def parse_dist_filename(filename: str) -> DistFilename:
    """The project and version a wheel or sdist filename names.

    Raises packaging's InvalidWheelFilename / InvalidSdistFilename (both ValueError) for a
    filename that is neither a valid wheel nor a valid sdist name.
    """
    if filename.endswith(".whl"):
        name, version, _build, _tags = parse_wheel_filename(filename)
        return DistFilename("wheel", name, version)
    name, version = parse_sdist_filename(filename)
    return DistFilename("sdist", name, version)


def file_sha256_size(path: Path) -> tuple[str, int]:
    """(sha256 hex digest, size in bytes) of the file at `path`, read in chunks."""
    with path.open("rb") as f:
        return stream_sha256_size(f)


def stream_sha256_size(fileobj: BinaryIO) -> tuple[str, int]:
    """(sha256 hex digest, size) of what is left to read in `fileobj`, in bounded memory."""
    h = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def wheel_metadata(
    source: Path | io.BytesIO, filename: str, canon: NormalizedName, version: Version
) -> bytes:
    import zipfile  # here: a no-op build imports this module but reads no archive

    try:
        with zipfile.ZipFile(source) as zf:
            found = [
                i
                for i in zf.infolist()
                if i.filename.count("/") == 1 and i.filename.endswith(".dist-info/METADATA")
            ]
            # Several .dist-info dirs are invalid but exist in the wild; take the one the
            # filename names.
            chosen = (
                found
                if len(found) < 2
                else [i for i in found if dist_info_matches(i.filename, canon, version)]
            )
            if len(chosen) != 1:
                raise PublishError(
                    f"{filename} is not a valid wheel: expected one <name>-<version>.dist-info/"
                    f"METADATA, found {len(found)}."
                )
            if chosen[0].file_size > METADATA_MAX:
                raise PublishError(f"{filename} is not a valid wheel: its METADATA is too large.")
            return zf.read(chosen[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PublishError(f"{filename} is not a valid wheel (zip): {exc}.") from exc


def dist_info_matches(member: str, canon: NormalizedName, version: Version) -> bool:
    stem = member.split("/", 1)[0].removesuffix(".dist-info")
    name, _, ver = stem.rpartition("-")
    try:
        return canonicalize_name(name) == canon and Version(ver) == version
    except InvalidVersion:
        return False


def sdist_pkg_info(source: Path | io.BytesIO, filename: str) -> bytes | None:
    """The sdist's top-level PKG-INFO, or None if it has none (legal for old sdists)."""
    import tarfile
    import zipfile

    def top_level(name: str) -> bool:
        parts = name.removeprefix("./").split("/")
        return len(parts) == 2 and parts[1] == "PKG-INFO"

    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    if top_level(info.filename) and info.file_size <= METADATA_MAX:
                        return zf.read(info)
            return None
        opened = source.open("rb") if isinstance(source, Path) else contextlib.nullcontext(source)
        with opened as fileobj, tarfile.open(fileobj=fileobj, mode="r:gz") as tar:
            # Iterate, not getmembers(): PKG-INFO usually comes early, so most of a large
            # sdist is never decompressed.
            for member in tar:
                if member.isfile() and top_level(member.name) and member.size <= METADATA_MAX:
                    f = tar.extractfile(member)
                    return None if f is None else f.read()
        return None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PublishError(f"{filename} is not a valid sdist archive: {exc}.") from exc


def check_metadata(
    text: bytes, filename: str, canon: NormalizedName, version: Version
) -> str | None:
    """Name and Version in the metadata must match the filename (pip and uv refuse a mismatch
    at install time, far from here); returns Requires-Python."""
    fields = _core_fields(text)
    name, ver = fields.get("name"), fields.get("version")
    try:
        ok = name is not None and ver is not None
        ok = ok and canonicalize_name(str(name)) == canon and Version(str(ver)) == version
    except InvalidVersion:
        ok = False
    if not ok:
        raise PublishError(
            f"{filename}: its metadata says {name} {ver}, but its filename says {canon} {version}. "
            "Installers reject such a file; rebuild it so both agree."
        )
    return fields.get("requires-python") or None


_CORE_FIELDS = frozenset({"name", "version", "requires-python"})


def _core_fields(text: bytes) -> dict[str, str]:
    """Name, Version and Requires-Python from a METADATA / PKG-INFO header block (RFC 822 style,
    continuation lines folded). packaging.metadata.parse_email reads the same but builds a whole
    email.message per call, a third of the cost of inspecting a file; these three are all we need.
    """
    head = text.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields: dict[str, str] = {}
    current: str | None = None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t"):
            if current is not None:
                fields[current] = f"{fields[current]} {line.strip()}".strip()
            continue
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        current = key if sep and key in _CORE_FIELDS and key not in fields else None
        if current is not None:
            fields[current] = value.strip()
    return fields


def canonical_project(name: str) -> NormalizedName:
    """`name` normalized (PEP 503) for publishing; PublishError when it is no valid project name."""
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName as exc:
        raise PublishError(
            f"{name!r} is not a valid project name: use letters, digits, '.', '-' and '_', "
            "starting and ending with a letter or digit."
        ) from exc
