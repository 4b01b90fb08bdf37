"""The diff/mbox parser: split a patch into mails and file sections (git and plain `diff -u`),
with hunks counted by their lengths, C-quoted names, mail headers and a DEP-3 header skipped.

It parses only far enough to know which files a patch touches and how; git does the applying.
"""

from __future__ import annotations

import contextlib
import email
import email.errors
import email.header
import email.policy
import itertools
import re
from dataclasses import dataclass, field

from pyhotfix.errors import PatchError

__all__ = [
    "EPOCH",
    "MBOX_FROM",
    "Hunk",
    "Message",
    "Name",
    "Section",
    "parse_patch",
    "quote",
    "split_lines",
]


MBOX_FROM = re.compile(rb"From [0-9a-f]{40} ")
_HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_EXT = (
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "copy from ",
    "copy to ",
    "rename from ",
    "rename to ",
    "similarity index ",
    "dissimilarity index ",
    "index ",
)
_BINARY_BLOCK = re.compile(rb"(literal|delta) \d+\r?\n?$")
EPOCH = re.compile(r"^(1970-01-01|1969-12-31)")
_TIMESTAMP_TAIL = re.compile(r"^(\S+)\s+(\d{4}-\d\d-\d\d[ T].*|\(.*\))$")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_C_QUOTE = {v: k for k, v in _C_ESCAPES.items()}


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their b"\\n" (a lone b"\\r" stays inside its line, unlike bytes.splitlines)."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    last = lines.pop()[:-1]
    if last:
        lines.append(last)
    return lines


