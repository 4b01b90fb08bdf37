"""Where a static index's bytes live: the `Storage` protocol, the values it moves, and
`DirStorage`, a local directory (flock()ed while pages change; every write atomic and fsynced)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from packaging.utils import NormalizedName, canonicalize_name

from pyhotfix._atomic import is_temp_name, open_atomic
from pyhotfix.distfile import stream_sha256_size
from pyhotfix.errors import PublishError
from pyhotfix.index.hashrecord import HashRecord, Stamp, stamp

__all__ = [
    "DIST_TYPE",
    "FILE_CACHE_CONTROL",
    "LOCK_NAME",
    "METADATA_TYPE",
    "PAGE_CACHE_CONTROL",
    "Blob",
    "DirStorage",
    "FileDigest",
    "FileWrite",
    "PageWrite",
    "Storage",
    "content_token",
]

LOCK_NAME = ".pyhotfix.lock"

# Above this many files in one step, one sync(2) replaces the per-file fsyncs: thousands of fsyncs
# cost seconds (each is a journal commit), one sync a few milliseconds.
_BULK_SYNC = 64


class _Write(NamedTuple):
    """One file to write: `data`, or a copy of `src` that must hash to `sha256`."""

    path: Path
    data: bytes | None
    src: Path | None = None
    sha256: str | None = None


DIST_TYPE = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"
PAGE_CACHE_CONTROL = "max-age=0"  # pages change: every reader revalidates
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"  # a published filename never changes


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
        """The names stored directly in simple/<canon>/ (pages, dists, .metadata, anything else,
        a subdirectory included), sorted; leftover temporary files of interrupted writes are left
        out."""
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
        return Blob(data, content_token(data))

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
            tokens[page.key] = content_token(page.data)
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


def content_token(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _hash_file(path: Path) -> tuple[Stamp, str]:
    """The file's stamp (taken from the open file, before reading) and the sha256 of its bytes."""
    with path.open("rb") as f:
        before = stamp(os.fstat(f.fileno()))
        return before, stream_sha256_size(f)[0]


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
