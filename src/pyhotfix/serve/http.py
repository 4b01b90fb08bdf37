"""HTTP/1.1 framing for `pyhotfix serve`: the strict request-head parser (RFC 9112), the request
target split into checked path segments, Range and conditional-request fields, and the status
lines and Connection field of response heads."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

__all__ = [
    "MAX_HEAD",
    "MAX_HEADERS",
    "REASONS",
    "STATUS_LINES",
    "Request",
    "connection_field",
    "etag_matches",
    "format_param",
    "is_uint",
    "not_modified_since",
    "parse_head",
    "parse_range",
    "split_target",
]

MAX_HEAD: Final = 16 * 1024  # request line + headers; more is 431
MAX_HEADERS: Final = 100

REASONS: Final = {
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
STATUS_LINES: Final = {
    code: f"HTTP/1.1 {code} {text}\r\n".encode() for code, text in REASONS.items()
}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HTTP_VERSION = re.compile(rb"HTTP/\d\.\d\Z")


@dataclass(slots=True)
class Request:
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


def parse_head(head: bytes) -> Request | int:
    """Parse a request line and header fields (RFC 9112) strictly; an int is the error status."""
    lines = head.split(b"\r\n")
    request_line = _parse_request_line(lines[0])
    if isinstance(request_line, int):
        return request_line
    method, target, http10 = request_line
    if len(lines) > MAX_HEADERS + 1:
        return 431
    headers = _parse_fields(lines[1:])
    if isinstance(headers, int):
        return headers
    if not http10 and "host" not in headers:
        return 400
    has_body = "transfer-encoding" in headers
    length = headers.get("content-length")
    if length is not None:
        if not is_uint(length):
            return 400
        has_body = has_body or int(length) > 0
    return Request(method, target, http10, headers, has_body)


def _parse_request_line(line: bytes) -> tuple[str, str, bool] | int:
    """(method, target, is HTTP/1.0) of a request line, or the error status."""
    parts = line.split(b" ")
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
    return method.decode("ascii"), target.decode("ascii"), http10


def _parse_fields(lines: list[bytes]) -> dict[str, str] | int:
    """Header fields by lower-case name (repeats joined with ", "), or 400."""
    headers: dict[str, str] = {}
    for line in lines:
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
    return headers


def is_uint(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def split_target(target: str) -> tuple[list[str], str] | int:
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


def format_param(query: str) -> str | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "format":
            return unquote(value)  # not unquote_plus: "+json" is part of the media type
    return None


def parse_range(spec: str, size: int) -> tuple[int, int] | int | None:
    """One byte range → (first, last); 416; or None to ignore it and send everything."""
    unit, _, ranges = spec.partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None  # several ranges: a full response is allowed (RFC 9110 14.2)
    first, sep, last = (s.strip() for s in ranges.partition("-"))
    if not sep:
        return None
    if not first:
        if not is_uint(last):
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return 416
        return max(0, size - suffix), size - 1
    if not is_uint(first) or (last and not is_uint(last)):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        return 416
    return start, min(end, size - 1)


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def not_modified_since(header: str, mtime: int) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()


def connection_field(req: Request, keep: bool) -> bytes:
    """The Connection field (if any) and the blank line ending the header."""
    if not keep:
        return b"Connection: close\r\n\r\n"
    return b"Connection: keep-alive\r\n\r\n" if req.http10 else b"\r\n"
