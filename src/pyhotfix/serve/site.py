"""What `pyhotfix serve` answers for each request: the routes of the simple API, auth, the
in-memory cache of pages and small files (revalidated by one stat() per request), conditional and
Range requests, redirects and error replies. No sockets here: `Site.handle` maps a parsed
`Request` to the bytes of a reply (and maybe a file region to stream)."""

from __future__ import annotations

import email.utils
import hashlib
import os
import time
from dataclasses import dataclass
from typing import Final

from packaging.utils import canonicalize_name

from pyhotfix.serve.auth import Htpasswd
from pyhotfix.serve.files import OutOfDescriptors, file_type, open_regular, read_all
from pyhotfix.serve.http import (
    REASONS,
    STATUS_LINES,
    Request,
    connection_field,
    etag_matches,
    format_param,
    not_modified_since,
    parse_range,
    split_target,
)
from pyhotfix.serve.limits import ConnectionLimits
from pyhotfix.serve.negotiation import OFFERS, WIRE_TYPE, negotiate
from pyhotfix.simpleapi import JSON_TYPE, TEXT_HTML

__all__ = ["NeedsAuth", "Reply", "Site", "SiteConfig", "Stream"]

_INLINE_MAX: Final = 512 * 1024  # files up to this size are kept in memory
_CACHE_BYTES: Final = 64 << 20  # per worker
_IMMUTABLE: Final = b"Cache-Control: max-age=31536000, immutable\r\n"  # filenames never change
_REVALIDATE: Final = b"Cache-Control: max-age=0, must-revalidate\r\n"  # pages change on publish


@dataclass(frozen=True)
class SiteConfig:
    simple: str  # realpath of <root>/simple
    auth: Htpasswd | None
    access_log: bool
    limits: ConnectionLimits


@dataclass(frozen=True, slots=True)
class _Entry:
    """A file ready to send: its stat identity, validators and pre-rendered header fields."""

    key: tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns
    size: int
    etag: str
    last_modified: str
    mtime: int
    fields: bytes  # Content-Type, ETag, Last-Modified, Cache-Control, Vary / Accept-Ranges
    body: bytes | None  # None: too large to keep, streamed from a descriptor opened per request


@dataclass(frozen=True, slots=True)
class Stream:
    fd: int
    offset: int
    length: int


# A reply: bytes to write now, maybe a file region to stream after them, and whether to close.
Reply = tuple[bytes, Stream | None, bool]


class NeedsAuth:
    """The Authorization header needs a slow (bcrypt) check off the event loop first."""

    def __init__(self, header: str) -> None:
        self.header = header


