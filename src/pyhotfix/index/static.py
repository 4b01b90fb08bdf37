"""`StaticIndex`: a static simple repository in any `Storage`, and its operations (read a
project's files, publish, yank, regenerate); `LocalIndex` is one in a local directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from pyhotfix.distfile import canonical_project
from pyhotfix.errors import PublishError
from pyhotfix.index.candidates import Candidate, inspect_file
from pyhotfix.index.pages import (
    COMMIT_ATTEMPTS,
    html_page,
    json_page,
    pause,
    read_project,
    sync_html,
    update_root,
)
from pyhotfix.index.records import ProjectState, check_tracks, json_key
from pyhotfix.index.storage import DirStorage, PageWrite, Storage
from pyhotfix.index.transaction import PublishResult, publish_locked, utc_now
from pyhotfix.simpleapi import IndexEntry

__all__ = ["LocalIndex", "StaticIndex"]


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
        found = read_project(self.storage, canonical_project(name))
        return [] if found is None else [found[0].entries[f] for f in sorted(found[0].entries)]

    def project_tracks(self, name: str) -> tuple[str, ...]:
        """The upstream pages project `name` tracks (PEP 708); () if none or not in the index."""
        found = read_project(self.storage, canonical_project(name))
        return () if found is None else found[0].tracks

    def has_files(
        self, name: str, filenames: Iterable[str], sha256s: Mapping[str, str] | None = None
    ) -> bool:
        """True if every filename is listed (and stored) for `name`, with the given sha256
        where `sha256s` has one: lets a caller skip a rebuild that is already published."""
        canon = canonical_project(name)
        found = read_project(self.storage, canon)
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
        statements: Mapping[str, bytes] | None = None,
        signed: Mapping[str, bytes] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> PublishResult:
        """Add sdists/wheels of project `name` to the index and rewrite its pages.

        A filename already listed with different bytes is refused (PublishError) and nothing of
        this call is written. `tracks` is the upstream project page (PEP 708), e.g.
        "https://pypi.org/simple/<name>/"; None keeps whatever the project already has.
        `statements` maps a filename to its in-toto statement, stored beside the file in the
        same transaction and linked from both pages; `signed` maps a filename to its signed
        PEP 740 provenance object, likewise (for files new to the index).
        """
        tracks_map = None if tracks is None else {name: tracks}
        return self.publish_many(
            [(name, files)], tracks=tracks_map, statements=statements, signed=signed, now=now
        )[0]

    def publish_many(
        self,
        requests: Iterable[tuple[str, Sequence[Path]]],
        *,
        tracks: Mapping[str, str] | None = None,
        statements: Mapping[str, bytes] | None = None,
        signed: Mapping[str, bytes] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> list[PublishResult]:
        """`publish` for several projects at once: one lock, one root-page update, and all or
        nothing across the whole batch as far as conflicts go (every project is checked before
        anything is written). Results are in request order (one per distinct project)."""
        # Inspect (hash, read metadata) before taking the lock: it is the slow part.
        batch: dict[NormalizedName, dict[str, Candidate]] = {}
        for name, files in requests:
            canon = canonical_project(name)
            per_project = batch.setdefault(canon, {})
            for path in files:
                cand = inspect_file(Path(path), canon)
                if statements is not None and cand.filename in statements:
                    cand = replace(cand, statement=statements[cand.filename])
                if signed is not None and cand.filename in signed:
                    cand = replace(cand, provenance=signed[cand.filename])
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
            canon = canonical_project(tname)
            tracks_by_project[canon] = (check_tracks(url, canon),)

        with self.storage.exclusive():
            return publish_locked(self.storage, batch, tracks_by_project, now)

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
            states: dict[NormalizedName, ProjectState] = {}
            json_pages: list[PageWrite] = []
            for canon in projects:
                found = read_project(self.storage, canon)
                if found is not None:  # None only if deleted meanwhile by hand
                    states[canon] = found[0]
                    json_pages.append(json_page(canon, found[0], found[1]))
            outcome = self.storage.put_pages(json_pages)
            lost = sorted(k for k, v in outcome.items() if v is None)
            if lost:
                raise PublishError(
                    f"{', '.join(lost)} changed while the index at {self.description} was being "
                    "regenerated (another publisher?). Run the command again."
                )
            self.storage.put_pages([html_page(c, s) for c, s in states.items()])
            update_root(self.storage, list(states), force=True)
            return list(states)

    # -- internals ----------------------------------------------------------------------------
    def _set_yanked(self, name: str, version: str, yanked: str | bool) -> list[str]:
        canon = canonical_project(name)
        try:
            wanted = Version(version)
        except InvalidVersion as exc:
            raise PublishError(f"{version!r} is not a valid version (PEP 440).") from exc
        with self.storage.exclusive():
            for attempt in range(COMMIT_ATTEMPTS):
                found = read_project(self.storage, canon)
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
                new = ProjectState(dict(state.entries), state.versions, state.tracks)
                for filename in affected:
                    new.entries[filename] = replace(state.entries[filename], yanked=yanked)
                new_token = self.storage.put_pages([json_page(canon, new, token)])[json_key(canon)]
                if new_token is not None:
                    sync_html(self.storage, {canon: (new, new_token)}, known_stale=True)
                    return affected
                pause(attempt)
            raise PublishError(
                f"Gave up changing {canon} in the index at {self.description}: its index.json "
                f"changed {COMMIT_ATTEMPTS} times meanwhile (other publishers at work). Run "
                "the command again."
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
