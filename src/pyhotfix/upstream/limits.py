"""Bounds on every download (size cap, stall timeout, deadline) and the capped streaming GET
that enforces them, so a huge or hostile file cannot fill the disk or hang a build."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pyhotfix.errors import UpstreamError, UsageError
from pyhotfix.httpclient import redact

if TYPE_CHECKING:
    # httpx is imported where a request is made: a build whose sdist and patches are cached
    # makes none, and importing httpx (with ssl) costs a noticeable part of a short build.
    import httpx

__all__ = [
    "DEADLINE_ENV",
    "MAX_DOWNLOAD_ENV",
    "STALL_TIMEOUT_ENV",
    "DownloadLimits",
    "LimitExceeded",
    "bounded_get",
    "display_name",
]

MAX_DOWNLOAD_ENV = "PYHOTFIX_MAX_DOWNLOAD_BYTES"
DEADLINE_ENV = "PYHOTFIX_DOWNLOAD_DEADLINE"
STALL_TIMEOUT_ENV = "PYHOTFIX_DOWNLOAD_STALL_TIMEOUT"
_PAGE_MAX_BYTES = 64 << 20  # PyPI's largest project pages are a few MiB


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on every download, so a huge or hostile file cannot fill the disk or hang a build.

    `max_bytes` caps a file (sdist, wheel, patch); index pages get at most 64 MiB (and never more
    than `max_bytes`). `stall_timeout`: seconds without a byte; `deadline`: seconds for the whole
    download (checked as bytes arrive, so a download ends within deadline + stall_timeout).
    """

    max_bytes: int = 1 << 30
    stall_timeout: float = 30.0
    deadline: float = 600.0

    @property
    def page_max_bytes(self) -> int:
        return min(_PAGE_MAX_BYTES, self.max_bytes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DownloadLimits:
        """The defaults, overridden by $PYHOTFIX_MAX_DOWNLOAD_BYTES, $PYHOTFIX_DOWNLOAD_DEADLINE
        and $PYHOTFIX_DOWNLOAD_STALL_TIMEOUT (seconds)."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_bytes=int(
                _env_number(env, MAX_DOWNLOAD_ENV, default.max_bytes, "a number of bytes")
            ),
            stall_timeout=_env_number(env, STALL_TIMEOUT_ENV, default.stall_timeout, "seconds"),
            deadline=_env_number(env, DEADLINE_ENV, default.deadline, "seconds"),
        )


def _env_number(env: Mapping[str, str], name: str, default: float, unit: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if unit == "a number of bytes" else float(raw)
    except ValueError:
        value = -1
    if not value > 0 or value == float("inf"):
        raise UsageError(
            f"{name} is {raw!r}; it must be a positive number ({unit}). Fix or unset it "
            f"(the default is {default:g})."
        )
    return value


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 4)) == 0:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


def display_name(url: str) -> str:
    """The file a URL names, for messages: its last path segment, else the (redacted) URL."""
    try:
        segment = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    except ValueError:
        segment = ""
    return segment or redact(url)


class LimitExceeded(UpstreamError):
    """A download went over a size or time limit; nothing of it was kept."""


@contextmanager
def bounded_get(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    limits: DownloadLimits,
    what: str,
    page: bool,
) -> Iterator[tuple[httpx.Response, Iterator[bytes]]]:
    """GET `url` as a stream of chunks that stops at `max_bytes` and at the deadline.

    The size is checked against Content-Length before a byte is read, then counted as it arrives
    (a server may lie or send no length). A file is read raw, as sent (hashes are of the file as
    published); a `page` decoded, so a small compressed page cannot inflate past its cap.
    `what` names the download in messages ("demo-1.0.tar.gz", "the project page of demo").
    """
    import httpx

    from pyhotfix.upstream.fileurl import to_request_url

    started = time.monotonic()
    max_bytes = limits.page_max_bytes if page else limits.max_bytes
    timeout = httpx.Timeout(min(limits.stall_timeout, limits.deadline))
    where = f"{what} from {redact(url)}"

    def too_big(declared: int | None) -> LimitExceeded:
        if not page:
            raise_it = (
                f"If the file is genuine, raise the limit: set {MAX_DOWNLOAD_ENV} to a number of "
                f"bytes (now {max_bytes})."
            )
        else:
            raise_it = (
                "A simple-index page this large is not one pyhotfix can use; check [settings] "
                "upstream."
            )
        limit = _size(max_bytes)
        if declared is None:
            return LimitExceeded(
                f"stopped downloading {where}: the server sent more than the limit of {limit} "
                f"(it had not declared a size). Nothing was kept. {raise_it}"
            )
        return LimitExceeded(
            f"refused to download {where}: its Content-Length is {declared} bytes, over the "
            f"limit of {limit}. Nothing was kept. {raise_it}"
        )

    def chunks(response: httpx.Response) -> Iterator[bytes]:
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big(int(declared))
        total = 0
        # No chunk_size: httpx would buffer up to it, hiding a drip from the deadline check.
        stream = response.iter_bytes() if page else response.iter_raw()
        for chunk in stream:
            total += len(chunk)
            if total > max_bytes:
                raise too_big(None)
            if time.monotonic() - started > limits.deadline:
                raise LimitExceeded(
                    f"gave up downloading {where}: it took longer than {limits.deadline:g} s "
                    f"({total} bytes received). Nothing was kept. Check the network and the "
                    f"server; for a genuinely slow download, set {DEADLINE_ENV} to more seconds."
                )
            yield chunk

    try:
        request_url = to_request_url(url)
        with client.stream("GET", request_url, headers=dict(headers), timeout=timeout) as response:
            yield response, chunks(response)
    except httpx.ReadTimeout as exc:
        raise LimitExceeded(
            f"gave up downloading {where}: the server sent nothing for "
            f"{min(limits.stall_timeout, limits.deadline):g} s. Nothing was kept. Check the "
            f"network and the server, then try again (the wait is set by {STALL_TIMEOUT_ENV})."
        ) from exc
