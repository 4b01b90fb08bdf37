"""A static "simple" package repository, served by anything that serves files.

`StaticIndex` holds the page logic and the write rules; a `Storage` holds the bytes: `DirStorage`
(a local directory, `LocalIndex`) here, S3 in publish.py (`ObjectIndex`). Same layout in both.

Layout (``<root>`` is ``hotfix-index/`` by default)::

    <root>/
      .pyhotfix.lock                    empty; flock()ed while pages change (safe to .gitignore)
      .pyhotfix.hashes/<project>.json   sha256 of each file by its stat: a cache (safe to .gitignore)
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
before anything is written; then dists and ``.metadata`` are stored, then each project's
``index.json`` (the record, and the commit point), then its ``index.html``, then the root pages;
so no page ever links to a missing or partial file. A crash between the steps leaves pages that
list less than is stored, and the next publish completes them (it compares each touched HTML
page with its record and rewrites it if they differ).

Locally, every write is atomic (temp file in the same directory, fsync, rename); a bulk step (more
than ``_BULK_SYNC`` files, e.g. ``publish_many``) makes one ``sync()`` instead of one fsync per
file, with the same ordering. ``LocalIndex(root, fsync=False)`` keeps the atomic renames but skips
flushing, for throwaway indexes. A file on disk but not listed in ``index.json`` is kept if it
has the bytes being published (an interrupted publish) and refused otherwise, never replaced; a
listed file deleted by hand is restored when the same bytes are published again, and a listed file
whose bytes changed is reported and refused, never called unchanged. ``.pyhotfix.hashes/``
(hashrecord.py) beside ``simple/`` records each written file's hash with its stat, so checks
against the lock need not re-read unchanged files. Concurrent publishers (processes or threads)
serialise on the lock file, which lives outside ``simple/`` so it is never served. Where nothing can be locked
(object storage), every ``index.json`` write is conditional on the version read and retried from a
fresh read when another publisher won, and whoever writes an HTML page re-reads the record after
and renders again if it moved on, so the last page written always shows the last record.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import random
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from pyhotfix._atomic import is_temp_name, open_atomic
from pyhotfix.distfile import (
    check_metadata,
    dist_kind,
    file_sha256_size,
    parse_dist_filename,
    sdist_pkg_info,
    stream_sha256_size,
    wheel_metadata,
)
from pyhotfix.errors import PublishError
from pyhotfix.hashrecord import HashRecord, Stamp, stamp
from pyhotfix.simpleapi import (
    JSON_TYPE,
    TEXT_HTML_UTF8,
    IndexEntry,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)

__all__ = [
    "Blob",
    "DirStorage",
    "FileDigest",
    "FileWrite",
    "IndexEntry",
    "LocalIndex",
    "PageWrite",
    "PublishResult",
    "StaticIndex",
    "Storage",
]

LOCK_NAME = ".pyhotfix.lock"

_INLINE_MAX = 8 << 20  # files up to this size are read once and kept in memory until written
# Above this many files in one step, one sync(2) replaces the per-file fsyncs: thousands of fsyncs
# cost seconds (each is a journal commit), one sync a few milliseconds.
_BULK_SYNC = 64


def _utc_now() -> datetime:
    return datetime.now(UTC)


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


# -- storage ----------------------------------------------------------------------------------------

DIST_TYPE = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"
PAGE_CACHE_CONTROL = "max-age=0"  # pages change: every reader revalidates
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"  # a published filename never changes
# Conditional page writes that lose a race to another publisher are retried this often (with a
# growing random pause) before giving up with a message; a lost race costs one GET and one PUT.
_COMMIT_ATTEMPTS = 10
_ROOT_JSON = "simple/index.json"
_ROOT_HTML = "simple/index.html"


@dataclass(frozen=True)
class Blob:
    """An object read from storage and its version token (an ETag; a content hash locally)."""

    data: bytes
    token: str


@dataclass(frozen=True)
class FileDigest:
    """What a stored file is: its size and the sha256 of its bytes (None where only a cheap look
    was asked for and the store cannot tell the hash without reading the whole file)."""

    size: int
    sha256: str | None


@dataclass(frozen=True)
class FileWrite:
    """An immutable file to store: `data`, or the bytes of `src`, which must hash to `sha256`."""

    key: str
    data: bytes | None
    src: Path | None
    sha256: str
    content_type: str


@dataclass(frozen=True)
class PageWrite:
    """A page to store. If `conditional`, only while it still has token `expect` (None: only if
    it does not exist yet), which is how concurrent publishers avoid losing each other's entries."""

    key: str
    data: bytes
    content_type: str
    expect: str | None = None
    conditional: bool = True


