"""`pyhotfix audit`: does the index hold exactly what the lock says?

For every locked hotfix (or the names given): each locked file is listed with the locked sha256,
stored with those bytes, and has a statement beside it whose subject, parameters and resolved
dependencies are the ones the lock gives (`statement.render_statement`); no file of the hotfix
version is listed that the lock does not record. With `rebuild`, each hotfix is built again from
its locked inputs (same pipeline as `build`, a fresh temporary download cache, a temporary output
directory, never published) and every rebuilt file is compared with the index's by sha256 and size.

The index is read through an `IndexReader`: a static index (directory, file://, s3://) through its
`Storage`, a served one (http(s)://…/simple/) through the project's HTTP client, size-capped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packaging.utils import canonicalize_name

from pyhotfix.distfile import canonical_project, file_sha256_size, parse_dist_filename
from pyhotfix.errors import PyhotfixError, UsageError
from pyhotfix.index import StaticIndex
from pyhotfix.index.records import file_key
from pyhotfix.lock import LockedFile, LockedHotfix, lock_path, read_lock
from pyhotfix.manifest import Manifest
from pyhotfix.provenance.layout import STATEMENT_SUFFIX, statement_name
from pyhotfix.provenance.statement import (
    MAX_STATEMENT_BYTES,
    StatementFacts,
    parse_statement,
    render_statement,
)

if TYPE_CHECKING:
    import httpx

    from pyhotfix.pipeline import BuildContext
    from pyhotfix.upstream.limits import DownloadLimits

__all__ = [
    "AuditFinding",
    "FileTooLarge",
    "HttpReader",
    "IndexReader",
    "ListedFile",
    "StorageReader",
    "StoredFile",
    "audit",
    "audit_index",
    "compare_statement",
    "finding_dicts",
    "open_reader",
    "rebuilder",
]


@dataclass(frozen=True)
class AuditFinding:
    """One file of one hotfix (filename "" for the hotfix as a whole): fine, or why not."""

    name: str
    filename: str
    ok: bool
    reason: str  # "matches the lock and its statement", or what differs


@dataclass(frozen=True)
class ListedFile:
    """A file as a project page lists it."""

    filename: str
    sha256: str | None
    statement_sha256: str | None = None  # what the page says its statement hashes to, if it says


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int


class IndexReader(Protocol):
    description: str

    def listing(self, name: str) -> dict[str, ListedFile] | None:
        """The files the project page of `name` lists; None when it has no page."""
        ...

    def digest(self, name: str, filename: str, max_bytes: int) -> StoredFile | None:
        """sha256 and size of the stored file; None when it is missing. May stop reading
        past `max_bytes` (the size the lock records) with `FileTooLarge`."""
        ...

    def read_small(self, name: str, filename: str, max_bytes: int) -> bytes | None:
        """The stored file's bytes, if it exists; PyhotfixError when over `max_bytes`."""
        ...


class StorageReader:
    """A static index (directory, file://, s3://) read through its `Storage`."""

    def __init__(self, index: StaticIndex) -> None:
        self.index = index
        self.description = index.description

    def listing(self, name: str) -> dict[str, ListedFile] | None:
        entries = self.index.project_entries(name)
        if not entries:
            return None
        return {e.filename: ListedFile(e.filename, e.sha256, e.statement_sha256) for e in entries}

    def digest(self, name: str, filename: str, max_bytes: int) -> StoredFile | None:
        key = file_key(canonical_project(name), filename)
        found = self.index.storage.digests([key])[key]  # streamed: no size limit needed
        if found is None or found.sha256 is None:
            return None
        return StoredFile(found.sha256, found.size)

    def read_small(self, name: str, filename: str, max_bytes: int) -> bytes | None:
        key = file_key(canonical_project(name), filename)
        size = self.index.storage.digests([key], cheap=True)[key]
        if size is None:
            return None
        if size.size > max_bytes:
            raise FileTooLarge(max_bytes, filename)
        blob = self.index.storage.read(key)
        return None if blob is None else blob.data


