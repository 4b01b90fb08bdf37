"""What the lifecycle commands share: workspaces on disk, patch file names, undoable file edits."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyhotfix._atomic import write_atomic
from pyhotfix._git import Git, run_git, user_env
from pyhotfix.errors import LifecycleError
from pyhotfix.lifecycle.series import has_conflict_markers
from pyhotfix.manifest import FilePatch, GitPatch, Manifest, PatchSource, UrlPatch
from pyhotfix.patching.sources import FORMAT_PATCH_ARGS

WORK_DIR = Path(".pyhotfix") / "work"
_META_NAME = "pyhotfix-workspace.json"
_META_FORMAT = 1
EDIT, REBASE = "edit", "rebase"

# Untracked files that are never part of a patch: build and tool output made while testing.
_EXCLUDES = """\
# pyhotfix: build and tool output is never part of a patch
__pycache__/
*.py[cod]
*.egg-info/
.eggs/
.pytest_cache/
.mypy_cache/
.ruff_cache/
.tox/
.nox/
.venv/
"""


def patch_label(source: PatchSource) -> str:
    """How `patching.read_patch` names a patch source."""
    if isinstance(source, FilePatch):
        return source.path
    if isinstance(source, UrlPatch):
        return source.url
    assert isinstance(source, GitPatch)
    return f"{source.repo}@{source.commit}"


def default_workspace(manifest: Manifest, name: str) -> Path:
    return manifest.directory / WORK_DIR / name


def dir_option(workspace: Path, name: str) -> str:
    """` --dir WORKSPACE` for a command named in advice when the workspace is not the default
    one: without it the advised command would look for the workspace in the wrong place."""
    if workspace.parts[-3:] == (*WORK_DIR.parts, name):
        return ""
    return f" --dir {shlex.quote(str(workspace))}"


def git_in(workspace: Path) -> str:
    """`git -C WORKSPACE`, quoted for a shell, for advice."""
    return f"git -C {shlex.quote(str(workspace))}"


@dataclass(frozen=True)
class WorkspaceMeta:
    """Stored in the workspace's .git directory, so the work tree holds only the project."""

    mode: str  # EDIT or REBASE
    name: str
    version: str  # the hotfix's upstream version in the manifest when the workspace was made
    inputs: str  # pipeline.inputs_key then: a changed manifest makes the workspace outdated
    base: str  # the commit new changes are measured from
    rebase: dict[str, Any] = field(default_factory=dict)  # REBASE: the state of the rebase
    format: int = _META_FORMAT


def read_meta(workspace: Path) -> WorkspaceMeta | None:
    try:
        raw = json.loads((workspace / ".git" / _META_NAME).read_text(encoding="utf-8"))
        if raw.get("format") != _META_FORMAT:
            return None
        return WorkspaceMeta(**raw)
    except (OSError, ValueError, TypeError):
        return None


def write_meta(workspace: Path, meta: WorkspaceMeta) -> None:
    path = workspace / ".git" / _META_NAME
    write_atomic(path, json.dumps(asdict(meta), indent=2, sort_keys=True).encode("utf-8"))


def prepare_workspace_repo(root: Path) -> None:
    exclude = root / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text(_EXCLUDES, encoding="utf-8")


def worktree_tree(git: Git, base: str) -> tuple[str, list[str]]:
    """The tree of the work tree as it is (tracked, changed and new files, .gitignore'd ones
    left out), built in a scratch index; and the paths that differ from `base`."""
    scratch = git.scratch_index()
    try:
        scratch.must("read-tree", base)
        scratch.must("add", "--all", "--", ".")
        tree = scratch.text("write-tree")
    finally:
        scratch.drop_index()
    out = git.must("diff-tree", "-r", "--name-only", "--no-renames", "-z", base, tree)
    return tree, [os.fsdecode(p) for p in out.split(b"\0") if p]