class Storage(Protocol):
    """Where a static index lives. Keys are '/'-separated paths below the index root
    ("simple/<project>/<file>"). Every method raises PublishError with a user-facing message."""

    description: str  # the index root for messages (a path or URL, never credentials)
    # True when exclusive() shuts out every other publisher (a local flock): no conditional write
    # can then fail, and a page needs no re-check after it is written.
    serialised: bool

    def exclusive(self) -> AbstractContextManager[None]:
        """Held around every change to the index."""
        ...

    def where(self, key: str) -> str:
        """`key` as the user would name it: a path or a URL."""
        ...

    def restore_hint(self, key: str) -> str:
        """One sentence on how to get back a good copy of the page at `key`."""
        ...

    def read(self, key: str) -> Blob | None:
        """The object at `key`, or None if there is none."""
        ...

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys that have no object."""
        ...

    def digests(self, keys: Iterable[str], *, cheap: bool = False) -> dict[str, FileDigest | None]:
        """Each key's stored size and sha256 (None: no such file). Reads every byte, unless
        `cheap`: then a hash recorded for the file's unchanged state stands in (locally), or the
        hash is left out where only reading the whole object could tell it."""
        ...

    def put_files(self, files: Sequence[FileWrite]) -> None:
        """Store immutable files (dists, .metadata), durably before returning. The caller has
        checked that none of them is listed with other bytes. An object already there with these
        very bytes (an interrupted publish) is kept; one with other bytes is never replaced:
        PublishError, and nothing of the call is stored."""
        ...

    def put_pages(self, pages: Sequence[PageWrite]) -> dict[str, str | None]:
        """Store pages durably; returns each key's new token, or None where its condition failed
        (that page was left as it was)."""
        ...

    def list_projects(self) -> list[NormalizedName]:
        """The projects that have an index.json below simple/, sorted."""
        ...

    def project_files(self, canon: str) -> list[str]:
        """The names of the objects stored directly in simple/<canon>/ (pages, dists, .metadata,
        anything else), sorted; leftover temporary files of an interrupted write are left out."""
        ...


class DirStorage:
    """A local directory. Serialised by flock() on a lock file beside simple/ (never served);
    every file is written to a temporary name, flushed, and renamed into place."""

    serialised = True

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        # fsync=False keeps atomic renames (readers never see partial files) but skips flushing to
        # disk: for throwaway indexes in tests and benchmarks, not for one you publish from.
        self.root = Path(root)
        self.description = str(self.root)
        self._fsync = fsync
        self.hashes = HashRecord(self.root)

    def where(self, key: str) -> str:
        return str(self.root / key)

    def restore_hint(self, key: str) -> str:
        return f"Restore it from version control (e.g. `git checkout -- {self.root / key}`)"

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        # flock, not lockf: it excludes threads of one process too (per open file description),
        # and Linux emulates it over NFS. Read-only is enough for flock, so a lock file created
        # by another user does not get in the way. Closing the descriptor releases the lock.
        try:
            (self.root / "simple").mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise _write_error(self.root, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read(self, key: str) -> Blob | None:
        path = self.root / key
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PublishError(f"Could not read {path}: {exc.strerror}.") from exc
        return Blob(data, _content_token(data))

    def missing(self, keys: Iterable[str]) -> set[str]:
        return {k for k in keys if not os.path.isfile(self.root / k)}

    def digests(self, keys: Iterable[str], *, cheap: bool = False) -> dict[str, FileDigest | None]:
        found: dict[str, FileDigest | None] = {}
        hashed: dict[str, tuple[Stamp, str]] = {}
        for key in keys:
            path = self.root / key
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):
                    found[key] = None
                    continue
                recorded = self.hashes.lookup(key, stamp(st)) if cheap else None
                if recorded is not None:
                    found[key] = FileDigest(st.st_size, recorded)
                    continue
                current, digest = _hash_file(path)
            except (FileNotFoundError, NotADirectoryError):
                found[key] = None
                continue
            except OSError as exc:
                raise PublishError(f"Could not read {path}: {exc.strerror}.") from exc
            found[key] = FileDigest(current[0], digest)
            hashed[key] = (current, digest)
        self.hashes.update(hashed)
        return found

    def put_files(self, files: Sequence[FileWrite]) -> None:
        # Under the flock: nobody else is writing these names right now, so what is there is a
        # leftover of an interrupted publish (same bytes: keep it) or a stray (refuse).
        there = self.digests(f.key for f in files)
        strays = [(f, d) for f in files if (d := there[f.key]) is not None and d.sha256 != f.sha256]
        if strays:
            listing = "; ".join(
                f"{self.root / f.key} (sha256 {(d.sha256 or '')[:12]}…, this publish "
                f"{f.sha256[:12]}…)"
                for f, d in strays
            )
            raise PublishError(
                f"Refused to publish: {listing} is already in the index directory with other "
                "content, although no page lists it. pyhotfix never overwrites a file in the "
                "index; nothing was written. If it is a leftover nobody installs, delete it and "
                "publish again; if it is a file someone put there on purpose, move it out of the "
                "index first."
            )
        jobs = [
            _Write(self.root / f.key, f.data, f.src, f.sha256)
            for f in files
            if there[f.key] is None
        ]
        try:
            dirs = self._make_dirs(jobs)
            self._write_all(jobs, dirs)
            # What was just written is recorded, so checks against the lock need not re-read it.
            # Not in bulk (one record file per project would add a write per project); a check
            # then hashes a file once and records it.
            if len(jobs) <= _BULK_SYNC:
                self.hashes.update(
                    {
                        f.key: (stamp(os.stat(self.root / f.key)), f.sha256)
                        for f in files
                        if there[f.key] is None
                    }
                )
        except OSError as exc:
            raise _write_error(self.root, exc) from exc

    def put_pages(self, pages: Sequence[PageWrite]) -> dict[str, str | None]:
        tokens: dict[str, str | None] = {}
        jobs: list[_Write] = []
        for page in pages:
            if page.conditional:
                # Under the flock this only fails if the page was edited by hand meanwhile.
                current = self.read(page.key)
                if (None if current is None else current.token) != page.expect:
                    tokens[page.key] = None
                    continue
            jobs.append(_Write(self.root / page.key, page.data))
            tokens[page.key] = _content_token(page.data)
        try:
            dirs = self._make_dirs(jobs)
            self._write_all(jobs, dirs)
        except OSError as exc:
            raise _write_error(self.root, exc) from exc
        return tokens

    def list_projects(self) -> list[NormalizedName]:
        found = []
        try:
            entries = list(os.scandir(self.root / "simple"))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PublishError(f"Could not read {self.root / 'simple'}: {exc.strerror}.") from exc
        for e in entries:
            canon = canonicalize_name(e.name)
            if (
                canon == e.name
                and e.is_dir()
                and os.path.isfile(os.path.join(e.path, "index.json"))
            ):
                found.append(canon)
        return sorted(found)

    def project_files(self, canon: str) -> list[str]:
        where = self.root / "simple" / canon
        try:
            entries = list(os.scandir(where))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise PublishError(f"Could not read {where}: {exc.strerror}.") from exc
        return sorted(e.name for e in entries if not is_temp_name(e.name))

    def _make_dirs(self, jobs: Sequence[_Write]) -> list[Path]:
        """Create the jobs' directories; returns the directories whose entries change (for fsync):
        each job's directory, and the parent of each one created."""
        dirs: dict[Path, None] = {}
        for parent in dict.fromkeys(j.path.parent for j in jobs):
            if not parent.is_dir():
                parent.mkdir(parents=True, exist_ok=True)
                dirs[parent.parent] = None
            dirs[parent] = None
        return list(dirs)

    def _write_all(self, jobs: Sequence[_Write], dirs: Iterable[Path]) -> None:
        """Write `jobs` atomically and, with fsync on, durably before returning, renames in `dirs`
        included: what is written next (pages) must never survive a crash that what it links to
        (files) did not."""
        bulk = self._fsync and len(jobs) > _BULK_SYNC
        for job in jobs:
            _atomic_write(job, self._fsync and not bulk)
        if bulk:
            os.sync()  # on Linux sync(2) waits until everything is on disk
        elif self._fsync and jobs:
            for d in dirs:
                fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