class HttpReader:
    """A served index, from its simple URL (``https://host/…/simple/``), through the project's
    HTTP client (credentials scoped to the index's origin, downloads size- and time-capped)."""

    def __init__(self, simple_url: str, client: httpx.Client) -> None:
        from pyhotfix.httpclient import redact

        self.base = simple_url if simple_url.endswith("/") else simple_url + "/"
        self.client = client
        self.description = redact(self.base)
        self._urls: dict[tuple[str, str], str] = {}

    def listing(self, name: str) -> dict[str, ListedFile] | None:
        from pyhotfix.simpleapi import PAGE_ERRORS, parse_page
        from pyhotfix.upstream.limits import DownloadLimits

        canon = canonical_project(name)
        url = f"{self.base}{canon}/"
        with self._get(url, DownloadLimits(), f"the project page of {canon}", page=True) as got:
            if got is None:
                return None
            response, body = got
            try:
                files = parse_page(body, response.headers.get("content-type", ""), url)
            except PAGE_ERRORS as exc:
                raise UsageError(
                    f"The project page {self.description}{canon}/ is neither PEP 691 JSON nor "
                    f"PEP 503 HTML ({exc}); is {self.description} the index's simple URL?"
                ) from exc
        found: dict[str, ListedFile] = {}
        for f in files:
            self._urls[(canon, f.filename)] = f.url
            found[f.filename] = ListedFile(f.filename, f.sha256)
        return found

    def digest(self, name: str, filename: str, max_bytes: int) -> StoredFile | None:
        from pyhotfix.upstream.limits import DownloadLimits

        url = self._url(name, filename)
        hasher, size = hashlib.sha256(), 0
        # The usual download limits (time, and a cap far above any dist); past the locked size
        # the file differs whatever follows, so reading stops there.
        with self._stream(url, DownloadLimits.from_env(), filename) as chunks:
            if chunks is None:
                return None
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(max_bytes)
        return StoredFile(hasher.hexdigest(), size)

    def read_small(self, name: str, filename: str, max_bytes: int) -> bytes | None:
        from pyhotfix.upstream.limits import DownloadLimits

        limits = DownloadLimits(max_bytes=max_bytes)
        url = self._url(name, filename)
        with self._stream(url, limits, filename) as chunks:
            return None if chunks is None else b"".join(chunks)

    def _url(self, name: str, filename: str) -> str:
        from urllib.parse import quote

        canon = canonical_project(name)
        if (canon, filename) in self._urls:
            return self._urls[(canon, filename)]
        # Not on the page (a statement): beside the file the page names, else beside the page.
        if filename.endswith(STATEMENT_SUFFIX):
            dist_url = self._urls.get((canon, filename.removesuffix(STATEMENT_SUFFIX)))
            if dist_url is not None:
                return dist_url + STATEMENT_SUFFIX
        return f"{self.base}{canon}/{quote(filename, safe='')}"

    @contextmanager
    def _stream(
        self, url: str, limits: DownloadLimits, what: str
    ) -> Iterator[Iterator[bytes] | None]:
        with self._get(url, limits, what, page=False, stream=True) as got:
            yield None if got is None else got[1]

    @contextmanager
    def _get(
        self, url: str, limits: DownloadLimits, what: str, *, page: bool, stream: bool = False
    ) -> Iterator[Any]:
        import httpx

        from pyhotfix.errors import UpstreamError
        from pyhotfix.simpleapi import ACCEPT
        from pyhotfix.upstream.limits import bounded_get

        headers = {"Accept": ACCEPT}
        try:
            with bounded_get(self.client, url, headers if page else {}, limits, what, page) as (
                response,
                chunks,
            ):
                if response.status_code == 404:
                    yield None
                    return
                if response.status_code >= 400:
                    raise UpstreamError(
                        f"{self.description} answered {response.status_code} for {what}; "
                        "check the URL and the credentials."
                    )
                yield (response, chunks if stream else b"".join(chunks))
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Could not read {what} from {self.description}: {exc}. Check the URL and "
                "that the server is up."
            ) from exc


