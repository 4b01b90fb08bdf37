"""The publish transaction, under the index's lock, in the order that keeps every page true:

1. check the files already there (a name listed with other bytes is a conflict, a listed file
   whose stored bytes changed is refused; nothing is written before both checks pass);
2. write the dists, ``.metadata`` and ``.intoto.json`` files, before any page can list them;
3. commit each project's record (index.json), conditional on the version read, merged and retried
   when another publisher got there first;
4. heal: rewrite each touched index.html from its record, then the root pages.

A crash between the steps leaves pages that list less than is stored; the next publish of the
same files completes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from packaging.utils import NormalizedName

from pyhotfix.errors import PublishError
from pyhotfix.index.candidates import Candidate, conflict_text, expected_sha256s
from pyhotfix.index.pages import (
    COMMIT_ATTEMPTS,
    json_page,
    pause,
    read_project,
    sync_html,
    update_root,
)
from pyhotfix.index.records import ProjectState, file_key, format_time, json_key
from pyhotfix.index.storage import DIST_TYPE, METADATA_TYPE, FileWrite, PageWrite, Storage
from pyhotfix.provenance import layout as statement_layout
from pyhotfix.simpleapi import IndexEntry

__all__ = ["Batch", "PublishResult", "publish_locked", "utc_now"]

# {project: {filename: the file to publish}}
Batch = dict[NormalizedName, dict[str, Candidate]]
# {project: its record and the token it was read at, or None when it has none yet}
_Records = dict[NormalizedName, tuple[ProjectState, str] | None]
_Committed = dict[NormalizedName, tuple[ProjectState, str]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PublishResult:
    """What one publish did for one project."""

    project: str  # canonical name
    added: tuple[str, ...]  # filenames newly written (sorted)
    unchanged: tuple[str, ...]  # same name, same bytes: nothing done (sorted)


def publish_locked(
    storage: Storage,
    batch: Batch,
    tracks_by_project: dict[NormalizedName, tuple[str, ...]],
    now: Callable[[], datetime],
) -> list[PublishResult]:
    """Publish `batch` into `storage`, whose lock the caller holds (see the module doc)."""
    read: _Records = {canon: read_project(storage, canon) for canon in batch}
    to_write, unchanged = check_existing(storage, batch, read)
    write_files(storage, to_write)
    backfill_statements(storage, batch, read, to_write)
    upload_time = format_time(now()) if to_write else ""
    committed, to_check = commit_records(storage, batch, read, tracks_by_project, upload_time)
    # Heal: HTML pages, then the root pages.
    sync_html(storage, committed, known_stale=True)
    sync_html(storage, to_check, known_stale=False)
    update_root(storage, list(batch))
    return [
        PublishResult(
            project=canon,
            added=tuple(sorted(c.filename for c in to_write.get(canon, []))),
            unchanged=tuple(sorted(unchanged.get(canon, []))),
        )
        for canon in batch
    ]


def check_existing(
    storage: Storage, batch: Batch, read: _Records
) -> tuple[dict[NormalizedName, list[Candidate]], dict[NormalizedName, list[str]]]:
    """Decide everything from the recorded state, writing nothing: the files to write and the
    filenames already there with these bytes. PublishError on a tampered file or a conflict."""
    conflicts: list[str] = []
    to_write: dict[NormalizedName, list[Candidate]] = {}
    unchanged: dict[NormalizedName, list[str]] = {}
    listed_same: list[tuple[NormalizedName, Candidate]] = []
    for canon, cands in batch.items():
        found = read[canon]
        for filename in sorted(cands):
            cand = cands[filename]
            entry = None if found is None else found[0].entries.get(filename)
            if entry is None:
                to_write.setdefault(canon, []).append(cand)
            elif entry.sha256 != cand.sha256:
                conflicts.append(conflict_text(canon, entry, cand))
            else:
                # A statement already listed stays: a restored file keeps it (or gets it back
                # when these are its bytes), never another one.
                if entry.statement_sha256 not in (None, _statement_sha256(cand)):
                    cand = replace(cand, statement=None)
                if not entry.provenance:  # only a file published with one has one restored
                    cand = replace(cand, provenance=None)
                listed_same.append((canon, cand))
    tampered = _check_listed_same(storage, listed_same, to_write, unchanged)
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
            f"in the index at {storage.where('simple')}: {'; '.join(conflicts)}. "
            "Published files are never overwritten, because installers and lock files have "
            "already recorded their hashes. Nothing was written. Bump the hotfix number "
            "(+hotfix.N+1) and publish the rebuilt files under their new names (and yank the "
            "old version if it is bad)."
        )
    return to_write, unchanged


def _check_listed_same(
    storage: Storage,
    listed_same: list[tuple[NormalizedName, Candidate]],
    to_write: dict[NormalizedName, list[Candidate]],
    unchanged: dict[NormalizedName, list[str]],
) -> list[str]:
    """Sort files listed with these very bytes into `to_write` (deleted from storage: restoring
    is safe) or `unchanged`; returns where a stored copy has other bytes. Read byte for byte:
    "unchanged" must mean the index serves what its pages promise."""
    stored = storage.digests(k for canon, c in listed_same for k, _ in expected_sha256s(canon, c))
    tampered: list[str] = []
    for canon, cand in listed_same:
        expected = dict(expected_sha256s(canon, cand))
        states = {k: stored[k] for k in expected}
        if any(d is None for d in states.values()):
            to_write.setdefault(canon, []).append(cand)
        else:
            unchanged.setdefault(canon, []).append(cand.filename)
        tampered.extend(
            storage.where(k) for k, d in states.items() if d is not None and d.sha256 != expected[k]
        )
    return tampered


def write_files(storage: Storage, to_write: dict[NormalizedName, list[Candidate]]) -> None:
    """Store the dists and their .metadata files, before any page can list them."""
    files: list[FileWrite] = []
    for canon, writes in to_write.items():
        for cand in writes:
            files.append(
                FileWrite(
                    file_key(canon, cand.filename), cand.data, cand.path, cand.sha256, DIST_TYPE
                )
            )
            if cand.statement is not None:
                files.append(_statement_write(canon, cand.filename, cand.statement))
            if cand.provenance is not None:
                files.append(
                    FileWrite(
                        file_key(canon, statement_layout.provenance_name(cand.filename)),
                        cand.provenance,
                        None,
                        hashlib.sha256(cand.provenance).hexdigest(),
                        statement_layout.PROVENANCE_TYPE,
                    )
                )
            if cand.metadata is not None:
                files.append(
                    FileWrite(
                        file_key(canon, f"{cand.filename}.metadata"),
                        cand.metadata,
                        None,
                        hashlib.sha256(cand.metadata).hexdigest(),
                        METADATA_TYPE,
                    )
                )
    if files:
        storage.put_files(files)


def backfill_statements(
    storage: Storage,
    batch: Batch,
    read: _Records,
    to_write: dict[NormalizedName, list[Candidate]],
) -> None:
    """Store the statements of files listed without one (published before pyhotfix wrote
    statements), before their records list them, and put back a listed statement deleted by
    hand (these very bytes); a stored one with other bytes is refused, never replaced."""
    writes: list[FileWrite] = []
    for canon, cands in batch.items():
        found = read[canon]
        if found is None:
            continue
        written = {c.filename for c in to_write.get(canon, [])}
        for cand in cands.values():
            entry = found[0].entries.get(cand.filename)
            if entry is not None and cand.filename not in written and _may_store(entry, cand):
                assert cand.statement is not None
                writes.append(_statement_write(canon, cand.filename, cand.statement))
    if writes:
        storage.put_files(writes)


def _needs_statement(entry: IndexEntry, cand: Candidate) -> bool:
    """`entry` lists no statement, and `cand` (the same file) brings one."""
    return (
        cand.statement is not None
        and entry.statement_sha256 is None
        and entry.sha256 == cand.sha256
    )


def _may_store(entry: IndexEntry, cand: Candidate) -> bool:
    """`cand`'s statement is the one `entry` lists, or `entry` lists none."""
    return _needs_statement(entry, cand) or (
        entry.sha256 == cand.sha256
        and entry.statement_sha256 is not None
        and entry.statement_sha256 == _statement_sha256(cand)
    )