# -- the index --------------------------------------------------------------------------------------


class StaticIndex:
    """A static simple repository in a `Storage` (a directory, a bucket): the pages and the rules
    for changing them safely, whatever holds the bytes.

    Order of writes: files, then each project's index.json (the record, written conditionally),
    then its index.html, then the root pages. So no page ever lists a file that is not stored in
    full, and a conditional write that loses a race to another publisher is retried from a fresh
    read instead of overwriting the other's entries. A crash between the steps leaves pages that
    list less than is stored; the next publish of the same files completes them.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.description = storage.description

    # -- reading ------------------------------------------------------------------------------

    def project_entries(self, name: str) -> list[IndexEntry]:
        """The files listed for project `name`, sorted by filename; [] if it is not in the index."""
        found = self._read_project(_canonical(name))
        return [] if found is None else [found[0].entries[f] for f in sorted(found[0].entries)]

    def project_tracks(self, name: str) -> tuple[str, ...]:
        """The upstream pages project `name` tracks (PEP 708); () if none or not in the index."""
        found = self._read_project(_canonical(name))
        return () if found is None else found[0].tracks

    def has_files(
        self, name: str, filenames: Iterable[str], sha256s: Mapping[str, str] | None = None
    ) -> bool:
        """True if every filename is listed (and stored) for `name`, with the given sha256
        where `sha256s` has one: lets a caller skip a rebuild that is already published."""
        canon = _canonical(name)
        found = self._read_project(canon)
        if found is None:
            return False
        state = found[0]
        wanted = list(filenames)
        for filename in wanted:
            entry = state.entries.get(filename)
            if entry is None:
                return False
            if sha256s is not None and sha256s.get(filename, entry.sha256).lower() != entry.sha256:
                return False
        return not self.storage.missing(f"simple/{canon}/{f}" for f in wanted)

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
        nothing across the whole batch as far as conflicts go (every project is checked before
        anything is written). Results are in request order (one per distinct project)."""
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

        with self.storage.exclusive():
            return self._publish_locked(batch, tracks_by_project, now)

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
        with self.storage.exclusive():
            projects = self.storage.list_projects()
            states: dict[NormalizedName, _ProjectState] = {}
            json_pages: list[PageWrite] = []
            for canon in projects:
                found = self._read_project(canon)
                if found is not None:  # None only if deleted meanwhile by hand
                    states[canon] = found[0]
                    json_pages.append(self._json_page(canon, found[0], found[1]))
            outcome = self.storage.put_pages(json_pages)
            lost = sorted(k for k, v in outcome.items() if v is None)
            if lost:
                raise PublishError(
                    f"{', '.join(lost)} changed while the index at {self.description} was being "
                    "regenerated (another publisher?). Run the command again."
                )
            self.storage.put_pages([self._html_page(c, s) for c, s in states.items()])
            self._update_root(list(states), force=True)
            return list(states)

    # -- internals ----------------------------------------------------------------------------

    def _publish_locked(
        self,
        batch: dict[NormalizedName, dict[str, _Candidate]],
        tracks_by_project: dict[NormalizedName, tuple[str, ...]],
        now: Callable[[], datetime],
    ) -> list[PublishResult]:
        read = {canon: self._read_project(canon) for canon in batch}
        conflicts: list[str] = []
        to_write: dict[NormalizedName, list[_Candidate]] = {}
        unchanged: dict[NormalizedName, list[str]] = {}
        listed_same: list[tuple[NormalizedName, _Candidate]] = []
        # Phase 1: decide everything from the recorded state; write nothing yet.
        for canon, cands in batch.items():
            found = read[canon]
            for filename in sorted(cands):
                cand = cands[filename]
                entry = None if found is None else found[0].entries.get(filename)
                if entry is None:
                    to_write.setdefault(canon, []).append(cand)
                elif entry.sha256 != cand.sha256:
                    conflicts.append(_conflict(canon, entry, cand))
                else:
                    listed_same.append((canon, cand))
        # A file listed with these very bytes is checked byte for byte: "unchanged" must mean the
        # index serves what its pages promise.
        stored = self.storage.digests(
            k for canon, c in listed_same for k, _ in _expected_sha256s(canon, c)
        )
        tampered: list[str] = []
        for canon, cand in listed_same:
            expected = dict(_expected_sha256s(canon, cand))
            states = {k: stored[k] for k in expected}
            if any(d is None for d in states.values()):
                # Listed with these very bytes but deleted from storage: restoring is safe.
                to_write.setdefault(canon, []).append(cand)
            else:
                unchanged.setdefault(canon, []).append(cand.filename)
            tampered.extend(
                self.storage.where(k)
                for k, d in states.items()
                if d is not None and d.sha256 != expected[k]
            )
        if tampered:
            raise PublishError(
                f"Refused to publish: {'; '.join(tampered)} has other bytes than the index "
                "lists for it (and the lock records): it was changed after it was published. "
                "pyhotfix never overwrites a published file, and installers would reject it; "
                "nothing was written. To repair, delete the changed file and publish the same "
                "build again (`pyhotfix publish`, or `pyhotfix build NAME` for the index that "
                "build writes to): a listed file that is missing is restored with its listed "
                "bytes. `pyhotfix check` lists every file that differs."
            )
        if conflicts:
            raise PublishError(
                "Refused to publish: a file with the same name but different content is already "
                f"in the index at {self.storage.where('simple')}: {'; '.join(conflicts)}. "
                "Published files are never overwritten, because installers and lock files have "
                "already recorded their hashes. Nothing was written. Bump the hotfix number "
                "(+hotfix.N+1) and publish the rebuilt files under their new names (and yank the "
                "old version if it is bad)."
            )

        # Phase 2: dists and .metadata files, before any page can list them.
        files: list[FileWrite] = []
        for canon, writes in to_write.items():
            for cand in writes:
                files.append(
                    FileWrite(
                        _key(canon, cand.filename), cand.data, cand.path, cand.sha256, DIST_TYPE
                    )
                )
                if cand.metadata is not None:
                    files.append(
                        FileWrite(
                            _key(canon, f"{cand.filename}.metadata"),
                            cand.metadata,
                            None,
                            hashlib.sha256(cand.metadata).hexdigest(),
                            METADATA_TYPE,
                        )
                    )
        if files:
            self.storage.put_files(files)

        # Phase 3: each project's record (index.json), conditional on the version read. A
        # project another publisher changed meanwhile is read again and merged, never overwritten.
        upload_time = _format_time(now()) if to_write else ""
        committed: dict[NormalizedName, tuple[_ProjectState, str]] = {}
        to_check: dict[NormalizedName, tuple[_ProjectState, str]] = {}
        pending = list(batch)
        for attempt in range(_COMMIT_ATTEMPTS):
            pages: list[PageWrite] = []
            new_states: dict[NormalizedName, _ProjectState] = {}
            for canon in pending:
                found = read[canon]
                state, token = found if found is not None else (_ProjectState({}, {}, ()), None)
                clashes = [
                    _conflict(canon, state.entries[c.filename], c)
                    for c in batch[canon].values()
                    if c.filename in state.entries and state.entries[c.filename].sha256 != c.sha256
                ]
                if clashes:
                    raise PublishError(
                        "Refused to publish: another publisher listed a file of the same name but "
                        f"different content in the index at {self.storage.where('simple')} "
                        f"meanwhile: {'; '.join(clashes)}. Its file stays; this one was not "
                        f"listed{_partial(committed)}. Bump the hotfix number and publish again."
                    )
                fresh = [c for c in batch[canon].values() if c.filename not in state.entries]
                new_tracks = tracks_by_project.get(canon, state.tracks)
                if not fresh and new_tracks == state.tracks and found is not None:
                    to_check[canon] = found  # nothing new to list; its HTML is checked below
                    continue
                new = _ProjectState(dict(state.entries), dict(state.versions), new_tracks)
                for cand in fresh:
                    new.entries[cand.filename] = IndexEntry(
                        filename=cand.filename,
                        sha256=cand.sha256,
                        size=cand.size,
                        requires_python=cand.requires_python,
                        core_metadata_sha256=(
                            None
                            if cand.metadata is None
                            else hashlib.sha256(cand.metadata).hexdigest()
                        ),
                        upload_time=upload_time,
                        yanked=False,
                    )
                    new.versions[cand.filename] = cand.version
                pages.append(self._json_page(canon, new, token))
                new_states[canon] = new
            outcome = self.storage.put_pages(pages) if pages else {}
            pending = []
            for canon, new in new_states.items():
                token = outcome[_json_key(canon)]
                if token is None:
                    pending.append(canon)
                else:
                    committed[canon] = (new, token)
            if not pending:
                break
            _pause(attempt)
            for canon in pending:
                read[canon] = self._read_project(canon)
        else:
            raise PublishError(
                f"Gave up listing {', '.join(pending)} in the index at {self.description}: its "
                f"index.json changed {_COMMIT_ATTEMPTS} times while this publish tried to update "
                f"it (other publishers at work){_partial(committed)}. The files are stored; run "
                "the same publish again to list them."
            )

        # Phase 4: HTML pages, then the root pages.
        self._sync_html(committed, known_stale=True)
        self._sync_html(to_check, known_stale=False)
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
        with self.storage.exclusive():
            for attempt in range(_COMMIT_ATTEMPTS):
                found = self._read_project(canon)
                if found is None:
                    raise PublishError(
                        f"{canon} is not in the index at {self.storage.where('simple')}."
                    )
                state, token = found
                affected = sorted(f for f, v in state.versions.items() if v == wanted)
                if not affected:
                    have = ", ".join(str(v) for v in sorted(set(state.versions.values())))
                    raise PublishError(
                        f"{canon} has no files of version {wanted} in the index at "
                        f"{self.storage.where('simple')} (it has: {have}). Give the full "
                        "version, including any +hotfix.N label."
                    )
                new = _ProjectState(dict(state.entries), state.versions, state.tracks)
                for filename in affected:
                    new.entries[filename] = replace(state.entries[filename], yanked=yanked)
                new_token = self.storage.put_pages([self._json_page(canon, new, token)])[
                    _json_key(canon)
                ]
                if new_token is not None:
                    self._sync_html({canon: (new, new_token)}, known_stale=True)
                    return affected
                _pause(attempt)
            raise PublishError(
                f"Gave up changing {canon} in the index at {self.description}: its index.json "
                f"changed {_COMMIT_ATTEMPTS} times meanwhile (other publishers at work). Run "
                "the command again."
            )

    def _read_project(self, canon: NormalizedName) -> tuple[_ProjectState, str] | None:
        key = _json_key(canon)
        blob = self.storage.read(key)
        if blob is None:
            return None
        try:
            return _parse_project(json.loads(blob.data), canon), blob.token
        except (ValueError, _Corrupt) as exc:  # ValueError covers JSON and UTF-8 errors
            where = self.storage.where(key)
            raise PublishError(
                f"{where} is corrupt ({exc}). It is the record of {canon}'s published files, "
                "hashes and yanks, so pyhotfix will not guess at it or overwrite it. "
                f"{self.storage.restore_hint(key)}; if there is no good copy, delete "
                f"{self.storage.where(f'simple/{canon}')} and publish {canon}'s files again."
            ) from exc

    def _json_page(
        self, canon: NormalizedName, state: _ProjectState, token: str | None
    ) -> PageWrite:
        entries = [state.entries[f] for f in sorted(state.entries)]
        versions = sorted(set(state.versions.values()))
        text = render_project_json(canon, entries, versions, state.tracks)
        return PageWrite(_json_key(canon), text.encode(), JSON_TYPE, expect=token)

    def _html_page(self, canon: NormalizedName, state: _ProjectState) -> PageWrite:
        entries = [state.entries[f] for f in sorted(state.entries)]
        text = render_project_html(canon, entries, state.tracks)
        return PageWrite(
            f"simple/{canon}/index.html", text.encode(), TEXT_HTML_UTF8, conditional=False
        )

    def _sync_html(
        self, items: Mapping[NormalizedName, tuple[_ProjectState, str]], *, known_stale: bool
    ) -> None:
        """Make each project's index.html show its index.json at the given token. Pages that may
        already be right are compared first (healing one a crash left behind costs one read).
        Without a lock, a publisher that committed a newer index.json may have written its page
        before this one: the writer of a page therefore reads the record again afterwards and
        rewrites the page from the newer state until the two agree, so the last page written
        always shows the last record."""
        todo = dict(items)
        for attempt in range(_COMMIT_ATTEMPTS):
            pages = []
            for canon, (state, _token) in todo.items():
                page = self._html_page(canon, state)
                if not known_stale:
                    current = self.storage.read(page.key)
                    if current is not None and current.data == page.data:
                        continue
                pages.append(page)
            if not pages:
                return
            self.storage.put_pages(pages)
            if self.storage.serialised:
                return
            again: dict[NormalizedName, tuple[_ProjectState, str]] = {}
            for page in pages:
                canon = NormalizedName(page.key.split("/")[1])
                found = self._read_project(canon)
                if found is not None and found[1] != todo[canon][1]:
                    again[canon] = found
            todo, known_stale = again, True
            if todo:
                _pause(attempt)

    def _update_root(self, touched: Sequence[NormalizedName], *, force: bool = False) -> None:
        """List every touched project on the root pages. Checked on every publish, not only for
        new projects, so root pages that missed a project (a publish interrupted between the
        project pages and the root) heal themselves."""
        wanted_names: list[str] = []
        for attempt in range(_COMMIT_ATTEMPTS):
            blob = self.storage.read(_ROOT_JSON)
            # Without a root page (first publish, or deleted to regenerate it): the directories.
            listed = (
                list(self.storage.list_projects())
                if blob is None
                else _parse_root(blob.data, self.storage.where(_ROOT_JSON))
            )
            wanted = set(listed) | set(touched)
            wanted_names = sorted(wanted)
            token = None if blob is None else blob.token
            if blob is None or force or wanted != set(listed):
                page = PageWrite(
                    _ROOT_JSON, render_root_json(wanted_names).encode(), JSON_TYPE, token
                )
                token = self.storage.put_pages([page])[_ROOT_JSON]
                if token is None:
                    _pause(attempt)
                    continue
            html_page = render_root_html(wanted_names).encode()
            current = self.storage.read(_ROOT_HTML)
            if current is not None and current.data == html_page:
                return
            self.storage.put_pages(
                [PageWrite(_ROOT_HTML, html_page, TEXT_HTML_UTF8, conditional=False)]
            )
            if self.storage.serialised:
                return
            # As for project pages: the root record may have changed while this page was being
            # written; if so, go round again and render it from the newer record.
            after = self.storage.read(_ROOT_JSON)
            if after is not None and after.token == token:
                return
            touched = []  # already listed; only the HTML needs to catch up
            _pause(attempt)
        raise PublishError(
            f"Gave up updating the root page of the index at {self.description}: it changed "
            f"{_COMMIT_ATTEMPTS} times meanwhile (other publishers at work). The projects' own "
            "pages are complete; publish again to list them on the root page."
        )