class Site:
    def __init__(self, config: SiteConfig) -> None:
        self.simple = config.simple
        self.auth = config.auth
        self.access_log = config.access_log
        self.cache: dict[str, _Entry] = {}
        self.cache_bytes = 0
        self.accept_cache: dict[str | None, list[str]] = {}
        self.auth_cache: dict[str, bool] = {}
        self.date_second = -1
        self.date_line = b""

    # -- entry point --

    def handle(self, req: Request) -> Reply | NeedsAuth:
        try:
            return self._route(req)
        except OutOfDescriptors:
            return self._error(req, 503, b"Retry-After: 1\r\n")

    def _route(self, req: Request) -> Reply | NeedsAuth:
        if req.method not in ("GET", "HEAD"):
            return self._error(req, 405, b"Allow: GET, HEAD\r\n")
        if self.auth is not None:
            refused = self._authorize(req, self.auth)
            if refused is not None:
                return refused
        parsed = split_target(req.target)
        if parsed == 400:
            return self.bad_request(400), None, True
        if isinstance(parsed, int):
            return self._error(req, parsed)
        segments, query = parsed
        n = len(segments)
        if n == 1 and segments[0] in ("", "simple"):
            return self._redirect(req, "/simple/")
        if n < 2 or segments[0] != "simple":
            return self._error(req, 404)
        if n == 2:
            name = segments[1]
            if not name:
                return self._page(req, self.simple, query)
            return self._redirect(req, f"/simple/{canonicalize_name(name)}/", query)
        if n == 3:
            name, filename = segments[1], segments[2]
            canon = canonicalize_name(name)
            if not filename:
                if name != canon:
                    return self._redirect(req, f"/simple/{canon}/", query)
                return self._page(req, f"{self.simple}/{name}", query)
            if name == canon:
                return self._file(req, f"{self.simple}/{name}/{filename}", filename)
        return self._error(req, 404)

    def _authorize(self, req: Request, auth: Htpasswd) -> Reply | NeedsAuth | None:
        """None when the request may proceed; else a 401, or `NeedsAuth` for a slow check."""
        header = req.headers.get("authorization")
        ok = self.auth_cache.get(header) if header is not None else False
        if ok is None:
            assert header is not None
            if auth.is_slow(header):
                return NeedsAuth(header)
            ok = self.remember_auth(header, auth.check(header))
        if not ok:
            return self._error(req, 401, b'WWW-Authenticate: Basic realm="pyhotfix"\r\n')
        return None

    def remember_auth(self, header: str, ok: bool) -> bool:
        if len(self.auth_cache) >= 1024:
            self.auth_cache.clear()
        self.auth_cache[header] = ok
        return ok

    # -- pages and files --

    def _page(self, req: Request, directory: str, query: str) -> Reply:
        accept = req.headers.get("accept")
        if query and (fmt := format_param(query)) is not None:
            accept = fmt  # PEP 691: ?format= stands in for the Accept header
        variants = self.accept_cache.get(accept)
        if variants is None:
            variants = negotiate(accept)
            if len(self.accept_cache) >= 256:
                self.accept_cache.clear()
            self.accept_cache[accept] = variants
        if not variants:
            offered = ", ".join(OFFERS)
            return self._error(
                req, 406, b"Vary: Accept\r\n", f"406 Not Acceptable: this index offers {offered}\n"
            )
        for ctype in variants:
            name = "index.json" if ctype == JSON_TYPE else "index.html"
            found = self._lookup(f"{ctype}\0{directory}", f"{directory}/{name}", ctype, page=True)
            if found is not None:
                return self._ok(req, *found, ranges=False)
        return self._error(req, 404)

    def _file(self, req: Request, path: str, filename: str) -> Reply:
        if filename == "index.json":
            ctype, page = JSON_TYPE, True
        elif filename == "index.html":
            ctype, page = TEXT_HTML, True
        else:
            ctype, page = file_type(filename), False
        found = self._lookup(path, path, ctype, page=page)
        if found is None:
            return self._error(req, 404)
        return self._ok(req, *found, ranges=True)

    def _lookup(
        self, key: str, path: str, ctype: str, *, page: bool
    ) -> tuple[_Entry, int | None] | None:
        """The entry for `path` and, for a file too large to keep, an open descriptor to send.

        `key` differs from `path` for negotiated pages: one entry per (directory, media type).
        """
        cached = self.cache.get(key)
        if cached is not None:
            # stat() never opens the file (a FIFO put there cannot block it), and an inode never
            # changes type, so a matching identity is still the regular file that was read.
            try:
                st = os.stat(path)
            except (OSError, ValueError):
                return None
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == cached.key:
                return cached, None
        return self._load(key, path, ctype, page)

    def _load(
        self, key: str, path: str, ctype: str, page: bool
    ) -> tuple[_Entry, int | None] | None:
        fd = open_regular(self.simple, path)
        if fd is None:
            return None
        keep = False
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            body = None
            if st.st_size <= _INLINE_MAX:
                body = read_all(fd, st.st_size)
            if page and body is not None:
                digest = hashlib.blake2b(ctype.encode() + b"\0" + body, digest_size=12)
                etag = f'"{digest.hexdigest()}"'
            else:
                etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            fields = (
                f"Content-Type: {WIRE_TYPE.get(ctype, ctype)}\r\nETag: {etag}\r\n"
                f"Last-Modified: {modified}\r\n"
            ).encode("latin-1")
            fields += _REVALIDATE if page else _IMMUTABLE
            negotiated = key != path
            fields += b"Vary: Accept\r\n" if negotiated else b"Accept-Ranges: bytes\r\n"
            size = len(body) if body is not None else st.st_size
            entry = _Entry(ident, size, etag, modified, int(st.st_mtime), fields, body)
            if body is None:
                keep = True
                return entry, fd
            self._store(key, entry)
            return entry, None
        finally:
            if not keep:
                os.close(fd)

    def _store(self, key: str, entry: _Entry) -> None:
        old = self.cache.pop(key, None)
        if old is not None and old.body is not None:
            self.cache_bytes -= len(old.body)
        size = len(entry.body or b"")
        while self.cache and self.cache_bytes + size > _CACHE_BYTES:
            evicted = self.cache.pop(next(iter(self.cache)))  # oldest first
            self.cache_bytes -= len(evicted.body or b"")
        self.cache[key] = entry
        self.cache_bytes += size

    def _ok(self, req: Request, entry: _Entry, fd: int | None, *, ranges: bool) -> Reply:
        stream = None
        try:
            keep = req.keep_alive()
            inm = req.headers.get("if-none-match")
            if inm is not None:
                unchanged = etag_matches(inm, entry.etag)
            else:
                ims = req.headers.get("if-modified-since")
                unchanged = ims is not None and not_modified_since(ims, entry.mtime)
            if unchanged:
                return (
                    STATUS_LINES[304] + entry.fields + self._date() + connection_field(req, keep),
                    None,
                    not keep,
                )
            status, start, length, extra = 200, 0, entry.size, b""
            spec = req.headers.get("range")
            if ranges and spec is not None:
                if_range = req.headers.get("if-range")
                if if_range is None or if_range in (entry.etag, entry.last_modified):
                    found = parse_range(spec, entry.size)
                    if found == 416:
                        return self._error(
                            req, 416, f"Content-Range: bytes */{entry.size}\r\n".encode()
                        )
                    if isinstance(found, tuple):
                        start, end = found
                        status, length = 206, end - start + 1
                        extra = f"Content-Range: bytes {start}-{end}/{entry.size}\r\n".encode()
            head = b"".join(
                (
                    STATUS_LINES[status],
                    entry.fields,
                    b"Content-Length: %d\r\n" % length,
                    extra,
                    self._date(),
                    connection_field(req, keep),
                )
            )
            if req.method == "HEAD":
                return head, None, not keep
            if entry.body is not None:
                body = entry.body if length == entry.size else entry.body[start : start + length]
                return head + body, None, not keep
            assert fd is not None
            stream = Stream(fd, start, length)
            return head, stream, not keep
        finally:
            if fd is not None and stream is None:
                os.close(fd)

    # -- small responses --

    def _redirect(self, req: Request, location: str, query: str = "") -> Reply:
        if query:
            location += "?" + query
        return self._error(req, 301, f"Location: {location}\r\n".encode("latin-1"), "")

    def _error(
        self, req: Request, status: int, fields: bytes = b"", text: str | None = None
    ) -> Reply:
        body = (f"{status} {REASONS[status]}\n" if text is None else text).encode()
        keep = req.keep_alive()
        head = b"".join(
            (
                STATUS_LINES[status],
                b"Content-Type: text/plain; charset=utf-8\r\n",
                fields,
                b"Content-Length: %d\r\n" % len(body),
                self._date(),
                connection_field(req, keep),
            )
        )
        return (head if req.method == "HEAD" else head + body), None, not keep

    def bad_request(self, status: int) -> bytes:
        """The reply to a request that could not be parsed: the connection is closed after it."""
        body = f"{status} {REASONS[status]}\n".encode()
        return b"".join(
            (
                STATUS_LINES[status],
                b"Content-Type: text/plain; charset=utf-8\r\n",
                b"Content-Length: %d\r\n" % len(body),
                self._date(),
                b"Connection: close\r\n\r\n",
                body,
            )
        )

    def _date(self) -> bytes:
        now = int(time.time())
        if now != self.date_second:
            self.date_second = now
            self.date_line = f"Date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode()
        return self.date_line
