"""The HTTP client every network call uses: scoped basic auth, ~/.netrc, and URL redaction.

One factory (`make_client`) so that the index, a patch URL, an upload target and `status` all
send credentials only to the origin that owns them, and every message that quotes a URL hides
its secret (`redact`, `scrub`). httpx is imported inside the functions that need it: a build
whose sdist and patches are cached makes no request, and importing httpx (with ssl) costs a
noticeable part of a short build.
"""

from __future__ import annotations

import base64
import functools
import logging
import netrc
import os
import re
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from pyhotfix import __version__
from pyhotfix.errors import UpstreamError

if TYPE_CHECKING:
    import httpx

__all__ = ["make_client", "redact", "scrub", "strip_credentials"]

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """Hide the secret part of a URL's userinfo: https://user:***@host/...

    A username without a password is hidden as well, because indexes commonly take an API token
    as the username (https://TOKEN@host/ or https://TOKEN:@host/).
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal; still never echo the userinfo
        return re.sub(r"//[^/@]*@", "//***@", url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    shown = f"{user}:***" if user and password else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


def strip_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from free text (an exception message may quote the URL)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    for secret in {parts.password, unquote(parts.password or "")}:
        if secret:
            text = text.replace(secret, "***")
    return text


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or {"http": 80, "https": 443}.get(scheme, 0)


def _basic_auth_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


# A class made on first use: subclassing httpx.Auth needs httpx, imported only when a request is made.
@functools.cache
def _scoped_auth_class() -> Callable[
    [tuple[str, str, int] | None, tuple[str, str], httpx.NetRCAuth | None], httpx.Auth
]:
    import httpx

    class ScopedAuth(httpx.Auth):
        """Basic auth that never sends the index's credentials to another origin (e.g. a file CDN).

        Order: userinfo in the request URL itself, then the index URL's credentials for the index's
        origin only, then ~/.netrc (by host, as pip and curl do).
        """

        def __init__(
            self,
            origin: tuple[str, str, int] | None,
            creds: tuple[str, str],
            netrc_auth: httpx.NetRCAuth | None,
        ) -> None:
            self._origin = origin
            self._creds = creds
            self._netrc = netrc_auth

        def auth_flow(
            self, request: httpx.Request
        ) -> Generator[httpx.Request, httpx.Response, None]:
            url = request.url
            if url.username or url.password:
                request.headers["Authorization"] = _basic_auth_header(url.username, url.password)
            elif self._origin is not None and _origin(url) == self._origin:
                request.headers["Authorization"] = _basic_auth_header(*self._creds)
            elif self._netrc is not None:
                yield from self._netrc.auth_flow(request)
                return
            yield request

    return ScopedAuth


def _load_netrc() -> httpx.NetRCAuth | None:
    import httpx

    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc").expanduser()
    if not path.is_file():
        return None
    try:
        return httpx.NetRCAuth(str(path))
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        # Like pip and uv: a broken netrc must not break access to indexes that need no login.
        log.warning("ignoring %s: it could not be read (%s)", path, exc)
        return None


def make_client(index_url: str, timeout: float = 30.0) -> httpx.Client:
    """An HTTP client for `index_url`: its userinfo (or ~/.netrc / $NETRC) becomes basic auth."""
    import httpx

    try:
        url = httpx.URL(index_url)
    except httpx.InvalidURL as exc:
        raise UpstreamError(
            f"{redact(index_url)} is not a valid URL ({scrub(str(exc), index_url)}). "
            "Correct it in hotfixes.toml ([settings] upstream, or the URL of a patch)."
        ) from exc
    from pyhotfix.upstream.fileurl import FileTransport, refuse_redirect_off_http

    origin = _origin(url) if (url.username or url.password) else None
    return httpx.Client(
        auth=_scoped_auth_class()(origin, (url.username, url.password), _load_netrc()),
        follow_redirects=True,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": f"pyhotfix/{__version__}"},
        # A local index or patch (file://) reads like a remote one; a remote server can never
        # redirect into it (the hook), nor can a remote page link to it (parse_page).
        mounts={"file://": FileTransport()},
        event_hooks={"response": [refuse_redirect_off_http]},
    )
