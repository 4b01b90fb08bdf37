"""Read patches and apply them to an unpacked sdist with git, mapping repository paths onto it.

Patches are written against the upstream *repository*, but we patch the *sdist*, whose layout can
differ (``src/pkg`` in the repo, ``pkg`` in the sdist; tests and CI config left out). Each patch is
parsed only far enough to find the files it touches, pick the strip level, rewrite the paths onto
the sdist and drop sections for files the sdist does not have. The applying itself is done by
``git apply --3way`` / ``git am --3way`` in a throwaway repository created inside the tree.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.errors
import email.header
import email.policy
import hashlib
import itertools
import os
import re
import shutil
import stat
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyhotfix._git import Git, GitRunner, err_text, run_git, user_env
from pyhotfix.errors import PatchError
from pyhotfix.manifest import FilePatch, GitPatch, PatchSource, UrlPatch
from pyhotfix.patchfile import MAX_PATCH_BYTES, read_patch_file
from pyhotfix.treecheck import check_link_target, check_tree

__all__ = [
    "AppliedPatch",
    "PatchInput",
    "PatchedTree",
    "apply_patches",
    "read_patch",
    "resolve_commit",
    "sha256_of",
]


@dataclass(frozen=True)
class PatchInput:
    """A patch's bytes and how the user knows it (file path, URL or "repo@commit")."""

    label: str
    content: bytes
    sha256: str


@dataclass(frozen=True)
class AppliedPatch:
    """What one patch did to the sdist."""

    label: str
    files: tuple[str, ...]  # sdist-relative paths changed
    skipped: tuple[str, ...]  # repository paths skipped because absent from the sdist
    mapped: tuple[tuple[str, str], ...]  # (repository path, sdist path) where they differ


@dataclass(frozen=True)
class PatchedTree:
    root: Path
    applied: tuple[AppliedPatch, ...]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# The throwaway repository
# --------------------------------------------------------------------------------------------


def _sdist_git_failure(
    args: Sequence[str], proc: subprocess.CompletedProcess[bytes], root: Path
) -> PatchError:
    return PatchError(
        f"git {args[0]} failed in the working repository of the sdist at {root}: "
        f"{err_text(proc)}. This is a problem with the unpacked sdist or the local git "
        "installation, not with the patch; check that git works and the disk is not full."
    )


def _sdist_repo(root: Path, runner: GitRunner) -> Git:
    """The throwaway repository inside the unpacked tree."""
    return Git(root, runner=runner, failure=_sdist_git_failure)


def _check_against_head(repo: Git, diff: bytes) -> str:
    """git's complaints about `diff` against HEAD, using a scratch index (tree untouched)."""
    index = repo.root / ".git" / "pyhotfix-check-index"
    scratch = repo.with_env(GIT_INDEX_FILE=str(index))
    try:
        if scratch.run("read-tree", "HEAD").returncode != 0:
            return ""
        proc = scratch.run("apply", "--cached", "--check", "-", stdin=diff)
        return (proc.stderr or b"").decode("utf-8", "replace")
    finally:
        index.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# read_patch
# --------------------------------------------------------------------------------------------


def read_patch(
    source: PatchSource, base_dir: Path, fetch_url: Callable[[str, str | None], bytes]
) -> PatchInput:
    """Fetch one patch named in the manifest; `base_dir` is the manifest's directory.

    `fetch_url(url, sha256)` downloads a URL (and should check the hash itself; it is re-checked
    here). A git source is turned into a patch with `git format-patch -1 --stdout COMMIT`, so the
    commit message is kept when the patch is applied.
    """
    if isinstance(source, FilePatch):
        label = source.path
        content = read_patch_file(base_dir / source.path, source.path, source.where)
    elif isinstance(source, UrlPatch):
        label = source.url
        try:
            content = fetch_url(source.url, source.sha256)
        except OSError as exc:
            raise PatchError(
                f"The patch {source.url} could not be downloaded: {exc}. Check the URL and the "
                "network, then retry."
            ) from exc
        expected = source.sha256.strip().lower().removeprefix("sha256:")
        actual = sha256_of(content)
        if actual != expected:
            raise PatchError(
                f"The patch downloaded from {source.url} has sha256 {actual}, but the manifest "
                f"pins {expected}. The file changed upstream or the pin is wrong; check the patch "
                "content and update the sha256 in the manifest only if you trust the new file."
            )
    elif isinstance(source, GitPatch):
        label = f"{source.repo}@{source.commit}"
        content = _read_git_commit(source, base_dir, label)
    else:  # pragma: no cover - exhaustive over PatchSource
        raise PatchError(f"Unsupported patch source {source!r}.")
    if len(content) > MAX_PATCH_BYTES:
        raise PatchError(
            f"The patch {label} is {len(content)} bytes, more than the limit of "
            f"{MAX_PATCH_BYTES} bytes for a patch. Check that it is the patch meant; split a "
            "genuinely larger change into several patches."
        )
    if not content.strip():
        raise PatchError(
            f"The patch {label} is empty. Point the manifest at a non-empty unified diff or "
            "git format-patch file."
        )
    return PatchInput(label=label, content=content, sha256=sha256_of(content))


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")
_NETWORK_TIMEOUT = 600.0


