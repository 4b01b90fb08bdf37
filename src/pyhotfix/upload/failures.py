"""What went wrong with an upload, in one paragraph: `uv publish`'s output reduced to the HTTP
status and the registry's reason, the advice that fits it, and which files are on the registry."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from pyhotfix.errors import PublishError
from pyhotfix.upload.credentials import CREDENTIAL_HELP, Credentials
from pyhotfix.upload.registries import UPLOAD_URL_SHAPES

__all__ = ["describe_state", "refusal_error", "summarize", "told"]

_REASON_MAX = 400


@contextlib.contextmanager
def told(suffix: str) -> Iterator[None]:
    """Add what happened to the upload (`suffix`) to a PublishError raised inside."""
    try:
        yield
    except PublishError as exc:
        raise PublishError(f"{exc} {suffix}") from exc


_TRANSPORT = re.compile(
    r"connect|dns|resolve|timed? ?out|unreachable|refused|certificate|tls|ssl", re.IGNORECASE
)


def refusal_error(
    output: str, credentials: Credentials, where: str, state: str, *, other_content: bool
) -> PublishError:
    """The error for a `uv publish` that failed with `output`; `state` says what is on the
    registry now (`describe_state`), `other_content` whether a file there has other bytes."""
    status, reason = summarize(output)
    lowered = reason.lower()
    if status in (401, 403) or "missing credentials" in lowered:
        advice = (
            f"The registry refused the credentials ({credentials.describe()}). {CREDENTIAL_HELP}"
        )
    elif status == 409 or other_content or "exist" in lowered:
        advice = (
            "The registry refused a file because one with that name is already there: "
            "another publish uploaded it after pyhotfix checked, or the registry keeps files "
            "it does not list (deleted or hidden ones). Published files are never "
            "overwritten: bump the hotfix number (+hotfix.N+1) and publish the rebuilt files."
        )
    elif status in (404, 405):
        advice = (
            f"Check the upload URL: it is the registry's upload endpoint ({UPLOAD_URL_SHAPES})."
        )
    elif status is None and _TRANSPORT.search(reason):
        advice = (
            "Could not reach the upload endpoint: check the URL, the network and proxy "
            "settings, and that the registry is running."
        )
    else:
        advice = "Fix what the registry reports, then publish again."
    http = f" (HTTP {status})" if status is not None else ""
    return PublishError(f"Uploading to {where} failed{http}: {reason} {advice} {state}")


def describe_state(
    there: Sequence[str], other: Sequence[str], missing: Sequence[str], unchanged: Sequence[str]
) -> str:
    """Which file is on the registry and which is not, after a failed or unverified upload."""
    parts = []
    if there:
        parts.append(f"Uploaded and verified: {', '.join(there)}.")
    if other:
        parts.append(f"On the registry with different content (not ours): {', '.join(other)}.")
    if missing:
        parts.append(f"Not on the registry: {', '.join(missing)}.")
    if unchanged:
        parts.append(f"Already there before, unchanged: {', '.join(unchanged)}.")
    if not there:
        parts.insert(0, "Nothing was uploaded.")
    return " ".join(parts)


# uv's own wording, then an HTML error page's title (pypiserver: "Error: 405 Method Not Allowed").
_STATUS = re.compile(r"status code (\d{3})|<title>(?:Error:\s*)?(\d{3})\b")
_NOT_UPLOAD = "not supported by the endpoint"  # uv's hint for a 405 on POST
_FAILED_FILE = re.compile(r"Failed to publish `([^`]*)`")
_PRE = re.compile(r"<pre>(.*?)</pre>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def summarize(output: str) -> tuple[int | None, str]:
    """(HTTP status, one-paragraph reason) from `uv publish`'s output: its error line and causes,
    with an HTML error page reduced to its message."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        text = " ".join(line.strip() for line in lines[-5:] if line.strip())
        return None, _clip(text or "uv publish failed without saying why.")
    text = "\n".join(lines[start:])
    match = _STATUS.search(text)
    status = int(match.group(1) or match.group(2)) if match else None
    if status is None and _NOT_UPLOAD in text:
        status = 405
    # The file's name says which; its full local path adds nothing.
    text = _FAILED_FILE.sub(lambda m: f"Failed to publish {Path(m.group(1)).name}", text)
    head, says, body = text.partition("Server says:")
    if says:
        pre = _PRE.search(body)
        body = html.unescape(pre.group(1) if pre else _TAG.sub(" ", body)).strip()
        # pypiserver's 403 page says "None": no news.
        text = f"{head} Server says: {body}" if body not in ("", "None") else head
    text = re.sub(r"\s*\n\s*cause:\s*", "; ", text)
    text = re.sub(r"\s+", " ", text.removeprefix("error:")).strip()
    return status, _clip(text)


def _clip(text: str) -> str:
    text = text.rstrip(". ") + "."
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
