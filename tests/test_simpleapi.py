"""The simple-API module: what the index renders, every reader parses back to the same records."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pyhotfix.simpleapi import (
    JSON_TYPE,
    PAGE_ERRORS,
    TEXT_HTML,
    DistFile,
    IndexEntry,
    parse_page,
    render_project_html,
    render_project_json,
    render_root_json,
)

BASE = "https://index.example/simple/demo/"

# Filenames and free text as hostile as a page can carry them: quotes, ampersands, angle brackets,
# '#', '%', spaces and non-ASCII, but no control characters (HTML attributes cannot carry them).
_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85\u2028\u2029"),
    max_size=20,
)
_sha = st.text("0123456789abcdef", min_size=64, max_size=64)
_entries = st.builds(
    IndexEntry,
    filename=_text.filter(lambda s: s.strip() != "" and s not in {".", ".."}),
    sha256=_sha,
    size=st.integers(min_value=0, max_value=1 << 40),
    requires_python=st.none() | _text.filter(bool),
    core_metadata_sha256=st.none() | _sha,
    upload_time=st.just("2024-05-01T12:00:00.000000Z"),
    yanked=st.booleans() | _text,
)


def _expected(e: IndexEntry, *, from_json: bool) -> DistFile:
    url = BASE + quote(e.filename, safe="")
    yanked = e.yanked is not False
    if not from_json:
        return DistFile(e.filename, url, e.sha256, e.requires_python, yanked)
    return DistFile(
        e.filename,
        url,
        e.sha256,
        e.requires_python,
        yanked,
        size=e.size,
        upload_time=e.upload_time,
        core_metadata_sha256=e.core_metadata_sha256,
        yanked_reason=e.yanked if isinstance(e.yanked, str) else None,
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_entries, max_size=5), st.lists(_text.filter(bool), max_size=2))
def test_render_then_parse_round_trips_the_records(
    entries: list[IndexEntry], tracks: list[str]
) -> None:
    as_json = render_project_json("demo", entries, [Version("1.0")], tracks).encode()
    as_html = render_project_html("demo", entries, tracks).encode()

    assert parse_page(as_json, JSON_TYPE, BASE) == [_expected(e, from_json=True) for e in entries]
    assert parse_page(as_html, TEXT_HTML, BASE) == [_expected(e, from_json=False) for e in entries]
    assert json.loads(as_json)["name"] == "demo"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([JSON_TYPE, TEXT_HTML, "text/plain"]))
def test_parser_raises_only_the_documented_errors_on_arbitrary_bytes(
    body: bytes, content_type: str
) -> None:
    try:
        files = parse_page(body, content_type, BASE)
    except PAGE_ERRORS:
        return
    assert all(isinstance(f, DistFile) for f in files)
    # Never a link off http(s) from an https page (a remote index must not point at local files).
    assert all(f.url.startswith(("http://", "https://")) for f in files)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_json_parser_on_arbitrary_json_shapes(doc: object) -> None:
    for candidate in (doc, {"files": doc}, {"files": [doc]}):
        try:
            files = parse_page(json.dumps(candidate).encode(), JSON_TYPE, BASE)
        except PAGE_ERRORS:
            continue
        assert all(isinstance(f.filename, str) and isinstance(f.url, str) for f in files)


def test_root_page_lists_projects_in_order() -> None:
    page = json.loads(render_root_json(["a", "b-c"]))
    assert page == {"meta": {"api-version": "1.1"}, "projects": [{"name": "a"}, {"name": "b-c"}]}


def test_html_page_ignores_links_to_local_files_from_a_remote_page() -> None:
    page = b'<a href="file:///etc/passwd">passwd</a><a href="ok-1.0.tar.gz#sha256=AB">ok</a>'
    assert parse_page(page, TEXT_HTML, BASE) == [
        DistFile("ok-1.0.tar.gz", BASE + "ok-1.0.tar.gz", "ab", None, False)
    ]
