"""DEP-3 patch metadata (https://dep-team.pages.debian.net/deps/dep3/): read and write the
Description, Origin, Bug, Forwarded and Applied-Upstream fields of a patch file.

A URL patch is stored as a file, because what a forge generates for `.patch`/`.diff` URLs changes
over time (e.g. the length of abbreviated hashes in `index` lines): a sha256 pinned over the
download would break a clean rebuild of an unchanged hotfix. The file records where it came from
with a DEP-3 `Origin:` field; `pyhotfix commit` writes the fields of the patches it makes; `list`,
`status`, the SBOM inside each wheel and the provenance read them.

Where the fields go keeps the file usable by git and by `patching.diff`:
- a plain diff gets a header block in front (`git apply` and `patching.diff` skip text before
  the first `diff`/`---` line); the DEP-3 fields there are read, `Subject:` standing for
  `Description:` as DEP-3 allows;
- an mbox (`git format-patch`, GitHub's `.patch`) gets the fields as header lines of its first
  mail, right after the `From <sha>` line: `git am` reads a block in front of the `From ` line
  as a mail of its own and stops ("Patch is empty"), while it ignores unknown mail headers. The
  fields are also read from the end of the commit message (the "pseudo-header" `pyhotfix commit`
  writes, which git keeps in the commit); the mail's Subject is the Description unless a
  `Description:` field says otherwise.

Reading is bounded (the first `MAX_HEAD_BYTES` of the file) and never fails: a patch is hostile
input, so control characters in a value are replaced (values are shown on terminals).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhotfix.manifest import HotfixSpec

__all__ = [
    "FIELD_NAMES",
    "MAX_HEAD_BYTES",
    "Dep3Headers",
    "PatchInfo",
    "field_lines",
    "origin_of",
    "patch_infos",
    "read_headers",
    "subject_of",
    "with_headers",
    "with_origin",
]

MAX_HEAD_BYTES = 256 * 1024  # headers and commit message; a diff's body is not read

_MBOX_FROM = re.compile(rb"From [0-9a-f]{40} ")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Dep3Headers:
    """The DEP-3 fields pyhotfix reads and writes; None: not given. `description` may span lines."""

    description: str | None = None
    origin: str | None = None  # "upstream, URL", "backport, URL", "vendor, …", "other, …" or a URL
    bug: str | None = None  # URL of the upstream bug report
    forwarded: str | None = None  # "no", "not-needed" or the URL where it was sent upstream
    applied_upstream: str | None = None  # version, commit or URL where upstream has it

    def fields(self) -> list[tuple[str, str]]:
        """(field name, value) of the fields that are set, in DEP-3's order."""
        pairs = zip(FIELD_NAMES, self._values(), strict=True)
        return [(name, value) for name, value in pairs if value and value.strip()]

    def _values(self) -> tuple[str | None, ...]:
        return (self.description, self.origin, self.bug, self.forwarded, self.applied_upstream)

    def merged(self, other: Dep3Headers) -> Dep3Headers:
        """These fields, with each field `other` sets replacing ours."""
        changes = {f.name: v for f in dataclasses.fields(other) if (v := getattr(other, f.name))}
        return dataclasses.replace(self, **changes)

    @property
    def origin_category(self) -> str | None:
        """ "upstream", "backport", "vendor" or "other" from `Origin: CATEGORY, …`, else None."""
        if self.origin is None:
            return None
        head, sep, _ = self.origin.partition(",")
        category = head.strip().lower()
        return category if sep and category in _CATEGORIES else None

    @property
    def origin_url(self) -> str | None:
        """The URL (or commit) part of Origin: after `CATEGORY,` when there is one."""
        if self.origin is None:
            return None
        if self.origin_category is not None:
            return self.origin.partition(",")[2].strip() or None
        return self.origin.strip() or None

    @property
    def is_backport(self) -> bool:
        """Whether upstream has (or made) this change: `Origin: upstream|backport, …` or
        `Applied-Upstream:` set. Otherwise the patch is the team's own (unofficial)."""
        return self.origin_category in ("upstream", "backport") or bool(self.applied_upstream)


