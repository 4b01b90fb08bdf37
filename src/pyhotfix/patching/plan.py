"""Planning one patch: parse it, choose the strip level, place each section onto the sdist (or
drop it when the sdist lacks the file), check binary and symlink changes, and group the kept
sections into the units git applies (a whole plain diff, or one mail of an mbox).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhotfix._git import Git
from pyhotfix.errors import PatchError
from pyhotfix.patching.binary import MAX_BINARY_TOTAL_BYTES, check_binary
from pyhotfix.patching.diff import Message, Section, parse_patch, split_lines
from pyhotfix.patching.layout import (
    Ambiguous,
    Resolver,
    choose_strip,
    existing_names,
    is_creation,
    is_deletion,
    prefix_pair,
)
from pyhotfix.patching.render import Kept, render_section
from pyhotfix.patching.sources import PatchInput
from pyhotfix.patching.treecheck import check_link_target

__all__ = ["PatchPlan", "Unit", "plan_patch"]


@dataclass
class Unit:
    """What one git invocation applies: a whole plain diff, or one mail of an mbox."""

    is_mail: bool
    description: str  # "" or " (commit 2/3 'subject')"
    kept: list[Kept]
    head: bytes | None
    subject: str = ""

    def diff(self) -> bytes:
        return b"".join(render_section(k) for k in self.kept)

    def data(self) -> bytes:
        return (self.head or b"") + self.diff()


@dataclass
class PatchPlan:
    units: list[Unit]
    skipped: list[str]
    mapped: list[tuple[str, str]]


def plan_patch(
    patch: PatchInput,
    repo: Git,
    tracked: set[str],
    target_name: str,
    strict: bool,
) -> PatchPlan:
    label = patch.label
    is_mbox, messages = parse_patch(label, patch.content)
    if not any(msg.sections for msg in messages):
        raise PatchError(
            f"The patch {label} contains no diff: no 'diff --git' or '---'/'+++' sections were "
            "found. Check that it is a unified diff or a git format-patch/.patch file."
        )
    probe = Resolver(tracked)
    p = choose_strip(messages, probe)
    tree = Resolver(tracked, _learn_mappings(messages, p, probe))
    skipped: list[str] = []
    mapped: list[tuple[str, str]] = []
    units: list[Unit] = []
    binary_bytes = 0
    for number, msg in enumerate(messages, 1):
        kept: list[Kept] = []
        for sec in msg.sections:
            try:
                item = _place(sec, p, tree, skipped, label)
            except Ambiguous as exc:
                raise PatchError(
                    f"The patch {label} changes {exc.path}, which matches several files of "
                    f"{target_name}: {', '.join(sorted(exc.matches))}. pyhotfix cannot tell which "
                    "one is meant; edit the patch so its paths match the sdist layout."
                ) from None
            if item is None:
                continue
            binary_bytes += check_binary(item, label)
            if binary_bytes > MAX_BINARY_TOTAL_BYTES:
                raise PatchError(
                    f"The binary changes of the patch {label} declare {binary_bytes} bytes or "
                    f"more in all, more than the limit of {MAX_BINARY_TOTAL_BYTES} bytes. Ship "
                    "large files another way, or check the patch."
                )
            _check_symlink(item, label)
            item.eol = _content_eol(sec, repo.root / item.old if item.old else None)
            _record_mapping(item, mapped)
            kept.append(item)
        if not kept:
            continue  # e.g. a commit of a PR that only touches tests
        units.append(_unit(msg, number, len(messages), is_mbox, kept))
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
    return PatchPlan(units, skipped, mapped)


def _learn_mappings(messages: list[Message], p: int, probe: Resolver) -> Sequence[tuple[str, str]]:
    """The layout mappings learnt from every file the patch modifies, before placing new files, so
    a new module lands next to the modified ones even when it comes first in the patch."""
    for msg in messages:
        for sec in msg.sections:
            if not is_creation(sec):
                for name in existing_names(sec, p):
                    if probe.existing(name, probe=True):
                        break
    return probe.mappings


def _record_mapping(item: Kept, mapped: list[tuple[str, str]]) -> None:
    """Add the (repository path, sdist path) pairs of `item` that differ to `mapped`, once."""
    for repo_path, sdist_path in ((item.repo_old, item.old), (item.repo_new, item.new)):
        pair = (repo_path or "", sdist_path or "")
        if repo_path and sdist_path and repo_path != sdist_path and pair not in mapped:
            mapped.append(pair)


def _unit(msg: Message, number: int, count: int, is_mbox: bool, kept: list[Kept]) -> Unit:
    """What git applies for one mail (or a whole plain diff) and how messages name it."""
    description = ""
    if is_mbox and count > 1:
        description = f" (commit {number}/{count} {msg.subject!r})"
    elif is_mbox and msg.subject:
        description = f" ({msg.subject!r})"
    # git am needs an author; a hand-made mail without one is applied like a plain diff.
    is_mail = msg.head is not None and re.search(rb"(?im)^From: ", msg.head) is not None
    return Unit(is_mail, description, kept, msg.head, msg.subject)


def _place(sec: Section, p: int, tree: Resolver, skipped: list[str], label: str) -> Kept | None:
    """Map one section onto the sdist and update the tree; None (and `skipped`) if absent."""
    repo_old, repo_new = _repo_paths(sec, p, label)
    creation, deletion = is_creation(sec), is_deletion(sec)
    if creation and deletion:
        return None  # an empty file created and removed: nothing to do
    if creation:
        return _place_creation(sec, tree, repo_new, skipped)
    if not sec.is_git:
        return _place_plain(sec, p, tree, deletion, repo_new or repo_old, skipped)
    assert repo_old is not None
    return _place_git(sec, tree, deletion, repo_old, repo_new, skipped)


def _skip(skipped: list[str], *paths: str | None) -> None:
    for path in paths:
        if path and path not in skipped:
            skipped.append(path)


def _repo_paths(sec: Section, p: int, label: str) -> tuple[str | None, str | None]:
    """The section's (old, new) repository paths at strip level `p`; None is /dev/null."""
    repo_old = sec.old.strip(p) if sec.old is not None else None
    repo_new = sec.new.strip(p) if sec.new is not None else None
    if (sec.old is not None and repo_old is None) or (sec.new is not None and repo_new is None):
        raw = sec.old.raw if sec.old is not None else sec.new.raw if sec.new is not None else ""
        raise PatchError(
            f"The patch {label} names the path {raw!r}, which is not a relative path inside the "
            "project. Fix the path in the patch."
        )
    return repo_old, repo_new