class FileTooLarge(PyhotfixError):
    """A file of the index is larger than it may be (reading stopped there): a dist larger than
    the lock records, a statement larger than any statement."""

    def __init__(self, limit: int, what: str = "the index's file") -> None:
        whose = "of the lock" if what == "the index's file" else "a statement can have"
        super().__init__(f"{what} is larger than the {limit} bytes {whose}")


# -- comparing ----------------------------------------------------------------------------------


def compare_statement(actual: StatementFacts, expected: StatementFacts) -> list[str]:
    """What `actual` (a statement from the index) says otherwise than `expected` (made from
    the lock); [] when it says the same about the build."""
    problems: list[str] = []
    if actual.subject_name != expected.subject_name:
        problems.append(f"the statement's subject is {actual.subject_name!r}")
    if actual.subject_sha256 != expected.subject_sha256:
        problems.append(
            f"the statement's subject has sha256 {actual.subject_sha256}, the lock "
            f"{expected.subject_sha256}"
        )
    if dict(actual.external) != dict(expected.external):
        problems.append("the statement's external parameters (the manifest entry) differ")
    for key in ("hotfixVersion", "inputs", "sourceDateEpoch", "buildBackend"):
        if actual.internal.get(key) != expected.internal.get(key):
            problems.append(
                f"the statement's {key} is {actual.internal.get(key)!r}, the lock's "
                f"{expected.internal.get(key)!r}"
            )
    have = {d.name: d for d in actual.dependencies}
    want = {d.name: d for d in expected.dependencies}
    for dep_name, dep in want.items():
        other = have.get(dep_name)
        what = _dependency_text(dep_name)
        if other is None:
            problems.append(f"the statement does not name {what}")
        elif other.sha256 != dep.sha256:
            problems.append(f"the statement names {what} with another sha256 ({other.sha256})")
        elif other.uri != dep.uri:
            problems.append(f"the statement names {what} at {other.uri}, the lock at {dep.uri}")
    problems.extend(
        f"the statement names {_dependency_text(n)}, which the lock does not"
        for n in sorted(set(have) - set(want))
    )
    return problems


def _dependency_text(name: str) -> str:
    kind, _, rest = name.partition(":")
    if kind == "patch":
        return f"patch {rest}"
    if kind == "build-requirement":
        return f"build requirement {rest}"
    return name.replace("-", " ")


# -- the audit ----------------------------------------------------------------------------------


def audit(
    manifest: Manifest,
    reader: IndexReader,
    names: Sequence[str] = (),
    *,
    rebuild: RebuildFn | None = None,
) -> list[AuditFinding]:
    """The findings for every locked hotfix (or `names`), in lock order, file by file."""
    lock = read_lock(lock_path(manifest.path))
    if names:
        wanted = [canonicalize_name(n) for n in names]
        by_canon = {canonicalize_name(n): h for n, h in lock.hotfixes.items()}
        unknown = [n for n, c in zip(names, wanted, strict=True) if c not in by_canon]
        if unknown:
            raise UsageError(
                f"{', '.join(unknown)}: not in {lock_path(manifest.path)}; audit checks what "
                "the lock records (`pyhotfix list` shows the hotfixes; build them first)."
            )
        hotfixes = [by_canon[c] for c in dict.fromkeys(wanted)]
    else:
        hotfixes = [lock.hotfixes[n] for n in sorted(lock.hotfixes)]
    if not hotfixes:
        raise UsageError(
            f"{lock_path(manifest.path)} records no hotfixes, so there is nothing to audit. "
            "Run `pyhotfix build` first."
        )
    findings: list[AuditFinding] = []
    for locked in hotfixes:
        findings.extend(_audit_hotfix(locked, reader))
        if rebuild is not None:
            findings.extend(rebuild(locked, reader))
    return findings


