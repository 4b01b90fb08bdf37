"""`apply_patches`: the throwaway git repository inside the unpacked sdist, each patch's units
applied with `git apply --3way` / `git am --3way`, the patched tree checked, and failure
messages that say which hunk of which file does not match.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhotfix._git import Git, GitRunner, err_text, run_git
from pyhotfix.errors import PatchError
from pyhotfix.patching.binary import MAX_BINARY_FILE_BYTES
from pyhotfix.patching.plan import PatchPlan, Unit, plan_patch
from pyhotfix.patching.sources import PatchInput
from pyhotfix.patching.treecheck import check_tree

__all__ = ["AppliedPatch", "PatchedTree", "apply_patches"]


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
    tracked = _added_paths(root, repo)
    for patch in patches:
        plan = plan_patch(patch, repo, tracked, target_name, strict)
        for unit in plan.units:
            _apply_unit(repo, patch.label, unit, target_name)
        _check_binary_results(root, patch.label, plan)
        files = _paths_of(plan)
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


def _added_paths(root: Path, repo: Git) -> set[str]:
    """What `git ls-files` lists after `git add --all --force` of the tree: every file and
    symlink outside `.git`, without running git. A nested repository (a directory holding its own
    `.git`) is listed by git as one entry: then git is asked."""
    paths: set[str] = set()
    for current, dirs, files in os.walk(root):
        here = Path(current)
        if here == root:
            dirs[:] = [d for d in dirs if d != ".git"]
        elif ".git" in dirs or ".git" in files:
            return repo.tracked()
        for name in files:
            paths.add((here / name).relative_to(root).as_posix())
        for name in dirs:
            if os.path.islink(here / name):
                paths.add((here / name).relative_to(root).as_posix())
    return paths


def _paths_of(plan: PatchPlan) -> tuple[str, ...]:
    """The sdist paths the plan's units changed (what `git diff --name-only --no-renames` of
    their commits lists), from the plan itself: no git process."""
    found = {
        path
        for unit in plan.units
        for item in unit.kept
        for path in (item.old, item.new)
        if path is not None
    }
    return tuple(sorted(found))


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


def _check_binary_results(root: Path, label: str, plan: PatchPlan) -> None:
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


def _apply_unit(repo: Git, label: str, unit: Unit, target_name: str) -> None:
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
    unit: Unit,
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
