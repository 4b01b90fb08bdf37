"""A hotfix's patch series as git history, replayed onto other upstream releases.

`build_series` unpacks the hotfixed upstream sdist and applies the patches with
`patching.apply_patches(keep_git=True)`: one commit for the pristine sdist and one (or, for a
multi-mail mbox, several) per patch, with the repository paths already mapped onto the sdist.
`import_release` adds another upstream sdist as a commit whose parent is the pristine one, and
`replay` carries the patches onto it one by one, without a work tree:

- **contained**: the patch's change is already there: every line it adds occurs in the release's
  files at least as often as in the patched file, and every line it removes at most as often
  (whitespace ignored, files followed across renames), or the patch reverse-applies cleanly;
- **applies**: `git apply --cached` takes it as is (context may have moved);
- **applies-3way**: a real three-way merge (`git merge-tree`, base = the commit before the patch,
  as `git cherry-pick` does) succeeds;
- **conflicts**: it does not.

`series_contained` judges the whole series as one patch. Status only needs verdicts, so it unpacks
a release (`stage_release`) and replays with `commits=False`: the last patch is first judged on the
release's files on disk (`git apply --check`, no repository), and the release is added to an index
file of the series' repository only when that cannot decide; each check then costs a few git calls
(the diffs come with the series' log; one scratch index is updated in place).
"""

from __future__ import annotations

import collections
import itertools
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pyhotfix._git import Git, git_failure, isolated_env
from pyhotfix.errors import PatchError
from pyhotfix.patching import PatchInput, apply_patches
from pyhotfix.unpack import unpack_sdist

PatchState = Literal["contained", "applies", "applies-3way", "conflicts"]
CONTAINED: Final = "contained"
APPLIES: Final = "applies"
APPLIES_3WAY: Final = "applies-3way"
CONFLICTS: Final = "conflicts"

_CONFLICT_MARKER = re.compile(rb"^(<{7} |={7}$|>{7} |\|{7} )", re.MULTILINE)
_WHITESPACE = re.compile(rb"\s+")


@dataclass(frozen=True)
class SeriesPatch:
    label: str
    base: str  # the commit before the patch
    tip: str  # the patch's last commit
    message: str  # its commit message(s)


