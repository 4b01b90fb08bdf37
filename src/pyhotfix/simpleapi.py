"""The simple repository API (PEP 503/691/700/714): media types, file records, pages.

One place for what the index writes, `serve` negotiates, and upstream, upload and `check`
read: the media types, the file record (`IndexEntry`, what a published file's page entry
says; `DistFile`, a file as read from any index's page), the page parser and the renderers
(value in, text out; the storage transaction stays in `index`).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

from packaging.version import Version

from pyhotfix.httpclient import redact
from pyhotfix.provenance import layout as statement_layout

__all__ = [
    "ACCEPT",
    "API_VERSION",
    "HTML_TYPE",
    "JSON_TYPE",
    "LATEST_HTML_TYPE",
    "LATEST_JSON_TYPE",
    "PAGE_ERRORS",
    "TEXT_HTML",
    "TEXT_HTML_UTF8",
    "TRACKS_API_VERSION",
    "DistFile",
    "IndexEntry",
    "parse_page",
    "render_project_html",
    "render_project_json",
    "render_root_html",
    "render_root_json",
]

log = logging.getLogger(__name__)

JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"  # PEP 691
HTML_TYPE: Final = "application/vnd.pypi.simple.v1+html"  # PEP 691
LATEST_JSON_TYPE: Final = "application/vnd.pypi.simple.latest+json"  # alias of the newest v
LATEST_HTML_TYPE: Final = "application/vnd.pypi.simple.latest+html"
TEXT_HTML: Final = "text/html"  # PEP 503
TEXT_HTML_UTF8: Final = "text/html; charset=utf-8"  # what pyhotfix stores and serves for it
ACCEPT: Final = f"{JSON_TYPE}, text/html;q=0.1"  # what pyhotfix asks an index for
API_VERSION: Final = "1.1"  # PEP 700 (versions, size, upload-time)
TRACKS_API_VERSION: Final = "1.2"  # PEP 708 introduced meta.tracks in 1.2
# What parse_page raises for a page that is neither format (callers turn it into their message).
PAGE_ERRORS: Final = (ValueError, TypeError, KeyError)


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
    # sha256 of the file's in-toto statement (<filename>.intoto.json, pyhotfix.provenance.layout)
    # when one is published beside it
    statement_sha256: str | None = None
    # a signed PEP 740 provenance object (<filename>.provenance) is published beside it
    provenance: bool = False


@dataclass(frozen=True)
class DistFile:
    """One file listed on an index project page, as any index (pyhotfix's or another) gives it.

    The last four fields are read from PEP 691 JSON pages only (PEP 700 size and upload-time,
    PEP 714 core metadata, the yank reason); an HTML page leaves them None.
    """

    filename: str
    url: str  # absolute, without the #fragment; may carry credentials taken from the index URL
    sha256: str | None
    requires_python: str | None
    yanked: bool
    size: int | None = None
    upload_time: str | None = None
    core_metadata_sha256: str | None = None
    yanked_reason: str | None = None  # the page's "yanked" string ("" included), else None


# -- parsing --------------------------------------------------------------------------------------


def parse_page(body: bytes, content_type: str, base: str) -> list[DistFile]:
    """The files on a project page: PEP 691 JSON when `content_type` says so, else PEP 503 HTML.

    Raises ValueError, TypeError or KeyError for a page that is neither.
    """
    json_page = content_type == JSON_TYPE
    files = (
        _parse_json(body, base) if json_page else _parse_html(body.decode("utf-8", "replace"), base)
    )
    return [f for f in files if _may_follow(base, f)]


def _may_follow(page_url: str, dist: DistFile) -> bool:
    """Links an index page may point at: http(s) anywhere, file:// only from a file:// page (a
    remote index must never make pyhotfix read local files)."""
    page_scheme = urlsplit(page_url).scheme.lower()
    link_scheme = urlsplit(dist.url).scheme.lower()
    allowed = ("http", "https", "file") if page_scheme == "file" else ("http", "https")
    if link_scheme in allowed:
        return True
    log.warning("ignoring %s on %s: a %s: link", dist.filename, redact(page_url), link_scheme)
    return False


def _absolute(base: str, url: str) -> tuple[str, str]:
    """(absolute URL without fragment, fragment)."""
    absolute = urldefrag(urljoin(base, url))
    return absolute.url, absolute.fragment


def _parse_json(content: bytes, base: str) -> list[DistFile]:
    data = json.loads(content)
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError("the JSON has no 'files' list")
    files = []
    for item in data["files"]:
        if not isinstance(item, dict):
            raise ValueError("a 'files' entry is not an object")
        filename, url = item["filename"], item["url"]
        if not isinstance(filename, str) or not isinstance(url, str):
            raise ValueError("a file's filename or url is not a string")
        hashes = item.get("hashes")
        sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
        requires_python = item.get("requires-python")
        yanked = item.get("yanked", False)
        size = item.get("size")
        upload_time = item.get("upload-time")
        # PEP 714: the new key wins even when false; the PEP 658 name is the older spelling.
        core = item.get("core-metadata", item.get("dist-info-metadata"))
        core_sha = core.get("sha256") if isinstance(core, dict) else None
        files.append(
            DistFile(
                filename=filename,
                url=_absolute(base, url)[0],
                sha256=sha256.lower() if isinstance(sha256, str) and sha256 else None,
                requires_python=requires_python if isinstance(requires_python, str) else None,
                # PEP 691: true, or a string giving the reason for the yank.
                yanked=yanked if isinstance(yanked, bool) else isinstance(yanked, str),
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                upload_time=upload_time if isinstance(upload_time, str) else None,
                core_metadata_sha256=core_sha if isinstance(core_sha, str) else None,
                yanked_reason=yanked if isinstance(yanked, str) else None,
            )
        )
    return files


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # HTMLParser already unescapes attribute values (&gt;=3.8 -> >=3.8).
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")


def _parse_html(text: str, base: str) -> list[DistFile]:
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    if parser.base:
        base = urljoin(base, parser.base)
    files = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = _absolute(base, href)
        filename = unquote(urlsplit(url).path.rpartition("/")[2])
        if not filename:
            continue
        algo, _, digest = fragment.partition("=")
        requires_python = attrs.get("data-requires-python")
        files.append(
            DistFile(
                filename=filename,
                url=url,
                sha256=digest.lower() if algo == "sha256" and digest else None,
                requires_python=requires_python or None,
                yanked="data-yanked" in attrs,
            )
        )
    return files


# -- rendering ------------------------------------------------------------------------------------


# Plain string building: a template engine would cost more than the rest of a publish.


def render_project_html(canon: str, entries: Sequence[IndexEntry], tracks: Sequence[str]) -> str:
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
        if e.statement_sha256:
            attrs += (
                f' {statement_layout.HTML_ATTRIBUTE}="{statement_layout.statement_url(e.filename)}"'
            )
        if e.provenance:
            attrs += f' data-provenance="{statement_layout.provenance_url(e.filename)}"'
        if e.yanked is not False:
            reason = "" if e.yanked is True else html.escape(str(e.yanked))
            attrs += f' data-yanked="{reason}"'
        out.append(f"    <a {attrs}>{html.escape(e.filename)}</a><br>\n")
    out.append("  </body>\n</html>\n")
    return "".join(out)


def render_project_json(
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
    if e.statement_sha256:
        item[statement_layout.JSON_KEY] = {
            "url": statement_layout.statement_url(e.filename),
            "sha256": e.statement_sha256,
        }
    if e.provenance:
        item["provenance"] = statement_layout.provenance_url(e.filename)  # PEP 740
    return item


def render_root_html(names: Sequence[str]) -> str:
    links = "".join(f'    <a href="{n}/">{n}</a><br>\n' for n in names)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
        f"{links}  </body>\n</html>\n"
    )


def render_root_json(names: Sequence[str]) -> str:
    projects = ",".join(f'\n    {{"name": {_dumps(n)}}}' for n in names)
    close = "\n  ]" if names else "]"
    meta = f'"meta": {{"api-version": "{API_VERSION}"}}'
    return f'{{\n  {meta},\n  "projects": [{projects}{close}\n}}\n'


# UTF-8 JSON (PEP 691), so a non-ASCII yank reason stays readable in the diff. One encoder for
# all calls (json.dumps with a non-default option builds a new one per call).
_dumps = json.JSONEncoder(ensure_ascii=False).encode