def _text(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")


def _take_quoted(s: str) -> tuple[str, str]:
    """Parse a C-quoted name as git writes it; returns (name, rest after the closing quote)."""
    out = bytearray()
    i = 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return out.decode("utf-8", "surrogateescape"), s[i + 1 :]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            if d in "0123" and re.fullmatch(r"[0-7]{3}", s[i + 1 : i + 4]):
                out.append(int(s[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_C_ESCAPES.get(d, ord(d) & 0xFF))
            i += 2
            continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return s, ""  # unterminated: not really quoted


def quote(name: str) -> str:
    raw = name.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7F or b in b'"\\' for b in raw):
        return name
    parts = ['"']
    for b in raw:
        if b in _C_QUOTE:
            parts.append("\\" + _C_QUOTE[b])
        elif 0x20 <= b < 0x7F:
            parts.append(chr(b))
        else:
            parts.append(f"\\{b:03o}")
    parts.append('"')
    return "".join(parts)


def _parse_name(text: str) -> tuple[str, str]:
    """The file name and the timestamp (if any) of a `---`/`+++` line's argument."""
    if text.startswith('"'):
        name, rest = _take_quoted(text)
        return name, rest.strip()
    if "\t" in text:
        name, _, stamp = text.partition("\t")
        return name, stamp.strip()
    m = _TIMESTAMP_TAIL.match(text)
    if m:
        return m.group(1), m.group(2)
    return text, ""


def _split_diff_git(rest: str) -> tuple[str, str]:
    """The two names of a `diff --git A B` line (ambiguous with spaces: assume equal names)."""
    if rest.startswith('"'):
        a, tail = _take_quoted(rest)
        tail = tail.lstrip(" ")
        return a, (_take_quoted(tail)[0] if tail.startswith('"') else tail)
    if ' "' in rest:
        a, _, q = rest.partition(' "')
        return a, _take_quoted('"' + q)[0]
    n = len(rest)
    if n % 2 == 1 and rest[n // 2] == " ":
        a, b = rest[: n // 2], rest[n // 2 + 1 :]
        if a == b or a.partition("/")[2] == b.partition("/")[2]:
            return a, b
    if " b/" in rest:
        a, _, b = rest.partition(" b/")
        return a, "b/" + b
    a, _, b = rest.partition(" ")
    return a, b


@dataclass
class Name:
    raw: str
    prestripped: bool = False  # "rename from" names carry no a/ b/ prefix

    def strip(self, p: int) -> str | None:
        parts = [c for c in self.raw.split("/") if c not in ("", ".")]
        if not self.prestripped:
            if len(parts) <= p:
                return None
            parts = parts[p:]
        if not parts or ".." in parts or (self.prestripped and self.raw.startswith("/")):
            return None
        return "/".join(parts)


@dataclass
class Hunk:
    header: bytes  # the @@ line without its line ending
    old_start: int
    old_len: int
    new_len: int
    body: list[bytes]


@dataclass
class Section:
    is_git: bool
    crlf_headers: bool
    old: Name | None = None  # None means /dev/null (a new file)
    new: Name | None = None  # None means /dev/null (a deleted file)
    old_stamp: str = ""
    new_stamp: str = ""
    ext: list[str] = field(default_factory=list)
    has_minus_plus: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    binary: list[bytes] = field(default_factory=list)
    binary_without_data: bool = False

    def has_ext(self, prefix: str) -> bool:
        return any(t.startswith(prefix) for t in self.ext)


@dataclass
class Message:
    """One mail of an mbox (head = headers + commit message + diffstat), or a plain diff."""

    head: bytes | None
    subject: str
    sections: list[Section]


def _parse_hunks(lines: list[bytes], i: int) -> tuple[list[Hunk], int]:
    hunks: list[Hunk] = []
    n = len(lines)
    while i < n:
        m = _HUNK.match(lines[i])
        if not m:
            break
        old_len = int(m[2]) if m[2] is not None else 1
        new_len = int(m[4]) if m[4] is not None else 1
        hunk = Hunk(lines[i].rstrip(b"\r\n"), int(m[1]), old_len, new_len, [])
        i += 1
        old_left, new_left = old_len, new_len
        # Hunk lengths, not line shapes, decide where a hunk ends: the mail signature "-- " and a
        # next "--- " header both start with "-".
        while i < n and (old_left > 0 or new_left > 0):
            line = lines[i]
            c = line[:1]
            if c == b" " or line in (b"\n", b"\r\n"):  # bare newline: whitespace-stripped context
                old_left -= 1
                new_left -= 1
            elif c == b"-":
                old_left -= 1
            elif c == b"+":
                new_left -= 1
            elif c != b"\\":
                break  # truncated hunk: git will report it
            hunk.body.append(line)
            i += 1
        if i < n and lines[i][:1] == b"\\":  # "\ No newline at end of file" after the last line
            hunk.body.append(lines[i])
            i += 1
        hunks.append(hunk)
    return hunks, i


def _take_ext_names(sec: Section) -> None:
    """Rename/copy lines name the files without a/ b/ prefixes: they replace the diff line's."""
    for t in sec.ext:
        for key, attr in (("rename from ", "old"), ("copy from ", "old"), ("rename to ", "new")):
            if t.startswith(key):
                value = t[len(key) :]
                name = _take_quoted(value)[0] if value.startswith('"') else value
                setattr(sec, attr, Name(name, prestripped=True))
        if t.startswith("copy to "):
            value = t[len("copy to ") :]
            sec.new = Name(_take_quoted(value)[0] if value.startswith('"') else value, True)


def _binary_patch_end(lines: list[bytes], i: int) -> int:
    """The index after the `GIT binary patch` block whose first line is lines[i]."""
    n = len(lines)
    j = i + 1
    while j < n and _BINARY_BLOCK.match(lines[j]):  # forward and reverse blocks
        j += 1
        while j < n and lines[j].strip():
            j += 1
        j += 1 if j < n else 0
    return j


def _parse_git_section(lines: list[bytes], i: int) -> tuple[Section, int]:
    n = len(lines)
    a, b = _split_diff_git(_text(lines[i])[len("diff --git ") :])
    sec = Section(is_git=True, crlf_headers=lines[i].endswith(b"\r\n"), old=Name(a), new=Name(b))
    i += 1
    while i < n and _text(lines[i]).startswith(_GIT_EXT):
        sec.ext.append(_text(lines[i]))
        i += 1
    _take_ext_names(sec)
    if i < n and _text(lines[i]) == "GIT binary patch":
        j = _binary_patch_end(lines, i)
        sec.binary = lines[i:j]
        i = j
    elif (
        i < n
        and _text(lines[i]).startswith("Binary files ")
        and _text(lines[i]).endswith(" differ")
    ):
        sec.binary_without_data = True
        i += 1
    elif (
        i + 1 < n and _text(lines[i]).startswith("--- ") and _text(lines[i + 1]).startswith("+++ ")
    ):
        old, _ = _parse_name(_text(lines[i])[4:])
        new, _ = _parse_name(_text(lines[i + 1])[4:])
        sec.old = None if old == "/dev/null" else Name(old)
        sec.new = None if new == "/dev/null" else Name(new)
        sec.has_minus_plus = True
        sec.hunks, i = _parse_hunks(lines, i + 2)
    if sec.has_ext("new file mode "):
        sec.old = None
    if sec.has_ext("deleted file mode "):
        sec.new = None
    return sec, i


def _parse_plain_section(lines: list[bytes], i: int) -> tuple[Section, int]:
    old, old_stamp = _parse_name(_text(lines[i])[4:])
    new, new_stamp = _parse_name(_text(lines[i + 1])[4:])
    sec = Section(
        is_git=False,
        crlf_headers=lines[i].endswith(b"\r\n"),
        old=None if old == "/dev/null" else Name(old),
        new=None if new == "/dev/null" else Name(new),
        old_stamp=old_stamp,
        new_stamp=new_stamp,
        has_minus_plus=True,
    )
    sec.hunks, i = _parse_hunks(lines, i + 2)
    return sec, i


def _parse_sections(lines: list[bytes]) -> tuple[int, list[Section]]:
    """The index of the first section's line and the sections; other text is ignored."""
    sections: list[Section] = []
    first = len(lines)
    i = 0
    n = len(lines)
    while i < n:
        t = _text(lines[i])
        if t.startswith("diff --git "):
            start = i
            sec, i = _parse_git_section(lines, i)
        elif (
            t.startswith("--- ")
            and i + 2 < n
            and _text(lines[i + 1]).startswith("+++ ")
            and _HUNK.match(lines[i + 2])
        ):
            start = i
            sec, i = _parse_plain_section(lines, i)
        else:
            i += 1
            continue
        first = min(first, start)
        sections.append(sec)
    return first, sections


def _decode_mail(label: str, raw: bytes) -> tuple[bytes, str]:
    """Undo a base64/quoted-printable transfer encoding; returns (mail bytes, subject)."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, sep, body = raw.partition(b"\r\n\r\n")
    msg = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    raw_subject = str(msg["Subject"] or "")
    # An undecodable subject is only used in messages: keep it as written.
    with contextlib.suppress(LookupError, UnicodeError, email.errors.HeaderParseError):
        raw_subject = str(email.header.make_header(email.header.decode_header(raw_subject)))
    subject = " ".join(raw_subject.split())
    subject = re.sub(r"^(\[[^\]]*\]\s*)+", "", subject)  # "[PATCH 2/3] " as git am drops it
    if msg.is_multipart() or msg.get_content_maintype() == "multipart":
        raise PatchError(
            f"The patch {label} contains a multipart (attachment) mail, which pyhotfix cannot "
            "read. Save the patch itself (git format-patch output) and use that file."
        )
    cte = (msg["Content-Transfer-Encoding"] or "").strip().lower()
    if cte not in ("base64", "quoted-printable"):
        return raw, subject
    full = email.message_from_bytes(raw, policy=email.policy.compat32)
    payload = full.get_payload(decode=True)
    decoded = payload if isinstance(payload, bytes) else body
    new_head = re.sub(
        rb"(?im)^Content-Transfer-Encoding:.*$", b"Content-Transfer-Encoding: 8bit", head
    )
    return new_head + b"\n\n" + decoded, subject


_DEP3_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*:( |\r?$)|[ \t]|\r?$)")


def _skip_dep3_header(lines: list[bytes]) -> list[bytes]:
    """The lines after a DEP-3 header block (`Origin: URL` ...) in front of a mail, so a stored
    mail with its provenance prepended is still read as an mbox; other lines are left alone
    (a plain diff ignores text before its first section anyway)."""
    for i, line in enumerate(lines):
        if MBOX_FROM.match(line):
            return lines[i:]
        if not _DEP3_LINE.match(line):
            break
    return lines


def parse_patch(label: str, content: bytes) -> tuple[bool, list[Message]]:
    """(is_mbox, messages). A plain diff is one message without a head."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    lines = _skip_dep3_header(split_lines(content))
    if not lines or not MBOX_FROM.match(lines[0]):
        _, sections = _parse_sections(lines)
        return False, [Message(None, "", sections)]
    starts = [i for i, line in enumerate(lines) if MBOX_FROM.match(line)] + [len(lines)]
    messages: list[Message] = []
    for begin, end in itertools.pairwise(starts):
        mail, subject = _decode_mail(label, b"".join(lines[begin:end]))
        mail_lines = split_lines(mail)
        first, sections = _parse_sections(mail_lines)
        # The head (headers, commit message, "---", diffstat) is kept so git am keeps the message.
        head = b"".join(line.rstrip(b"\r\n") + b"\n" for line in mail_lines[:first])
        messages.append(Message(head, subject, sections))
    return True, messages