class LocalIndex(StaticIndex):
    """A static simple repository in the directory `root` (pages live under `root/simple/`)."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        super().__init__(DirStorage(root, fsync=fsync))
        self.root = Path(root)
        self.simple = self.root / "simple"

    def simple_url(self) -> str:
        """The file:// URL of `<root>/simple/`, for `pip install --index-url`."""
        return self.simple.resolve().as_uri() + "/"


def _json_key(canon: str) -> str:
    return f"simple/{canon}/index.json"


def _key(canon: str, filename: str) -> str:
    return f"simple/{canon}/{filename}"


def _expected_sha256s(canon: str, cand: _Candidate) -> list[tuple[str, str]]:
    """Each key `cand` is stored under, with the sha256 its bytes must have."""
    pairs = [(_key(canon, cand.filename), cand.sha256)]
    if cand.metadata is not None:
        meta_sha = hashlib.sha256(cand.metadata).hexdigest()
        pairs.append((_key(canon, f"{cand.filename}.metadata"), meta_sha))
    return pairs


def _conflict(canon: str, entry: IndexEntry, cand: _Candidate) -> str:
    return (
        f"{canon}/{cand.filename} (published sha256 {entry.sha256[:12]}…, new {cand.sha256[:12]}…)"
    )


def _partial(committed: Iterable[str]) -> str:
    names = list(committed)
    return f" (already listed in this publish: {', '.join(names)})" if names else ""


