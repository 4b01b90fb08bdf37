"""Does the index hold what the lock says was built, and nothing a reader would take for it?

Three places record a published file's sha256: hotfixes.lock, the project's index.json and the
``#sha256=`` fragment of its index.html; the stored bytes must match all three, and both pages
must link the file inside the index (a relative URL to the same directory). A cheap check
(`list`, a no-op `build`) looks at the size and at a hash the index recorded for the file's
unchanged stat (hashrecord.py), and at index.json; a full check (`pyhotfix check`) reads every
byte of every file and of its ``.metadata``, and parses the HTML page too.

Files the lock does not record are legitimate when the index could have published them: files
of earlier hotfix numbers stay listed with their own hashes after a rebuild or a retire. Such a
file is reported (``unexpected``) only when no publish could have made it: a page entry linking
outside the index, a page entry whose file is not stored, an index.html link index.json does not
list, or a stored file no page lists. The full check also reads the bytes of every listed file
and compares them with its index.json hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from pyhotfix.distfile import canonical_project
from pyhotfix.index.pages import parse_record
from pyhotfix.index.records import json_key
from pyhotfix.index.static import StaticIndex
from pyhotfix.index.storage import FileDigest
from pyhotfix.lock import LockedFile, LockedHotfix
from pyhotfix.provenance import layout as statement_layout
from pyhotfix.simpleapi import JSON_TYPE, PAGE_ERRORS, IndexEntry, parse_page

__all__ = ["FileCheck", "FileStatus", "check_hotfix", "rebuild_repairs", "repair_advice"]

# ok: stored with the lock's bytes and listed with its sha256.
# missing: not stored (deleted by hand, or never published there).
# unlisted: stored with the lock's bytes, but no page lists it (an interrupted publish).
# mismatch: stored with other bytes than the lock (or, for an unlocked file, its page) records.
# page-mismatch: a page lists another sha256 than the lock, no link, or a link outside the index.
# unexpected: a file or page entry the lock does not record and no publish could have made.
FileStatus = Literal["ok", "missing", "unlisted", "mismatch", "page-mismatch", "unexpected"]

_PAGES = frozenset({"index.html", "index.json"})
# {filename: (the sha256 of its #sha256= fragment, its absolute URL)} from an HTML page.
_Links = dict[str, tuple[str | None, str]]


@dataclass(frozen=True)
class FileCheck:
    name: str  # the hotfix's name, as in the lock
    filename: str  # the distribution's filename
    status: FileStatus
    detail: str  # what differs, one sentence; "" when ok


def check_hotfix(index: StaticIndex, locked: LockedHotfix, *, full: bool) -> list[FileCheck]:
    """Check each file the lock records for `locked` against the index, then what else the
    project's pages list or its directory stores (see the module doc)."""
    canon = canonical_project(locked.name)
    blob = index.storage.read(json_key(canon))  # read once: entries and their URLs
    record = None if blob is None else parse_record(index.storage, canon, blob)
    entries = {} if record is None else dict(record[0].entries)
    json_urls = _json_urls(blob.data, canon) if blob is not None and entries else {}
    keys = {f.filename: f"simple/{canon}/{f.filename}" for f in locked.files}
    extra = sorted(set(entries) - set(keys))
    wanted = list(keys.values())
    if full:
        wanted += [f"{keys[f]}.metadata" for f in keys if _core_sha(entries.get(f))]
        wanted += [f"simple/{canon}/{f}" for f in extra]
    stored = index.storage.digests(wanted, cheap=not full)
    html = _html_links(index, canon) if full else None
    checks = []
    for f in sorted(locked.files, key=lambda f: f.filename):
        status, detail = _judge(f, entries.get(f.filename), stored, keys, html)
        if status == "ok":
            status, detail = _judge_links(canon, f.filename, json_urls, html)
        checks.append(FileCheck(locked.name, f.filename, status, detail))
    if not full:
        there = index.storage.missing(f"simple/{canon}/{f}" for f in extra)
        stored |= {k: None for k in there}
    found = [
        (filename, *_judge_extra(canon, entries[filename], stored, json_urls, html))
        for filename in extra
    ]
    if full:
        found += _unexpected_links_and_files(index, canon, entries, keys, html)
    checks += [FileCheck(locked.name, n, s, d) for n, s, d in found if s != "ok"]
    return checks