def _audit_hotfix(locked: LockedHotfix, reader: IndexReader) -> list[AuditFinding]:
    listing = reader.listing(locked.name)
    findings: list[AuditFinding] = []
    if listing is None:
        return [
            AuditFinding(locked.name, f.filename, False, "not in the index (no project page)")
            for f in locked.files
        ]
    for f in locked.files:
        problems = _file_problems(locked, f, listing.get(f.filename), reader)
        reason = "; ".join(problems) or "matches the lock and its statement"
        findings.append(AuditFinding(locked.name, f.filename, not problems, reason))
    recorded = {f.filename for f in locked.files}
    for filename in sorted(set(listing) - recorded):
        try:
            version = str(parse_dist_filename(filename).version)
        except ValueError:
            continue
        if version == locked.hotfix_version:
            findings.append(
                AuditFinding(
                    locked.name,
                    filename,
                    False,
                    f"listed in the index as a file of {locked.hotfix_version}, but not in the lock",
                )
            )
    return findings


def _file_problems(
    locked: LockedHotfix, f: LockedFile, listed: ListedFile | None, reader: IndexReader
) -> list[str]:
    if listed is None:
        return ["not listed on the index's project page"]
    problems: list[str] = []
    if listed.sha256 is not None and listed.sha256 != f.sha256:
        problems.append(f"the index page lists sha256 {listed.sha256}, the lock {f.sha256}")
    try:
        stored = reader.digest(locked.name, f.filename, f.size)
    except FileTooLarge as exc:
        return [*problems, f"sha256 differs from the lock ({exc})"]
    except PyhotfixError as exc:
        return [*problems, f"could not be read: {exc}"]
    if stored is None:
        problems.append("listed, but the file is missing from the index")
    elif stored.sha256 != f.sha256 or stored.size != f.size:
        problems.append(
            f"sha256 differs from the lock (index {stored.sha256[:16]}…, {stored.size} bytes; "
            f"lock {f.sha256[:16]}…, {f.size} bytes)"
        )
    problems.extend(_statement_problems(locked, f, listed, reader))
    return problems


