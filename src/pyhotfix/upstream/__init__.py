"""Find and download the exact upstream sdist from a PEP 503/691 index, through a local cache.

Side effects stay at the edges: every function that touches the network takes an `httpx.Client`
(or a factory for one) and every function that stores something takes a `Cache`, so tests can run
against a loopback index and a temp directory. One concept a module: `pipconfig` (which index),
`cache` (content-addressed store), `limits` (capped downloads), `pages` (project pages, with
ETag revalidation), `choose` (the sdist of a version), `fetch` (downloads), `advice` (messages),
`fileurl` (file:// through httpx).
"""

from __future__ import annotations

from pyhotfix.upstream.cache import Cache, default_cache_dir
from pyhotfix.upstream.choose import find_sdist
from pyhotfix.upstream.fetch import (
    UpstreamSdist,
    cached_download,
    download,
    fetch_sdist,
    fetch_url,
)
from pyhotfix.upstream.limits import DownloadLimits
from pyhotfix.upstream.pages import CachedListing, list_files, list_files_cached
from pyhotfix.upstream.pipconfig import PYPI_SIMPLE_URL, default_upstream_url

__all__ = [
    "PYPI_SIMPLE_URL",
    "Cache",
    "CachedListing",
    "DownloadLimits",
    "UpstreamSdist",
    "cached_download",
    "default_cache_dir",
    "default_upstream_url",
    "download",
    "fetch_sdist",
    "fetch_url",
    "find_sdist",
    "list_files",
    "list_files_cached",
]
