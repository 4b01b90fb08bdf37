"""DEP-3 patch metadata: a typed value, a reader that never fails on any bytes, and a writer that
keeps mails usable by `git am` and diffs by `git apply` (real git) and by `patching.diff`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix.patching import PatchInput, apply_patches, sha256_of
from pyhotfix.patching.dep3 import (
    MAX_HEAD_BYTES,
    Dep3Headers,
    field_lines,
    read_headers,
    with_headers,
)
from pyhotfix.patching.diff import parse_patch
from tests.conftest import Pyhotfix
from tests.support.manifests import write_manifest

GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Upstream Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Upstream Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
    "LC_ALL": "C",
}

FULL = Dep3Headers(
    description="Fix the answer\n\nanswer() returned 41.\n  indented: kept\nlast line",
    origin="upstream, https://github.com/example/magic/commit/0123abc",
    bug="https://github.com/example/magic/issues/7",
    forwarded="https://github.com/example/magic/pull/8",
    applied_upstream="1.1",
)


def git(cwd: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=GIT_ENV,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture(scope="module")
def patches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A real `git format-patch` mail, a real `git diff`, and the mail with CRLF line ends."""
    repo = tmp_path_factory.mktemp("repo")
    (repo / "magic").mkdir()
    (repo / "magic/__init__.py").write_text("def answer():\n    return 41\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Release 1.0")
    (repo / "magic/__init__.py").write_text("def answer():\n    return 42\n")
    git(repo, "commit", "-qam", "Fix answer\n\nThe answer is 42.\n\nForwarded: no\nOrigin: vendor")
    return {
        "mail": git(repo, "format-patch", "--stdout", "-1"),
        "diff": git(repo, "diff", "HEAD~1"),
        "crlf-mail": git(repo, "format-patch", "--stdout", "-1").replace(b"\n", b"\r\n"),
    }


def _sdist(tmp_path: Path) -> Path:
    root = tmp_path / "magic-1.0"
    (root / "magic").mkdir(parents=True)
    (root / "magic/__init__.py").write_text("def answer():\n    return 41\n")
    (root / "setup.py").write_text("from setuptools import setup\nsetup(name='magic')\n")
    return root


@pytest.mark.parametrize("kind", ["mail", "diff"])
def test_written_fields_read_back_and_git_still_applies(
    tmp_path: Path, patches: dict[str, bytes], kind: str
) -> None:
    original = patches[kind]
    stored = with_headers(original, FULL)
    assert read_headers(stored) == FULL
    # patching.diff sees the same sections and subject
    assert [(m.subject, len(m.sections)) for m in parse_patch("p", stored)[1]] == [
        (m.subject, len(m.sections)) for m in parse_patch("p", original)[1]
    ]
    root = _sdist(tmp_path)
    apply_patches(root, [PatchInput("p.patch", stored, sha256_of(stored))], keep_git=True)
    assert "return 42" in (root / "magic/__init__.py").read_text()
    # the mail went through git am: its author and subject are kept
    log = git(root, "log", "-1", "--format=%an|%s").decode().strip()
    assert log == ("Upstream Dev|Fix answer" if kind == "mail" else "pyhotfix|Apply p.patch")


def test_a_mail_s_fields_come_from_its_message_and_subject(patches: dict[str, bytes]) -> None:
    """`pyhotfix commit` writes the fields at the end of the commit message (git keeps them)."""
    read = read_headers(patches["mail"])
    assert read == Dep3Headers(description="Fix answer", origin="vendor", forwarded="no")
    assert read_headers(patches["crlf-mail"]) == read
    assert read_headers(patches["diff"]) == Dep3Headers()
    # a field set later goes in the mail's headers and wins over the message's
    updated = with_headers(patches["crlf-mail"], Dep3Headers(forwarded="https://x.test/pr/1"))
    assert b"\r\nForwarded: https://x.test/pr/1\r\n" in updated
    assert read_headers(updated) == read.merged(Dep3Headers(forwarded="https://x.test/pr/1"))


