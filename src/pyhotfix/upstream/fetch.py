"""Downloading into the cache: a file by URL with its sha256 checked, the upstream sdist of a
release (resolved once, then served from a cache record), a file an index lists."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import Version

from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import make_client, redact, strip_credentials
from pyhotfix.simpleapi import DistFile
from pyhotfix.upstream.advice import CHECK_URL, status_error, transport_error
from pyhotfix.upstream.cache import HEX64, Cache
from pyhotfix.upstream.choose import find_sdist, parse_version
from pyhotfix.upstream.limits import DownloadLimits, bounded_get, display_name
from pyhotfix.upstream.pages import list_files

if TYPE_CHECKING:
    import httpx

__all__ = ["UpstreamSdist", "cached_download", "download", "fetch_sdist", "fetch_url"]


@dataclass(frozen=True)
class UpstreamSdist:
    """The resolved upstream sdist, stored in the cache."""

    name: str  # canonical project name
    version: str  # the version as the sdist's filename spells it (normalized)
    filename: str
    url: str  # without credentials: this goes into the lock file
    sha256: str
    path: Path  # the blob in the cache


def _expected_sha256(value: str | None, url: str) -> str | None:
    if value is None:
        return None
    digest = value.strip().lower()
    if not HEX64.fullmatch(digest):
        raise UpstreamError(
            f"the sha256 given for {redact(url)} ({value!r}) is not 64 hexadecimal digits. "
            "Copy the full sha256 of the file."
        )
    return digest


def download(
    client: httpx.Client,
    url: str,
    cache: Cache,
    expected_sha256: str | None,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path]:
    """Stream `url` into the cache and return (sha256, path); nothing is stored on a mismatch
    or when the download breaks a limit (default: `DownloadLimits.from_env()`)."""
    import httpx

    expected = _expected_sha256(expected_sha256, url)
    limits = DownloadLimits.from_env() if limits is None else limits
    name = display_name(url)

    def write(fh: BinaryIO) -> str:
        h = hashlib.sha256()
        # identity + raw bytes: hashes are of the file as published, and some servers label a
        # .tar.gz as Content-Encoding: gzip, which a decoding client would wrongly unpack.
        headers = {"Accept-Encoding": "identity"}
        with bounded_get(client, url, headers, limits, name, page=False) as (
            response,
            chunks,
        ):
            if not response.is_success:
                raise status_error(response, url, CHECK_URL)
            for chunk in chunks:
                h.update(chunk)
                fh.write(chunk)
        actual = h.hexdigest()
        if expected is not None and actual != expected:
            raise UpstreamError(
                f"{name} from {redact(url)} does not have the expected content: its sha256 is "
                f"{actual}, expected {expected}. It was not used or cached. The file may have been "
                "replaced upstream or corrupted in transit; if you trust the new file, update "
                "the expected sha256."
            )
        return actual

    try:
        path = cache.store(write)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(url, exc, CHECK_URL, name) from exc
    return path.name, path


def _record_key(index_url: str, project: str, version: Version) -> str:
    index = strip_credentials(index_url).rstrip("/") + "/"
    return json.dumps(
        {"kind": "upstream-sdist", "index": index, "name": project, "version": str(version)},
        sort_keys=True,
    )


def _from_record(record: dict[str, Any] | None, cache: Cache) -> UpstreamSdist | None:
    if record is None:
        return None
    fields = ("name", "version", "filename", "url", "sha256")
    if not all(isinstance(record.get(k), str) for k in fields):
        return None
    path = cache.get(record["sha256"])
    if path is None:
        return None
    return UpstreamSdist(path=path, **{k: record[k] for k in fields})


def fetch_sdist(
    index_url: str,
    name: str,
    version: str,
    cache: Cache,
    client_factory: Callable[[str], httpx.Client] = make_client,
    limits: DownloadLimits | None = None,
) -> UpstreamSdist:
    """Resolve and download the upstream sdist; a rerun with a warm cache needs no network."""
    project = canonicalize_name(name)
    key = _record_key(index_url, project, parse_version(version))
    cached = _from_record(cache.get_record(key), cache)
    if cached is not None:
        return cached
    limits = DownloadLimits.from_env() if limits is None else limits  # checked before connecting
    with client_factory(index_url) as client:
        files = list_files(client, index_url, project, limits)
        dist = find_sdist(files, project, version, index_url)
        # Without a hash on the index we still download; the computed hash is recorded, so the
        # lock file pins it from now on.
        sha256, path = download(client, dist.url, cache, dist.sha256, limits)
    sdist = UpstreamSdist(
        name=project,
        version=str(parse_sdist_filename(dist.filename)[1]),
        filename=dist.filename,
        url=strip_credentials(dist.url),
        sha256=sha256,
        path=path,
    )
    cache.put_record(
        key,
        {
            "name": sdist.name,
            "version": sdist.version,
            "filename": sdist.filename,
            "url": sdist.url,
            "sha256": sdist.sha256,
        },
    )
    return sdist


def fetch_url(
    url: str,
    cache: Cache,
    expected_sha256: str | None,
    client_factory: Callable[[str], httpx.Client] = make_client,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path]:
    """Download a pinned URL (e.g. a patch); with a known sha256 already cached, no network."""
    expected = _expected_sha256(expected_sha256, url)
    if expected is not None:
        hit = cache.get(expected)
        if hit is not None:
            return expected, hit
    limits = DownloadLimits.from_env() if limits is None else limits  # checked before connecting
    with client_factory(url) as client:
        return download(client, url, cache, expected, limits)


def cached_download(
    client: httpx.Client | None,
    dist: DistFile,
    cache: Cache,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path] | None:
    """The file `dist` from the cache, downloading it once if `client` is given.

    Found by the sha256 the index lists, else by a record of its URL (indexes without hashes);
    returns None when it is not cached and `client` is None (offline).
    """
    url_key = json.dumps({"kind": "file-by-url", "url": strip_credentials(dist.url)})
    if dist.sha256 is not None:
        hit = cache.get(dist.sha256)
        if hit is not None:
            return dist.sha256, hit
    else:
        record = cache.get_record(url_key)
        if record is not None and isinstance(record.get("sha256"), str):
            hit = cache.get(record["sha256"])
            if hit is not None:
                return record["sha256"], hit
    if client is None:
        return None
    sha256, path = download(client, dist.url, cache, dist.sha256, limits)
    if dist.sha256 is None:
        cache.put_record(url_key, {"sha256": sha256})
    return sha256, path