def _statement_problems(
    locked: LockedHotfix, f: LockedFile, listed: ListedFile, reader: IndexReader
) -> list[str]:
    name = statement_name(f.filename)
    try:
        data = reader.read_small(locked.name, name, MAX_STATEMENT_BYTES)
    except PyhotfixError as exc:
        return [f"its statement {name} could not be read: {exc}"]
    if data is None:
        return [
            f"no provenance statement ({name} is missing; `pyhotfix publish {locked.name}` "
            "publishes it from the lock, also for a file published before pyhotfix wrote "
            "statements)"
        ]
    problems: list[str] = []
    digest = hashlib.sha256(data).hexdigest()
    if listed.statement_sha256 is not None and listed.statement_sha256 != digest:
        problems.append(f"{name} has sha256 {digest}, its page lists {listed.statement_sha256}")
    try:
        actual = parse_statement(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return [*problems, f"{name} is not a valid provenance statement: {exc}"]
    expected = parse_statement(render_statement(locked, f))
    problems.extend(compare_statement(actual, expected))
    return problems


# -- rebuilding ---------------------------------------------------------------------------------

RebuildFn = Callable[[LockedHotfix, IndexReader], list[AuditFinding]]


def rebuilder(manifest: Manifest, make_context: Callable[[Path], BuildContext]) -> RebuildFn:
    """A `rebuild` for `audit`: builds each hotfix from its locked inputs with a fresh temporary
    download cache (`make_context(cache_dir)` gives the `BuildContext`), never publishing, and
    compares every rebuilt file with the index's."""

    def rebuild(locked: LockedHotfix, reader: IndexReader) -> list[AuditFinding]:
        from pyhotfix.pipeline import BuildOptions, build_one, inputs_key
        from pyhotfix.treeremove import temporary_directory

        spec = next(
            (s for s in manifest.hotfixes if canonicalize_name(s.name) == locked.name), None
        )
        if spec is None or spec.version != locked.version:
            return [_whole(locked, "rebuild skipped: the manifest has no entry for this version")]
        if inputs_key(spec, manifest.settings.label, manifest.directory) != locked.inputs:
            return [
                _whole(
                    locked,
                    "rebuild skipped: the manifest's entry (patches, label) differs from the "
                    "lock's inputs; build it first, or audit the commit that made the lock",
                )
            ]
        with temporary_directory(f"pyhotfix-audit-{locked.name}-") as tmp:
            out = tmp / "out"
            options = BuildOptions(force=True, publish=False, out_dir=out)
            result = build_one(make_context(tmp / "cache"), spec, options)
            if result.status != "built":
                return [_whole(locked, f"rebuild differs: {result.message}")]
            return [_compare_rebuilt(locked, out / f.filename, f, reader) for f in locked.files]

    return rebuild


def _compare_rebuilt(
    locked: LockedHotfix, path: Path, f: LockedFile, reader: IndexReader
) -> AuditFinding:
    if not path.is_file():
        return AuditFinding(locked.name, f.filename, False, "rebuild differs: it made no such file")
    sha256, size = file_sha256_size(path)
    try:
        stored = reader.digest(locked.name, f.filename, f.size)
    except FileTooLarge as exc:
        return AuditFinding(locked.name, f.filename, False, f"rebuild differs: {exc}")
    if stored is None:
        reason = "rebuilt, but the index has no such file to compare with"
        return AuditFinding(locked.name, f.filename, False, reason)
    if (sha256, size) != (stored.sha256, stored.size):
        return AuditFinding(
            locked.name,
            f.filename,
            False,
            f"rebuild differs: the rebuilt file has sha256 {sha256[:16]}… ({size} bytes), the "
            f"index's {stored.sha256[:16]}… ({stored.size} bytes)",
        )
    return AuditFinding(locked.name, f.filename, True, "rebuilt byte for byte")


def _whole(locked: LockedHotfix, reason: str) -> AuditFinding:
    return AuditFinding(locked.name, "", False, reason)


@contextmanager
def open_reader(manifest: Manifest, index: str | None = None) -> Iterator[IndexReader]:
    """The reader of `index` (default: [settings] index): a served index for an http(s) URL,
    else the static index the target names; UsageError for a registry's upload endpoint."""
    if index is not None and index.lower().startswith(("http://", "https://")):
        from pyhotfix.httpclient import make_client

        with make_client(index) as client:
            yield HttpReader(index, client)
        return
    from pyhotfix.publish import resolve_target

    target = resolve_target(manifest.settings, manifest.directory, index)
    if not isinstance(target, StaticIndex):
        raise UsageError(
            f"{target.description} is a registry's upload endpoint; audit reads an index's "
            "pages and files: give its simple URL with --index https://…/simple/."
        )
    yield StorageReader(target)


def audit_index(
    manifest: Manifest,
    names: Sequence[str] = (),
    *,
    index: str | None = None,
    rebuild_context: Callable[[Path], BuildContext] | None = None,
) -> list[AuditFinding]:
    """`audit` of the index `index` (see `open_reader`); with `rebuild_context` (a fresh
    download cache directory -> the BuildContext to rebuild with), `--rebuild` too."""
    rebuild = None if rebuild_context is None else rebuilder(manifest, rebuild_context)
    with open_reader(manifest, index) as reader:
        return audit(manifest, reader, names, rebuild=rebuild)


def finding_dicts(findings: Sequence[AuditFinding]) -> list[Mapping[str, object]]:
    return [
        {"name": f.name, "filename": f.filename, "ok": f.ok, "reason": f.reason} for f in findings
    ]