def test_plain_header_block_with_subject_alias_and_continuations() -> None:
    content = (
        b"\xef\xbb\xbfSubject: Use lexists\r\n"
        b" so dangling links\r\n .\r\n count\r\n"
        b"Author: someone\r\nBug: https://bugs.test/1\r\n"
        b"Origin: backport, https://git.test/c/1\r\n\r\n"
        b"--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n"
    )
    read = read_headers(content)
    assert read == Dep3Headers(
        description="Use lexists\nso dangling links\n\ncount",
        origin="backport, https://git.test/c/1",
        bug="https://bugs.test/1",
    )
    assert read.is_backport and read.origin_category == "backport"
    assert read.origin_url == "https://git.test/c/1"
    # rewriting the description replaces the Subject alias, keeps the rest, CRLF throughout
    rewritten = with_headers(content, Dep3Headers(description="New text"))
    assert read_headers(rewritten) == read.merged(Dep3Headers(description="New text"))
    assert b"Subject:" not in rewritten and b"Author: someone\r\n" in rewritten
    assert rewritten.endswith(content.split(b"\r\n\r\n", 1)[1])


def test_values_shown_on_terminals_have_no_control_characters() -> None:
    hostile = b"Description: hi \x1b[31mred\x07\nOrigin: a\x00b\n\n--- a/x\n"
    read = read_headers(hostile)
    assert read.description == "hi \ufffd[31mred\ufffd" and read.origin == "a\ufffdb"
    with pytest.raises(ValueError, match="Forwarded"):
        field_lines(Dep3Headers(forwarded="https://x\nFrom: evil"))
    with pytest.raises(ValueError, match="control character"):
        field_lines(Dep3Headers(description="a\x1b[2Jb"))


def test_only_the_head_of_a_huge_patch_is_read() -> None:
    content = b"Origin: upstream\n\n--- a/x\n" + b"+" * (MAX_HEAD_BYTES * 4)
    assert read_headers(content).origin == "upstream"
    assert read_headers(b"\n" * (MAX_HEAD_BYTES + 10) + b"Origin: late\n") == Dep3Headers()


@pytest.mark.parametrize(
    ("headers", "backport"),
    [
        (Dep3Headers(origin="upstream, https://x"), True),
        (Dep3Headers(origin="backport, commit:abc"), True),
        (Dep3Headers(origin="vendor, https://x"), False),
        (Dep3Headers(origin="https://x/pull/1.patch"), False),
        (Dep3Headers(applied_upstream="2.0"), True),
        (Dep3Headers(), False),
    ],
)
def test_backport_or_unofficial(headers: Dep3Headers, backport: bool) -> None:
    assert headers.is_backport is backport


# --- properties --------------------------------------------------------------------------------

_WORD = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1
)
_VALUE = _WORD.map(str.strip).filter(bool)
_DESCRIPTION = st.lists(st.one_of(st.just(""), _WORD), min_size=1, max_size=5).map("\n".join)
_HEADERS = st.builds(
    Dep3Headers,
    description=st.none() | _DESCRIPTION,
    origin=st.none() | _VALUE,
    bug=st.none() | _VALUE,
    forwarded=st.none() | _VALUE,
    applied_upstream=st.none() | _VALUE,
)


def normalised(headers: Dep3Headers) -> Dep3Headers:
    """What a field can hold: stripped values; Description lines without trailing blanks, a lone
    "." line being DEP-3's empty line, no empty lines around it."""
    description = headers.description
    if description is not None:
        lines = [line.rstrip() for line in description.strip("\n").split("\n")]
        lines[0] = lines[0].lstrip()
        description = "\n".join("" if line == "." else line for line in lines).strip("\n")
    return Dep3Headers(description=description or None).merged(
        Dep3Headers(
            origin=headers.origin,
            bug=headers.bug,
            forwarded=headers.forwarded,
            applied_upstream=headers.applied_upstream,
        )
    )


_BASES = st.sampled_from(["mail", "diff", "crlf-mail", "empty", "preamble"])
_EXTRA = {
    "empty": b"",
    "preamble": b"Description: old\n more\nForwarded: no\n\nfree text\n--- a/x\n+++ b/x\n",
}