def _statement_sha256(cand: Candidate) -> str | None:
    return None if cand.statement is None else hashlib.sha256(cand.statement).hexdigest()


def _statement_write(canon: str, filename: str, statement: bytes) -> FileWrite:
    return FileWrite(
        file_key(canon, statement_layout.statement_name(filename)),
        statement,
        None,
        hashlib.sha256(statement).hexdigest(),
        statement_layout.STATEMENT_TYPE,
    )


def commit_records(
    storage: Storage,
    batch: Batch,
    read: _Records,
    tracks_by_project: dict[NormalizedName, tuple[str, ...]],
    upload_time: str,
) -> tuple[_Committed, _Committed]:
    """Write each project's record (index.json), conditional on the version read. A project
    another publisher changed meanwhile is read again and merged, never overwritten. Returns
    the records written, and those with nothing new (whose HTML is still to be checked)."""
    committed: _Committed = {}
    to_check: _Committed = {}
    pending = list(batch)
    for attempt in range(COMMIT_ATTEMPTS):
        pages: list[PageWrite] = []
        new_states: dict[NormalizedName, ProjectState] = {}
        for canon in pending:
            found = read[canon]
            new = _updated_record(
                storage, canon, found, batch[canon], tracks_by_project, upload_time, committed
            )
            if new is None:
                assert found is not None
                to_check[canon] = found  # nothing new to list; its HTML is checked later
                continue
            pages.append(json_page(canon, new, None if found is None else found[1]))
            new_states[canon] = new
        outcome = storage.put_pages(pages) if pages else {}
        pending = []
        for canon, new in new_states.items():
            token = outcome[json_key(canon)]
            if token is None:
                pending.append(canon)
            else:
                committed[canon] = (new, token)
        if not pending:
            return committed, to_check
        pause(attempt)
        for canon in pending:
            read[canon] = read_project(storage, canon)
    raise PublishError(
        f"Gave up listing {', '.join(pending)} in the index at {storage.description}: its "
        f"index.json changed {COMMIT_ATTEMPTS} times while this publish tried to update "
        f"it (other publishers at work){partial_note(committed)}. The files are stored; run "
        "the same publish again to list them."
    )


