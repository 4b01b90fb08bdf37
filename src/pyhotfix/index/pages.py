"""Keeping a project's pages and the root pages in step with the records: reading a record,
rendering its pages, rewriting an index.html that does not show its index.json (healing a crash
between the two), and listing every project on the root pages."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence

from packaging.utils import NormalizedName

from pyhotfix.errors import PublishError
from pyhotfix.index.records import (
    ROOT_HTML,
    ROOT_JSON,
    CorruptRecord,
    ProjectState,
    json_key,
    parse_project,
    parse_root,
)
from pyhotfix.index.storage import Blob, PageWrite, Storage
from pyhotfix.simpleapi import (
    JSON_TYPE,
    TEXT_HTML_UTF8,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)

__all__ = [
    "COMMIT_ATTEMPTS",
    "html_page",
    "json_page",
    "parse_record",
    "pause",
    "read_project",
    "sync_html",
    "update_root",
]

# Conditional page writes that lose a race to another publisher are retried this often (with a
# growing random pause) before giving up with a message; a lost race costs one GET and one PUT.
COMMIT_ATTEMPTS = 10


def read_project(storage: Storage, canon: NormalizedName) -> tuple[ProjectState, str] | None:
    """The project's record and the token it was read at; None when it has none."""
    blob = storage.read(json_key(canon))
    return None if blob is None else parse_record(storage, canon, blob)


def parse_record(storage: Storage, canon: NormalizedName, blob: Blob) -> tuple[ProjectState, str]:
    """`blob`, the project's index.json, parsed; PublishError saying how to repair it if corrupt."""
    key = json_key(canon)
    try:
        return parse_project(json.loads(blob.data), canon), blob.token
    except (ValueError, CorruptRecord) as exc:  # ValueError covers JSON and UTF-8 errors
        where = storage.where(key)
        raise PublishError(
            f"{where} is corrupt ({exc}). It is the record of {canon}'s published files, "
            "hashes and yanks, so pyhotfix will not guess at it or overwrite it. "
            f"{storage.restore_hint(key)}; if there is no good copy, delete "
            f"{storage.where(f'simple/{canon}')} and publish {canon}'s files again."
        ) from exc


def json_page(canon: NormalizedName, state: ProjectState, token: str | None) -> PageWrite:
    entries = [state.entries[f] for f in sorted(state.entries)]
    versions = sorted(set(state.versions.values()))
    text = render_project_json(canon, entries, versions, state.tracks)
    return PageWrite(json_key(canon), text.encode(), JSON_TYPE, expect=token)


def html_page(canon: NormalizedName, state: ProjectState) -> PageWrite:
    entries = [state.entries[f] for f in sorted(state.entries)]
    text = render_project_html(canon, entries, state.tracks)
    return PageWrite(f"simple/{canon}/index.html", text.encode(), TEXT_HTML_UTF8, conditional=False)


def sync_html(
    storage: Storage, items: Mapping[NormalizedName, tuple[ProjectState, str]], *, known_stale: bool
) -> None:
    """Make each project's index.html show its index.json at the given token. Pages that may
    already be right are compared first (healing one a crash left behind costs one read).
    Without a lock, a publisher that committed a newer index.json may have written its page
    before this one: the writer of a page therefore reads the record again afterwards and
    rewrites the page from the newer state until the two agree, so the last page written
    always shows the last record."""
    todo = dict(items)
    for attempt in range(COMMIT_ATTEMPTS):
        pages = []
        for canon, (state, _token) in todo.items():
            page = html_page(canon, state)
            if not known_stale:
                current = storage.read(page.key)
                if current is not None and current.data == page.data:
                    continue
            pages.append(page)
        if not pages:
            return
        storage.put_pages(pages)
        if storage.serialised:
            return
        again: dict[NormalizedName, tuple[ProjectState, str]] = {}
        for page in pages:
            canon = NormalizedName(page.key.split("/")[1])
            found = read_project(storage, canon)
            if found is not None and found[1] != todo[canon][1]:
                again[canon] = found
        todo, known_stale = again, True
        if todo:
            pause(attempt)


def update_root(
    storage: Storage, touched: Sequence[NormalizedName], *, force: bool = False
) -> None:
    """List every touched project on the root pages. Checked on every publish, not only for
    new projects, so root pages that missed a project (a publish interrupted between the
    project pages and the root) heal themselves."""
    wanted_names: list[str] = []
    for attempt in range(COMMIT_ATTEMPTS):
        blob = storage.read(ROOT_JSON)
        # Without a root page (first publish, or deleted to regenerate it): the directories.
        listed = (
            list(storage.list_projects())
            if blob is None
            else parse_root(blob.data, storage.where(ROOT_JSON))
        )
        wanted = set(listed) | set(touched)
        wanted_names = sorted(wanted)
        token = None if blob is None else blob.token
        if blob is None or force or wanted != set(listed):
            page = PageWrite(ROOT_JSON, render_root_json(wanted_names).encode(), JSON_TYPE, token)
            token = storage.put_pages([page])[ROOT_JSON]
            if token is None:
                pause(attempt)
                continue
        html_page = render_root_html(wanted_names).encode()
        current = storage.read(ROOT_HTML)
        if current is not None and current.data == html_page:
            return
        storage.put_pages([PageWrite(ROOT_HTML, html_page, TEXT_HTML_UTF8, conditional=False)])
        if storage.serialised:
            return
        # As for project pages: the root record may have changed while this page was being
        # written; if so, go round again and render it from the newer record.
        after = storage.read(ROOT_JSON)
        if after is not None and after.token == token:
            return
        touched = []  # already listed; only the HTML needs to catch up
        pause(attempt)
    raise PublishError(
        f"Gave up updating the root page of the index at {storage.description}: it changed "
        f"{COMMIT_ATTEMPTS} times meanwhile (other publishers at work). The projects' own "
        "pages are complete; publish again to list them on the root page."
    )


def pause(attempt: int) -> None:
    # Random, growing pauses, so publishers that collided do not collide again in lock step.
    time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
