"""DEP-3 provenance for a downloaded patch that `pyhotfix add` stores beside the manifest.

A URL patch is stored as a file, because what a forge generates for `.patch`/`.diff` URLs changes
over time (e.g. the length of abbreviated hashes in `index` lines): a sha256 pinned over the
download would break a clean rebuild of an unchanged hotfix. The file records where it came from
with a DEP-3 `Origin:` field (https://dep-team.pages.debian.net/deps/dep3/).

Where the field goes keeps the file usable by git and by `patching.diff`:
- a plain diff gets a header block in front (`git apply` and `patching.diff` skip text before
  the first `diff`/`---` line);
- an mbox (`git format-patch`, GitHub's `.patch`) gets the field as a header line of its first
  mail, right after the `From <sha>` line: `git am` reads a block in front of the `From ` line
  as a mail of its own and stops ("Patch is empty"), while it ignores unknown mail headers.
"""

from __future__ import annotations

import re

__all__ = ["origin_of", "subject_of", "with_origin"]

_MBOX_FROM = re.compile(rb"From [0-9a-f]{40} ")
_BOM = b"\xef\xbb\xbf"


def with_origin(content: bytes, url: str) -> bytes:
    """`content` with a DEP-3 `Origin: url` field; unchanged if it already has that field.

    `url` must already be free of credentials (it is written into a file meant to be committed).
    """
    if any(c in url for c in "\r\n"):
        raise ValueError("a URL with a line break cannot be a header field")
    if origin_of(content) == url:
        return content
    body = content.removeprefix(_BOM)
    eol = b"\r\n" if body.split(b"\n", 1)[0].endswith(b"\r") else b"\n"  # as the file has them
    field = b"Origin: " + url.encode("utf-8") + eol
    if _MBOX_FROM.match(body):
        first, sep, rest = body.partition(b"\n")
        return first + sep + field + rest
    return field + eol + body


_ORIGIN = re.compile(rb"^Origin: (\S+)\r?$", re.MULTILINE)


def origin_of(content: bytes) -> str | None:
    """The DEP-3 `Origin:` of a patch (in the header block or the first mail's headers)."""
    m = _ORIGIN.search(_head(content.removeprefix(_BOM)))
    return m.group(1).decode("utf-8", "replace") if m else None


_SUBJECT = re.compile(rb"^Subject: (?:\[[^\]]*\]\s*)*(.+)\r?$", re.MULTILINE)


def subject_of(content: bytes) -> str | None:
    """The first mail's subject without `[PATCH n/m]`, to name the stored file; None for a diff."""
    body = content.removeprefix(_BOM)
    if not _MBOX_FROM.match(body):
        return None
    m = _SUBJECT.search(_head(body))
    return m.group(1).decode("utf-8", "replace").strip() if m else None


def _head(content: bytes) -> bytes:
    """Up to the first empty line: the header block, or the first mail's headers."""
    return re.split(rb"\r?\n\r?\n", content, maxsplit=1)[0]
