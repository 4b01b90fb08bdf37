"""Reading a project's page on a PEP 691/503 index: `list_files`, and `list_files_cached`,
which keeps the page with its ETag / Last-Modified and revalidates it (for `pyhotfix status`)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import redact, strip_credentials
from pyhotfix.simpleapi import ACCEPT, PAGE_ERRORS, DistFile, parse_page
from pyhotfix.upstream.advice import (
    CHECK_SETTINGS,
    project_not_found,
    status_error,
    transport_error,
)
from pyhotfix.upstream.cache import Cache
from pyhotfix.upstream.limits import DownloadLimits, LimitExceeded, bounded_get
from pyhotfix.upstream.pipconfig import PYPI_SIMPLE_URL

if TYPE_CHECKING:
    import httpx

__all__ = ["CachedListing", "list_files", "list_files_cached"]


def _project_url(index_url: str, project: str) -> str:
    return f"{index_url.rstrip('/')}/{project}/"


def _get_page(
    client: httpx.Client,
    page_url: str,
    headers: Mapping[str, str],
    project: str,
    limits: DownloadLimits | None,
) -> tuple[httpx.Response, bytes, str]:
    """The response, for a 2xx its (size- and time-bounded) body (b"" otherwise), and the URL
    that was finally served (after redirects), which relative links resolve against."""
    from pyhotfix.upstream.fileurl import from_request_url

    limits = DownloadLimits.from_env() if limits is None else limits
    what = f"the project page of {project}"
    with bounded_get(client, page_url, headers, limits, what, page=True) as (response, chunks):
        body = b"".join(chunks) if response.is_success else b""
    return response, body, from_request_url(str(response.url))


def list_files(
    client: httpx.Client, index_url: str, name: str, limits: DownloadLimits | None = None
) -> list[DistFile]:
    """All files on the project's page of a PEP 691 (JSON) or PEP 503 (HTML) simple index."""
    import httpx

    project = canonicalize_name(name)
    page_url = _project_url(index_url, project)
    try:
        response, body, base = _get_page(client, page_url, {"Accept": ACCEPT}, project, limits)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(page_url, exc, CHECK_SETTINGS) from exc
    if response.status_code == 404:
        raise project_not_found(project, index_url)
    if not response.is_success:
        raise status_error(response, page_url, CHECK_SETTINGS)
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    # Relative file URLs resolve against the page that was finally served (after redirects).
    return _parse_page(body, content_type, base, page_url)


@dataclass(frozen=True)
class CachedListing:
    """A project page's files, from the network or, when it cannot be reached, from the cache."""

    files: tuple[DistFile, ...]
    stale: bool  # True: the index could not be reached; these are the last files seen
    fetched_at: float  # when the page body was last downloaded (seconds since the epoch)
    error: str | None  # why the answer is stale


def _page_record_key(index_url: str, project: str) -> str:
    index = strip_credentials(index_url).rstrip("/") + "/"
    return json.dumps({"kind": "project-page", "index": index, "name": project}, sort_keys=True)


def _parse_page(body: bytes, content_type: str, base: str, page_url: str) -> list[DistFile]:
    try:
        return parse_page(body, content_type, base)
    except PAGE_ERRORS as exc:
        raise UpstreamError(
            f"{redact(page_url)} is not a valid simple-index project page ({exc}). Check that "
            "[settings] upstream is the URL of a PEP 503 simple index (like "
            f"{PYPI_SIMPLE_URL})."
        ) from exc


def _listing_from_record(record: dict[str, Any] | None, page_url: str) -> CachedListing | None:
    if record is None or not all(
        isinstance(record.get(k), str) for k in ("body", "content_type", "url")
    ):
        return None
    try:
        files = _parse_page(
            base64.b64decode(record["body"]), record["content_type"], record["url"], page_url
        )
    except (UpstreamError, ValueError):
        return None  # a damaged record is a cache miss
    fetched_at = record.get("fetched_at")
    return CachedListing(
        files=tuple(files),
        stale=False,
        fetched_at=float(fetched_at) if isinstance(fetched_at, int | float) else 0.0,
        error=None,
    )


def list_files_cached(
    client: httpx.Client,
    index_url: str,
    name: str,
    cache: Cache,
    limits: DownloadLimits | None = None,
) -> CachedListing:
    """`list_files` with HTTP caching: the page body and its ETag / Last-Modified are kept in the
    cache's record store and revalidated with If-None-Match / If-Modified-Since (a 304 reuses the
    body). When the index cannot be reached or fails (5xx), the cached files are returned marked
    stale; without a cached page that is an UpstreamError. A 404 is never answered from the cache.
    """
    import httpx

    project = canonicalize_name(name)
    page_url = _project_url(index_url, project)
    key = _page_record_key(index_url, project)
    record = cache.get_record(key)
    cached = _listing_from_record(record, page_url)
    headers = {"Accept": ACCEPT}
    if cached is not None and record is not None:
        if isinstance(record.get("etag"), str):
            headers["If-None-Match"] = record["etag"]
        if isinstance(record.get("last_modified"), str):
            headers["If-Modified-Since"] = record["last_modified"]
    try:
        response, body, base = _get_page(client, page_url, headers, project, limits)
    except LimitExceeded as exc:
        if cached is None:
            raise
        return CachedListing(cached.files, True, cached.fetched_at, str(exc))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = transport_error(page_url, exc, CHECK_SETTINGS)
        if cached is None:
            raise error from exc
        return CachedListing(cached.files, True, cached.fetched_at, str(error))
    if response.status_code == 304 and cached is not None:
        return cached
    if response.status_code == 404:
        raise project_not_found(project, index_url)
    if not response.is_success:
        error = status_error(response, page_url, CHECK_SETTINGS)
        if cached is None or response.status_code < 500:
            raise error
        return CachedListing(cached.files, True, cached.fetched_at, str(error))
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    files = _parse_page(body, content_type, base, page_url)
    now = time.time()
    value: dict[str, Any] = {
        "body": base64.b64encode(body).decode("ascii"),
        "content_type": content_type,
        "url": strip_credentials(base),
        "fetched_at": now,
    }
    for header, field_name in (("etag", "etag"), ("last-modified", "last_modified")):
        if response.headers.get(header):
            value[field_name] = response.headers[header]
    cache.put_record(key, value)
    return CachedListing(files=tuple(files), stale=False, fetched_at=now, error=None)
