"""Does the index hold what the lock says was built? One answer per locked file.

Three places record a published file's sha256: hotfixes.lock, the project's index.json and the
``#sha256=`` fragment of its index.html; the stored bytes must match all three. A cheap check
(`list`, a no-op `build`) looks at the size and at a hash the index recorded for the file's
unchanged stat (hashrecord.py), and at index.json; a full check (`pyhotfix check`) reads every
byte of every file and of its ``.metadata``, and parses the HTML page too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.utils import canonicalize_name

from pyhotfix.index import FileDigest, IndexEntry, StaticIndex
from pyhotfix.lock import LockedFile, LockedHotfix
from pyhotfix.simpleapi import PAGE_ERRORS, parse_page

__all__ = ["FileCheck", "FileStatus", "check_hotfix", "repair_advice"]

# ok: stored with the lock's bytes and listed with its sha256.
# missing: not stored (deleted by hand, or never published there).
# unlisted: stored with the lock's bytes, but no page lists it (an interrupted publish).
# mismatch: stored with other bytes than the lock records (changed after publishing).
# page-mismatch: a page lists another sha256 than the lock, or the HTML page does not list it.
FileStatus = Literal["ok", "missing", "unlisted", "mismatch", "page-mismatch"]


@dataclass(frozen=True)
class FileCheck:
    name: str  # the hotfix's name, as in the lock
    filename: str  # the distribution's filename
    status: FileStatus
    detail: str  # what differs, one sentence; "" when ok


def check_hotfix(index: StaticIndex, locked: LockedHotfix, *, full: bool) -> list[FileCheck]:
    """Check each file the lock records for `locked` against the index (see the module doc)."""
    canon = canonicalize_name(locked.name)
    entries = {e.filename: e for e in index.project_entries(locked.name)}
    keys = {f.filename: f"simple/{canon}/{f.filename}" for f in locked.files}
    wanted = list(keys.values())
    if full:
        wanted += [f"{keys[f]}.metadata" for f in keys if _core_sha(entries.get(f))]
    stored = index.storage.digests(wanted, cheap=not full)
    html = _html_hashes(index, canon) if full else None
    return [
        FileCheck(locked.name, f.filename, *_judge(f, entries.get(f.filename), stored, keys, html))
        for f in sorted(locked.files, key=lambda f: f.filename)
    ]


def _judge(
    f: LockedFile,
    entry: IndexEntry | None,
    stored: dict[str, FileDigest | None],
    keys: dict[str, str],
    html: dict[str, str | None] | str | None,
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
    if html is not None and html.get(f.filename, "") != f.sha256:
        seen = html.get(f.filename, "")
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


def _core_sha(entry: IndexEntry | None) -> str | None:
    return None if entry is None else entry.core_metadata_sha256


def _html_hashes(index: StaticIndex, canon: str) -> dict[str, str | None] | str:
    """{filename: the sha256 in its link's #sha256= fragment} from the project's index.html, or
    a sentence saying why the page could not be read."""
    blob = index.storage.read(f"simple/{canon}/index.html")
    if blob is None:
        return "index.html is missing (index.json lists the files)."
    try:
        files = parse_page(blob.data, "text/html", f"https://index.invalid/simple/{canon}/")
    except PAGE_ERRORS as exc:
        return f"index.html cannot be parsed ({exc})."
    return {f.filename: f.sha256 for f in files}


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