@contextlib.contextmanager
def _git_repo(
    source: GitPatch, base_dir: Path, label: str
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The repository of a git patch source (a blobless clone for a URL) and the env for git."""
    env = user_env()  # keep the user's credentials/proxy settings for clones
    if not _URL_LIKE.match(source.repo):
        repo = base_dir / source.repo
        if not repo.exists():
            raise PatchError(
                f"The git repository {source.repo} of patch {label} does not exist (looked for "
                f"{repo}; local paths are relative to the manifest directory {base_dir}). Fix "
                "the repo path in the manifest."
            )
        yield repo, env
        return
    with tempfile.TemporaryDirectory(prefix="pyhotfix-git-") as tmp:
        clone = Path(tmp) / "repo.git"
        # A blobless bare clone is enough: format-patch fetches the few blobs it needs lazily.
        proc = run_git(
            ["clone", "--quiet", "--bare", "--filter=blob:none", source.repo, str(clone)],
            Path(tmp),
            env,
            timeout=_NETWORK_TIMEOUT,
        )
        if proc.returncode != 0:
            raise PatchError(
                f"The git repository {source.repo} of patch {label} could not be cloned: "
                f"{err_text(proc)}. Check the URL, your access to it and the network."
            )
        if not _has_commit(clone, source.commit, env):
            # Commits only reachable from e.g. refs/pull/N/head are not cloned; ask for it.
            run_git(
                ["fetch", "--quiet", "--filter=blob:none", "origin", source.commit],
                clone,
                env,
                timeout=_NETWORK_TIMEOUT,
            )
        yield clone, env


def _read_git_commit(source: GitPatch, base_dir: Path, label: str) -> bytes:
    with _git_repo(source, base_dir, label) as (repo, env):
        return _format_patch(repo, source.commit, label, source.repo, env)


def resolve_commit(source: GitPatch, base_dir: Path) -> GitPatch:
    """`source` with its commit as the full 40-hex SHA, resolved in the repository (cloned when
    it is a URL), so a short and a full SHA of one commit are recognised as the same patch."""
    label = f"{source.repo}@{source.commit}"
    with _git_repo(source, base_dir, label) as (repo, env):
        return GitPatch(
            repo=source.repo, commit=_full_sha(repo, source.commit, label, source.repo, env)
        )


# Explicit options so the user's format.*/diff.* configuration cannot change the output.
FORMAT_PATCH_ARGS = (
    *("format-patch", "-1", "--stdout", "--full-index", "--binary", "--no-color"),
    *("--no-signature", "--no-attach", "--no-cover-letter", "--no-relative"),
    *("--src-prefix=a/", "--dst-prefix=b/"),
)


def _has_commit(repo: Path, commit: str, env: dict[str, str]) -> bool:
    proc = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo, env)
    return proc.returncode == 0


def _full_sha(repo: Path, commit: str, label: str, where: str, env: dict[str, str]) -> str:
    if commit.startswith("-"):
        raise PatchError(f"The commit {commit!r} of patch {label} is not a valid commit name.")
    proc = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo, env)
    if proc.returncode != 0:
        detail = err_text(proc)
        raise PatchError(
            f"The commit {commit} of patch {label} was not found in the git repository {where}"
            + ("" if detail == "no output" else f" (git said: {detail})")
            + ". Check the commit hash in the manifest and that the commit is in that repository."
        )
    return proc.stdout.decode().strip()


def _format_patch(repo: Path, commit: str, label: str, where: str, env: dict[str, str]) -> bytes:
    sha = _full_sha(repo, commit, label, where, env)
    proc = run_git(
        [*FORMAT_PATCH_ARGS, sha],
        repo,
        env,
        config=("diff.noprefix=false", "diff.mnemonicPrefix=false", "core.quotePath=true"),
        timeout=_NETWORK_TIMEOUT,
    )
    if proc.returncode != 0:
        raise PatchError(
            f"git format-patch failed for commit {commit} of patch {label}: {err_text(proc)}. "
            "Check that the repository is complete and reachable."
        )
    if b"\ndiff --git " not in proc.stdout:
        raise PatchError(
            f"The commit {commit} of patch {label} has no diff of its own (is it a merge or empty "
            "commit?). Name the single non-merge commit that carries the fix."
        )
    return proc.stdout


# --------------------------------------------------------------------------------------------
# Parsing patches
# --------------------------------------------------------------------------------------------

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
_EPOCH = re.compile(r"^(1970-01-01|1969-12-31)")
_TIMESTAMP_TAIL = re.compile(r"^(\S+)\s+(\d{4}-\d\d-\d\d[ T].*|\(.*\))$")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_C_QUOTE = {v: k for k, v in _C_ESCAPES.items()}


def _split_lines(data: bytes) -> list[bytes]:
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


def _quote(name: str) -> str:
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
class _Name:
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
class _Hunk:
    header: bytes  # the @@ line without its line ending
    old_start: int
    old_len: int
    new_len: int
    body: list[bytes]


@dataclass
class _Section:
    is_git: bool
    crlf_headers: bool
    old: _Name | None = None  # None means /dev/null (a new file)
    new: _Name | None = None  # None means /dev/null (a deleted file)
    old_stamp: str = ""
    new_stamp: str = ""
    ext: list[str] = field(default_factory=list)
    has_minus_plus: bool = False
    hunks: list[_Hunk] = field(default_factory=list)
    binary: list[bytes] = field(default_factory=list)
    binary_without_data: bool = False

    def has_ext(self, prefix: str) -> bool:
        return any(t.startswith(prefix) for t in self.ext)


@dataclass
class _Message:
    """One mail of an mbox (head = headers + commit message + diffstat), or a plain diff."""

    head: bytes | None
    subject: str
    sections: list[_Section]


def _parse_hunks(lines: list[bytes], i: int) -> tuple[list[_Hunk], int]:
    hunks: list[_Hunk] = []
    n = len(lines)
    while i < n:
        m = _HUNK.match(lines[i])
        if not m:
            break
        old_len = int(m[2]) if m[2] is not None else 1
        new_len = int(m[4]) if m[4] is not None else 1
        hunk = _Hunk(lines[i].rstrip(b"\r\n"), int(m[1]), old_len, new_len, [])
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


def _parse_git_section(lines: list[bytes], i: int) -> tuple[_Section, int]:
    n = len(lines)
    a, b = _split_diff_git(_text(lines[i])[len("diff --git ") :])
    sec = _Section(is_git=True, crlf_headers=lines[i].endswith(b"\r\n"), old=_Name(a), new=_Name(b))
    i += 1
    while i < n and _text(lines[i]).startswith(_GIT_EXT):
        sec.ext.append(_text(lines[i]))
        i += 1
    for t in sec.ext:
        for key, attr in (("rename from ", "old"), ("copy from ", "old"), ("rename to ", "new")):
            if t.startswith(key):
                value = t[len(key) :]
                name = _take_quoted(value)[0] if value.startswith('"') else value
                setattr(sec, attr, _Name(name, prestripped=True))
        if t.startswith("copy to "):
            value = t[len("copy to ") :]
            sec.new = _Name(_take_quoted(value)[0] if value.startswith('"') else value, True)
    if i < n and _text(lines[i]) == "GIT binary patch":
        j = i + 1
        while j < n and _BINARY_BLOCK.match(lines[j]):  # forward and reverse blocks
            j += 1
            while j < n and lines[j].strip():
                j += 1
            j += 1 if j < n else 0
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
        sec.old = None if old == "/dev/null" else _Name(old)
        sec.new = None if new == "/dev/null" else _Name(new)
        sec.has_minus_plus = True
        sec.hunks, i = _parse_hunks(lines, i + 2)
    if sec.has_ext("new file mode "):
        sec.old = None
    if sec.has_ext("deleted file mode "):
        sec.new = None
    return sec, i


def _parse_plain_section(lines: list[bytes], i: int) -> tuple[_Section, int]:
    old, old_stamp = _parse_name(_text(lines[i])[4:])
    new, new_stamp = _parse_name(_text(lines[i + 1])[4:])
    sec = _Section(
        is_git=False,
        crlf_headers=lines[i].endswith(b"\r\n"),
        old=None if old == "/dev/null" else _Name(old),
        new=None if new == "/dev/null" else _Name(new),
        old_stamp=old_stamp,
        new_stamp=new_stamp,
        has_minus_plus=True,
    )
    sec.hunks, i = _parse_hunks(lines, i + 2)
    return sec, i


def _parse_sections(lines: list[bytes]) -> tuple[int, list[_Section]]:
    """The index of the first section's line and the sections; other text is ignored."""
    sections: list[_Section] = []
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


def _parse_patch(label: str, content: bytes) -> tuple[bool, list[_Message]]:
    """(is_mbox, messages). A plain diff is one message without a head."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    lines = _skip_dep3_header(_split_lines(content))
    if not lines or not MBOX_FROM.match(lines[0]):
        _, sections = _parse_sections(lines)
        return False, [_Message(None, "", sections)]
    starts = [i for i, line in enumerate(lines) if MBOX_FROM.match(line)] + [len(lines)]
    messages: list[_Message] = []
    for begin, end in itertools.pairwise(starts):
        mail, subject = _decode_mail(label, b"".join(lines[begin:end]))
        mail_lines = _split_lines(mail)
        first, sections = _parse_sections(mail_lines)
        # The head (headers, commit message, "---", diffstat) is kept so git am keeps the message.
        head = b"".join(line.rstrip(b"\r\n") + b"\n" for line in mail_lines[:first])
        messages.append(_Message(head, subject, sections))
    return True, messages


# --------------------------------------------------------------------------------------------
# Mapping repository paths onto the sdist
# --------------------------------------------------------------------------------------------

# A one-component suffix match (e.g. "src/six.py" -> "six.py") is only trusted across these
# layout directories; otherwise "tests/conftest.py" would map onto a top-level "conftest.py".
_LAYOUT_DIRS = frozenset({"src", "lib", "python"})


class _Ambiguous(Exception):
    def __init__(self, path: str, matches: list[str]) -> None:
        super().__init__(path)
        self.path = path
        self.matches = matches


def _suffix_matches(path: str, candidates: Iterable[str]) -> tuple[list[str], int]:
    """Candidates that equal `path` with a leading directory prefix added or removed (the
    longest such overlap wins); returns (matches, overlap in components)."""
    r = path.split("/")
    best: list[str] = []
    best_k = 0
    base = r[-1]
    for cand in candidates:
        if not (cand == base or cand.endswith("/" + base)):  # cheap filter before splitting
            continue
        s = cand.split("/")
        k = 0
        while k < min(len(r), len(s)) and r[-1 - k] == s[-1 - k]:
            k += 1
        if k not in (len(r), len(s)) or len(r) == len(s):
            continue
        extra = r[: len(r) - k] or s[: len(s) - k]
        if k < 2 and not (len(extra) == 1 and extra[0] in _LAYOUT_DIRS):
            continue
        if k > best_k:
            best, best_k = [cand], k
        elif k == best_k:
            best.append(cand)
    return best, best_k


def _prefix_pair(repo_path: str, sdist_path: str) -> tuple[str, str]:
    """The (repo prefix, sdist prefix) that turns one path into the other."""
    r, s = repo_path.split("/"), sdist_path.split("/")
    k = 0
    while k < min(len(r), len(s)) and r[-1 - k] == s[-1 - k]:
        k += 1
    rp = "/".join(r[: len(r) - k])
    sp = "/".join(s[: len(s) - k])
    return (rp + "/" if rp else ""), (sp + "/" if sp else "")


class _Resolver:
    """The sdist's files (updated as sections are planned) and the prefix mappings learned."""

    def __init__(self, files: Iterable[str], mappings: Sequence[tuple[str, str]] = ()) -> None:
        self.files = set(files)
        self.mappings: list[tuple[str, str]] = list(mappings)
        self._dirs: set[str] | None = None

    @property
    def dirs(self) -> set[str]:
        if self._dirs is None:
            dirs: set[str] = set()
            for f in self.files:
                parts = f.split("/")
                for j in range(1, len(parts)):
                    dirs.add("/".join(parts[:j]))
            self._dirs = dirs
        return self._dirs

    def add(self, path: str) -> None:
        self.files.add(path)
        self._dirs = None

    def remove(self, path: str) -> None:
        self.files.discard(path)
        self._dirs = None

    def learn(self, repo_path: str, sdist_path: str) -> None:
        pair = _prefix_pair(repo_path, sdist_path)
        if pair not in self.mappings and pair != ("", ""):
            self.mappings.append(pair)
            self.mappings.sort(key=lambda p: -len(p[0]))  # most specific repo prefix first

    def existing(self, path: str, *, learn: bool = True, probe: bool = False) -> str | None:
        """The sdist file a repository path refers to, or None if the sdist has none."""
        if path in self.files:
            return path
        for rp, sp in self.mappings:
            if path.startswith(rp) and sp + path[len(rp) :] in self.files:
                return sp + path[len(rp) :]
        matches, _ = _suffix_matches(path, self.files)
        if len(matches) > 1:
            if probe:
                return None
            raise _Ambiguous(path, matches)
        if matches and learn:
            self.learn(path, matches[0])
        return matches[0] if matches else None

    def new(self, path: str) -> str | None:
        """Where a file the patch creates goes, or None when its directory is not in the sdist.

        Candidates are scored by how much of the parent directory exists: the path as-is, the
        path under each learned prefix mapping, and the path under a directory matched by suffix.
        """
        parts = path.split("/")
        parent = parts[:-1]
        dirs = self.dirs

        def anchored(comps: list[str], base: str) -> int:
            j = 0
            while j < len(comps) and base + "/".join(comps[: j + 1]) in dirs:
                j += 1
            return j

        # (parent fully exists, components accounted for, preference, path, mapping to learn)
        cands: list[tuple[bool, int, int, str, tuple[str, str] | None]] = []
        j = anchored(parent, "")
        cands.append((j == len(parent), j, 2, path, None))
        for rp, sp in self.mappings:
            if not path.startswith(rp) or (sp and sp.rstrip("/") not in dirs):
                continue
            rest = path[len(rp) :].split("/")[:-1]
            j = anchored(rest, sp)
            cands.append((j == len(rest), rp.count("/") + j, 1, sp + path[len(rp) :], None))
        for d in range(len(parent), 0, -1):
            ancestor = "/".join(parts[:d])
            if ancestor in dirs:
                break  # the as-is candidate already covers it
            matches, _ = _suffix_matches(ancestor, dirs)
            if len(matches) > 1:
                raise _Ambiguous(ancestor, matches)
            if matches:
                target = matches[0] + "/" + "/".join(parts[d:])
                cands.append((d == len(parent), d, 0, target, (ancestor, matches[0])))
                break
        full, depth, _, target, mapping = max(cands, key=lambda c: (c[0], c[1], c[2]))
        if not full and depth == 0:
            return None
        if mapping is not None:
            self.learn(*mapping)
        return target


# --------------------------------------------------------------------------------------------
# Planning: choose the strip level, map paths, drop sections, render the rewritten patch
# --------------------------------------------------------------------------------------------


@dataclass
class _Kept:
    sec: _Section
    old: str | None  # sdist paths; None is /dev/null
    new: str | None
    repo_old: str | None
    repo_new: str | None
    eol: str  # "keep", "lf" or "crlf": how to write the content lines


@dataclass
class _Unit:
    """What one git invocation applies: a whole plain diff, or one mail of an mbox."""

    is_mail: bool
    description: str  # "" or " (commit 2/3 'subject')"
    kept: list[_Kept]
    head: bytes | None
    subject: str = ""

    def diff(self) -> bytes:
        return b"".join(_render(k) for k in self.kept)

    def data(self) -> bytes:
        return (self.head or b"") + self.diff()


@dataclass
class _Plan:
    units: list[_Unit]
    skipped: list[str]
    mapped: list[tuple[str, str]]


def _is_creation(sec: _Section) -> bool:
    if sec.old is None:
        return True
    # diff -N writes absent files as empty with an epoch timestamp instead of /dev/null.
    return (
        not sec.is_git
        and bool(_EPOCH.match(sec.old_stamp))
        and all(h.old_len == 0 for h in sec.hunks)
    )


def _is_deletion(sec: _Section) -> bool:
    if sec.new is None:
        return True
    return (
        not sec.is_git
        and bool(_EPOCH.match(sec.new_stamp))
        and all(h.new_len == 0 for h in sec.hunks)
    )


def _existing_names(sec: _Section, p: int) -> list[str]:
    """Repository paths a non-creating section may refer to (plain diffs: old or new name)."""
    names: list[str] = []
    for name in (sec.old, sec.new) if not sec.is_git else (sec.old,):
        path = name.strip(p) if name is not None else None
        if path is not None and path not in names:
            names.append(path)
    return names


def _choose_strip(messages: list[_Message], tree: _Resolver) -> int:
    """p1 unless p0 makes more of the patch's paths exist in the sdist."""
    scores: dict[int, tuple[int, int, int, int]] = {}
    for p in (1, 0):
        exact = resolved = parents = 0
        for msg in messages:
            for sec in msg.sections:
                if _is_creation(sec):
                    path = sec.new.strip(p) if sec.new is not None else None
                    if path is not None and (
                        "/" not in path or path.rsplit("/", 1)[0] in tree.dirs
                    ):
                        parents += 1
                    continue
                names = _existing_names(sec, p)
                if any(n in tree.files for n in names):
                    exact += 1
                    resolved += 1
                elif any(tree.existing(n, learn=False, probe=True) for n in names):
                    resolved += 1
        scores[p] = (exact, resolved, parents, p)
    return max(scores.values())[3]


def _eol_style(lines: Iterable[bytes]) -> str:
    crlf = lf = 0
    for line in lines:
        if line.endswith(b"\r\n"):
            crlf += 1
        elif line.endswith(b"\n"):
            lf += 1
    if crlf and lf:
        return "mixed"
    return "crlf" if crlf else "lf" if lf else "none"


def _content_eol(sec: _Section, target: Path | None) -> str:
    """How to write a section's content lines so they match the file they patch.

    A patch saved with CRLF line endings (or made in an LF repository for a CRLF sdist) would not
    match; when the patch's lines are uniformly of one style, convert them to the file's style.
    """
    content = [line for h in sec.hunks for line in h.body if line[:1] != b"\\"]
    patch_style = _eol_style(content)
    if patch_style not in ("lf", "crlf"):
        return "keep"
    file_style = "unknown"
    if target is not None and target.is_file():
        try:
            file_style = _eol_style(_split_lines(target.read_bytes()))
        except OSError:
            file_style = "unknown"
    if file_style in ("lf", "crlf"):
        return file_style if file_style != patch_style else "keep"
    if file_style == "unknown" and patch_style == "crlf" and sec.crlf_headers:
        return "lf"  # the whole patch file was converted to CRLF; the new file was LF
    return "keep"


def _plan(
    patch: PatchInput,
    repo: Git,
    tracked: set[str],
    target_name: str,
    strict: bool,
) -> _Plan:
    label = patch.label
    is_mbox, messages = _parse_patch(label, patch.content)
    if not any(msg.sections for msg in messages):
        raise PatchError(
            f"The patch {label} contains no diff: no 'diff --git' or '---'/'+++' sections were "
            "found. Check that it is a unified diff or a git format-patch/.patch file."
        )
    probe = _Resolver(tracked)
    p = _choose_strip(messages, probe)
    # Learn the layout mappings from every file the patch modifies before placing new files, so a
    # new module lands next to the modified ones even when it comes first in the patch.
    for msg in messages:
        for sec in msg.sections:
            if not _is_creation(sec):
                for name in _existing_names(sec, p):
                    if probe.existing(name, probe=True):
                        break
    tree = _Resolver(tracked, probe.mappings)
    skipped: list[str] = []
    mapped: list[tuple[str, str]] = []
    units: list[_Unit] = []
    binary_bytes = 0
    for number, msg in enumerate(messages, 1):
        kept: list[_Kept] = []
        for sec in msg.sections:
            try:
                item = _place(sec, p, tree, skipped, label)
            except _Ambiguous as exc:
                raise PatchError(
                    f"The patch {label} changes {exc.path}, which matches several files of "
                    f"{target_name}: {', '.join(sorted(exc.matches))}. pyhotfix cannot tell which "
                    "one is meant; edit the patch so its paths match the sdist layout."
                ) from None
            if item is None:
                continue
            binary_bytes += _check_binary(item, label)
            if binary_bytes > MAX_BINARY_TOTAL_BYTES:
                raise PatchError(
                    f"The binary changes of the patch {label} declare {binary_bytes} bytes or "
                    f"more in all, more than the limit of {MAX_BINARY_TOTAL_BYTES} bytes. Ship "
                    "large files another way, or check the patch."
                )
            _check_symlink(item, label)
            item.eol = _content_eol(sec, repo.root / item.old if item.old else None)
            for repo_path, sdist_path in ((item.repo_old, item.old), (item.repo_new, item.new)):
                pair = (repo_path or "", sdist_path or "")
                if repo_path and sdist_path and repo_path != sdist_path and pair not in mapped:
                    mapped.append(pair)
            kept.append(item)
        if not kept:
            continue  # e.g. a commit of a PR that only touches tests
        description = ""
        if is_mbox and len(messages) > 1:
            description = f" (commit {number}/{len(messages)} {msg.subject!r})"
        elif is_mbox and msg.subject:
            description = f" ({msg.subject!r})"
        # git am needs an author; a hand-made mail without one is applied like a plain diff.
        is_mail = msg.head is not None and re.search(rb"(?im)^From: ", msg.head) is not None
        units.append(_Unit(is_mail, description, kept, msg.head, msg.subject))
    if strict and skipped:
        raise PatchError(
            f"The patch {label} changes files that are not in the sdist of {target_name}: "
            f"{', '.join(skipped)}. Strict mode refuses to drop them; remove those parts from the "
            "patch, or build without strict mode to skip them."
        )
    if not units:
        raise PatchError(
            f"The patch {label} only changes files that are not in the sdist of {target_name} "
            f"({', '.join(skipped)}), so applying it would change nothing. Check that the patch "
            "is meant for this package and that its paths match the sdist layout."
        )
    return _Plan(units, skipped, mapped)


def _place(sec: _Section, p: int, tree: _Resolver, skipped: list[str], label: str) -> _Kept | None:
    """Map one section onto the sdist and update the tree; None (and `skipped`) if absent."""

    def skip(*paths: str | None) -> None:
        for path in paths:
            if path and path not in skipped:
                skipped.append(path)

    repo_old = sec.old.strip(p) if sec.old is not None else None
    repo_new = sec.new.strip(p) if sec.new is not None else None
    if (sec.old is not None and repo_old is None) or (sec.new is not None and repo_new is None):
        raw = sec.old.raw if sec.old is not None else sec.new.raw if sec.new is not None else ""
        raise PatchError(
            f"The patch {label} names the path {raw!r}, which is not a relative path inside the "
            "project. Fix the path in the patch."
        )
    creation, deletion = _is_creation(sec), _is_deletion(sec)
    if creation and deletion:
        return None  # an empty file created and removed: nothing to do
    if creation:
        if repo_new is None:
            return None
        new = tree.new(repo_new)
        if new is None:
            skip(repo_new)
            return None
        tree.add(new)
        return _Kept(sec, None, new, None, repo_new, "keep")
    if not sec.is_git:
        # Plain diffs name the same file twice (often "x.orig" and "x"): use whichever exists.
        names = _existing_names(sec, p)
        source = next((n for n in names if n in tree.files), None)
        path = source
        if source is None:
            for n in names:
                path = tree.existing(n)
                if path is not None:
                    source = n
                    break
        if source is None or path is None:
            skip(repo_new or repo_old)
            return None
        if deletion:
            tree.remove(path)
            return _Kept(sec, path, None, source, None, "keep")
        return _Kept(sec, path, path, source, source, "keep")
    assert repo_old is not None
    old = tree.existing(repo_old)
    if old is None:
        skip(repo_old, repo_new)
        return None
    if deletion:
        tree.remove(old)
        return _Kept(sec, old, None, repo_old, None, "keep")
    assert repo_new is not None
    if repo_new == repo_old:
        return _Kept(sec, old, old, repo_old, repo_new, "keep")
    # A rename or copy: the new name follows the old one's prefix mapping.
    rp, sp = _prefix_pair(repo_old, old)
    new = sp + repo_new[len(rp) :] if repo_new.startswith(rp) else tree.new(repo_new) or repo_new
    if sec.has_ext("rename from "):
        tree.remove(old)
    tree.add(new)
    return _Kept(sec, old, new, repo_old, repo_new, "keep")


def _check_binary(item: _Kept, label: str) -> int:
    """Refuse binary changes git cannot apply safely or that inflate too far; returns the
    declared size of the result (0 for a text change)."""
    path = item.new or item.old
    if item.sec.binary_without_data:
        raise PatchError(
            f"The patch {label} changes the binary file {path} but does not contain its data "
            "('Binary files ... differ'). Regenerate the patch with `git diff --binary` or "
            "`git format-patch`, which include binary changes."
        )
    if item.sec.binary:
        index = next((t for t in item.sec.ext if t.startswith("index ")), "")
        m = re.match(r"index ([0-9a-f]+)\.\.([0-9a-f]+)", index)
        if not m or min(len(m[1]), len(m[2])) < 40:
            raise PatchError(
                f"The patch {label} changes the binary file {path} without full object ids in "
                "its 'index' line, so git cannot apply it safely. Regenerate the patch with "
                "`git diff --binary` (which implies --full-index) or `git format-patch`."
            )
        largest = max(_binary_result_sizes(item.sec.binary), default=0)
        if largest > MAX_BINARY_FILE_BYTES:
            raise PatchError(
                f"The patch {label} changes the binary file {path} into {largest} bytes (as its "
                f"binary data declares), more than the limit of {MAX_BINARY_FILE_BYTES} bytes "
                "for a file made by a patch. Ship large files another way, or check the patch."
            )
        return largest
    return 0


_SYMLINK_MODE = re.compile(r"^(new file mode|new mode) 120000$|^index \S+ 120000$")


def _check_symlink(item: _Kept, label: str) -> None:
    """Refuse a section that makes `item.new` a symlink leaving the tree (or into .git).

    Judged from the patch alone; `treecheck.check_tree` re-checks the applied tree, where chains of
    links are visible."""
    sec = item.sec
    if item.new is None or not sec.is_git or not any(_SYMLINK_MODE.match(t) for t in sec.ext):
        return
    # A symlink's blob is its target: the added line(s) of the hunk, without the final newline.
    added = [line[1:] for h in sec.hunks for line in h.body if line[:1] == b"+"]
    target = b"".join(added).rstrip(b"\r\n").decode("utf-8", "surrogateescape")
    why = check_link_target(item.new, target) if added else None
    if why is not None:
        raise PatchError(
            f"The patch {label} makes {item.new} a symlink that the build would follow: {item.new} "
            f"{why}. A symlink out of the sdist would publish a file of the building machine "
            "(its content ends up in the sdist and wheel). Remove that part of the patch or make "
            "the link point to a file inside the project."
        )


# Binary patches are zlib-compressed: a small patch can declare a huge file. Each binary result
# (and all of one patch's together) must stay below these.
MAX_BINARY_FILE_BYTES = 64 * 1024 * 1024
MAX_BINARY_TOTAL_BYTES = 256 * 1024 * 1024
_BASE85_LENGTH = {
    c: i + 1 for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
}


def _binary_result_sizes(lines: list[bytes]) -> list[int]:
    """The sizes a `GIT binary patch` block declares for its results: `literal N` gives N; for
    `delta N` the delta's own header (the first bytes after inflating) gives the result size.
    Unreadable data counts as oversized (git would refuse it anyway)."""
    sizes: list[int] = []
    i = 1
    while i < len(lines):
        m = re.match(rb"(literal|delta) (\d+)", lines[i])
        i += 1
        if not m:
            continue
        data_start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        declared = int(m[2])
        if m[1] == b"literal" or declared > MAX_BINARY_FILE_BYTES:
            sizes.append(declared)
        else:
            sizes.append(_delta_result_size(lines[data_start:i]))
    return sizes


def _delta_result_size(data_lines: list[bytes]) -> int:
    compressed = b""
    try:
        for line in data_lines[:8]:  # a few lines hold far more than the two size varints
            line = line.rstrip(b"\r\n")
            length = _BASE85_LENGTH[line[0]]
            compressed += base64.b85decode(line[1:])[:length]
        head = zlib.decompressobj().decompress(compressed, 32)
    except (KeyError, IndexError, ValueError, zlib.error):
        return MAX_BINARY_FILE_BYTES + 1
    values: list[int] = []
    value = shift = 0
    for byte in head:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
            if len(values) == 2:
                return values[1]  # (source size, result size)
    return MAX_BINARY_FILE_BYTES + 1


def _name_line(prefix: str, path: str | None, side: str) -> str:
    if path is None:
        return f"{prefix} /dev/null"
    return f"{prefix} {_quote(side + path)}"


def _render(item: _Kept) -> bytes:
    """The section in git's format with sdist paths and content line endings fixed."""
    sec = item.sec
    a = item.old if item.old is not None else item.new
    b = item.new if item.new is not None else item.old
    assert a is not None and b is not None
    out = [f"diff --git {_quote('a/' + a)} {_quote('b/' + b)}"]
    renames = {
        "rename from ": item.old,
        "rename to ": item.new,
        "copy from ": item.old,
        "copy to ": item.new,
    }
    ext = sec.ext if sec.is_git else []
    for t in ext:
        key = next((k for k in renames if t.startswith(k)), None)
        out.append(t if key is None else key + _quote(renames[key] or ""))
    # git needs these for /dev/null sides (plain diffs and hand-made git diffs lack them).
    if item.old is None and not sec.has_ext("new file mode "):
        out.append("new file mode 100644")
    if item.new is None and not sec.has_ext("deleted file mode "):
        out.append("deleted file mode 100644")
    if sec.has_minus_plus:
        out.append(_name_line("---", item.old, "a/"))
        out.append(_name_line("+++", item.new, "b/"))
    data = b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in out)
    for hunk in sec.hunks:
        data += hunk.header + b"\n" + _fix_eol(hunk.body, item.eol)
    if sec.binary:
        data += b"".join(line.rstrip(b"\r\n") + b"\n" for line in sec.binary)
    return data