def _place_creation(
    sec: Section, tree: Resolver, repo_new: str | None, skipped: list[str]
) -> Kept | None:
    """A new file goes where its directory is in the sdist; skipped if the sdist lacks it."""
    if repo_new is None:
        return None
    new = tree.new(repo_new)
    if new is None:
        _skip(skipped, repo_new)
        return None
    tree.add(new)
    return Kept(sec, None, new, None, repo_new, "keep")


def _place_plain(
    sec: Section, p: int, tree: Resolver, deletion: bool, shown: str | None, skipped: list[str]
) -> Kept | None:
    """A plain diff's section; `shown` is the path reported when the sdist lacks the file."""
    # Plain diffs name the same file twice (often "x.orig" and "x"): use whichever exists.
    names = existing_names(sec, p)
    source = next((n for n in names if n in tree.files), None)
    path = source
    if source is None:
        for n in names:
            path = tree.existing(n)
            if path is not None:
                source = n
                break
    if source is None or path is None:
        _skip(skipped, shown)
        return None
    if deletion:
        tree.remove(path)
        return Kept(sec, path, None, source, None, "keep")
    return Kept(sec, path, path, source, source, "keep")


def _place_git(
    sec: Section,
    tree: Resolver,
    deletion: bool,
    repo_old: str,
    repo_new: str | None,
    skipped: list[str],
) -> Kept | None:
    """A git section changing, deleting, renaming or copying an existing file."""
    old = tree.existing(repo_old)
    if old is None:
        _skip(skipped, repo_old, repo_new)
        return None
    if deletion:
        tree.remove(old)
        return Kept(sec, old, None, repo_old, None, "keep")
    assert repo_new is not None
    if repo_new == repo_old:
        return Kept(sec, old, old, repo_old, repo_new, "keep")
    # A rename or copy: the new name follows the old one's prefix mapping.
    rp, sp = prefix_pair(repo_old, old)
    new = sp + repo_new[len(rp) :] if repo_new.startswith(rp) else tree.new(repo_new) or repo_new
    if sec.has_ext("rename from "):
        tree.remove(old)
    tree.add(new)
    return Kept(sec, old, new, repo_old, repo_new, "keep")


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


def _content_eol(sec: Section, target: Path | None) -> str:
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
            file_style = _eol_style(split_lines(target.read_bytes()))
        except OSError:
            file_style = "unknown"
    if file_style in ("lf", "crlf"):
        return file_style if file_style != patch_style else "keep"
    if file_style == "unknown" and patch_style == "crlf" and sec.crlf_headers:
        return "lf"  # the whole patch file was converted to CRLF; the new file was LF
    return "keep"


_SYMLINK_MODE = re.compile(r"^(new file mode|new mode) 120000$|^index \S+ 120000$")


def _check_symlink(item: Kept, label: str) -> None:
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
