"""Downloading the chosen upstream wheels of a release into the cache, hash-checked; a rerun with a
warm cache needs no network (a cache record keeps which wheels were chosen)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from pyhotfix.httpclient import make_client, strip_credentials
from pyhotfix.upstream import Cache, DownloadLimits, cached_download, list_files
from pyhotfix.upstream.cache import HEX64
from pyhotfix.upstream.choose import parse_version
from pyhotfix.wheelmode.choose import choose_wheels

if TYPE_CHECKING:
    import httpx

__all__ = ["UpstreamWheel", "fetch_wheels"]

# Bounds a hostile cache record or index page: PyPI's largest releases have ~100 wheels.
MAX_WHEELS = 1000


@dataclass(frozen=True)
class UpstreamWheel:
    """One upstream wheel, stored in the cache."""

    filename: str
    url: str  # without credentials: this goes into the lock file
    sha256: str
    path: Path  # the blob in the cache


def _record_key(index_url: str, project: str, version: str, platforms: Sequence[str]) -> str:
    index = strip_credentials(index_url).rstrip("/") + "/"
    return json.dumps(
        {
            "kind": "upstream-wheels",
            "index": index,
            "name": project,
            "version": str(parse_version(version)),
            "platforms": sorted(platforms),
        },
        sort_keys=True,
    )


def _from_record(record: dict[str, Any] | None, cache: Cache) -> tuple[UpstreamWheel, ...] | None:
    """The cached wheels of a record, or None when it is malformed or a blob is missing."""
    items = record.get("wheels") if record is not None else None
    if not isinstance(items, list) or not items or len(items) > MAX_WHEELS:
        return None
    wheels: list[UpstreamWheel] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        filename, url, sha256 = item.get("filename"), item.get("url"), item.get("sha256")
        if not (isinstance(filename, str) and isinstance(url, str) and isinstance(sha256, str)):
            return None
        path = cache.get(sha256) if HEX64.fullmatch(sha256) else None
        if path is None:
            return None
        wheels.append(UpstreamWheel(filename, url, sha256, path))
    return tuple(wheels)


def fetch_wheels(
    index_url: str,
    name: str,
    version: str,
    platforms: Sequence[str],
    cache: Cache,
    client_factory: Callable[[str], httpx.Client] = make_client,
    limits: DownloadLimits | None = None,
) -> tuple[UpstreamWheel, ...]:
    """The upstream wheels of `name` `version` matching `platforms` (see `choose_wheels`), each
    downloaded once into `cache` and checked against the sha256 the index lists (an index
    without hashes: the computed hash is recorded, so the lock pins it from then on)."""
    project = canonicalize_name(name)
    key = _record_key(index_url, project, version, platforms)
    cached = _from_record(cache.get_record(key), cache)
    if cached is not None:
        return cached
    limits = DownloadLimits.from_env() if limits is None else limits  # checked before connecting
    wheels: list[UpstreamWheel] = []
    with client_factory(index_url) as client:
        files = list_files(client, index_url, project, limits)
        for dist in choose_wheels(files, project, version, platforms, index_url)[:MAX_WHEELS]:
            got = cached_download(client, dist, cache, limits)
            assert got is not None  # a client was given: downloaded or an error raised
            sha256, path = got
            wheels.append(UpstreamWheel(dist.filename, strip_credentials(dist.url), sha256, path))
    cache.put_record(
        key,
        {"wheels": [{"filename": w.filename, "url": w.url, "sha256": w.sha256} for w in wheels]},
    )
    return tuple(wheels)