def _fix_eol(body: list[bytes], eol: str) -> bytes:
    out: list[bytes] = []
    for i, line in enumerate(body):
        if line[:1] == b"\\":
            out.append(line.rstrip(b"\r\n") + b"\n")
            continue
        if eol == "keep" or not line.endswith(b"\n"):
            out.append(line)
            continue
        core = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        # The line before "\ No newline at end of file" has no real line ending to convert.
        no_newline = i + 1 < len(body) and body[i + 1][:1] == b"\\"
        out.append(core + (b"\r\n" if eol == "crlf" and not no_newline else b"\n"))
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# apply_patches
# --------------------------------------------------------------------------------------------

# Neutralise the sdist's own .gitattributes: no EOL conversion, filters or custom drivers.
_ATTRIBUTES = b"* -text -eol -filter -ident -working-tree-encoding !diff !merge !whitespace\n"
_FAILED_HUNK = re.compile(r"patch failed: (.+):(\d+)$")
# git's chatter about the 3-way fallback, which says nothing about why the patch failed.
_NOISE = (
    "Falling back",
    "error: repository lacks",
    "error: sha1 information is lacking",
    "error: could not build fake ancestor",
    "Using index info",
    "hint:",
    "When you have",
)


def apply_patches(
    root: Path,
    patches: Sequence[PatchInput],
    *,
    strict: bool = False,
    keep_git: bool = False,
    target: str | None = None,
    runner: GitRunner = run_git,
) -> PatchedTree:
    """Apply `patches` in order to the unpacked sdist at `root`, in place.

    A throwaway git repository is created in `root` and the pristine tree committed; each patch's
    paths are mapped onto the sdist layout, sections for files the sdist lacks are dropped (and
    reported in `skipped`; with `strict` that is an error) and the rest is applied with
    `git apply --3way`, or `git am --3way` for mbox/format-patch files so commit messages are kept.
    Unless `keep_git`, `root/.git` is removed at the end so build backends do not see it.

    `target` names the project in messages (e.g. "magic 1.0"); it defaults to the tree's name.
    `runner` runs git (`_git.run_git`; tests pass one that counts the commands).

    On PatchError the tree is left partly patched (earlier patches applied) with the throwaway
    repository still in it: the caller must discard the whole tree and must not build it.
    """
    target_name = target or root.name
    # lexists: a .git file ("gitdir: ...") or a dangling .git symlink redirects git just the same.
    if os.path.lexists(root / ".git"):
        raise PatchError(
            f"The sdist of {target_name} itself contains a .git entry ({root / '.git'}). "
            "pyhotfix refuses to patch it: git would use that repository's configuration and "
            "hooks, which whoever built the sdist controls, and nothing was built or published. "
            "Ask the project to publish an sdist without .git (or hotfix a version whose sdist "
            "has none)."
        )
    repo = _sdist_repo(root, runner)
    repo.must("init", "--quiet", "--template=", "--initial-branch=pyhotfix", ".")
    info = root / ".git" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "attributes").write_bytes(_ATTRIBUTES)
    # -f: the sdist's .gitignore must not hide files from the patches.
    repo.must("add", "--all", "--force", "--", ".")
    repo.must("commit", "--quiet", "--allow-empty", "--no-verify", "-m", "pristine sdist")

    applied: list[AppliedPatch] = []
    # Listed once, then kept up to date from what each patch changed (no ls-files per patch).
    tracked = repo.tracked()
    for patch in patches:
        plan = _plan(patch, repo, tracked, target_name, strict)
        for unit in plan.units:
            _apply_unit(repo, patch.label, unit, target_name)
        _check_binary_results(root, patch.label, plan)
        # Each unit that applied made exactly one commit (git am of one mail, or apply + commit),
        # so the commit before the patch is HEAD~units: no rev-parse needed.
        files = repo.changed(f"HEAD~{len(plan.units)}")
        _update_tracked(tracked, root, files)
        applied.append(
            AppliedPatch(
                label=patch.label,
                files=files,
                skipped=tuple(plan.skipped),
                mapped=tuple(plan.mapped),
            )
        )
    _check_patched_tree(root, applied, target_name)
    if not keep_git:
        shutil.rmtree(root / ".git")
    return PatchedTree(root=root, applied=tuple(applied))


