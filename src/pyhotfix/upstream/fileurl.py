"""file:// URLs through httpx, so a local simple index (pip's `--index-url file:///…/simple/`) and
`file://` patches go through the same code, limits and hash checks as http(s).

A directory URL answers as pip reads it: `<dir>/index.json` (PEP 691) when the client accepts JSON
and it exists, else `<dir>/index.html`. Only regular files are read (never a FIFO or device,
which could block or never end); a missing file is a 404.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.request import url2pathname

import httpx

from pyhotfix.simpleapi import JSON_TYPE

__all__ = ["FileTransport", "from_request_url", "refuse_redirect_off_http", "to_request_url"]

_CHUNK = 1 << 16
_CONTENT_TYPES = {".json": JSON_TYPE, ".html": "text/html", ".htm": "text/html"}


def to_request_url(url: str) -> str:
    """file:///path as file://localhost/path: httpx takes a URL without a host for a relative one
    and drops its scheme. Other URLs are returned unchanged."""
    if url[:8].lower() == "file:///":
        return "file://localhost/" + url[8:]
    return url


def from_request_url(url: str) -> str:
    """The inverse of `to_request_url`, so recorded URLs read as the user wrote them."""
    if url[:17].lower() == "file://localhost/":
        return "file:///" + url[17:]
    return url


class _FileStream(httpx.SyncByteStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __iter__(self) -> Iterator[bytes]:
        while chunk := os.read(self._fd, _CHUNK):
            yield chunk

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FileTransport(httpx.BaseTransport):
    """Answers GET and HEAD for file:// URLs on this machine (host empty or `localhost`)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "file":
            raise httpx.UnsupportedProtocol(f"not a file:// URL: {url}", request=request)
        if url.host not in ("", "localhost"):
            raise httpx.UnsupportedProtocol(
                f"file://{url.host}/… names another machine; only local files "
                "(file:///path) can be read",
                request=request,
            )
        if request.method not in ("GET", "HEAD"):
            return httpx.Response(405, request=request)
        path = Path(url2pathname(url.raw_path.decode("ascii").partition("?")[0]))
        if path.is_dir():
            accepts_json = JSON_TYPE in request.headers.get("accept", "")
            candidates = ["index.json", "index.html"] if accepts_json else ["index.html"]
            found = next((path / c for c in candidates if (path / c).is_file()), None)
            if found is None:
                return httpx.Response(404, request=request)
            path = found
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; checked as regular below.
            fd = os.open(
                path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            )
        except (FileNotFoundError, NotADirectoryError):
            return httpx.Response(404, request=request)
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot read {path}: {exc.strerror}", request=request
            ) from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise httpx.ConnectError(f"{path} is not a regular file", request=request)
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        headers = {
            "Content-Length": str(info.st_size),
            "Content-Type": _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        }
        if request.method == "HEAD":
            os.close(fd)
            return httpx.Response(200, headers=headers, request=request)
        return httpx.Response(200, headers=headers, stream=_FileStream(fd), request=request)


def refuse_redirect_off_http(response: httpx.Response) -> None:
    """An httpx response hook: a remote server must not redirect us to a local file (or any
    scheme but http/https); such a redirect ends the request with an error."""
    if response.request.url.scheme in ("http", "https") and response.has_redirect_location:
        target = response.request.url.join(response.headers["Location"])
        if target.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"the server redirects to a {target.scheme}: URL, which pyhotfix does not follow",
                request=response.request,
            )