FIELD_NAMES = ("Description", "Origin", "Bug", "Forwarded", "Applied-Upstream")
_ATTRIBUTES = {
    "description": "description",
    "subject": "description",  # DEP-3: Subject is an alias of Description
    "origin": "origin",
    "bug": "bug",
    "forwarded": "forwarded",
    "applied-upstream": "applied_upstream",
}
_CATEGORIES = ("upstream", "backport", "vendor", "other")
_FIELD_LINE = re.compile(r"([A-Za-z][A-Za-z0-9-]*):(?:[ \t]+(.*)|)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_DIFF_START = re.compile(r"(?:diff |--- |\+\+\+ |Index: |=== |@@ |\*\*\* |GIT binary patch)")


# --- reading ---------------------------------------------------------------------------------


def read_headers(content: bytes) -> Dep3Headers:
    """The DEP-3 fields of a patch file (plain diff or mbox; LF or CRLF; any bytes)."""
    head = content[:MAX_HEAD_BYTES].removeprefix(_BOM)
    lines = head.decode("utf-8", "replace").split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    if not _MBOX_FROM.match(head):
        end = next((i for i, line in enumerate(lines) if _DIFF_START.match(line)), len(lines))
        found = _parse_fields(lines[:end])
        subject = found.pop("subject", None)
        if "description" not in found and subject is not None:
            found["description"] = subject
        return _headers(found)
    # The first mail: its headers up to the first empty line, then the message up to "---".
    mail = lines[1:]
    blank = next((i for i, line in enumerate(mail) if not line.strip()), len(mail))
    mail_fields = _parse_fields(mail[:blank], mail=True)
    body = mail[blank + 1 :]
    end = next(
        (i for i, line in enumerate(body) if line == "---" or line.startswith("diff --git ")),
        len(body),
    )
    body_fields = _parse_fields(body[:end])
    body_fields.pop("subject", None)  # only the mail's own Subject header counts
    subject = mail_fields.pop("subject", None)
    found = {**body_fields, **mail_fields}  # header fields (pyhotfix writes those) win
    if "description" not in found and subject is not None:
        found["description"] = _mail_subject(subject)
    return _headers(found)


def _parse_fields(lines: list[str], *, mail: bool = False) -> dict[str, str]:
    """Known fields (lower-case name → value) among `lines`, the first of each name; continuation
    lines (starting with a space or tab) extend the field before them."""
    found: dict[str, str] = {}
    current: str | None = None
    parts: list[str] = []

    def finish() -> None:
        if current is not None and current not in found:
            found[current] = _joined(current, parts, mail=mail)

    for line in lines:
        if line[:1] in (" ", "\t") and current is not None:
            parts.append(line)
            continue
        finish()
        current, parts = None, []
        m = _FIELD_LINE.fullmatch(line)
        if m is None:
            continue
        name = m.group(1).lower()
        if name in _ATTRIBUTES:
            current, parts = name, [m.group(2) or ""]
    finish()
    return found


def _joined(name: str, parts: list[str], *, mail: bool) -> str:
    """A field's value from its first line and continuation lines."""
    if name == "description" or (name == "subject" and not mail):
        # DEP-3: newlines are meaningful in Description; " ." is an empty line
        lines = [parts[0].strip()]
        for line in parts[1:]:
            text = line[1:].rstrip()
            lines.append("" if text == "." else text)
        return "\n".join(lines).strip("\n")
    return " ".join(p.strip() for p in parts).strip()  # mail folding: one line


def _mail_subject(subject: str) -> str:
    """A mail Subject without `[PATCH n/m]`, RFC 2047 words decoded when they are well formed."""
    if "=?" in subject:
        from email.header import decode_header, make_header

        with contextlib.suppress(ValueError, LookupError, UnicodeError):  # shown as written
            subject = str(make_header(decode_header(subject)))
    return re.sub(r"^(?:\s*\[[^\]]*\])+\s*", "", subject).strip()


def _headers(found: dict[str, str]) -> Dep3Headers:
    values: dict[str, str] = {}
    for name, value in found.items():
        attribute = _ATTRIBUTES[name]
        if attribute == "description":
            lines = (_CONTROL.sub("\ufffd", line) for line in value.split("\n"))
            clean = "\n".join(lines).strip("\n")
        else:
            clean = _CONTROL.sub("\ufffd", value)
        if clean and attribute not in values:
            values[attribute] = clean
    return Dep3Headers(**values)


def origin_of(content: bytes) -> str | None:
    """The DEP-3 `Origin:` of a patch (in the header block or the first mail's headers)."""
    m = _ORIGIN.search(_head(content.removeprefix(_BOM)))
    return m.group(1).decode("utf-8", "replace") if m else None


_ORIGIN = re.compile(rb"^Origin: (\S+)\r?$", re.MULTILINE)
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


# --- writing ---------------------------------------------------------------------------------


def field_lines(headers: Dep3Headers) -> list[str]:
    """The set fields as DEP-3 lines (a multi-line Description continues on lines starting with a
    space, an empty line written " ."). ValueError for a value with a line break or control
    character outside Description, or any control character in it but line breaks."""
    lines: list[str] = []
    for name, value in headers.fields():
        if name == "Description":
            text = [line.rstrip() for line in value.strip("\n").split("\n")]
            if any(_CONTROL.search(line) for line in text):
                raise ValueError(f"the {name} holds a control character")
            lines.append(f"{name}: {text[0].strip()}")
            lines.extend(f" {line}" if line else " ." for line in text[1:])
        else:
            if _CONTROL.search(value):
                raise ValueError(f"the {name} field holds a line break or control character")
            lines.append(f"{name}: {value.strip()}")
    return lines


def with_headers(content: bytes, headers: Dep3Headers) -> bytes:
    """`content` with the fields `headers` sets (others are kept as the file has them).

    For a plain diff the fields go in a header block in front (an earlier line of the same field
    in front of the diff is removed); for an mbox into the first mail's headers (likewise).
    """
    new = field_lines(headers)
    if not new:
        return content
    body = content.removeprefix(_BOM)
    eol = b"\r\n" if body.split(b"\n", 1)[0].endswith(b"\r") else b"\n"  # as the file has them
    block = b"".join(line.encode("utf-8") + eol for line in new)
    names = {name.lower() for name, _ in headers.fields()}
    if _MBOX_FROM.match(body):
        first, sep, rest = body.partition(b"\n")
        sep = sep or b"\n"  # a lone `From ` line: the fields still go on lines of their own
        mail_head, blank, after = _split_head(rest)
        # a continuation line right after `From ` would continue our last field: it continues
        # nothing now, so it goes
        head = _without_fields(mail_head, names, orphans=True)
        return first + sep + block + head + blank + after
    if "description" in names:
        names.add("subject")  # its alias in a plain diff's header
    lines = body.splitlines(keepends=True)
    end = next(
        (i for i, line in enumerate(lines) if _DIFF_START.match(line.decode("utf-8", "replace"))),
        len(lines),
    )
    preamble = _without_fields(b"".join(lines[:end]), names)
    return block + eol + preamble + b"".join(lines[end:])


def _split_head(rest: bytes) -> tuple[bytes, bytes, bytes]:
    """(header lines, the empty line, the rest) of a mail after its `From ` line."""
    m = re.search(rb"(?m)^\r?\n", rest)
    if m is None:
        return rest, b"", b""
    return rest[: m.start()], rest[m.start() : m.end()], rest[m.end() :]


def _without_fields(text: bytes, names: set[str], *, orphans: bool = False) -> bytes:
    """`text` without the lines (and continuation lines) of the fields `names` (and, with
    `orphans`, without continuation lines at its start)."""
    kept: list[bytes] = []
    dropping = orphans
    for line in text.splitlines(keepends=True):
        if dropping and line[:1] in (b" ", b"\t"):
            continue
        m = _FIELD_LINE.fullmatch(line.decode("utf-8", "replace").rstrip("\r\n"))
        dropping = m is not None and m.group(1).lower() in names
        if not dropping:
            kept.append(line)
    return b"".join(kept)


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


# --- the fields of a hotfix's patches, for list, status and the SBOM ---------------------------


@dataclass(frozen=True)
class PatchInfo:
    """One patch of a hotfix (as the manifest lists it) and its DEP-3 fields."""

    patch: str
    headers: Dep3Headers

    def to_json(self) -> dict[str, str | None]:
        return {"patch": self.patch, **dataclasses.asdict(self.headers)}

    def summary(self) -> str:
        """One line: the patch's file name, the Description's first line and the other fields."""
        h = self.headers
        shown = [
            f"{label} {value}"
            for label, value in (
                ("origin", h.origin),
                ("bug", h.bug),
                ("forwarded", h.forwarded),
                ("applied upstream", h.applied_upstream),
            )
            if value
        ]
        title = (h.description or "").split("\n", 1)[0]
        name = self.patch.rsplit("/", 1)[-1]
        return f"{name}: {title}".rstrip(": ") + (f" ({'; '.join(shown)})" if shown else "")


def patch_infos(spec: HotfixSpec, base_dir: Path) -> tuple[PatchInfo, ...]:
    """The DEP-3 fields of `spec`'s patch files, read without network or git: URL and git patches
    (fetched at build time) and files that cannot be read are left out (build reports those)."""
    from pyhotfix.errors import PyhotfixError
    from pyhotfix.manifest import FilePatch
    from pyhotfix.patching.files import read_patch_file

    infos: list[PatchInfo] = []
    for source in spec.patches:
        if isinstance(source, FilePatch):
            with contextlib.suppress(PyhotfixError):
                content = read_patch_file(base_dir / source.path, source.path, source.where)
                infos.append(PatchInfo(source.path, read_headers(content)))
    return tuple(infos)