def _update_tracked(tracked: set[str], root: Path, changed: Iterable[str]) -> None:
    """What `git ls-files` would now say, given the paths a committed patch changed: a changed
    path is tracked if the tree has it as a file or symlink (a directory is not a path git
    tracks; it may replace a deleted file of that name)."""
    for path in changed:
        try:
            is_dir = stat.S_ISDIR(os.lstat(root / path).st_mode)
        except FileNotFoundError:
            tracked.discard(path)
            continue
        if is_dir:
            tracked.discard(path)
        else:
            tracked.add(path)


def _check_binary_results(root: Path, label: str, plan: _Plan) -> None:
    """The backstop for the declared sizes checked while planning: the files git wrote."""
    for unit in plan.units:
        for item in unit.kept:
            if not item.sec.binary or item.new is None:
                continue
            with contextlib.suppress(OSError):
                size = os.lstat(root / item.new).st_size
                if size > MAX_BINARY_FILE_BYTES:
                    raise PatchError(
                        f"The patch {label} made the binary file {item.new} {size} bytes large, "
                        f"more than the limit of {MAX_BINARY_FILE_BYTES} bytes for a file made "
                        "by a patch. Ship large files another way, or check the patch."
                    )


def _check_patched_tree(root: Path, applied: Sequence[AppliedPatch], target_name: str) -> None:
    """Nothing in the tree may make the build read outside it (see `treecheck`)."""
    problems = check_tree(root)
    if not problems:
        return
    first = problems[0]
    by = next((a.label for a in applied if first.path in a.files), None)
    culprit = f"The patch {by}" if by else f"The sdist of {target_name} (after patching)"
    more = f" (and {len(problems) - 1} more: {', '.join(p.path for p in problems[1:4])})"
    raise PatchError(
        f"{culprit} leaves {first.path} in the tree to build, and {first.path} {first.problem}"
        + (more if len(problems) > 1 else "")
        + ". Building it could publish a file of the building machine; nothing was built. "
        "Remove that part of the patch, or make the link point inside the project."
    )


