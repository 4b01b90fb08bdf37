"""Property tests for the hand-written parsers: the diff/mbox reader (patching), the HTTP request
head and Range parsers (serve), and the requirements-file reader (deploy.reqfile).

Each parser gets two kinds of property: hostile input never makes it raise anything but its
documented rejection, and well-formed generated input parses back into the parts it was made from.
Private parser names are imported here on purpose: they are the units under test.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix.deploy import reqfile
from pyhotfix.errors import PatchError
from pyhotfix.patching.diff import parse_patch
from pyhotfix.serve.http import MAX_HEADERS, Request, parse_head, parse_range

# Fast enough for every run: the whole file stays well under 20 s.
FAST = settings(max_examples=150, deadline=None)

# -- diff / mbox ----------------------------------------------------------------------------------

# Pieces that steer arbitrary input into the parser's branches (headers, hunks, mails, binary).
_PATCH_PIECES = st.sampled_from(
    [
        b"diff --git a/x b/x\n",
        b'diff --git "a/sp ace" "b/sp ace"\n',
        b"--- a/x\n",
        b"+++ b/x\n",
        b"--- /dev/null\n",
        b"+++ /dev/null\n",
        b"@@ -1,2 +1,2 @@\n",
        b"@@ -1 +1 @@\n",
        b"@@ -0,0 +1,99999999999999999999 @@\n",
        b" context\n",
        b"-old\n",
        b"+new\n",
        b"\\ No newline at end of file\n",
        b"new file mode 100644\n",
        b"deleted file mode 100644\n",
        b"rename from y\n",
        b"rename to z\n",
        b'copy to "q\\"uoted"\n',
        b"GIT binary patch\n",
        b"literal 5\n",
        b"Binary files a/x and b/x differ\n",
        b"From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n",
        b"Subject: [PATCH] =?utf-8?q?caf=C3=A9?=\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"Content-Type: multipart/mixed; boundary=x\n",
        b"Origin: https://example.org/1.patch\n",
        b"\xef\xbb\xbf",
        b"\r\n",
        b"\n",
        b"\r",
        b"\xff\xfe",
    ]
)
_HOSTILE_PATCH = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(_PATCH_PIECES, st.binary(max_size=8)), max_size=30).map(b"".join),
)


@FAST
@given(_HOSTILE_PATCH)
def test_patch_parser_raises_only_patch_error(content: bytes) -> None:
    try:
        is_mbox, messages = parse_patch("hostile.patch", content)
    except PatchError:
        return
    assert isinstance(is_mbox, bool)
    assert is_mbox or len(messages) == 1


_PATH_PART = st.text(
    alphabet=string.ascii_lowercase + string.digits + "_.-", min_size=1, max_size=8
)
_PATH = (
    st.lists(_PATH_PART, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda p: not any(part in (".", "..") for part in p.split("/")))
)
# Line text: anything printable on one line (no CR/LF), including leading "-", "+", "\" and "@@".
_LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=20,
)
_BODY_LINE = st.tuples(st.sampled_from(" -+"), _LINE_TEXT)
_HUNK_BODY = st.lists(_BODY_LINE, min_size=1, max_size=6)


def _diff(files: list[tuple[str, list[list[tuple[str, str]]]]], eol: str, git: bool) -> str:
    """A unified diff of `files` (path, hunks of (kind, text) lines) with `eol` line endings."""
    out = []
    for path, hunks in files:
        if git:
            out.append(f"diff --git a/{path} b/{path}{eol}index 1111111..2222222 100644{eol}")
        out.append(f"--- a/{path}{eol}+++ b/{path}{eol}")
        start = 1
        for body in hunks:
            old = sum(kind != "+" for kind, _ in body)
            new = sum(kind != "-" for kind, _ in body)
            out.append(f"@@ -{start},{old} +{start},{new} @@{eol}")
            out.extend(f"{kind}{text}{eol}" for kind, text in body)
            start += old + 10
    return "".join(out)


@FAST
@given(
    files=st.lists(
        st.tuples(_PATH, st.lists(_HUNK_BODY, min_size=1, max_size=3)),
        min_size=1,
        max_size=4,
        unique_by=lambda f: f[0],
    ),
    eol=st.sampled_from(["\n", "\r\n"]),
    git=st.booleans(),
    preamble=st.sampled_from(["", "Some words about the fix.\n\n", "Index: x\n=====\n"]),
)
def test_generated_unified_diff_parses_into_its_files_and_hunks(
    files: list[tuple[str, list[list[tuple[str, str]]]]], eol: str, git: bool, preamble: str
) -> None:
    content = (preamble + _diff(files, eol, git)).encode()
    is_mbox, messages = parse_patch("gen.patch", content)
    assert not is_mbox
    (message,) = messages
    assert message.head is None
    assert len(message.sections) == len(files)
    for section, (path, hunks) in zip(message.sections, files, strict=True):
        assert section.is_git == git
        assert section.has_minus_plus
        assert section.crlf_headers == (eol == "\r\n")
        assert section.old is not None and section.old.strip(1) == path
        assert section.new is not None and section.new.strip(1) == path
        assert len(section.hunks) == len(hunks)
        for hunk, body in zip(section.hunks, hunks, strict=True):
            # CRLF is kept byte for byte: git apply needs it to match CRLF files.
            assert hunk.body == [f"{kind}{text}{eol}".encode() for kind, text in body]
            assert hunk.old_len == sum(kind != "+" for kind, _ in body)
            assert hunk.new_len == sum(kind != "-" for kind, _ in body)
            assert not hunk.header.endswith((b"\r", b"\n"))


@FAST
@given(
    mails=st.lists(
        st.tuples(
            st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=20).filter(
                lambda s: s.strip()
            ),
            _PATH,
            _HUNK_BODY,
        ),
        min_size=1,
        max_size=3,
    ),
    eol=st.sampled_from(["\n", "\r\n"]),
)
def test_generated_mbox_parses_into_one_message_per_mail(
    mails: list[tuple[str, str, list[tuple[str, str]]]], eol: str
) -> None:
    text = ""
    for n, (subject, path, body) in enumerate(mails, 1):
        text += (
            f"From {'0123456789abcdef' * 2}{n:08x} Mon Sep 17 00:00:00 2001{eol}"
            f"From: A U Thor <author@example.org>{eol}"
            f"Subject: [PATCH {n}/{len(mails)}] {subject}{eol}{eol}"
            f"The message.{eol}---{eol}"
            + _diff([(path, [body])], eol, git=True)
            + f"-- {eol}2.40.0{eol}{eol}"
        )
    is_mbox, messages = parse_patch("gen.mbox", text.encode())
    assert is_mbox
    assert [m.subject for m in messages] == [" ".join(s.split()) for s, _, _ in mails]
    for message, (_, path, body) in zip(messages, mails, strict=True):
        assert message.head is not None and b"The message." in message.head
        (section,) = message.sections
        assert section.new is not None and section.new.strip(1) == path
        (hunk,) = section.hunks
        assert hunk.body == [f"{kind}{text}{eol}".encode() for kind, text in body]


# -- HTTP request head and Range (serve) ---------------------------------------------------------

_TOKEN_CHARS = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
_TOKEN = st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=12)
_TARGET = st.text(alphabet=[chr(c) for c in range(0x21, 0x7F)], min_size=1, max_size=40)
# Field values: latin-1 without CR, LF, NUL; no leading/trailing blanks (the parser strips them).
_VALUE = st.text(
    alphabet=[chr(c) for c in range(0x20, 0x100) if chr(c) not in "\x7f"], max_size=30
).map(lambda v: v.strip(" \t"))
_HEAD_PIECES = st.sampled_from(
    [
        b"GET / HTTP/1.1",
        b"\r\n",
        b"Host: x",
        b"Content-Length: ",
        b"99999999999999999999",
        b"Range: bytes=0-1",
        b"Transfer-Encoding: chunked",
        b" ",
        b":",
        b"\0",
        b"\n",
        b"HTTP/2.0",
        b"\xff",
        b"Host: y",
    ]
)


@FAST
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(st.one_of(_HEAD_PIECES, st.binary(max_size=6)), max_size=30).map(b"".join),
    )
)
def test_request_head_parser_returns_a_request_or_its_documented_rejection(head: bytes) -> None:
    parsed = parse_head(head)
    if isinstance(parsed, int):
        assert parsed in (400, 431, 505)
    else:
        assert isinstance(parsed, Request)
        assert parsed.http10 or "host" in parsed.headers


@FAST
@given(
    method=_TOKEN,
    target=_TARGET,
    http10=st.booleans(),
    fields=st.dictionaries(
        _TOKEN.map(lambda t: "x-" + t.lower()), _VALUE, max_size=MAX_HEADERS - 2
    ),
    host=_VALUE,
    name_case=st.sampled_from([str.lower, str.upper, str.title]),
)
def test_well_formed_request_head_parses_to_its_parts(
    method: str,
    target: str,
    http10: bool,
    fields: dict[str, str],
    host: str,
    name_case: object,
) -> None:
    assert callable(name_case)
    all_fields = {"host": host, **fields}
    lines = [f"{method} {target} HTTP/1.{0 if http10 else 1}"]
    lines += [f"{name_case(name)}: \t{value} " for name, value in all_fields.items()]
    parsed = parse_head("\r\n".join(lines).encode("latin-1"))
    assert isinstance(parsed, Request), parsed
    assert (parsed.method, parsed.target, parsed.http10) == (method, target, http10)
    assert parsed.headers == all_fields
    assert not parsed.has_body


@FAST
@given(spec=st.text(max_size=40), size=st.integers(min_value=0, max_value=10**12))
def test_range_parser_answers_within_bounds_for_any_header(spec: str, size: int) -> None:
    parsed = parse_range(spec, size)
    if isinstance(parsed, tuple):
        first, last = parsed
        assert 0 <= first <= last < size
    else:
        assert parsed in (None, 416)


@FAST
@given(
    size=st.integers(min_value=0, max_value=10**9),
    first=st.integers(min_value=0, max_value=2 * 10**9),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=2 * 10**9)),
    unit=st.sampled_from(["bytes", "Bytes", " bytes "]),
)
def test_generated_range_selects_the_bytes_it_names(
    size: int, first: int, length: int | None, unit: str
) -> None:
    last = None if length is None else first + length
    parsed = parse_range(f"{unit}={first}-{'' if last is None else last}", size)
    if first >= size:
        assert parsed == 416
    else:
        assert parsed == (first, size - 1 if last is None else min(last, size - 1))


@FAST
@given(size=st.integers(min_value=0, max_value=10**9), suffix=st.integers(0, 2 * 10**9))
def test_generated_suffix_range_selects_the_tail(size: int, suffix: int) -> None:
    parsed = parse_range(f"bytes=-{suffix}", size)
    if suffix == 0 or size == 0:
        assert parsed == 416
    else:
        assert parsed == (max(0, size - suffix), size - 1)


# -- requirements lines (deploy.reqfile) ---------------------------------------------------------

_REQ_PIECES = st.sampled_from(
    [
        "\\\n",
        "\\",
        "#",
        " # c",
        "-r",
        "--hash",
        "=",
        "sha256:ab",
        "${HOME}",
        "${NOPE}",
        "-e .",
        "pkg",
        "[x]",
        "==1.0",
        ";",
        'python_version<"3"',
        "@ https://x/",
        " ",
        "\t",
        "\r\n",
        "\n",
        "'",
        '"',
        "-",
        "--index-url",
        "-ihttps://i/",
        "é",
        "\0",
    ]
)


@FAST
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.one_of(_REQ_PIECES, st.text(max_size=5)), max_size=30).map("".join),
    )
)
def test_requirements_reader_never_crashes_and_keeps_every_byte(text: str) -> None:
    parsed = reqfile.parse_text(text, Path("requirements.txt"), {"HOME": "/home/u"})
    assert "".join(parsed.lines) == text
    # Logical lines cover the physical ones in order, without gap or overlap.
    assert [line.start for line in parsed.logical] == [0, *(line.end for line in parsed.logical)][
        :-1
    ]
    assert (parsed.logical[-1].end if parsed.logical else 0) == len(parsed.lines)
    for line in parsed.logical:
        assert line.raw == "".join(parsed.lines[line.start : line.end])


_NAME = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?", fullmatch=True)
_VERSION = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}(\+hotfix\.[0-9]{1,3})?", fullmatch=True)
_HASH = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)


@FAST
@given(
    name=_NAME,
    extras=st.lists(_NAME, max_size=2, unique=True),
    version=_VERSION,
    hashes=st.lists(_HASH, max_size=3),
    # A comment ending in a backslash continues onto the next line, as in pip: not a one-line case.
    comment=st.one_of(
        st.none(), _LINE_TEXT.map(lambda t: ("# " + t.strip()).strip().rstrip("\\"))
    ),
    continued=st.booleans(),
    eol=st.sampled_from(["\n", "\r\n", ""]),
)
def test_generated_requirement_line_round_trips(
    name: str,
    extras: list[str],
    version: str,
    hashes: list[str],
    comment: str | None,
    continued: bool,
    eol: str,
) -> None:
    req_text = name + (f"[{','.join(extras)}]" if extras else "") + f"=={version}"
    joiner = f" \\{eol or chr(10)}    " if continued else " "
    parts = [req_text, *(f"--hash={h}" for h in hashes)]
    text = joiner.join(parts) + (f" {comment}" if comment else "") + eol
    parsed = reqfile.parse_text(text, Path("requirements.txt"), {})
    assert "".join(parsed.lines) == text
    (line,) = parsed.logical
    assert line.raw == text
    assert (line.start, line.end) == (0, len(parsed.lines))
    assert line.error is None and line.requirement is not None
    assert line.requirement.name == name
    assert sorted(line.requirement.extras) == sorted(extras)
    assert str(line.requirement.specifier) == f"=={version}"
    assert line.requirement_text == req_text
    assert line.hashes == tuple(hashes)
    assert line.comment == (comment or "")
    assert [line] == parsed.named(name.upper())


@pytest.mark.parametrize(
    ("option", "sep"),
    [
        ("-i", ""),
        ("-i", " "),
        ("--index-url", " "),
        ("--index-url", "="),
        ("--extra-index-url", "="),
        ("-f", " "),
    ],
)
@FAST
@given(url=st.from_regex(r"https://[a-z]{1,8}(\.[a-z]{1,5})?/[a-z/]{0,10}", fullmatch=True))
def test_generated_index_option_lines_round_trip(option: str, sep: str, url: str) -> None:
    text = f"{option}{sep}{url}\n"
    parsed = reqfile.parse_text(text, Path("r.txt"), {})
    (line,) = parsed.logical
    assert line.requirement is None and line.raw == text
    long_name = {"-i": "--index-url", "-f": "--find-links"}.get(option, option)
    assert line.option_values(long_name) == [url]
