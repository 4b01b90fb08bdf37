"""A static "simple" package repository in a local directory, served by anything that serves files.

Layout (``<root>`` is ``hotfix-index/`` by default)::

    <root>/
      .pyhotfix.lock                    empty; flock()ed while pages change (safe to .gitignore)
      simple/                           the index URL: file:///…/simple/ or https://host/…/simple/
        index.html  index.json          root page: one link per project in this index
        <canonical-name>/               PEP 503 normalised name, e.g. my-pkg-extra/
          index.html  index.json        project page: one link per file
          <filename>                    the sdists and wheels themselves, next to their pages
          <wheel filename>.metadata     the wheel's METADATA, byte for byte (PEP 658)

Pages:

- HTML (PEP 503): ``<!DOCTYPE html>``, ``<meta name="pypi:repository-version">`` (PEP 629); each
  file is ``<a href="<percent-encoded filename>#sha256=<hex>">filename</a>`` with
  ``data-requires-python`` (html-escaped), ``data-core-metadata`` and ``data-dist-info-metadata``
  (PEP 658/714, wheels only) and ``data-yanked`` (PEP 592). Links are relative and percent-encoded
  (``+`` as ``%2B``: S3 and several CDNs decode a raw ``+`` in a path as a space).
- JSON (PEP 691/700): ``meta.api-version``, ``name``, ``versions``, ``files[]`` with ``filename``,
  ``url``, ``hashes.sha256``, ``requires-python`` (only when set), ``core-metadata``, ``size``,
  ``upload-time`` (UTC, ``…Z``) and ``yanked``. The JSON key ``dist-info-metadata`` is never
  written: PEP 714 forbids it there because pip 22.3 to 23.1 crash on it.
- ``tracks`` (PEP 708) becomes ``meta.tracks`` / ``<meta name="pypi:tracks">`` and points at the
  upstream project page. PEP 708 is API version 1.2, so a page that carries it says "1.2"; every
  other page says "1.1".

A static server returns ``index.html`` for a directory URL, which is what pip and uv read;
``index.json`` sits beside it for tools (and for servers configured to negotiate PEP 691).

State: a project's ``index.json`` is the source of truth (hashes, sizes, upload times, yanks,
tracks); publishing reads it, adds entries and rewrites both pages of that project only, plus the
root pages when the project is new to them. Existing files are never re-hashed. A corrupt
``index.json`` is an error, never silently replaced. Pages are a pure function of the JSON
(``regenerate()`` rewrites them all) and deterministic: files sorted by name, versions by PEP 440,
one file or project per JSON line, so a committed index diffs cleanly.

Safety: a filename is never overwritten with different bytes. All files of a call are checked
before anything is written, then written atomically (temp file in the same directory, fsync,
rename): dists and ``.metadata`` first, pages last, so a page never links to a missing file. A
bulk step (more than ``_BULK_SYNC`` files, e.g. ``publish_many``) makes one ``sync()`` instead of
one fsync per file, with the same ordering. ``LocalIndex(root, fsync=False)`` keeps the atomic
renames but skips flushing, for throwaway indexes. Files on disk but not listed in ``index.json``
(an interrupted publish) were never published and may be replaced; a listed file deleted by hand
is restored when the same bytes are published again. Concurrent publishers (processes or threads)
serialise on the lock file, which lives outside ``simple/`` so it is never served.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import io
import json
import os
import secrets
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pyhotfix.errors import PublishError

__all__ = ["IndexEntry", "LocalIndex", "PublishResult"]

API_VERSION = "1.1"  # PEP 700 (versions, size, upload-time)
TRACKS_API_VERSION = "1.2"  # PEP 708 introduced meta.tracks in 1.2
LOCK_NAME = ".pyhotfix.lock"

_INLINE_MAX = 8 << 20  # files up to this size are read once and kept in memory until written
_METADATA_MAX = 16 << 20  # refuse absurd METADATA / PKG-INFO members (zip bombs)
# Above this many files in one step, one sync(2) replaces the per-file fsyncs: thousands of fsyncs
# cost seconds (each is a journal commit), one sync a few milliseconds.
_BULK_SYNC = 64


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IndexEntry:
    """One file listed on a project page, as recorded in its index.json."""

    filename: str
    sha256: str
    size: int
    requires_python: str | None
    core_metadata_sha256: str | None  # set for wheels (their .metadata file), None for sdists
    upload_time: str  # ISO-8601 UTC with "Z", e.g. 2024-05-01T12:00:00.000000Z
    yanked: str | bool  # False, True, or the reason string


@dataclass(frozen=True)
class PublishResult:
    """What one publish did for one project."""

    project: str  # canonical name
    added: tuple[str, ...]  # filenames newly written (sorted)
    unchanged: tuple[str, ...]  # same name, same bytes: nothing done (sorted)


@dataclass(frozen=True)
class _Candidate:
    """A file about to be published, inspected before the lock is taken."""

    path: Path
    filename: str
    version: Version
    sha256: str
    size: int
    requires_python: str | None
    metadata: bytes | None  # exact METADATA of a wheel; None for sdists
    data: bytes | None  # the file's bytes when small enough to keep; else copied from path


@dataclass
class _ProjectState:
    entries: dict[str, IndexEntry]
    versions: dict[str, Version]  # filename -> version, parsed once when read
    tracks: tuple[str, ...]


class _Write(NamedTuple):
    """One file to write: `data`, or a copy of `src` that must hash to `sha256`."""

    path: Path
    data: bytes | None
    src: Path | None = None
    sha256: str | None = None


class _Corrupt(Exception):
    """index.json parsed but does not have the shape we write."""


class LocalIndex:
    """A static simple repository rooted at `root` (pages live under `root/simple/`)."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        # fsync=False keeps atomic renames (readers never see partial files) but skips flushing to
        # disk: for throwaway indexes in tests and benchmarks, not for one you publish from.
        self.root = Path(root)
        self.simple = self.root / "simple"
        self._fsync = fsync

    # -- reading ------------------------------------------------------------------------------

    def simple_url(self) -> str:
        """The file:// URL of `<root>/simple/`, for `pip install --index-url`."""
        return self.simple.resolve().as_uri() + "/"

    def project_entries(self, name: str) -> list[IndexEntry]:
        """The files listed for project `name`, sorted by filename; [] if it is not in the index."""
        state = self._read_project(_canonical(name))
        return [] if state is None else [state.entries[f] for f in sorted(state.entries)]

    def has_files(
        self, name: str, filenames: Iterable[str], sha256s: Mapping[str, str] | None = None
    ) -> bool:
        """True if every filename is listed (and present on disk) for `name`, with the given
        sha256 where `sha256s` has one: lets a caller skip a rebuild that is already published."""
        canon = _canonical(name)
        state = self._read_project(canon)
        if state is None:
            return False
        for filename in filenames:
            entry = state.entries.get(filename)
            if entry is None or not (self.simple / canon / filename).is_file():
                return False
            if sha256s is not None and sha256s.get(filename, entry.sha256).lower() != entry.sha256:
                return False
        return True

    # -- writing ------------------------------------------------------------------------------

    def publish(
        self,
        name: str,
        files: Sequence[Path],
        *,
        tracks: str | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> PublishResult:
        """Add sdists/wheels of project `name` to the index and rewrite its pages.

        A filename already listed with different bytes is refused (PublishError) and nothing of
        this call is written. `tracks` is the upstream project page (PEP 708), e.g.
        "https://pypi.org/simple/<name>/"; None keeps whatever the project already has.
        """
        tracks_map = None if tracks is None else {name: tracks}
        return self.publish_many([(name, files)], tracks=tracks_map, now=now)[0]

    def publish_many(
        self,
        requests: Iterable[tuple[str, Sequence[Path]]],
        *,
        tracks: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> list[PublishResult]:
        """`publish` for several projects at once: one lock, one root-page update, and all or
        nothing across the whole batch. Results are in request order (one per distinct project)."""
        # Inspect (hash, read metadata) before taking the lock: it is the slow part.
        batch: dict[NormalizedName, dict[str, _Candidate]] = {}
        for name, files in requests:
            canon = _canonical(name)
            per_project = batch.setdefault(canon, {})
            for path in files:
                cand = _inspect(Path(path), canon)
                seen = per_project.get(cand.filename)
                if seen is not None and seen.sha256 != cand.sha256:
                    raise PublishError(
                        f"Two different files named {cand.filename} were given ({seen.path} and "
                        f"{cand.path}); publish only one of them."
                    )
                per_project[cand.filename] = cand
        if not batch or any(not c for c in batch.values()):
            empty: list[str] = [c for c, v in batch.items() if not v] or ["(none)"]
            raise PublishError(f"Nothing to publish for {', '.join(empty)}: no files were given.")
        tracks_by_project: dict[NormalizedName, tuple[str, ...]] = {}
        for tname, url in (tracks or {}).items():
            canon = _canonical(tname)
            tracks_by_project[canon] = (_check_tracks(url, canon),)

        try:
            with self._locked():
                return self._publish_locked(batch, tracks_by_project, now)
        except OSError as exc:
            raise _write_error(self.root, exc) from exc

    def yank(self, name: str, version: str, reason: str | None) -> list[str]:
        """Mark every file of `version` yanked (PEP 592); returns the affected filenames.
        Installers then skip it unless it is pinned with ==."""
        return self._set_yanked(name, version, reason or True)

    def unyank(self, name: str, version: str) -> list[str]:
        """Undo `yank` for every file of `version`; returns the affected filenames."""
        return self._set_yanked(name, version, False)

    def regenerate(self) -> list[str]:
        """Rewrite every page from the projects' index.json files (after a pyhotfix upgrade that
        changes the page format, or a hand-repaired index.json); returns the projects listed."""
        try:
            with self._locked():
                projects = self._scan_projects()
                jobs: list[_Write] = []
                for canon in projects:
                    state = self._read_project(canon)
                    if state is not None:  # None only if deleted meanwhile by hand
                        jobs.extend(self._page_jobs(canon, state))
                self._write_all(jobs, [self.simple / canon for canon in projects])
                self._update_root(projects, force=True)
                return list(projects)
        except OSError as exc:
            raise _write_error(self.root, exc) from exc

    # -- internals ----------------------------------------------------------------------------

    def _publish_locked(
        self,
        batch: dict[NormalizedName, dict[str, _Candidate]],
        tracks_by_project: dict[NormalizedName, tuple[str, ...]],
        now: Callable[[], datetime],
    ) -> list[PublishResult]:
        states: dict[NormalizedName, _ProjectState | None] = {}
        conflicts: list[str] = []
        to_write: dict[NormalizedName, list[_Candidate]] = {}
        unchanged: dict[NormalizedName, list[str]] = {}
        # Phase 1: decide everything from the recorded state; write nothing yet.
        for canon, cands in batch.items():
            state = self._read_project(canon)
            states[canon] = state
            project_dir = self.simple / canon
            for filename in sorted(cands):
                cand = cands[filename]
                entry = None if state is None else state.entries.get(filename)
                if entry is None:
                    to_write.setdefault(canon, []).append(cand)
                elif entry.sha256 != cand.sha256:
                    conflicts.append(
                        f"{canon}/{filename} (published sha256 {entry.sha256[:12]}…, "
                        f"new {cand.sha256[:12]}…)"
                    )
                elif not _present(project_dir, filename, cand.metadata is not None):
                    # Listed with these very bytes but deleted from disk: restoring is safe.
                    to_write.setdefault(canon, []).append(cand)
                else:
                    unchanged.setdefault(canon, []).append(filename)
        if conflicts:
            raise PublishError(
                "Refused to publish: a file with the same name but different content is already "
                f"in the index at {self.simple}: {'; '.join(conflicts)}. Published files are never "
                "overwritten, because installers and lock files have already recorded their "
                "hashes. Nothing was written. Bump the hotfix number (+hotfix.N+1) and publish "
                "the rebuilt files under their new names (and yank the old version if it is bad)."
            )

        # Phase 2: dists and .metadata files, then each changed project's pages, then the root.
        jobs: list[_Write] = []
        for canon, writes in to_write.items():
            project_dir = self.simple / canon
            project_dir.mkdir(exist_ok=True)
            for cand in writes:
                jobs.append(_Write(project_dir / cand.filename, cand.data, cand.path, cand.sha256))
                if cand.metadata is not None:
                    jobs.append(_Write(project_dir / f"{cand.filename}.metadata", cand.metadata))
        # simple/ too: it holds the new project directories' entries.
        self._write_all(jobs, [self.simple, *(self.simple / canon for canon in to_write)])

        upload_time = _format_time(now()) if to_write else ""
        page_jobs: list[_Write] = []
        changed: list[NormalizedName] = []
        for canon in batch:
            state = states[canon] or _ProjectState({}, {}, ())
            new_tracks = tracks_by_project.get(canon, state.tracks)
            added = to_write.get(canon, [])
            fresh = [c for c in added if c.filename not in state.entries]
            if not fresh and new_tracks == state.tracks and states[canon] is not None:
                continue  # nothing new to list (restored files keep their entries)
            for cand in fresh:
                state.entries[cand.filename] = IndexEntry(
                    filename=cand.filename,
                    sha256=cand.sha256,
                    size=cand.size,
                    requires_python=cand.requires_python,
                    core_metadata_sha256=(
                        None if cand.metadata is None else hashlib.sha256(cand.metadata).hexdigest()
                    ),
                    upload_time=upload_time,
                    yanked=False,
                )
                state.versions[cand.filename] = cand.version
            state.tracks = new_tracks
            page_jobs.extend(self._page_jobs(canon, state))
            changed.append(canon)
        self._write_all(page_jobs, [self.simple / canon for canon in changed])
        self._update_root(list(batch))

        return [
            PublishResult(
                project=canon,
                added=tuple(sorted(c.filename for c in to_write.get(canon, []))),
                unchanged=tuple(sorted(unchanged.get(canon, []))),
            )
            for canon in batch
        ]

    def _set_yanked(self, name: str, version: str, yanked: str | bool) -> list[str]:
        canon = _canonical(name)
        try:
            wanted = Version(version)
        except InvalidVersion as exc:
            raise PublishError(f"{version!r} is not a valid version (PEP 440).") from exc
        try:
            with self._locked():
                state = self._read_project(canon)
                if state is None:
                    raise PublishError(f"{canon} is not in the index at {self.simple}.")
                affected = sorted(f for f, v in state.versions.items() if v == wanted)
                if not affected:
                    have = ", ".join(str(v) for v in sorted(set(state.versions.values())))
                    raise PublishError(
                        f"{canon} has no files of version {wanted} in the index at {self.simple} "
                        f"(it has: {have}). Give the full version, including any +hotfix.N label."
                    )
                for filename in affected:
                    state.entries[filename] = replace(state.entries[filename], yanked=yanked)
                self._write_all(self._page_jobs(canon, state), [self.simple / canon])
                return affected
        except OSError as exc:
            raise _write_error(self.root, exc) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # flock, not lockf: it excludes threads of one process too (per open file description),
        # and Linux emulates it over NFS. Read-only is enough for flock, so a lock file created
        # by another user does not get in the way. Closing the descriptor releases the lock.
        self.simple.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_project(self, canon: NormalizedName) -> _ProjectState | None:
        path = self.simple / canon / "index.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PublishError(f"Could not read {path}: {exc.strerror}.") from exc
        try:
            return _parse_project(json.loads(raw), canon)
        except (ValueError, _Corrupt) as exc:  # ValueError covers JSON and UTF-8 errors
            raise PublishError(
                f"{path} is corrupt ({exc}). It is the record of {canon}'s published files, "
                "hashes and yanks, so pyhotfix will not guess at it or overwrite it. Restore it "
                f"from version control (e.g. `git checkout -- {path}`); if there is no good copy, "
                f"delete the directory {path.parent} and publish {canon}'s files again."
            ) from exc

    def _update_root(self, touched: Sequence[NormalizedName], *, force: bool = False) -> None:
        # Checked on every publish, not only for new projects, so a root page that missed a
        # project (a publish interrupted between the project pages and the root) heals itself.
        path = self.simple / "index.json"
        try:
            raw: bytes | None = path.read_bytes()
        except FileNotFoundError:
            raw = None  # first publish, or deleted to be regenerated from the directories
        # Fast path, no JSON parse: every touched project is listed in the form we write.
        listed_as = [f'{{"name": "{c}"}}'.encode() for c in touched]
        if raw is not None and not force and all(n in raw for n in listed_as):
            return
        listed = self._scan_projects() if raw is None else _parse_root(raw, path)
        wanted = set(listed) | {c for c in touched if _has_index(str(self.simple / c))}
        if raw is not None and not force and wanted == set(listed):
            return
        ordered = sorted(wanted)
        self._write_all(
            [
                _Write(self.simple / "index.html", _root_html(ordered).encode()),
                _Write(self.simple / "index.json", _root_json(ordered).encode()),
            ],
            [self.simple],
        )

    def _scan_projects(self) -> list[NormalizedName]:
        found = []
        for e in os.scandir(self.simple):
            canon = canonicalize_name(e.name)
            if canon == e.name and e.is_dir() and _has_index(e.path):
                found.append(canon)
        return sorted(found)

    def _page_jobs(self, canon: NormalizedName, state: _ProjectState) -> list[_Write]:
        entries = [state.entries[f] for f in sorted(state.entries)]
        versions = sorted(set(state.versions.values()))
        html_page = _project_html(canon, entries, state.tracks)
        json_page = _project_json(canon, entries, versions, state.tracks)
        project_dir = self.simple / canon
        return [
            _Write(project_dir / "index.html", html_page.encode()),
            _Write(project_dir / "index.json", json_page.encode()),
        ]

    def _write_all(self, jobs: Sequence[_Write], dirs: Iterable[Path]) -> None:
        """Write `jobs` atomically and, with fsync on, durably before returning, renames in `dirs`
        included: what is written next (pages) must never survive a crash that what it links to
        (files) did not."""
        bulk = self._fsync and len(jobs) > _BULK_SYNC
        for job in jobs:
            _atomic_write(job, self._fsync and not bulk)
        if bulk:
            os.sync()  # on Linux sync(2) waits until everything is on disk
        elif self._fsync:
            for d in dict.fromkeys(dirs):
                fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


# -- inspecting files ---------------------------------------------------------------------------


def _inspect(path: Path, canon: NormalizedName) -> _Candidate:
    filename = path.name
    kind = "wheel" if filename.endswith(".whl") else "sdist"
    try:
        if kind == "wheel":
            dist, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            dist, version = parse_sdist_filename(filename)
        else:
            raise PublishError(
                f"{path} is neither a wheel (.whl) nor an sdist (.tar.gz or .zip), so it cannot "
                "be published to a package index."
            )
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise PublishError(f"{path} does not have a valid {kind} filename: {exc}.") from exc
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
            sha256, size = _hash_file(path)
    except OSError as exc:
        raise PublishError(f"Could not read {path}: {exc.strerror}.") from exc
    source: Path | io.BytesIO = path if data is None else io.BytesIO(data)
    if kind == "wheel":
        metadata: bytes | None = _wheel_metadata(source, filename, canon, version)
        meta_text: bytes | None = metadata
    else:
        metadata = None
        meta_text = _sdist_pkg_info(source, filename)
    requires_python = None
    if meta_text is not None:
        requires_python = _check_metadata(meta_text, filename, canon, version)
    return _Candidate(path, filename, version, sha256, size, requires_python, metadata, data)


def _hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _wheel_metadata(
    source: Path | io.BytesIO, filename: str, canon: NormalizedName, version: Version
) -> bytes:
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
                else [i for i in found if _dist_info_matches(i.filename, canon, version)]
            )
            if len(chosen) != 1:
                raise PublishError(
                    f"{filename} is not a valid wheel: expected one <name>-<version>.dist-info/"
                    f"METADATA, found {len(found)}."
                )
            if chosen[0].file_size > _METADATA_MAX:
                raise PublishError(f"{filename} is not a valid wheel: its METADATA is too large.")
            return zf.read(chosen[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PublishError(f"{filename} is not a valid wheel (zip): {exc}.") from exc


def _dist_info_matches(member: str, canon: NormalizedName, version: Version) -> bool:
    stem = member.split("/", 1)[0].removesuffix(".dist-info")
    name, _, ver = stem.rpartition("-")
    try:
        return canonicalize_name(name) == canon and Version(ver) == version
    except InvalidVersion:
        return False


def _sdist_pkg_info(source: Path | io.BytesIO, filename: str) -> bytes | None:
    """The sdist's top-level PKG-INFO, or None if it has none (legal for old sdists)."""

    def top_level(name: str) -> bool:
        parts = name.removeprefix("./").split("/")
        return len(parts) == 2 and parts[1] == "PKG-INFO"

    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    if top_level(info.filename) and info.file_size <= _METADATA_MAX:
                        return zf.read(info)
            return None
        opened = source.open("rb") if isinstance(source, Path) else contextlib.nullcontext(source)
        with opened as fileobj, tarfile.open(fileobj=fileobj, mode="r:gz") as tar:
            # Iterate, not getmembers(): PKG-INFO usually comes early, so most of a large
            # sdist is never decompressed.
            for member in tar:
                if member.isfile() and top_level(member.name) and member.size <= _METADATA_MAX:
                    f = tar.extractfile(member)
                    return None if f is None else f.read()
        return None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PublishError(f"{filename} is not a valid sdist archive: {exc}.") from exc


def _check_metadata(
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


# -- state (index.json) -------------------------------------------------------------------------


def _parse_root(raw: bytes, path: Path) -> list[str]:
    try:
        doc = json.loads(raw)
        projects = doc.get("projects") if isinstance(doc, dict) else None
        if not isinstance(projects, list):
            raise _Corrupt("no 'projects' list")
        names = [p.get("name") if isinstance(p, dict) else None for p in projects]
        if not all(isinstance(n, str) and n for n in names):
            raise _Corrupt("a project has no name")
        return [str(n) for n in names]
    except (ValueError, _Corrupt) as exc:
        raise PublishError(
            f"{path} is corrupt ({exc}). This root page only lists the projects; delete it "
            "(and index.html beside it) and publish again to regenerate both from the project "
            "directories, or restore it from version control."
        ) from exc


def _parse_project(doc: object, canon: NormalizedName) -> _ProjectState:
    if not isinstance(doc, dict):
        raise _Corrupt("not a JSON object")
    if doc.get("name") != canon:
        raise _Corrupt(f"its 'name' is {doc.get('name')!r}, expected {canon!r}")
    meta = doc.get("meta")
    if not isinstance(meta, dict):
        raise _Corrupt("no 'meta' object")
    tracks = meta.get("tracks", [])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise _Corrupt("'meta.tracks' is not a list of URLs")
    files = doc.get("files")
    if not isinstance(files, list):
        raise _Corrupt("no 'files' list")
    entries: dict[str, IndexEntry] = {}
    versions: dict[str, Version] = {}
    for i, item in enumerate(files):
        entry = _parse_entry(item, i)
        try:
            if entry.filename.endswith(".whl"):
                dist, version, _, _ = parse_wheel_filename(entry.filename)
            else:
                dist, version = parse_sdist_filename(entry.filename)
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise _Corrupt(f"files[{i}] has an invalid filename {entry.filename!r}") from exc
        if dist != canon or entry.filename in entries:
            raise _Corrupt(f"files[{i}] ({entry.filename}) is foreign or duplicated")
        entries[entry.filename] = entry
        versions[entry.filename] = version
    return _ProjectState(entries, versions, tuple(str(t) for t in tracks))


def _parse_entry(item: object, i: int) -> IndexEntry:
    if not isinstance(item, dict):
        raise _Corrupt(f"files[{i}] is not an object")
    filename = item.get("filename")
    hashes = item.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    size = item.get("size")
    requires = item.get("requires-python")
    core = item.get("core-metadata", False)
    core_sha = core.get("sha256") if isinstance(core, dict) else None
    upload = item.get("upload-time")
    yanked = item.get("yanked", False)
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
    ):
        raise _Corrupt(f"files[{i}] is missing a field or has one of the wrong type")
    return IndexEntry(
        filename=filename,
        sha256=str(sha256),
        size=size,
        requires_python=requires,
        core_metadata_sha256=None if core_sha is None else str(core_sha),
        upload_time=upload,
        yanked=yanked,
    )


def _is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


# -- pages --------------------------------------------------------------------------------------
# Plain string building: a template engine would cost more than the rest of a publish.


def _project_html(canon: str, entries: Sequence[IndexEntry], tracks: Sequence[str]) -> str:
    version = TRACKS_API_VERSION if tracks else API_VERSION
    out = [
        "<!DOCTYPE html>\n<html>\n  <head>\n",
        f'    <meta name="pypi:repository-version" content="{version}">\n',
    ]
    out.extend(f'    <meta name="pypi:tracks" content="{html.escape(t)}">\n' for t in tracks)
    out.append(f"    <title>Links for {canon}</title>\n  </head>\n  <body>\n")
    out.append(f"    <h1>Links for {canon}</h1>\n")
    for e in entries:
        attrs = f'href="{quote(e.filename, safe="")}#sha256={e.sha256}"'
        if e.requires_python:
            attrs += f' data-requires-python="{html.escape(e.requires_python)}"'
        if e.core_metadata_sha256:
            # Both names (PEP 714): data-core-metadata for current clients, the PEP 658 name for
            # older pip; the values must match.
            attrs += (
                f' data-core-metadata="sha256={e.core_metadata_sha256}"'
                f' data-dist-info-metadata="sha256={e.core_metadata_sha256}"'
            )
        if e.yanked is not False:
            reason = "" if e.yanked is True else html.escape(str(e.yanked))
            attrs += f' data-yanked="{reason}"'
        out.append(f"    <a {attrs}>{html.escape(e.filename)}</a><br>\n")
    out.append("  </body>\n</html>\n")
    return "".join(out)


def _project_json(
    canon: str, entries: Sequence[IndexEntry], versions: Sequence[Version], tracks: Sequence[str]
) -> str:
    meta: dict[str, object] = {"api-version": TRACKS_API_VERSION if tracks else API_VERSION}
    if tracks:
        meta["tracks"] = list(tracks)
    lines = [
        f'{{\n  "meta": {_dumps(meta)},\n',
        f'  "name": {_dumps(canon)},\n',
        f'  "versions": {_dumps([str(v) for v in versions])},\n',
        '  "files": [',
    ]
    # One file per line: yanking or adding a file changes exactly one line of the diff.
    lines.append(",".join(f"\n    {_dumps(_entry_json(e))}" for e in entries))
    lines.append("\n  ]\n}\n" if entries else "]\n}\n")
    return "".join(lines)


def _entry_json(e: IndexEntry) -> dict[str, object]:
    item: dict[str, object] = {
        "filename": e.filename,
        "url": quote(e.filename, safe=""),
        "hashes": {"sha256": e.sha256},
    }
    if e.requires_python:
        item["requires-python"] = e.requires_python
    item["core-metadata"] = {"sha256": e.core_metadata_sha256} if e.core_metadata_sha256 else False
    item["size"] = e.size
    item["upload-time"] = e.upload_time
    item["yanked"] = e.yanked
    return item


def _root_html(names: Sequence[str]) -> str:
    links = "".join(f'    <a href="{n}/">{n}</a><br>\n' for n in names)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
        f"{links}  </body>\n</html>\n"
    )


def _root_json(names: Sequence[str]) -> str:
    projects = ",".join(f'\n    {{"name": {_dumps(n)}}}' for n in names)
    close = "\n  ]" if names else "]"
    meta = f'"meta": {{"api-version": "{API_VERSION}"}}'
    return f'{{\n  {meta},\n  "projects": [{projects}{close}\n}}\n'


def _dumps(value: object) -> str:
    # UTF-8 JSON (PEP 691), so a non-ASCII yank reason stays readable in the diff.
    return json.dumps(value, ensure_ascii=False)


# -- small helpers ------------------------------------------------------------------------------


def _canonical(name: str) -> NormalizedName:
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName as exc:
        raise PublishError(
            f"{name!r} is not a valid project name: use letters, digits, '.', '-' and '_', "
            "starting and ending with a letter or digit."
        ) from exc


def _check_tracks(url: str, canon: NormalizedName) -> str:
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rpartition("/")[2]
    ok = parts.scheme in ("http", "https") and bool(parts.netloc) and bool(last)
    if not ok or canonicalize_name(last) != canon:
        raise PublishError(
            f"tracks URL {url!r} must be the upstream page of {canon} itself (PEP 708), e.g. "
            f"https://pypi.org/simple/{canon}/."
        )
    return url if url.endswith("/") else url + "/"


def _format_time(dt: datetime) -> str:
    # PEP 700: ISO 8601 in UTC with a "Z". A naive datetime is taken to be UTC already.
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _present(project_dir: Path, filename: str, is_wheel: bool) -> bool:
    if not os.path.isfile(project_dir / filename):
        return False
    return not is_wheel or os.path.isfile(project_dir / f"{filename}.metadata")


def _has_index(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "index.json"))


def _atomic_write(job: _Write, fsync: bool) -> None:
    """Write `job` so readers see the old file or the new one, never a partial one.
    mkstemp is avoided: its 0600 mode would hide the files from a web server."""
    path = job.path
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with open(fd, "wb") as out:
            if job.data is not None:
                out.write(job.data)
            else:
                assert job.src is not None
                # Large files are hashed again while copied: the page must list the hash of the
                # bytes actually published, even if the source changed since it was inspected.
                h = hashlib.sha256()
                with job.src.open("rb") as inp:
                    while chunk := inp.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != job.sha256:
                    raise PublishError(
                        f"{job.src} changed while it was being published; nothing of it was "
                        "listed. Publish it again once it is no longer being written."
                    )
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_error(root: Path, exc: OSError) -> PublishError:
    where = exc.filename or root
    return PublishError(
        f"Could not write to the package index at {root}: {exc.strerror or exc} ({where}). Check "
        "that the directory exists, is writable by this user and the disk is not full, or publish "
        "to another index directory. Files already published there are unaffected."
    )