def _apply_unit(repo: Git, label: str, unit: _Unit, target_name: str) -> None:
    if unit.is_mail:
        proc = repo.run(
            "am", "--3way", "--keep-cr", "--quiet", "--whitespace=nowarn", stdin=unit.data()
        )
    else:
        proc = repo.run("apply", "--3way", "--whitespace=nowarn", "-", stdin=unit.diff())
    if proc.returncode == 0 and not unit.is_mail:
        message = unit.subject or f"Apply {label}"
        repo.must("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
    if proc.returncode == 0:
        return
    # Ask git again, against the last good commit and without 3-way, which hunk fails.
    diagnosis = _check_against_head(repo, unit.diff())
    if unit.is_mail:
        repo.run("am", "--abort")
    else:
        repo.run("reset", "--quiet", "--hard", "HEAD")
    raise PatchError(_failure_message(label, unit, target_name, proc, diagnosis))


def _failure_message(
    label: str,
    unit: _Unit,
    target_name: str,
    proc: subprocess.CompletedProcess[bytes],
    diagnosis: str,
) -> str:
    said: list[str] = []
    for line in ((proc.stderr or b"").decode("utf-8", "replace") + "\n" + diagnosis).splitlines():
        line = line.strip()
        if line and not line.startswith(_NOISE) and line not in said:
            said.append(line)
    failures: list[str] = []
    for line in said:
        m = _FAILED_HUNK.search(line)
        if not m:
            continue
        path, start = m.group(1), int(m.group(2))
        for item in unit.kept:
            if path not in (item.old, item.new):
                continue
            hunk = next((h for h in item.sec.hunks if h.old_start == start), None)
            # Only the "@@ -a,b +c,d @@" part: the function context after it reads as prose.
            header = hunk.header.decode("utf-8", "replace").split(" @@")[0] + " @@" if hunk else ""
            where = f"hunk {header}" if hunk else f"line {start}"
            repo_path = item.repo_old or item.repo_new
            also = f" ({repo_path} in the patch)" if repo_path and repo_path != path else ""
            text = f"{where} of {path}{also} does not match"
            if text not in failures:
                failures.append(text)
            break
    what = "; ".join(failures) if failures else "git could not apply it"
    return (
        f"The patch {label}{unit.description} does not apply to {target_name}: {what}. "
        f"git said: {' / '.join(said) or 'nothing'}. Rebase the patch onto {target_name}, or "
        "check that it is meant for this version."
    )
