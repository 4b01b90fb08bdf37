"""A file about to be published, inspected (name, version, hash, metadata) before the index is
locked, and what its stored copies must hash to."""

from __future__ import annotations

import hashlib
import io
import stat
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
)
from packaging.version import Version

from pyhotfix.distfile import (
    check_metadata,
    dist_kind,
    file_sha256_size,
    parse_dist_filename,
    sdist_pkg_info,
    wheel_metadata,
)
from pyhotfix.errors import PublishError
from pyhotfix.index.records import file_key
from pyhotfix.simpleapi import IndexEntry

__all__ = ["Candidate", "conflict_text", "expected_sha256s", "inspect_file"]

_INLINE_MAX = 8 << 20  # files up to this size are read once and kept in memory until written


@dataclass(frozen=True)
class Candidate:
    """A file about to be published, inspected before the lock is taken."""

    path: Path
    filename: str
    version: Version
    sha256: str
    size: int
    requires_python: str | None
    metadata: bytes | None  # exact METADATA of a wheel; None for sdists
    data: bytes | None  # the file's bytes when small enough to keep; else copied from path
    statement: bytes | None = None  # its in-toto statement, stored beside it (provenance.layout)
    provenance: bytes | None = None  # its signed PEP 740 provenance object, likewise


def inspect_file(path: Path, canon: NormalizedName) -> Candidate:
    filename = path.name
    kind = dist_kind(filename)
    if kind is None:
        raise PublishError(
            f"{path} is neither a wheel (.whl) nor an sdist (.tar.gz or .zip), so it cannot "
            "be published to a package index."
        )
    try:
        parsed = parse_dist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise PublishError(f"{path} does not have a valid {kind} filename: {exc}.") from exc
    dist, version = parsed.name, parsed.version
    if dist != canon:
        raise PublishError(
            f"{filename} is a distribution of {dist!r}, not of {canon!r}; it was not published. "
            "Publish it under its own project name."
        )
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise PublishError(f"{path} is not a regular file.")
        data: bytes | None
        if st.st_size <= _INLINE_MAX:
            data = path.read_bytes()
            sha256, size = hashlib.sha256(data).hexdigest(), len(data)
        else:
            data = None
            sha256, size = file_sha256_size(path)
    except OSError as exc:
        raise PublishError(f"Could not read {path}: {exc.strerror}.") from exc
    source: Path | io.BytesIO = path if data is None else io.BytesIO(data)
    if kind == "wheel":
        metadata: bytes | None = wheel_metadata(source, filename, canon, version)
        meta_text: bytes | None = metadata
    else:
        metadata = None
        meta_text = sdist_pkg_info(source, filename)
    requires_python = None
    if meta_text is not None:
        requires_python = check_metadata(meta_text, filename, canon, version)
    return Candidate(path, filename, version, sha256, size, requires_python, metadata, data)


def expected_sha256s(canon: str, cand: Candidate) -> list[tuple[str, str]]:
    """Each key `cand` is stored under, with the sha256 its bytes must have."""
    pairs = [(file_key(canon, cand.filename), cand.sha256)]
    if cand.metadata is not None:
        meta_sha = hashlib.sha256(cand.metadata).hexdigest()
        pairs.append((file_key(canon, f"{cand.filename}.metadata"), meta_sha))
    return pairs


def conflict_text(canon: str, entry: IndexEntry, cand: Candidate) -> str:
    return (
        f"{canon}/{cand.filename} (published sha256 {entry.sha256[:12]}…, new {cand.sha256[:12]}…)"
    )
