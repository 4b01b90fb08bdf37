"""`pyhotfix serve`: a fast, read-only HTTP/1.1 server for the static index directory.

It serves ``<root>/simple/`` (see `pyhotfix.index` for the layout) the way PyPI serves its simple
API, for development and CI:

- ``/simple/`` and ``/simple/<project>/`` negotiate (PEP 691) between ``index.json``
  (``application/vnd.pypi.simple.v1+json``) and ``index.html`` (``text/html`` or
  ``application/vnd.pypi.simple.v1+html``) from the Accept header (q-values honoured; ties go to
  HTML, as on PyPI) or a ``?format=`` parameter; 406 when nothing offered is acceptable. A project
  name that is not normalised, or a page URL without its trailing slash, is redirected (301).
- Files: wheels and zip sdists ``application/zip``, ``.tar.gz`` ``application/gzip``,
  ``.metadata`` ``text/plain``; never a Content-Encoding. Strong ETags (a hash of the bytes for
  pages, inode-size-mtime for files), Last-Modified, If-None-Match / If-Modified-Since → 304,
  HEAD, a single byte Range → 206 (unsatisfiable → 416), persistent HTTP/1.1 connections.
- Nothing outside ``<root>/simple/``: the target is percent-decoded once; ``.``/``..`` or any
  segment starting with a dot (temp files of a publish in progress), encoded slashes, backslashes,
  NUL, empty segments and symlinks resolving elsewhere are 404. Malformed requests are 400 (431
  for oversized headers, 405 with Allow for methods other than GET and HEAD), never a traceback.
  Only regular files are opened, without blocking (a FIFO is a 404, not a hung worker), one path
  component at a time without following links once the path is resolved inside ``simple/``.
- Slow or hostile clients are bounded by `serve_limits.ConnectionLimits`: a deadline for the
  request head, an idle timeout between requests, a write-stall timeout, and a per-worker
  connection cap that fits the descriptor limit (the longest-waiting connection makes room).
- Optional HTTP Basic auth from an htpasswd file (`Htpasswd`).

Speed: an asyncio Protocol (uvloop when installed), responses of pages and small files kept in
memory and revalidated by one stat() per request, so a publish is visible on the next request; N
worker processes, each with its own SO_REUSEPORT listening socket so the kernel spreads
connections evenly (one shared socket elsewhere).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import errno
import hashlib
import hmac
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import socket
import stat
import struct
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final, cast
from urllib.parse import unquote, unquote_to_bytes

from packaging.utils import canonicalize_name

from pyhotfix.errors import ServeError, UsageError
from pyhotfix.serve_limits import Acceptor, ConnectionLimits, connection_cap, overdue
from pyhotfix.simpleapi import (
    HTML_TYPE,
    JSON_TYPE,
    LATEST_HTML_TYPE,
    LATEST_JSON_TYPE,
    TEXT_HTML,
    TEXT_HTML_UTF8,
)

__all__ = [
    "HTML_TYPE",
    "JSON_TYPE",
    "ConnectionLimits",
    "Htpasswd",
    "ServeOptions",
    "default_workers",
    "index_root",
    "negotiate",
    "serve",
]

# Tie order when the client gives several the same quality: HTML first, as PyPI does, so that
# `Accept: */*` (curl, browsers' fallbacks) gets the page every tool understands.
_OFFERS: Final = (TEXT_HTML, HTML_TYPE, JSON_TYPE)
_ALIASES: Final = {
    LATEST_JSON_TYPE: JSON_TYPE,
    LATEST_HTML_TYPE: HTML_TYPE,
}
_WIRE_TYPE: Final = {
    TEXT_HTML: TEXT_HTML_UTF8,
    HTML_TYPE: HTML_TYPE,
    JSON_TYPE: JSON_TYPE,
}

MAX_HEAD: Final = 16 * 1024  # request line + headers; more is 431
_MAX_HEADERS: Final = 100
_MAX_PENDING: Final = 1 << 20  # unprocessed pipelined bytes; more and the client is not reading
_INLINE_MAX: Final = 512 * 1024  # files up to this size are kept in memory
_CACHE_BYTES: Final = 64 << 20  # per worker
_CHUNK: Final = 256 * 1024
_LINGER_RESET: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
_GRACE: Final = 2.0  # seconds a stopping worker lets responses in flight finish
_IMMUTABLE: Final = b"Cache-Control: max-age=31536000, immutable\r\n"  # filenames never change
_REVALIDATE: Final = b"Cache-Control: max-age=0, must-revalidate\r\n"  # pages change on publish

_REASONS: Final = {
    200: "OK",
    206: "Partial Content",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
_STATUS: Final = {code: f"HTTP/1.1 {code} {text}\r\n".encode() for code, text in _REASONS.items()}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HTTP_VERSION = re.compile(rb"HTTP/\d\.\d\Z")


# -- options and start-up ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeOptions:
    root: Path  # the index directory, the one that contains simple/
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port (printed)
    workers: int = 1
    auth: Htpasswd | None = None
    access_log: bool = False
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def index_root(directory: Path) -> Path:
    """The index directory to serve: `directory`, or its parent when given the simple/ dir itself."""
    if not directory.is_dir():
        raise UsageError(
            f"{directory} is not a directory. Give the hotfix index directory (the one containing "
            "simple/), e.g. `pyhotfix serve hotfix-index`."
        )
    if (directory / "simple").is_dir():
        return directory.absolute()
    if directory.name == "simple" and (directory / "index.html").is_file():
        return directory.absolute().parent
    raise UsageError(
        f"{directory} has no simple/ directory, so it is not a package index (yet). Publish "
        "something into it first (`pyhotfix build`), or give the right directory."
    )


def serve(options: ServeOptions, announce: Callable[[str], None]) -> int:
    """Serve until SIGINT or SIGTERM, then return 0. `announce` gets the lines telling users the URL.

    Raises PyhotfixError when the address cannot be bound or a worker dies.
    """
    simple = os.path.realpath(options.root / "simple")
    sockets = _listen(options.host, options.port, options.workers)
    host, port = sockets[0].getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/simple/"
    lines = [
        f"Serving {options.root} at {url} with {options.workers} worker"
        f"{'s' if options.workers > 1 else ''} (Ctrl-C to stop)",
        f"Install from it with: pip install --index-url {url} NAME",
    ]
    if host in ("0.0.0.0", "::"):
        lines.append(f"Listening on all interfaces (port {port}).")
        if options.auth is None:
            lines.append(
                "warning: no --auth: anyone who can reach this machine can read the index."
            )
    config = _SiteConfig(simple, options.auth, options.access_log, options.limits)
    if options.workers == 1:
        _run_worker(sockets[0], config, None, lambda: announce("\n".join(lines)))
        return 0
    return _supervise(sockets, config, options.workers, lambda: announce("\n".join(lines)))


def _listen(host: str, port: int, workers: int) -> list[socket.socket]:
    """Bound, listening sockets: one per worker with SO_REUSEPORT (Linux), else one shared."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r} is not an address this machine has ({exc}).") from exc
    family, _, _, _, address = infos[0]
    reuseport = workers > 1 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")

    def bind(addr: Any, share: bool) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if share:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    try:
        # Bound without SO_REUSEPORT first: fails if anything (even another pyhotfix serve, which
        # could otherwise silently share the port) listens there, and picks the port for --port 0.
        first = bind(address, share=False)
        if not reuseport:
            return [first]
        address = (*address[:1], first.getsockname()[1], *address[2:])
        first.close()
        sockets: list[socket.socket] = []
        try:
            for _ in range(workers):
                sockets.append(bind(address, share=True))
        except OSError:
            for s in sockets:
                s.close()
            raise
        return sockets
    except OSError as exc:
        raise ServeError(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}. Choose another port "
            "with --port (--port 0 picks a free one), or stop what is using it."
        ) from exc