def _updated_record(
    storage: Storage,
    canon: NormalizedName,
    found: tuple[ProjectState, str] | None,
    cands: dict[str, Candidate],
    tracks_by_project: dict[NormalizedName, tuple[str, ...]],
    upload_time: str,
    committed: _Committed,
) -> ProjectState | None:
    """The record `found` with `cands` added (and the tracks set); None when nothing changes."""
    state = found[0] if found is not None else ProjectState({}, {}, ())
    clashes = [
        conflict_text(canon, state.entries[c.filename], c)
        for c in cands.values()
        if c.filename in state.entries and state.entries[c.filename].sha256 != c.sha256
    ]
    if clashes:
        raise PublishError(
            "Refused to publish: another publisher listed a file of the same name but "
            f"different content in the index at {storage.where('simple')} "
            f"meanwhile: {'; '.join(clashes)}. Its file stays; this one was not "
            f"listed{partial_note(committed)}. Bump the hotfix number and publish again."
        )
    fresh = [c for c in cands.values() if c.filename not in state.entries]
    backfilled = [
        c
        for c in cands.values()
        if c.filename in state.entries and _needs_statement(state.entries[c.filename], c)
    ]
    new_tracks = tracks_by_project.get(canon, state.tracks)
    if not fresh and not backfilled and new_tracks == state.tracks and found is not None:
        return None
    new = ProjectState(dict(state.entries), dict(state.versions), new_tracks)
    for cand in backfilled:
        new.entries[cand.filename] = replace(
            state.entries[cand.filename], statement_sha256=_statement_sha256(cand)
        )
    for cand in fresh:
        new.entries[cand.filename] = IndexEntry(
            filename=cand.filename,
            sha256=cand.sha256,
            size=cand.size,
            requires_python=cand.requires_python,
            core_metadata_sha256=(
                None if cand.metadata is None else hashlib.sha256(cand.metadata).hexdigest()
            ),
            upload_time=upload_time,
            yanked=False,
            statement_sha256=_statement_sha256(cand),
            provenance=cand.provenance is not None,
        )
        new.versions[cand.filename] = cand.version
    return new


def partial_note(committed: Iterable[str]) -> str:
    names = list(committed)
    return f" (already listed in this publish: {', '.join(names)})" if names else ""
