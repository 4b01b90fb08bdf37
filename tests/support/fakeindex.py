"""A fake PyPI on loopback for the test suite: a PEP 691 (JSON) / PEP 503 (HTML) simple index.

Use it as a context manager; add sdists or wheels with `add_file`, other files with `add_raw`, and
assert on `requests` (the paths served) to check that something needed no network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tests.support.loopback import LoopbackServer

__all__ = ["HTML_TYPE", "JSON_TYPE", "FakeIndex", "FakeIndexHandler"]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html"


@dataclass(frozen=True)
class _Entry:
    filename: str
    sha256: str | None
    requires_python: str | None
    yanked: bool
    size: int


def _project_of(filename: str) -> tuple[str, str]:
    """(canonical project name, version) of an sdist or wheel filename."""
    if filename.endswith(".whl"):
        name, version, _build, _tags = parse_wheel_filename(filename)
    else:
        name, version = parse_sdist_filename(filename)
    return name, str(version)


def _prefers_json(accept: str) -> bool:
    """Content negotiation between the two formats by the q-values of the Accept header."""
    quality = {JSON_TYPE: 0.0, HTML_TYPE: 0.0}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                q = float(value)
        if media in quality:
            quality[media] = q
        elif media in ("*/*", "text/*"):
            quality[HTML_TYPE] = max(quality[HTML_TYPE], q)
    return quality[JSON_TYPE] > 0 and quality[JSON_TYPE] >= quality[HTML_TYPE]


class _Server(LoopbackServer):
    index: FakeIndex


class FakeIndexHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_HEAD(self) -> None:
        # uv sends HEAD for wheels on indexes without .metadata files: answer as GET, no body.
        self._head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        index = self.server.index
        with index._lock:
            index.requests.append(self.path)
        if index._auth is not None and not self._authorized(index._auth):
            self._send(401, b"unauthorized", "text/plain", {"WWW-Authenticate": 'Basic realm="x"'})
            return
        path = unquote(urlsplit(self.path).path)
        with index._lock:
            raw = index._raw.get(path)
            projects = {name: list(entries) for name, entries in index._projects.items()}
            blobs = dict(index._blobs)
        if raw is not None:
            self._send(200, raw[0], raw[1])
        elif path.startswith("/files/") and path[len("/files/") :] in blobs:
            self._send(200, blobs[path[len("/files/") :]], "application/octet-stream")
        elif path == "/simple/":
            self._root(sorted(projects), index._formats)
        elif path.startswith("/simple/") and path.endswith("/") and path.count("/") == 3:
            name = path.split("/")[2]
            canonical = canonicalize_name(name)
            if canonical not in projects:
                self._send(404, b"not found", "text/plain")
            elif canonical != name:  # like PyPI: redirect to the normalized name
                self._send(301, b"", "text/plain", {"Location": f"/simple/{canonical}/"})
            else:
                self._project(canonical, projects[canonical], index._formats)
        else:
            self._send(404, b"not found", "text/plain")

    def _authorized(self, auth: tuple[str, str]) -> bool:
        expected = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _use_json(self, formats: str) -> bool:
        if formats != "both":
            return formats == "json"
        return _prefers_json(self.headers.get("Accept", ""))

    def _root(self, names: list[str], formats: str) -> None:
        if self._use_json(formats):
            doc = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
            self._send(200, json.dumps(doc).encode(), JSON_TYPE)
        else:
            links = "".join(f'<a href="{quote(n)}/">{html.escape(n)}</a>\n' for n in names)
            self._send(200, _page("Simple index", links), HTML_TYPE)

    def _project(self, name: str, entries: list[_Entry], formats: str) -> None:
        # Relative URLs, as real indexes often use: the client must resolve them.
        def href(e: _Entry) -> str:
            return f"../../files/{quote(e.filename)}"

        if self._use_json(formats):
            files = []
            for e in entries:
                item: dict[str, Any] = {
                    "filename": e.filename,
                    "url": href(e),
                    "hashes": {"sha256": e.sha256} if e.sha256 else {},
                    "yanked": e.yanked,
                    "size": e.size,
                }
                if e.requires_python is not None:
                    item["requires-python"] = e.requires_python
                files.append(item)
            versions = sorted({_project_of(e.filename)[1] for e in entries})
            doc = {
                "meta": {"api-version": "1.1"},
                "name": name,
                "files": files,
                "versions": versions,
            }
            self._send(200, json.dumps(doc).encode(), JSON_TYPE)
        else:
            links = []
            for e in entries:
                attrs = f' href="{html.escape(href(e))}'
                attrs += f'#sha256={e.sha256}"' if e.sha256 else '"'
                if e.requires_python is not None:
                    attrs += f' data-requires-python="{html.escape(e.requires_python)}"'
                if e.yanked:
                    attrs += ' data-yanked=""'
                links.append(f"<a{attrs}>{html.escape(e.filename)}</a><br/>\n")
            self._send(200, _page(f"Links for {name}", "".join(links)), HTML_TYPE)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not getattr(self, "_head_only", False):
            self.wfile.write(body)


def _page(title: str, body: str) -> bytes:
    return (
        f"<!DOCTYPE html>\n<html><head><meta name='pypi:repository-version' content='1.1'>"
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}</body></html>\n"
    ).encode()


class FakeIndex:
    """A simple index served from memory on 127.0.0.1, in a daemon thread."""

    def __init__(self, *, formats: str = "both", auth: tuple[str, str] | None = None) -> None:
        if formats not in ("both", "json", "html"):
            raise ValueError(f"formats must be 'both', 'json' or 'html', not {formats!r}")
        self._formats = formats
        self._auth = auth
        self._lock = threading.Lock()
        self._projects: dict[str, list[_Entry]] = {}
        self._blobs: dict[str, bytes] = {}
        self._raw: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        self._server = _Server(("127.0.0.1", 0), FakeIndexHandler)
        self._server.index = self
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/simple/"

    @property
    def files_url(self) -> str:
        return f"{self.base_url}/files/"

    def add_file(
        self,
        path: Path,
        *,
        sha256: str | None = "auto",
        requires_python: str | None = None,
        yanked: bool = False,
    ) -> None:
        """Serve an sdist or wheel; `sha256` "auto" is the true hash, None lists no hash, any
        other string is listed as is (to test mismatches)."""
        data = path.read_bytes()
        name, _version = _project_of(path.name)
        digest = hashlib.sha256(data).hexdigest() if sha256 == "auto" else sha256
        entry = _Entry(path.name, digest, requires_python, yanked, len(data))
        with self._lock:
            self._blobs[path.name] = data
            entries = self._projects.setdefault(name, [])
            entries[:] = [e for e in entries if e.filename != path.name] + [entry]

    def add_raw(self, url_path: str, body: bytes, content_type: str = "text/plain") -> None:
        """Serve `body` at base_url + url_path (e.g. "/patches/fix.patch")."""
        with self._lock:
            self._raw[url_path] = (body, content_type)

    def __enter__(self) -> FakeIndex:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