def files_with_markers(git: Git, tree: str, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        proc = git.run("cat-file", "blob", f"{tree}:{path}")
        if proc.returncode == 0 and has_conflict_markers(proc.stdout):
            found.append(path)
    return found


def workspace_in_use(workspace: Path, name: str) -> WorkspaceMeta | None:
    """Refuse a workspace that holds work; returns the meta of a clean one (None: none there)."""
    if not workspace.exists():
        return None
    meta = read_meta(workspace)
    if meta is None:
        if workspace.is_dir() and not any(workspace.iterdir()):
            return None
        raise LifecycleError(
            f"{workspace} exists and is not a pyhotfix workspace. Move it away, or pass another "
            "--dir."
        )
    if meta.mode == REBASE:
        raise LifecycleError(
            f"{workspace} holds a rebase of {meta.name} onto {meta.rebase.get('to')} that is not "
            f"finished. Resolve the conflicts there and run `pyhotfix rebase {meta.name} "
            f"--continue{dir_option(workspace, meta.name)}`, or drop it with `pyhotfix rebase "
            f"{meta.name} --abort{dir_option(workspace, meta.name)}`."
        )
    git = Git(workspace)
    unmerged = git.must("ls-files", "--unmerged")
    _tree, changed = worktree_tree(git, meta.base)
    if changed or unmerged:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise LifecycleError(
            f"The workspace {workspace} has changes that are not in a patch yet ({shown or 'a merge in progress'}). "
            f"Turn them into a patch with `pyhotfix commit {name}{dir_option(workspace, name)}`, "
            f"or delete {workspace} to "
            "throw them away, then try again."
        )
    return meta


def user_identity_env() -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for the user's own identity (their git config), now."""
    env: dict[str, str] = {}
    proc = run_git(["var", "GIT_AUTHOR_IDENT"], Path.cwd(), user_env())
    match = re.match(r"^(.*) <([^>]*)> (\d+ [+-]\d{4})$", proc.stdout.decode().strip())
    if proc.returncode == 0 and match:
        name, email, date = match.groups()
    else:
        import time

        name, email, date = "pyhotfix", "pyhotfix@localhost", f"{int(time.time())} +0000"
    for role in ("AUTHOR", "COMMITTER"):
        env.update({f"GIT_{role}_NAME": name, f"GIT_{role}_EMAIL": email, f"GIT_{role}_DATE": date})
    return env


def format_patch(git: Git, commit: str) -> bytes:
    """`git format-patch` of one commit, independent of the user's configuration; the
    "From <sha>" line carries zeros so a re-made patch differs only where its content does."""
    return git.must(*FORMAT_PATCH_ARGS, "--zero-commit", commit)


def slugify(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "change"


def next_patch_path(manifest: Manifest, name: str, subject: str, position: int) -> str:
    """A free `patches/<name>/NNNN-<slug>.patch` (relative to the manifest), numbered after the
    files already there and at least `position`."""
    directory = manifest.directory / "patches" / name
    numbers = [
        int(m.group(1))
        for p in (directory.iterdir() if directory.is_dir() else ())
        if (m := re.match(r"^(\d{4})-", p.name))
    ]
    number = max([*numbers, position - 1]) + 1
    while True:
        rel = f"patches/{name}/{number:04d}-{slugify(subject)}.patch"
        if not (manifest.directory / rel).exists():
            return rel
        number += 1


def retired_path(manifest: Manifest, name: str, path: Path) -> Path:
    """A free place for a dropped patch file under patches/.retired/<name>/."""
    directory = manifest.directory / "patches" / ".retired" / name
    target = directory / path.name
    n = 2
    while target.exists():
        target = directory / f"{path.stem}-{n}{path.suffix}"
        n += 1
    return target


class FileEdits:
    """File writes and moves that can be undone together, so a failed build or a bad manifest
    edit leaves the user's files exactly as they were."""

    def __init__(self) -> None:
        self._saved: dict[Path, bytes | None] = {}
        self._moves: list[tuple[Path, Path]] = []
        self._made: list[Path] = []

    def made(self, path: Path) -> None:
        """A file or directory made by someone else for this edit: undo removes it (a directory
        only while it is empty: something else may have been put in it since)."""
        self._made.append(path)

    def save(self, path: Path) -> None:
        if path not in self._saved:
            self._saved[path] = path.read_bytes() if path.exists() else None

    def write(self, path: Path, data: bytes) -> None:
        self.save(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.pyhotfix-tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def move(self, src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)
        self._moves.append((src, dst))

    def undo(self) -> None:
        for src, dst in reversed(self._moves):
            if dst.exists() and not src.exists():
                src.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(dst, src)
        for path, data in self._saved.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        for made in reversed(self._made):  # files first, then the directories made for them
            with contextlib.suppress(FileNotFoundError):
                if made.is_dir():
                    with contextlib.suppress(OSError):  # not empty
                        made.rmdir()
                else:
                    made.unlink()
        self._moves.clear()
        self._saved.clear()
        self._made.clear()


@contextmanager
def undo_on_error(edits: FileEdits) -> Iterator[FileEdits]:
    try:
        yield edits
    except BaseException:
        edits.undo()
        raise