def _supervise(
    sockets: list[socket.socket], config: _SiteConfig, workers: int, ready: Callable[[], None]
) -> int:
    ctx = multiprocessing.get_context("fork")
    parent = os.getpid()
    procs = []
    for i in range(workers):
        own = sockets[i] if len(sockets) > 1 else sockets[0]
        others = [s for s in sockets if s is not own]
        proc = ctx.Process(
            target=_worker_main, args=(own, others, config, parent), name=f"pyhotfix-serve-{i}"
        )
        proc.start()
        procs.append(proc)
    # The workers own the sockets now: when one exits, its socket closes and the kernel stops
    # sending it connections.
    for s in sockets:
        s.close()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    died = None
    try:
        ready()
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.25)
            died = next((p for p in procs if not p.is_alive()), None)
            if died is not None:
                # A worker exits 0 only when told to stop (e.g. Ctrl-C reached the whole group).
                stopping = stopping or died.exitcode == 0
                break
    finally:
        _reap(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if died is not None and not stopping:
        raise ServeError(
            f"Server worker {died.name} exited unexpectedly (exit code {died.exitcode}); the "
            "server was stopped. The log above says why."
        )
    return 0


def _reap(procs: Sequence[Any]) -> None:
    for p in procs:
        if p.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE + 3.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(2.0)


def _worker_main(
    sock: socket.socket, others: list[socket.socket], config: _SiteConfig, parent: int
) -> None:
    for s in others:
        s.close()
    _run_worker(sock, config, parent)


def _run_worker(
    sock: socket.socket,
    config: _SiteConfig,
    parent: int | None,
    ready: Callable[[], None] = lambda: None,
) -> None:
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve_socket(sock, _Site(config), config.limits, parent, ready))
    finally:
        loop.close()
        sock.close()


