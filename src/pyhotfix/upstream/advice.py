"""The UpstreamError messages shared by page listing and downloads: a transport failure, an
HTTP status, a project the index lacks, each with what to check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import redact, scrub

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CHECK_SETTINGS",
    "CHECK_URL",
    "CHECK_VERSION",
    "project_not_found",
    "status_error",
    "transport_error",
]

CHECK_SETTINGS = (
    "Check the [settings] upstream URL in hotfixes.toml and your network connection (and proxy "
    "settings), then try again."
)
CHECK_URL = "Check that the URL is right and reachable (network, proxy settings), then try again."
_CHECK_FILE = "Check the path in the file:// URL and that the file is readable, then try again."
# Neutral: the version may come from hotfixes.toml, `add NAME==VERSION` or `rebase --to`.
CHECK_VERSION = "Check the version you asked for (in hotfixes.toml or on the command line)."


def transport_error(
    url: str, exc: Exception, advice: str, name: str | None = None
) -> UpstreamError:
    detail = scrub(str(exc), url).rstrip(".") or type(exc).__name__
    what = f"{name} from {redact(url)}" if name else redact(url)
    return UpstreamError(f"could not fetch {what}: {detail}. {_advice_for(url, advice)}")


def _advice_for(url: str, advice: str) -> str:
    # A file:// URL has no network or proxy to check.
    return _CHECK_FILE if url[:7].lower() == "file://" else advice


def status_error(response: httpx.Response, url: str, advice: str) -> UpstreamError:
    code = response.status_code
    if code in (401, 403):
        return UpstreamError(
            f"{redact(url)} refused access (HTTP {code}). If the index needs a login, put the "
            "credentials in the [settings] upstream URL (https://user:password@host/...) or in "
            "~/.netrc, and check that they are still valid."
        )
    if code == 404 and url[:7].lower() == "file://":
        return UpstreamError(
            f"{redact(url)} does not exist (no such file, or a directory without index.html). "
            f"{_CHECK_FILE}"
        )
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return UpstreamError(f"{redact(url)} answered HTTP {code}{reason}. {advice}")


def project_not_found(project: str, index_url: str) -> UpstreamError:
    return UpstreamError(
        f"project {project} not found on {redact(index_url)}. Check the project name in "
        "hotfixes.toml and that [settings] upstream points at the index that hosts it."
    )