@dataclass(frozen=True)
class Series:
    root: Path  # the work tree: the old upstream with every patch applied
    pristine: str
    patches: tuple[SeriesPatch, ...]
    # (base, tip) → `git diff` between them: the same for every release, so made once.
    diffs: dict[tuple[str, str], bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def git(self) -> Git:
        return Git(self.root)

    def diff(self, base: str, tip: str) -> bytes:
        key = (base, tip)
        if key not in self.diffs:
            self.diffs[key] = self.git.must("diff", *_DIFF_ARGS, base, tip)
        return self.diffs[key]


@dataclass(frozen=True)
class PatchOutcome:
    label: str
    state: PatchState
    commit: str | None = None  # the patch carried onto the release (APPLIES*)
    conflicts: tuple[str, ...] = ()  # files with conflicts (CONFLICTS)


def build_series(sdist: Path, patches: Sequence[PatchInput], dest: Path, target: str) -> Series:
    """Unpack `sdist` under `dest` and commit the patches on it (see the module docstring)."""
    tree = unpack_sdist(sdist, dest / "series", display_name=f"the sdist of {target}")
    apply_patches(tree.root, patches, keep_git=True, target=target)
    git = Git(tree.root)
    # Messages and diffs of every commit in one call: NUL frames each commit's id and message
    # (neither can hold NUL; --binary diffs do not either); the pristine root shows no diff.
    log = git.must(
        "log", "--reverse", "-p", *_DIFF_ARGS, "--format=%x00%H%n%B%x00",
        config=("log.showRoot=false",),
    )  # fmt: skip
    frames = log.split(b"\0")[1:]
    entries = [
        (*frames[i].decode("utf-8", "replace").partition("\n")[::2], frames[i + 1].lstrip(b"\n"))
        for i in range(0, len(frames) - 1, 2)
    ]
    messages = {sha: body.strip() for sha, body, _diff in entries}
    commits = [sha for sha, _body, _diff in entries]
    diffs = {(a, b): diff for (a, _, _), (b, _, diff) in itertools.pairwise(entries)}
    pristine, rest = commits[0], commits[1:]
    # Usually one commit per patch; a multi-mail mbox makes several.
    tips = rest if len(rest) == len(patches) else _find_tips(sdist, patches, rest, dest, target)
    bases = [pristine, *tips[:-1]]
    members = []
    for patch, base, tip in zip(patches, bases, tips, strict=True):
        own = commits[commits.index(base) + 1 : commits.index(tip) + 1]
        message = "\n\n".join(messages[c] for c in own if messages[c])
        members.append(SeriesPatch(patch.label, base, tip, message or f"Apply {patch.label}"))
    return Series(root=tree.root, pristine=pristine, patches=tuple(members), diffs=diffs)


def _find_tips(
    sdist: Path, patches: Sequence[PatchInput], commits: list[str], dest: Path, target: str
) -> list[str]:
    """The last commit of each patch when some patch made several (a multi-mail mbox).

    apply_patches commits with fixed dates and identities, so applying the first k patches again
    gives exactly the commit that ends patch k in the full run.
    """
    tips: list[str] = []
    for k in range(1, len(patches)):
        tree = unpack_sdist(sdist, dest / f"prefix-{k}", display_name=f"the sdist of {target}")
        apply_patches(tree.root, patches[:k], keep_git=True, target=target)
        head = Git(tree.root).text("rev-parse", "HEAD")
        if head not in commits:
            raise PatchError(
                f"pyhotfix could not tell which commits belong to the patch {patches[k - 1].label} "
                f"of {target}. Split the patch file into one file per commit and try again."
            )
        tips.append(head)
    tips.append(commits[-1])
    return tips


class StagedRelease:
    """Another upstream release, unpacked, that replays can start from. Its files are added to
    an index file of the series' repository only when a check needs git's view of it (a rename,
    a three-way merge, several patches): a one-patch status check reads the files on disk and
    runs `git apply --check` there, one git process fewer per release."""

    def __init__(self, series: Series, tree_root: Path, index: Path) -> None:
        self.tree_root = tree_root
        self.index = index
        self._git = series.git.with_env(GIT_INDEX_FILE=str(index))
        self._git_dir = series.root / ".git"
        self._staged = False
        self._tree: str | None = None

    def _stage(self) -> None:
        if self._staged:
            return
        git = Git(
            self.tree_root,
            {
                **isolated_env(),
                "GIT_DIR": str(self._git_dir),
                "GIT_WORK_TREE": str(self.tree_root),
                "GIT_INDEX_FILE": str(self.index),
            },
        )
        try:
            # -f: the sdist's .gitignore hides nothing
            git.must("add", "--all", "--force", "--", ".")
        except BaseException:
            self.drop()
            raise
        self._staged = True

    def tree(self) -> str:
        if self._tree is None:
            self._stage()
            self._tree = self._git.text("write-tree")
        return self._tree

    def copy_into(self, scratch: Git) -> None:
        """Give `scratch` (a Git with its own index file) this release as its index."""
        self._stage()
        target = scratch.env["GIT_INDEX_FILE"]
        shutil.copyfile(self.index, target)

    def drop(self) -> None:
        self.index.unlink(missing_ok=True)

    def disk_git(self) -> Git | None:
        """git for `git apply --check` on the unpacked files, outside any repository; None when
        the tree has a `.git` of its own (git would use it: only the index path is safe then)."""
        if os.path.lexists(self.tree_root / ".git"):
            return None
        # No repository above the tree either: git must treat the files as plain files.
        ceiling = str(self.tree_root.parent)
        return Git(self.tree_root, {**isolated_env(), "GIT_CEILING_DIRECTORIES": ceiling})

    def read_regular(self, path: str) -> bytes | None:
        """The bytes of the release's regular file at `path` (see `_read_regular`)."""
        return _read_regular(self.tree_root, path)


def _read_regular(root: Path, path: str) -> bytes | None:
    """The bytes of the regular file at `root/path`; None when it is absent, or a component is a
    symlink or something else than a directory/file (then git must be asked)."""
    current = root
    parts = path.split("/")
    for n, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
        last = n == len(parts) - 1
        if (last and not stat.S_ISREG(mode)) or (not last and not stat.S_ISDIR(mode)):
            return None
    return current.read_bytes()


def stage_release(series: Series, sdist: Path, dest: Path, version: str) -> StagedRelease:
    """Unpack another upstream sdist for replays; its files go into an index of the series'
    repository when a check first needs them there."""
    tree = unpack_sdist(sdist, dest, display_name=f"the sdist of release {version}")
    git_dir = series.root / ".git"
    return StagedRelease(series, tree.root, git_dir / f"pyhotfix-import-{uuid.uuid4().hex}")


def import_release(
    series: Series, sdist: Path, dest: Path, version: str, *, commit: bool = True
) -> str:
    """Commit the tree of another upstream sdist on top of the pristine one; returns the commit
    (without `commit`: just its tree)."""
    staged = stage_release(series, sdist, dest, version)
    try:
        tree_id = staged.tree()
    finally:
        staged.drop()
    if not commit:
        return tree_id
    return series.git.commit_tree(tree_id, series.pristine, f"upstream {version}")


def replay(
    series: Series,
    onto: str | StagedRelease,
    *,
    start: int = 0,
    head: str | None = None,
    stop_on_conflict: bool = False,
    commits: bool = True,
) -> tuple[list[PatchOutcome], str | None]:
    """Carry the patches from `start` onto `head` (default: the release commit `onto`); returns
    the outcomes and the new head. A conflicting patch is left out and the next ones are tried
    on what applied so far, unless `stop_on_conflict`.

    Without `commits` (status: only the verdicts matter) `onto` may be a tree or a staged
    release, carried patches are not committed, and the head returned is None.
    """
    git = series.git
    if isinstance(onto, StagedRelease):
        assert not commits and head is None, "a staged release has no commit to build on"
        if start == 0 and len(series.patches) == 1:
            outcome = _carry_on_disk(series, series.patches[start], onto)
            if outcome is not None:
                return [outcome], None
    renames = _Renames(git, series.pristine, onto)
    # One scratch index holds the head throughout: a patch that applies updates it in place.
    current = _Head(git.scratch_index(), head or (onto if isinstance(onto, str) else None))
    try:
        if isinstance(onto, StagedRelease):
            onto.copy_into(current.index)
        else:
            current.index.must("read-tree", current.commit or onto)
        outcomes: list[PatchOutcome] = []
        for patch in series.patches[start:]:
            outcome = _carry(series, patch, current, renames, commits)
            outcomes.append(outcome)
            if outcome.state == CONFLICTS and stop_on_conflict:
                break
    finally:
        current.index.drop_index()
    return outcomes, current.commit if commits else None


class _Head:
    """Where the replay is: the scratch index always holds its tree; the commit (and tree id)
    exist only when made."""

    def __init__(self, index: Git, commit: str | None) -> None:
        self.index = index
        self.commit = commit
        self._tree: str | None = None

    def tree(self) -> str:
        if self._tree is None:
            self._tree = self.index.text("write-tree")
        return self._tree

    def moved(self, commit: str | None, tree: str | None) -> None:
        self.commit, self._tree = commit, tree


def _carry(
    series: Series, patch: SeriesPatch, head: _Head, renames: _Renames, commits: bool
) -> PatchOutcome:
    """One patch onto `head` (see the module docstring for the states)."""
    git, scratch = series.git, head.index
    diff = series.diff(patch.base, patch.tip)
    if _contained(git, scratch, patch, renames, diff):
        return PatchOutcome(patch.label, CONTAINED)
    if scratch.run("apply", "--cached", "-", stdin=diff).returncode == 0:  # all or nothing
        if not commits:
            head.moved(None, None)
            return PatchOutcome(patch.label, APPLIES)
        assert head.commit is not None
        tree = scratch.text("write-tree")
        head.moved(git.commit_tree(tree, head.commit, patch.message), tree)
        return PatchOutcome(patch.label, APPLIES, head.commit)
    # cherry-pick semantics without a work tree: a commit with head's tree whose parent is the
    # patch's base makes that base the merge base of a three-way merge with the patch's tip.
    ours = git.commit_tree(head.tree(), patch.base, "rebase target")
    proc = git.run(
        "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, patch.tip
    )
    if proc.returncode not in (0, 1):
        raise git_failure(("merge-tree",), proc, git.root)
    fields = [f for f in proc.stdout.split(b"\0") if f]
    if proc.returncode == 0:
        tree = fields[0].decode()
        scratch.must("read-tree", tree)
        if not commits:
            head.moved(None, tree)
            return PatchOutcome(patch.label, APPLIES_3WAY)
        assert head.commit is not None
        head.moved(git.commit_tree(tree, head.commit, patch.message), tree)
        return PatchOutcome(patch.label, APPLIES_3WAY, head.commit)
    files = tuple(dict.fromkeys(os.fsdecode(f) for f in fields[1:]))
    return PatchOutcome(patch.label, CONFLICTS, conflicts=files)


def series_contained(series: Series, onto: str | StagedRelease) -> bool:
    """Whether the release `onto` already has the combined effect of the whole series (pristine
    to the last patch), judged as one patch: a later patch may rewrite what an earlier one added,
    so a release with the final result contains the series though not each patch alone."""
    if not series.patches:
        return False
    git = series.git
    whole = SeriesPatch("(series)", series.pristine, series.patches[-1].tip, "")
    scratch = git.scratch_index()
    try:
        if isinstance(onto, StagedRelease):
            onto.copy_into(scratch)
        else:
            scratch.must("read-tree", onto)
        diff = series.diff(whole.base, whole.tip)
        return _contained(git, scratch, whole, _Renames(git, series.pristine, onto), diff)
    finally:
        scratch.drop_index()


def _contained(git: Git, scratch: Git, patch: SeriesPatch, renames: _Renames, diff: bytes) -> bool:
    """The CONTAINED test (see the module docstring) against the tree in `scratch`'s index."""
    return _lines_contained(scratch, patch, renames, diff) or (
        scratch.run("apply", "--cached", "--check", "--reverse", "-", stdin=diff).returncode == 0
    )


_DIFF_ARGS = (
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
_DIFF_HEADER = re.compile(rb"^diff --git (.*)$", re.MULTILINE)


def _diff_paths(git: Git, patch: SeriesPatch, diff: bytes) -> list[str]:
    """The files `diff` (made with _DIFF_ARGS) changes, read from its headers; a header git
    quoted (unusual characters) is asked of git instead."""
    paths = []
    for match in _DIFF_HEADER.finditer(diff):
        pair = match.group(1)
        half = (len(pair) - 5) // 2  # "a/P b/P": no renames, so both sides name the same P
        path = pair[2 : 2 + half]
        if pair.startswith(b'"') or pair != b"a/" + path + b" b/" + path:
            names = git.must("diff", "--name-only", "--no-renames", "-z", patch.base, patch.tip)
            return [os.fsdecode(p) for p in names.split(b"\0") if p]
        paths.append(os.fsdecode(path))
    return paths


class _Renames:
    """Where the release moved the old upstream's files; asked only when a file is missing."""

    def __init__(self, git: Git, old: str, new: str | StagedRelease) -> None:
        self._args = (git, old, new)
        self._found: dict[str, str] | None = None

    def get(self, path: str) -> str | None:
        if self._found is None:
            git, old, new = self._args
            new_tree = new if isinstance(new, str) else new.tree()
            out = git.must("diff", "--name-status", "-M", "-z", old, new_tree).split(b"\0")
            self._found = {}
            i = 0
            while i < len(out) - 1:
                if out[i][:1] in (b"R", b"C"):
                    self._found[os.fsdecode(out[i + 1])] = os.fsdecode(out[i + 2])
                    i += 3
                else:
                    i += 2
        return self._found.get(path)


def _normalized(content: bytes | None) -> collections.Counter[bytes]:
    if content is None:
        return collections.Counter()
    lines = (_WHITESPACE.sub(b"", line) for line in content.splitlines())
    return collections.Counter(line for line in lines if line)


def _lines_contained(scratch: Git, patch: SeriesPatch, renames: _Renames, diff: bytes) -> bool:
    """Every line the patch adds is in the release at least as often as in the patched file, and
    every line it removes at most as often (whitespace ignored; text files only). The release
    is the tree in `scratch`'s index (`:path`)."""
    paths = _diff_paths(scratch, patch, diff)
    if not paths or any("\n" in p for p in paths):
        return False
    specs = []
    for path in paths:
        specs += [f"{patch.base}:{path}", f"{patch.tip}:{path}", f":{path}"]
    blobs = _cat_files(scratch, specs)
    for i, path in enumerate(paths):
        moved = renames.get(path) if blobs[3 * i + 2] is None else None
        if moved is not None:  # a file the release renamed: compare with it under its new name
            blobs[3 * i + 2] = _cat_files(scratch, [f":{moved}"])[0]
    return _lines_decide(
        [(blobs[3 * i], blobs[3 * i + 1], blobs[3 * i + 2]) for i in range(len(paths))]
    )


def _lines_decide(files: Sequence[tuple[bytes | None, bytes | None, bytes | None]]) -> bool:
    """The line test on the (old, new, release) contents of each file the patch changes."""
    if any(b is not None and _is_binary(b) for triple in files for b in triple):
        return False  # binary: only the reverse-apply check can tell
    counted = []
    for old, new, release in files:
        after = _normalized(new)
        delta = collections.Counter(after)
        delta.subtract(_normalized(old))  # subtract keeps negative counts: removed lines
        counted.append((delta, after, _normalized(release)))
    return _line_test(counted)


def _is_binary(content: bytes) -> bool:
    return b"\0" in content[:8000]


def _line_test(
    files: Sequence[
        tuple[collections.Counter[bytes], collections.Counter[bytes], collections.Counter[bytes]]
    ],
) -> bool:
    """For each file: (what the patch adds minus what it removes, per normalized line; the
    patched file's lines; the release's lines). Contained when every added line is in the
    release at least as often as in the patched file, every removed one at most as often, and
    the patch changes something."""
    decided = False
    for delta, after, there in files:
        for line, change in delta.items():
            if change > 0 and there[line] < after[line]:
                return False
            if change < 0 and there[line] > after[line]:
                return False
            decided = decided or change != 0
    return decided


def _line_deltas(diff: bytes) -> list[collections.Counter[bytes]] | None:
    """Per file of `diff` (git's format, in header order): the normalized lines it adds (+1 each)
    and removes (-1 each), read from its hunks. None for a binary file. Equals
    `_normalized(new) - _normalized(old)` with negative counts kept (property-tested)."""
    deltas: list[collections.Counter[bytes]] = []
    in_hunk = False
    for line in diff.split(b"\n"):
        if line.startswith(b"diff --git "):
            deltas.append(collections.Counter())
            in_hunk = False
        elif not deltas:
            continue
        elif line.startswith(b"@@"):
            in_hunk = True
        elif not in_hunk:
            if line.startswith((b"GIT binary patch", b"Binary files ")):
                return None
        elif line[:1] in (b"+", b"-"):
            sign = 1 if line[:1] == b"+" else -1
            for piece in line[1:].splitlines():  # as bytes.splitlines splits the whole file
                normalized = _WHITESPACE.sub(b"", piece)
                if normalized:
                    deltas[-1][normalized] += sign
    return deltas


def _carry_on_disk(
    series: Series, patch: SeriesPatch, release: StagedRelease
) -> PatchOutcome | None:
    """A one-patch series, judged on the files on disk: the series' work tree (the patch's tip)
    and the release's. Contained (line test, with what the patch adds and removes read from its
    diff; else `git apply --check --reverse`) or applies (`git apply --check`). None when git's
    index is needed: a file the release lacks (renamed?), a symlink on the way, a binary file,
    a three-way merge."""
    disk = release.disk_git()
    diff = series.diff(patch.base, patch.tip)
    paths = _diff_paths(series.git, patch, diff)
    deltas = _line_deltas(diff)
    if disk is None or deltas is None or not paths or any("\n" in p for p in paths):
        return None
    there = [release.read_regular(p) for p in paths]
    if any(content is None for content in there) or len(deltas) != len(paths):
        return None
    # The patched files as the patch left them: the work tree is the series' tip. A file the patch
    # deleted is absent there, and must be: then it has no lines.
    after = [_read_regular(series.root, p) for p in paths]
    if any(_is_binary(c) for c in (*there, *after) if c is not None):
        return None
    files = [
        (delta, _normalized(new), _normalized(release))
        for delta, new, release in zip(deltas, after, there, strict=True)
    ]
    if (
        _line_test(files)
        or disk.run("apply", "--check", "--reverse", "-", stdin=diff).returncode == 0
    ):
        return PatchOutcome(patch.label, CONTAINED)
    if disk.run("apply", "--check", "-", stdin=diff).returncode == 0:
        return PatchOutcome(patch.label, APPLIES)
    return None


def _cat_files(git: Git, specs: Iterable[str]) -> list[bytes | None]:
    specs = list(specs)
    out = git.must("cat-file", "--batch", stdin="".join(f"{s}\n" for s in specs).encode())
    blobs: list[bytes | None] = []
    pos = 0
    for _ in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            blobs.append(out[pos : pos + size])
            pos += size + 1
        else:
            blobs.append(None)  # missing, or not a file (a directory of that name)
            if len(header) == 3:
                pos += int(header[2]) + 1
    return blobs


def has_conflict_markers(content: bytes) -> bool:
    return _CONFLICT_MARKER.search(content) is not None