def _pause(attempt: int) -> None:
    # Random, growing pauses, so publishers that collided do not collide again in lock step.
    time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))


def _content_token(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- inspecting files ---------------------------------------------------------------------------


def _inspect(path: Path, canon: NormalizedName) -> _Candidate:
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
    return _Candidate(path, filename, version, sha256, size, requires_python, metadata, data)


def _hash_file(path: Path) -> tuple[Stamp, str]:
    """The file's stamp (taken from the open file, before reading) and the sha256 of its bytes."""
    with path.open("rb") as f:
        before = stamp(os.fstat(f.fileno()))
        return before, stream_sha256_size(f)[0]


# -- state (index.json) -------------------------------------------------------------------------


def _parse_root(raw: bytes, path: str) -> list[str]:
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
            parsed = parse_dist_filename(entry.filename)
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise _Corrupt(f"files[{i}] has an invalid filename {entry.filename!r}") from exc
        if parsed.name != canon or entry.filename in entries:
            raise _Corrupt(f"files[{i}] ({entry.filename}) is foreign or duplicated")
        entries[entry.filename] = entry
        versions[entry.filename] = parsed.version
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


def _atomic_write(job: _Write, fsync: bool) -> None:
    """Write `job` so readers see the old file or the new one, never a partial one."""
    with open_atomic(job.path, durable=fsync) as out:
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


def _write_error(root: Path, exc: OSError) -> PublishError:
    where = exc.filename or root
    return PublishError(
        f"Could not write to the package index at {root}: {exc.strerror or exc} ({where}). Check "
        "that the directory exists, is writable by this user and the disk is not full, or publish "
        "to another index directory. Files already published there are unaffected."
    )