async def _serve_socket(
    sock: socket.socket,
    site: _Site,
    limits: ConnectionLimits,
    parent: int | None,
    ready: Callable[[], None],
) -> None:
    loop = asyncio.get_running_loop()
    conns: set[_Connection] = set()
    acceptor = Acceptor(
        loop, sock, lambda: _Connection(site, conns), conns, connection_cap(limits.max_connections)
    )
    acceptor.start()
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    sweeper = loop.create_task(_sweep(conns, limits, parent, request_stop))
    ready()
    try:
        await stop
    finally:
        sweeper.cancel()
        acceptor.stop()
        for conn in list(conns):
            conn.finish()
        deadline = loop.time() + _GRACE
        while conns and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(conns):
            conn.abort()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _sweep(
    conns: set[_Connection], limits: ConnectionLimits, parent: int | None, stop: Callable[[], None]
) -> None:
    """Drop connections past their timeout; stop when the supervisor is gone (SIGKILL)."""
    while True:
        await asyncio.sleep(limits.sweep_interval)
        if parent is not None and os.getppid() != parent:
            stop()
            return
        now = time.monotonic()
        for conn in [c for c in conns if overdue(c, limits, now)]:
            conn.abort()


# -- authentication -------------------------------------------------------------------------------


_ITOA64: Final = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BCRYPT_PREFIXES: Final = ("$2y$", "$2b$", "$2a$")
SUPPORTED_HASHES: Final = (
    "bcrypt ($2y$, htpasswd -B), {SHA} (htpasswd -s), $apr1$ (htpasswd -m) and $1$"
)