@settings(max_examples=150, deadline=None)
@given(base=_BASES, headers=_HEADERS)
def test_write_then_read_round_trips(
    patches: dict[str, bytes], base: str, headers: Dep3Headers
) -> None:
    content = patches.get(base, _EXTRA.get(base, b""))
    written = with_headers(content, headers)
    assert read_headers(written) == read_headers(content).merged(normalised(headers))
    # the patch itself is untouched: the same sections and subjects
    assert [(m.subject, len(m.sections)) for m in parse_patch("p", written)[1]] == [
        (m.subject, len(m.sections)) for m in parse_patch("p", content)[1]
    ]


@settings(max_examples=150, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=200).map(lambda b: b"From " + b"a" * 40 + b" Mon\n" + b),
        st.lists(
            st.sampled_from(
                [
                    b"Subject: x",
                    b"Origin: y",
                    b" cont",
                    b"",
                    b"---",
                    b"diff --git a b",
                    b"\r",
                    b"From 0000000000000000000000000000000000000000 x",
                    b"Description:",
                    b"\xff\xfe",
                    b"=?utf-8?q?=FF?=",
                    b"Subject: =?x-bad?b?!!?=",
                ]
            ),
            max_size=12,
        ).map(b"\n".join),
    ),
    headers=_HEADERS,
)
def test_any_bytes_are_read_without_failing_and_keep_written_fields(
    content: bytes, headers: Dep3Headers
) -> None:
    read_headers(content)
    written = with_headers(content, headers)
    expected = normalised(headers)
    read = read_headers(written)
    for name in ("description", "origin", "bug", "forwarded", "applied_upstream"):
        if getattr(expected, name) is not None:
            assert getattr(read, name) == getattr(expected, name)


# --- list and status show them ---------------------------------------------------------------


def test_list_shows_each_patch_s_fields(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    path = write_manifest(tmp_path, {"pkg": "1.0"})
    fix = tmp_path / "fix.patch"
    fix.write_bytes(with_headers(fix.read_bytes(), FULL))
    path.write_text(path.read_text() + 'fixes = ["CVE-2024-37891"]\n')

    listed = pyhotfix("list", "--json", cwd=tmp_path)
    assert listed.code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["fixes"] == ["CVE-2024-37891"]
    assert row["patch_info"] == [
        {
            "patch": "fix.patch",
            "description": FULL.description,
            "origin": FULL.origin,
            "bug": FULL.bug,
            "forwarded": FULL.forwarded,
            "applied_upstream": "1.1",
        }
    ]
    plain = pyhotfix("list", cwd=tmp_path)
    assert plain.code == 0, plain.output
    header, line = plain.stdout.splitlines()
    assert header.split()[-2:] == ["patch", "info"]
    assert line.endswith(
        "fix.patch: Fix the answer (origin upstream, https://github.com/example/magic/commit/"
        "0123abc; bug https://github.com/example/magic/issues/7; forwarded "
        "https://github.com/example/magic/pull/8; applied upstream 1.1), fixes CVE-2024-37891"
    )


def test_status_table_shows_a_patch_info_column(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from pyhotfix.cli import render, reports
    from pyhotfix.lifecycle.status import HotfixStatus, Recommendation
    from pyhotfix.patching.dep3 import PatchInfo

    result = HotfixStatus("alpha", "1.0", ("fix.patch",), (), Recommendation("keep", None))
    cell = reports.patch_info_cell([PatchInfo("patches/alpha/fix.patch", FULL)])
    assert cell.startswith("fix.patch: Fix the answer (origin upstream, ")
    for cells, header in ((None, "hotfix  newer releases  recommendation"), ({"alpha": cell}, "")):
        out = io.StringIO()
        monkeypatch.setattr(render, "stdout", Console(file=out, width=80))  # piped: plain lines
        reports.render_status([result], cells)
        first, row = out.getvalue().splitlines()
        if cells is None:
            assert first.split() == header.split()
        else:
            assert first.split()[-2:] == ["patch", "info"]
            assert row.endswith("applied upstream 1.1)")