def rebuild_repairs(check: FileCheck) -> bool:
    """True when rebuilding and publishing again repairs `check`'s problem (a missing file, an
    unlisted one, a stale index.html); False for changed bytes, anything no publish made, and an
    index.json link outside the index (a publish never rewrites an entry it already lists)."""
    if check.status in ("mismatch", "unexpected"):
        return False
    return not (check.status == "page-mismatch" and check.detail.startswith("index.json links "))


def _judge(
    f: LockedFile,
    entry: IndexEntry | None,
    stored: dict[str, FileDigest | None],
    keys: dict[str, str],
    html: _Links | str | None,
) -> tuple[FileStatus, str]:
    found = stored[keys[f.filename]]
    if found is None:
        listed = " although index.json lists it" if entry is not None else ""
        return "missing", f"{f.filename} is not in the index{listed}."
    if found.size != f.size or (found.sha256 is not None and found.sha256 != f.sha256):
        what = f"sha256 {found.sha256[:12]}…, " if found.sha256 is not None else ""
        return "mismatch", (
            f"{f.filename} in the index has other bytes than the lock records ({what}{found.size} "
            f"bytes; the lock: sha256 {f.sha256[:12]}…, {f.size} bytes): it was changed after it "
            "was published."
        )
    if entry is None:
        return "unlisted", f"{f.filename} is in the index directory, but no page lists it."
    if entry.sha256 != f.sha256:
        return "page-mismatch", (
            f"index.json lists {f.filename} with sha256 {entry.sha256[:12]}…, the lock with "
            f"{f.sha256[:12]}…: the lock or the page was changed by hand."
        )
    if isinstance(html, str):
        return "page-mismatch", f"{html[:-1]} ({f.filename})."
    if html is not None and (seen := html.get(f.filename, ("", ""))[0]) != f.sha256:
        how = "does not list it" if seen == "" else f"lists sha256 {(seen or 'none')[:12]}…"
        return (
            "page-mismatch",
            f"index.html {how} for {f.filename} (index.json and the lock agree).",
        )
    core = _core_sha(entry)
    if core is not None and f"{keys[f.filename]}.metadata" in stored:
        meta = stored[f"{keys[f.filename]}.metadata"]
        if meta is None or meta.sha256 != core:
            state = "is missing" if meta is None else "has other bytes than its page lists"
            return "mismatch", f"{f.filename}.metadata {state}."
    return "ok", ""


def _judge_links(
    canon: str, filename: str, json_urls: dict[str, str], html: _Links | str | None
) -> tuple[FileStatus, str]:
    """page-mismatch when a page links `filename` anywhere but to the file inside the index."""
    pages = [("index.json", json_urls.get(filename, ""))]
    if isinstance(html, dict) and filename in html:
        pages.append(("index.html", html[filename][1]))
    for page, url in pages:
        if not _inside(url, canon, filename):
            return "page-mismatch", (
                f"{page} links {filename} to {url or 'no usable URL'}, not to the file inside "
                "the index: the page was changed by hand."
            )
    return "ok", ""


def _judge_extra(
    canon: str,
    entry: IndexEntry,
    stored: dict[str, FileDigest | None],
    json_urls: dict[str, str],
    html: _Links | str | None,
) -> tuple[FileStatus, str]:
    """A file index.json lists that the lock does not record (an earlier build, or a stray)."""
    filename = entry.filename
    status, detail = _judge_links(canon, filename, json_urls, html)
    if status != "ok":
        return "unexpected", f"{detail[:-1]}; hotfixes.lock does not record it."
    key = f"simple/{canon}/{filename}"
    if key in stored and (found := stored[key]) is None:
        return "unexpected", (
            f"index.json lists {filename}, which hotfixes.lock does not record, but the index "
            "does not store it: the page was changed by hand."
        )
    found = stored.get(key)
    if found is not None and found.sha256 is not None and found.sha256 != entry.sha256:
        return "mismatch", (
            f"{filename} in the index has other bytes (sha256 {found.sha256[:12]}…) than "
            f"index.json lists ({entry.sha256[:12]}…): it was changed after it was published."
        )
    if isinstance(html, dict) and html.get(filename, ("", ""))[0] not in ("", entry.sha256):
        return "page-mismatch", f"index.html lists another sha256 for {filename} than index.json."
    return "ok", ""