@dataclass(frozen=True)
class Htpasswd:
    """Users and password hashes from an htpasswd file (``user:hash`` per line)."""

    users: Mapping[str, str]

    @classmethod
    def load(cls, path: Path) -> Htpasswd:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"The --auth file {path} cannot be read: {exc}.") from exc
        users: dict[str, str] = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise UsageError(f"{path}, line {n}: expected `user:hash` (an htpasswd file).")
            problem = _hash_problem(hashed)
            if problem:
                raise UsageError(f"{path}, line {n} (user {user!r}): {problem}")
            users[user] = hashed
        if not users:
            raise UsageError(f"The --auth file {path} lists no users, so nobody could log in.")
        return cls(users)

    def is_slow(self, authorization: str) -> bool:
        """Whether checking this header costs a bcrypt round (tens of milliseconds or more)."""
        user = _basic_user(authorization)
        return user is not None and self.users.get(user, "").startswith(_BCRYPT_PREFIXES)

    def check(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a listed user's password (constant-time compare)."""
        if authorization is None:
            return False
        parsed = _basic_credentials(authorization)
        if parsed is None:
            return False
        user, password = parsed
        hashed = self.users.get(user)
        if hashed is None:
            _verify("{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=", password)  # same work as a wrong password
            return False
        return _verify(hashed, password)


def _hash_problem(hashed: str) -> str | None:
    if hashed.startswith("{SHA}"):
        try:
            ok = len(base64.b64decode(hashed[5:], validate=True)) == 20
        except binascii.Error:
            ok = False
        return None if ok else "the {SHA} hash is not base64 of 20 bytes."
    if hashed.startswith(("$apr1$", "$1$")):
        parts = hashed.split("$")
        return None if len(parts) == 4 and len(parts[3]) == 22 else "malformed MD5 hash."
    if hashed.startswith(_BCRYPT_PREFIXES):
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            return "a bcrypt hash, but the bcrypt package is not installed: `pip install bcrypt`."
        return None
    return f"unsupported password hash. Supported: {SUPPORTED_HASHES} (never plain text)."


def _basic_credentials(authorization: str) -> tuple[str, bytes] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        user, sep, password = raw.partition(b":")
        return (user.decode("utf-8"), password) if sep else None
    except (binascii.Error, UnicodeDecodeError):
        return None


def _basic_user(authorization: str) -> str | None:
    parsed = _basic_credentials(authorization)
    return parsed[0] if parsed else None


def _verify(hashed: str, password: bytes) -> bool:
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(password).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    if hashed.startswith(("$apr1$", "$1$")):
        magic, salt = hashed.split("$")[1:3]
        return hmac.compare_digest(_md5_crypt(password, salt.encode(), f"${magic}$"), hashed)
    if hashed.startswith(_BCRYPT_PREFIXES):
        import bcrypt

        try:
            # The bcrypt library knows $2b$; $2y$ (Apache's) is the same algorithm.
            return bool(bcrypt.checkpw(password, ("$2b$" + hashed[4:]).encode()))
        except ValueError:  # e.g. a password longer than 72 bytes (bcrypt >= 5)
            return False
    return False


def _md5_crypt(password: bytes, salt: bytes, magic: str) -> str:
    """The MD5-based crypt of FreeBSD ($1$) and Apache ($apr1$): what `htpasswd -m` writes."""
    salt = salt[:8]
    final = hashlib.md5(password + salt + password).digest()
    ctx = password + magic.encode() + salt
    for left in range(len(password), 0, -16):
        ctx += final[: min(16, left)]
    i = len(password)
    while i:
        ctx += b"\x00" if i & 1 else password[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for i in range(1000):
        step = password if i & 1 else final
        if i % 3:
            step += salt
        if i % 7:
            step += password
        step += final if i & 1 else password
        final = hashlib.md5(step).digest()
    out: list[str] = []
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = (final[a] << 16) | (final[b] << 8) | final[c]
        out.extend(_ITOA64[(v >> (6 * k)) & 0x3F] for k in range(4))
    v = final[11]
    out.extend(_ITOA64[(v >> (6 * k)) & 0x3F] for k in range(2))
    return f"{magic}{salt.decode()}${''.join(out)}"


# -- content negotiation --------------------------------------------------------------------------


def negotiate(accept: str | None) -> list[str]:
    """Page types the client accepts, best first (PEP 691); [] when none (→ 406).

    No or an empty Accept header means anything, which is HTML first.
    """
    if accept is None or not accept.strip():
        return list(_OFFERS)
    quality = dict.fromkeys(_OFFERS, (-1, 0.0))  # (specificity, q) of the best matching range
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        media = _ALIASES.get(media, media)
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:
                    q = -1.0  # malformed: the range is ignored
        if q < 0:
            continue
        for offer in _OFFERS:
            if media == offer:
                rank = 3
            elif media == offer.split("/")[0] + "/*":
                rank = 2
            elif media == "*/*":
                rank = 1
            else:
                continue
            if rank > quality[offer][0]:
                quality[offer] = (rank, q)
    ranked = sorted(
        (o for o in _OFFERS if quality[o][1] > 0), key=lambda o: -quality[o][1]
    )  # sorted() is stable: equal qualities keep the HTML-first order
    return ranked


# -- requests -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    http10: bool
    headers: dict[str, str]  # lower-case names
    has_body: bool

    def keep_alive(self) -> bool:
        if self.has_body:
            return False  # the body is never read: the connection cannot be reused
        conn = self.headers.get("connection", "").lower()
        if self.http10:
            return "keep-alive" in conn
        return "close" not in conn


def _parse_head(head: bytes) -> _Request | int:
    """Parse a request line and header fields (RFC 9112) strictly; an int is the error status."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return 400
    method, target, version = parts
    if version == b"HTTP/1.1":
        http10 = False
    elif version == b"HTTP/1.0":
        http10 = True
    else:
        return 505 if _HTTP_VERSION.match(version) else 400
    if not _TOKEN.match(method) or not _TARGET.match(target):
        return 400
    if len(lines) > _MAX_HEADERS + 1:
        return 431
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        # A name must be a token: this also refuses obsolete line folding and "Name :".
        if not sep or not _TOKEN.match(name) or b"\r" in value or b"\n" in value or b"\0" in value:
            return 400
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in ("host", "content-length", "authorization", "range"):
                return 400
            text = f"{headers[key]}, {text}"
        headers[key] = text
    if not http10 and "host" not in headers:
        return 400
    has_body = "transfer-encoding" in headers
    length = headers.get("content-length")
    if length is not None:
        if not _is_uint(length):
            return 400
        has_body = has_body or int(length) > 0
    return _Request(method.decode("ascii"), target.decode("ascii"), http10, headers, has_body)


def _is_uint(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def _split_target(target: str) -> tuple[list[str], str] | int:
    """Decoded path segments and the raw query; 400 for bad syntax, 404 for forbidden paths."""
    if not target.startswith("/"):
        # absolute-form (RFC 9112 3.2.2) must be accepted; its authority is ignored
        scheme, sep, rest = target.partition("://")
        if not sep or scheme.lower() not in ("http", "https"):
            return 400
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        target = rest[cut:]
        if not target.startswith("/"):
            target = "/" + target
    path, _, query = target.partition("?")
    segments = []
    raw_segments = path.split("/")[1:]
    last = len(raw_segments) - 1
    for i, raw in enumerate(raw_segments):
        if "%" in raw:
            if _BAD_PERCENT.search(raw):
                return 400
            try:
                segment = unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                return 404
        else:
            segment = raw
        # Decoded once, then checked: %2e%2e is "..", %2f a slash inside a name, %5c a backslash.
        if (not segment and i != last) or segment.startswith("."):
            return 404
        if "/" in segment or "\\" in segment or "\0" in segment:
            return 404
        segments.append(segment)
    return segments, query


def _format_param(query: str) -> str | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "format":
            return unquote(value)  # not unquote_plus: "+json" is part of the media type
    return None


def _parse_range(spec: str, size: int) -> tuple[int, int] | int | None:
    """One byte range → (first, last); 416; or None to ignore it and send everything."""
    unit, _, ranges = spec.partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None  # several ranges: a full response is allowed (RFC 9110 14.2)
    first, sep, last = (s.strip() for s in ranges.partition("-"))
    if not sep:
        return None
    if not first:
        if not _is_uint(last):
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return 416
        return max(0, size - suffix), size - 1
    if not _is_uint(first) or (last and not _is_uint(last)):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        return 416
    return start, min(end, size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _not_modified_since(header: str, mtime: int) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()


# -- the site -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SiteConfig:
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
class _Stream:
    fd: int
    offset: int
    length: int


# A reply: bytes to write now, maybe a file region to stream after them, and whether to close.
_Reply = tuple[bytes, _Stream | None, bool]


_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class _OutOfDescriptors(Exception):
    """A file could not be opened for want of descriptors: the reply is 503, not 404."""


class _NeedsAuth:
    """The Authorization header needs a slow (bcrypt) check off the event loop first."""

    def __init__(self, header: str) -> None:
        self.header = header


class _Site:
    def __init__(self, config: _SiteConfig) -> None:
        self.simple = config.simple
        self.prefix = config.simple + os.sep
        self.auth = config.auth
        self.access_log = config.access_log
        self.cache: dict[str, _Entry] = {}
        self.cache_bytes = 0
        self.accept_cache: dict[str | None, list[str]] = {}
        self.auth_cache: dict[str, bool] = {}
        self.date_second = -1
        self.date_line = b""

    # -- entry point --

    def handle(self, req: _Request) -> _Reply | _NeedsAuth:
        try:
            return self._route(req)
        except _OutOfDescriptors:
            return self._error(req, 503, b"Retry-After: 1\r\n")

    def _route(self, req: _Request) -> _Reply | _NeedsAuth:
        if req.method not in ("GET", "HEAD"):
            return self._error(req, 405, b"Allow: GET, HEAD\r\n")
        if self.auth is not None:
            header = req.headers.get("authorization")
            ok = self.auth_cache.get(header) if header is not None else False
            if ok is None:
                assert header is not None
                if self.auth.is_slow(header):
                    return _NeedsAuth(header)
                ok = self.remember_auth(header, self.auth.check(header))
            if not ok:
                return self._error(req, 401, b'WWW-Authenticate: Basic realm="pyhotfix"\r\n')
        parsed = _split_target(req.target)
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

    def remember_auth(self, header: str, ok: bool) -> bool:
        if len(self.auth_cache) >= 1024:
            self.auth_cache.clear()
        self.auth_cache[header] = ok
        return ok

    # -- pages and files --

    def _page(self, req: _Request, directory: str, query: str) -> _Reply:
        accept = req.headers.get("accept")
        if query and (fmt := _format_param(query)) is not None:
            accept = fmt  # PEP 691: ?format= stands in for the Accept header
        variants = self.accept_cache.get(accept)
        if variants is None:
            variants = negotiate(accept)
            if len(self.accept_cache) >= 256:
                self.accept_cache.clear()
            self.accept_cache[accept] = variants
        if not variants:
            offered = ", ".join(_OFFERS)
            return self._error(
                req, 406, b"Vary: Accept\r\n", f"406 Not Acceptable: this index offers {offered}\n"
            )
        for ctype in variants:
            name = "index.json" if ctype == JSON_TYPE else "index.html"
            found = self._lookup(f"{ctype}\0{directory}", f"{directory}/{name}", ctype, page=True)
            if found is not None:
                return self._ok(req, *found, ranges=False)
        return self._error(req, 404)

    def _file(self, req: _Request, path: str, filename: str) -> _Reply:
        if filename == "index.json":
            ctype, page = JSON_TYPE, True
        elif filename == "index.html":
            ctype, page = TEXT_HTML, True
        else:
            ctype, page = _file_type(filename), False
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
        fd = self._open_regular(path)
        if fd is None:
            return None
        keep = False
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            body = None
            if st.st_size <= _INLINE_MAX:
                body = _read_all(fd, st.st_size)
            if page and body is not None:
                digest = hashlib.blake2b(ctype.encode() + b"\0" + body, digest_size=12)
                etag = f'"{digest.hexdigest()}"'
            else:
                etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            fields = (
                f"Content-Type: {_WIRE_TYPE.get(ctype, ctype)}\r\nETag: {etag}\r\n"
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

    def _open_regular(self, path: str) -> int | None:
        """A descriptor of the file at `path` if it resolves inside simple/, else None (→ 404).

        Symlinks are followed only to targets inside simple/ (`realpath`), then the resolved path
        is opened one component at a time from simple/ with O_NOFOLLOW, so a symlink swapped in
        meanwhile fails the open instead of leading out; O_NONBLOCK, so that opening a FIFO or a
        device never waits. Raises _OutOfDescriptors on EMFILE/ENFILE (→ 503, not 404).
        """
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return None
        if not real.startswith(self.prefix):
            return None  # a symlink leading out of simple/
        *dirs, name = real[len(self.prefix) :].split(os.sep)
        dir_fd = -1
        try:
            dir_fd = os.open(self.simple, _DIR_FLAGS)
            for part in dirs:
                parent, dir_fd = dir_fd, -1
                try:
                    dir_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
                finally:
                    os.close(parent)
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                raise _OutOfDescriptors from exc
            return None
        except ValueError:  # NUL in a name (refused earlier; kept for safety)
            return None
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return fd

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

    def _ok(self, req: _Request, entry: _Entry, fd: int | None, *, ranges: bool) -> _Reply:
        stream = None
        try:
            keep = req.keep_alive()
            inm = req.headers.get("if-none-match")
            if inm is not None:
                unchanged = _etag_matches(inm, entry.etag)
            else:
                ims = req.headers.get("if-modified-since")
                unchanged = ims is not None and _not_modified_since(ims, entry.mtime)
            if unchanged:
                return (
                    _STATUS[304] + entry.fields + self._date() + _conn(req, keep),
                    None,
                    not keep,
                )
            status, start, length, extra = 200, 0, entry.size, b""
            spec = req.headers.get("range")
            if ranges and spec is not None:
                if_range = req.headers.get("if-range")
                if if_range is None or if_range in (entry.etag, entry.last_modified):
                    found = _parse_range(spec, entry.size)
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
                    _STATUS[status],
                    entry.fields,
                    b"Content-Length: %d\r\n" % length,
                    extra,
                    self._date(),
                    _conn(req, keep),
                )
            )
            if req.method == "HEAD":
                return head, None, not keep
            if entry.body is not None:
                body = entry.body if length == entry.size else entry.body[start : start + length]
                return head + body, None, not keep
            assert fd is not None
            stream = _Stream(fd, start, length)
            return head, stream, not keep
        finally:
            if fd is not None and stream is None:
                os.close(fd)

    # -- small responses --

    def _redirect(self, req: _Request, location: str, query: str = "") -> _Reply:
        if query:
            location += "?" + query
        return self._error(req, 301, f"Location: {location}\r\n".encode("latin-1"), "")

    def _error(
        self, req: _Request, status: int, fields: bytes = b"", text: str | None = None
    ) -> _Reply:
        body = (f"{status} {_REASONS[status]}\n" if text is None else text).encode()
        keep = req.keep_alive()
        head = b"".join(
            (
                _STATUS[status],
                b"Content-Type: text/plain; charset=utf-8\r\n",
                fields,
                b"Content-Length: %d\r\n" % len(body),
                self._date(),
                _conn(req, keep),
            )
        )
        return (head if req.method == "HEAD" else head + body), None, not keep

    def bad_request(self, status: int) -> bytes:
        """The reply to a request that could not be parsed: the connection is closed after it."""
        body = f"{status} {_REASONS[status]}\n".encode()
        return b"".join(
            (
                _STATUS[status],
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


def _conn(req: _Request, keep: bool) -> bytes:
    """The Connection field (if any) and the blank line ending the header."""
    if not keep:
        return b"Connection: close\r\n\r\n"
    return b"Connection: keep-alive\r\n\r\n" if req.http10 else b"\r\n"


def _file_type(filename: str) -> str:
    if filename.endswith((".whl", ".zip")):
        return "application/zip"
    if filename.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    if filename.endswith(".metadata"):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


# -- connections ----------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One client connection: parses pipelined requests in order and writes their replies."""

    def __init__(self, site: _Site, conns: set[_Connection]) -> None:
        self.site = site
        self.conns = conns
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False  # a reply is being produced or streamed: later requests wait
        self.closed = False
        self.finishing = False  # the worker is stopping: close after the current reply
        self.paused = False
        self.stalled_since = 0.0  # when writing was last paused (see serve_limits.overdue)
        self.drained: asyncio.Future[None] | None = None
        self.last_active = time.monotonic()
        # When the unfinished request head began; a new connection must send its first head
        # within the head timeout too. None: waiting for the next request (idle timeout).
        self.head_since: float | None = self.last_active
        self.peer = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.conns.add(self)
        if self.site.access_log:
            peer = transport.get_extra_info("peername")
            self.peer = str(peer[0]) if peer else "-"
        if self.finishing:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.conns.discard(self)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True
        self.stalled_since = time.monotonic()

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if not self.busy:
            self._process()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.buffer = self.buffer + data if self.buffer else data
        if self.busy or self.paused:
            if len(self.buffer) > _MAX_PENDING:
                self.abort()  # pipelining without reading the replies
            return
        self._process()

    def finish(self) -> None:
        self.finishing = True
        if not self.busy and self.transport is not None:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection with a reset: what is queued for the client is discarded now
        rather than kept by the kernel for a client that may never read it."""
        self.closed = True
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()

    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        while not (self.busy or self.paused or self.closed):
            buffer = self.buffer
            if buffer[:2] == b"\r\n":  # RFC 9112 2.2: ignore empty lines before a request
                buffer = self.buffer = buffer.lstrip(b"\r\n")
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self._fail(431)
                elif buffer and self.head_since is None:
                    self.head_since = self.last_active  # when the bytes of this head arrived
                return
            self.head_since = None
            head = buffer[:end]
            self.buffer = buffer[end + 4 :]
            req = _parse_head(head)
            if isinstance(req, int):
                self._fail(req)
                return
            try:
                reply = self.site.handle(req)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                self._fail(500)
                return
            if isinstance(reply, _NeedsAuth):
                self.busy = True
                asyncio.get_running_loop().create_task(self._check_auth(req, reply.header))
                return
            self._send(req, reply)

    def _send(self, req: _Request, reply: _Reply) -> None:
        data, stream, close = reply
        transport = self.transport
        assert transport is not None
        if self.site.access_log:
            status = data[9:12].decode()
            print(f'{self.peer} "{req.method} {req.target}" {status}', file=sys.stderr, flush=True)
        transport.write(data)
        if stream is not None:
            self.busy = True
            asyncio.get_running_loop().create_task(self._stream(stream, close))
        elif close or self.finishing:
            self.closed = True
            transport.close()

    def _fail(self, status: int) -> None:
        assert self.transport is not None
        self.transport.write(self.site.bad_request(status))
        self.closed = True
        self.transport.close()

    async def _check_auth(self, req: _Request, header: str) -> None:
        auth = self.site.auth
        assert auth is not None
        loop = asyncio.get_running_loop()
        try:
            ok = await loop.run_in_executor(None, auth.check, header)
            self.site.remember_auth(header, ok)
            reply = self.site.handle(req)
            assert not isinstance(reply, _NeedsAuth)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.busy = False
            self._fail(500)
            return
        self.busy = False
        if not self.closed:
            self._send(req, reply)
            self._resume()

    async def _stream(self, stream: _Stream, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        offset, left = stream.offset, stream.length
        try:
            while left > 0 and not self.closed:
                chunk = os.pread(stream.fd, min(_CHUNK, left), offset)
                if not chunk:
                    break  # the file shrank: the promised length cannot be kept
                transport.write(chunk)
                offset += len(chunk)
                left -= len(chunk)
                if self.paused:
                    self.drained = asyncio.get_running_loop().create_future()
                    await self.drained
        except OSError:
            traceback.print_exc(file=sys.stderr)
        finally:
            os.close(stream.fd)
        self.busy = False
        self.last_active = time.monotonic()  # the idle timeout starts when the reply is sent
        if left > 0:
            self.abort()
        elif close or self.finishing:
            self.closed = True
            transport.close()
        else:
            self._resume()

    def _resume(self) -> None:
        if self.finishing and self.transport is not None:
            self.closed = True
            self.transport.close()
        elif not self.closed and self.buffer:
            self._process()
