"""A project's record, its index.json: the state every publish reads, parsed and checked (a
corrupt record is an error, never guessed at), and the keys pages and files are stored under."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)
from packaging.version import Version

from pyhotfix.distfile import parse_dist_filename
from pyhotfix.errors import PublishError
from pyhotfix.provenance import layout as statement_layout
from pyhotfix.simpleapi import IndexEntry

__all__ = [
    "ROOT_HTML",
    "ROOT_JSON",
    "CorruptRecord",
    "ProjectState",
    "check_tracks",
    "file_key",
    "format_time",
    "json_key",
    "parse_project",
    "parse_root",
]

ROOT_JSON = "simple/index.json"
ROOT_HTML = "simple/index.html"


@dataclass
class ProjectState:
    entries: dict[str, IndexEntry]
    versions: dict[str, Version]  # filename -> version, parsed once when read
    tracks: tuple[str, ...]


class CorruptRecord(Exception):
    """index.json parsed but does not have the shape we write."""


def json_key(canon: str) -> str:
    return f"simple/{canon}/index.json"


def file_key(canon: str, filename: str) -> str:
    return f"simple/{canon}/{filename}"


def parse_root(raw: bytes, path: str) -> list[str]:
    try:
        doc = json.loads(raw)
        projects = doc.get("projects") if isinstance(doc, dict) else None
        if not isinstance(projects, list):
            raise CorruptRecord("no 'projects' list")
        names = [p.get("name") if isinstance(p, dict) else None for p in projects]
        if not all(isinstance(n, str) and n for n in names):
            raise CorruptRecord("a project has no name")
        return [str(n) for n in names]
    except (ValueError, CorruptRecord) as exc:
        raise PublishError(
            f"{path} is corrupt ({exc}). This root page only lists the projects; delete it "
            "(and index.html beside it) and publish again to regenerate both from the project "
            "directories, or restore it from version control."
        ) from exc


def parse_project(doc: object, canon: NormalizedName) -> ProjectState:
    if not isinstance(doc, dict):
        raise CorruptRecord("not a JSON object")
    if doc.get("name") != canon:
        raise CorruptRecord(f"its 'name' is {doc.get('name')!r}, expected {canon!r}")
    meta = doc.get("meta")
    if not isinstance(meta, dict):
        raise CorruptRecord("no 'meta' object")
    tracks = meta.get("tracks", [])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise CorruptRecord("'meta.tracks' is not a list of URLs")
    files = doc.get("files")
    if not isinstance(files, list):
        raise CorruptRecord("no 'files' list")
    entries: dict[str, IndexEntry] = {}
    versions: dict[str, Version] = {}
    for i, item in enumerate(files):
        entry = _parse_entry(item, i)
        try:
            parsed = parse_dist_filename(entry.filename)
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise CorruptRecord(f"files[{i}] has an invalid filename {entry.filename!r}") from exc
        if parsed.name != canon or entry.filename in entries:
            raise CorruptRecord(f"files[{i}] ({entry.filename}) is foreign or duplicated")
        entries[entry.filename] = entry
        versions[entry.filename] = parsed.version
    return ProjectState(entries, versions, tuple(str(t) for t in tracks))


def _parse_entry(item: object, i: int) -> IndexEntry:
    if not isinstance(item, dict):
        raise CorruptRecord(f"files[{i}] is not an object")
    filename = item.get("filename")
    hashes = item.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    size = item.get("size")
    requires = item.get("requires-python")
    core = item.get("core-metadata", False)
    core_sha = core.get("sha256") if isinstance(core, dict) else None
    upload = item.get("upload-time")
    yanked = item.get("yanked", False)
    statement = item.get(statement_layout.JSON_KEY)
    statement_sha = statement.get("sha256") if isinstance(statement, dict) else None
    provenance = item.get("provenance")
    if not (
        isinstance(filename, str)
        and filename
        and "/" not in filename
        and _is_sha256(sha256)
        and isinstance(size, int)
        and not isinstance(size, bool)
        and size >= 0
        and (requires is None or isinstance(requires, str))
        and (core is False or _is_sha256(core_sha))
        and isinstance(upload, str)
        and isinstance(yanked, str | bool)
        and (statement is None or _is_sha256(statement_sha))
        and (provenance is None or isinstance(provenance, str))
    ):
        raise CorruptRecord(f"files[{i}] is missing a field or has one of the wrong type")
    return IndexEntry(
        filename=filename,
        sha256=str(sha256),
        size=size,
        requires_python=requires,
        core_metadata_sha256=None if core_sha is None else str(core_sha),
        upload_time=upload,
        yanked=yanked,
        statement_sha256=None if statement_sha is None else str(statement_sha),
        provenance=isinstance(provenance, str),
    )


def _is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def check_tracks(url: str, canon: NormalizedName) -> str:
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rpartition("/")[2]
    ok = parts.scheme in ("http", "https") and bool(parts.netloc) and bool(last)
    if not ok or canonicalize_name(last) != canon:
        raise PublishError(
            f"tracks URL {url!r} must be the upstream page of {canon} itself (PEP 708), e.g. "
            f"https://pypi.org/simple/{canon}/."
        )
    return url if url.endswith("/") else url + "/"


def format_time(dt: datetime) -> str:
    # PEP 700: ISO 8601 in UTC with a "Z". A naive datetime is taken to be UTC already.
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
