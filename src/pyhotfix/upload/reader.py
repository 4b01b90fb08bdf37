"""Reading a registry's simple index: where it is (devpi says so at ``+api``), the project's
files with their sha256 (downloaded and hashed when the page gives none), and a clear error for
every way the read can fail. The upload credentials are sent to the upload host only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from packaging.utils import NormalizedName

from pyhotfix.errors import PublishError
from pyhotfix.httpclient import make_client, redact
from pyhotfix.simpleapi import ACCEPT, PAGE_ERRORS, DistFile, parse_page
from pyhotfix.upload.credentials import CREDENTIAL_HELP, Credentials
from pyhotfix.upload.registries import UPLOAD_URL_SHAPES, known_simple_url

__all__ = ["RegistryReader"]

_READ_TIMEOUT = 30.0
_PROBE_TIMEOUT = 10.0


class RegistryReader:
    """The simple index of the registry at `upload_url` (credential-free); `simple_url` when
    given, else derived on first use. `credentials` is called when a read needs them, `scrub`
    removes secrets from exception text."""

    def __init__(
        self,
        upload_url: str,
        simple_url: str | None,
        credentials: Callable[[], Credentials],
        scrub: Callable[[str], str],
    ) -> None:
        self.upload_url = upload_url
        self._given_simple_url = simple_url
        self._simple_url: str | None = None
        self._devpi = False
        self._credentials = credentials
        self._scrub = scrub

    @property
    def is_devpi(self) -> bool:
        """True once the simple URL has been derived from devpi's +api."""
        return self._devpi

    def simple_url(self) -> str:
        """The registry's simple index URL (without credentials), derived on first use."""
        if self._simple_url is None:
            self._simple_url = self._derive_simple_url()
        return self._simple_url

    def _derive_simple_url(self) -> str:
        if self._given_simple_url is not None:
            return self._given_simple_url.rstrip("/") + "/"
        known = known_simple_url(self.upload_url)
        if known is not None:
            return known
        devpi = self._devpi_simple_url()
        if devpi is not None:
            self._devpi = True
            return devpi
        return self.upload_url.rstrip("/") + "/simple/"

    def _devpi_simple_url(self) -> str | None:
        """devpi describes each index at <index>/+api (what devpi-client reads)."""
        url = self.upload_url.rstrip("/") + "/+api"
        try:
            with self.client(timeout=_PROBE_TIMEOUT) as client:
                # devpi answers here directly; others may redirect anywhere (pypiserver: in a loop).
                response = client.get(
                    url, headers={"Accept": "application/json"}, follow_redirects=False
                )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise self.unreachable(url, exc) from exc
        except httpx.HTTPError:
            return None
        if not response.is_success:
            return None
        try:
            data = response.json()
            simple = data["result"]["simpleindex"] if data.get("type") == "apiconfig" else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return simple.rstrip("/") + "/" if isinstance(simple, str) and simple else None

    def client(self, timeout: float = _READ_TIMEOUT) -> httpx.Client:
        """A client for the simple index: the upload credentials are sent to the upload host
        only (scoped by make_client), unless the simple URL carries its own."""
        base = self._given_simple_url or self.upload_url
        parts = urlsplit(base)
        creds = self._credentials()
        if (
            not (parts.username or parts.password)
            and creds.username
            and creds.password
            and urlsplit(self.upload_url).netloc == parts.netloc
        ):
            userinfo = f"{quote(creds.username, safe='')}:{quote(creds.password, safe='')}"
            base = urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))
        return make_client(base, timeout=timeout)

    def listing(self, client: httpx.Client, canon: NormalizedName) -> dict[str, DistFile] | None:
        """The project's files on the registry, by filename; None when the project page is 404."""
        simple = self.simple_url()
        page_url = f"{simple}{canon}/"
        try:
            # no-cache: a registry or proxy must not answer from a cache right after an upload.
            response = client.get(page_url, headers={"Accept": ACCEPT, "Cache-Control": "no-cache"})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self.unreachable(page_url, exc) from exc
        if response.status_code == 404:
            self._check_root(client, simple)
            return None
        if response.status_code in (401, 403):
            raise PublishError(
                f"{redact(page_url)} refused read access (HTTP {response.status_code}; "
                f"{self._credentials().describe()}). pyhotfix reads the registry's "
                "simple page before and after uploading, with the upload credentials (or those "
                f"in ~/.netrc, or in the simple URL). {CREDENTIAL_HELP}"
            )
        if not response.is_success:
            raise PublishError(
                f"{redact(page_url)} answered HTTP {response.status_code} "
                f"{response.reason_phrase}. Check the registry's state and the simple URL "
                "(pass it explicitly if it is not the default)."
            )
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        base = str(response.url)
        try:
            # one parser (simpleapi's) for every index pyhotfix reads
            dists = parse_page(response.content, content_type, base)
        except PAGE_ERRORS as exc:
            raise PublishError(
                f"{redact(page_url)} is not a valid simple-index project page ({exc}). Check the "
                "simple URL of the registry (pass it explicitly if it is not the default)."
            ) from exc
        return {d.filename: d for d in dists}

    def _check_root(self, client: httpx.Client, simple: str) -> None:
        """A 404 for the project is "no files yet", unless the whole simple URL is wrong."""
        try:
            response = client.get(simple, headers={"Accept": ACCEPT})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self.unreachable(simple, exc) from exc
        if response.status_code == 404:
            raise PublishError(
                f"The registry's simple index was not found at {redact(simple)} (HTTP 404), so "
                "pyhotfix cannot check what is already published. Check the upload URL "
                f"({UPLOAD_URL_SHAPES}) and, if the registry serves its simple index "
                "elsewhere, give that URL."
            )

    def sha256(self, client: httpx.Client, remote: DistFile) -> tuple[str, int | None]:
        """(sha256, size) of a listed file: from the page, else by downloading it."""
        if remote.sha256:
            return remote.sha256, remote.size
        h = hashlib.sha256()
        size = 0
        url = remote.url
        try:
            # identity: the hash of the file as stored, not of a transfer encoding of it.
            with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                if not response.is_success:
                    raise PublishError(
                        f"The registry lists {remote.filename} without a hash, and "
                        f"downloading it to compare failed: {redact(url)} answered HTTP "
                        f"{response.status_code}."
                    )
                for chunk in response.iter_raw(1 << 16):
                    h.update(chunk)
                    size += len(chunk)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self.unreachable(url, exc) from exc
        return h.hexdigest(), size

    def unreachable(self, url: str, exc: Exception) -> PublishError:
        detail = self._scrub(str(exc)).rstrip(".") or type(exc).__name__
        return PublishError(
            f"Could not reach the registry at {redact(url)}: {detail}. Check the URL, the network "
            "and proxy settings, and that the registry is running."
        )