def _unexpected_links_and_files(
    index: StaticIndex,
    canon: str,
    entries: dict[str, IndexEntry],
    keys: dict[str, str],
    html: _Links | str | None,
) -> list[tuple[str, FileStatus, str]]:
    """index.html links to files index.json does not list, and stored files on no page (a
    locked one is `unlisted` already)."""
    found: list[tuple[str, FileStatus, str]] = []
    links = html if isinstance(html, dict) else {}
    for filename in sorted(set(links) - set(entries) - set(keys)):
        detail = (
            f"index.html links {filename} ({links[filename][1]}), which neither index.json nor "
            "hotfixes.lock lists: the page was changed by hand."
        )
        found.append((filename, "unexpected", detail))
    for name in index.storage.project_files(canon):
        # a companion (.metadata, .intoto.json) belongs to its file
        listed = (
            name.removesuffix(".metadata")
            .removesuffix(statement_layout.STATEMENT_SUFFIX)
            .removesuffix(statement_layout.PROVENANCE_SUFFIX)
        )
        if name in _PAGES or listed in entries or listed in keys:
            continue
        detail = (
            f"{name} is stored in the index directory, but no page lists it and hotfixes.lock "
            "does not record it: it was put there by hand, or a publish was interrupted before "
            "listing it (then a rebuild makes it again)."
        )
        found.append((name, "unexpected", detail))
    return found


def _inside(url: str, canon: str, filename: str) -> bool:
    """True if `url` (resolved against the project page) is the file in the page's directory."""
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.netloc == "index.invalid"
        and not parts.query
        and unquote(parts.path) == f"/simple/{canon}/{filename}"
    )


def _base(canon: str) -> str:
    return f"https://index.invalid/simple/{canon}/"


def _core_sha(entry: IndexEntry | None) -> str | None:
    return None if entry is None else entry.core_metadata_sha256


def _json_urls(page: bytes, canon: str) -> dict[str, str]:
    """{filename: its absolute URL} from the project's index.json (already parsed as a record;
    a link the page parser drops, e.g. javascript:, is simply absent)."""
    try:
        return {f.filename: f.url for f in parse_page(page, JSON_TYPE, _base(canon))}
    except PAGE_ERRORS:
        return {}


def _html_links(index: StaticIndex, canon: str) -> _Links | str:
    """{filename: (the sha256 in its link's #sha256= fragment, its URL)} from the project's
    index.html, or a sentence saying why the page could not be read."""
    blob = index.storage.read(f"simple/{canon}/index.html")
    if blob is None:
        return "index.html is missing (index.json lists the files)."
    try:
        files = parse_page(blob.data, "text/html", _base(canon))
    except PAGE_ERRORS as exc:
        return f"index.html cannot be parsed ({exc})."
    return {f.filename: (f.sha256, f.url) for f in files}


def repair_advice(problems: Sequence[FileCheck]) -> str:
    """How to repair the files in `problems`, one sentence per kind of problem found."""
    names = " ".join(sorted({p.name for p in problems}))
    kinds = {p.status for p in problems}
    advice = []
    if "mismatch" in kinds:
        advice.append(
            "A file changed after it was published is never overwritten: delete it from the "
            f"index, then run `pyhotfix build {names}`, which rebuilds "
            "byte-identical files from the same inputs and restores them (`pyhotfix publish "
            "--from DIR` restores them from another copy of the index); or restore each file "
            "from a backup with the sha256 the lock records."
        )
    if "unexpected" in kinds:
        advice.append(
            "Files and page entries hotfixes.lock does not record and no publish could have made "
            "were put into the index by hand: delete those files and their entries from "
            f"index.json (`pyhotfix publish {names}` then rewrites index.html from index.json), "
            "or restore the index from a backup; then find out who could write to it."
        )
    if "missing" in kinds:
        advice.append(
            f"Missing files are restored by `pyhotfix build {names}` (or `pyhotfix publish "
            "--from DIR` from another copy of the index)."
        )
    if "unlisted" in kinds or any(p.detail.startswith("index.html") for p in problems):
        advice.append(
            f"`pyhotfix publish {names}` lists unlisted files and rewrites a stale index.html "
            "from index.json."
        )
    if any(p.detail.startswith("index.json") for p in problems):
        advice.append(
            "Where index.json and hotfixes.lock disagree, restore hotfixes.lock (or the page) "
            "from version control; if the published file is the right one, bump the hotfix "
            "number instead."
        )
    return " ".join(advice)
