"""`pyhotfix edit` and `pyhotfix commit`: make a patch by editing the hotfixed source.

`edit` unpacks the upstream sdist into a git work tree (default `.pyhotfix/work/<name>/` beside
the manifest) with one commit for the pristine sdist and one per existing patch. The user edits
there with any tools, committing or not. `commit` turns everything that differs from the last
patch commit (committed or not, new files included, ignored files left out) into the next
`patches/<name>/NNNN-<slug>.patch`, a `git format-patch` mail whose message ends with
`Origin:` / `Forwarded:` lines (DEP-3 fields), appends it to the manifest and builds. If the build
fails, the manifest and patches/ are restored and the changes stay in the workspace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from pyhotfix._git import Git
from pyhotfix.errors import LifecycleError, UsageError
from pyhotfix.lifecycle.common import (
    EDIT,
    REBASE,
    WORK_DIR,
    FileEdits,
    WorkspaceMeta,
    default_workspace,
    dir_option,
    files_with_markers,
    format_patch,
    git_in,
    next_patch_path,
    prepare_workspace_repo,
    read_meta,
    undo_on_error,
    user_identity_env,
    workspace_in_use,
    worktree_tree,
    write_meta,
)
from pyhotfix.manifest import (
    FilePatch,
    HotfixSpec,
    Manifest,
    load_manifest,
    project_name_problem,
    shown_name,
    upsert_hotfix,
)
from pyhotfix.patching import PatchInput, apply_patches, read_patch
from pyhotfix.patching.dep3 import Dep3Headers, field_lines
from pyhotfix.pipeline import BuildContext, BuildOptions, HotfixResult, build_one, inputs_key
from pyhotfix.unpack import unpack_sdist
from pyhotfix.upstream import fetch_url


@dataclass(frozen=True)
class EditResult:
    workspace: Path
    reused: bool  # an unchanged, up-to-date workspace was already there
    patches: int


@dataclass(frozen=True)
class CommitResult:
    workspace: Path
    patch: str | None  # the new patch file, relative to the manifest; None: nothing changed
    files: tuple[str, ...]  # the files it changes
    build: HotfixResult | None


def checked_workspace(manifest: Manifest, name: str) -> Path:
    """The default workspace of hotfix `name`: .pyhotfix/work/<normalised name> beside the
    manifest, refused unless it is exactly one directory level inside .pyhotfix/work/ (a name
    is hostile input until checked: absolute, `..`, separators, over-long)."""
    problem = project_name_problem(name)
    if problem is not None:
        raise UsageError(f"The hotfix name {shown_name(name)} {problem}.")
    work_root = Path(os.path.normpath(manifest.directory.absolute() / WORK_DIR))
    workspace = Path(
        os.path.normpath(default_workspace(manifest, canonicalize_name(name)).absolute())
    )
    if workspace.parent != work_root or workspace.is_symlink():
        raise UsageError(
            f"The workspace of {shown_name(name)} would be {shown_name(str(workspace))}, not a "
            f"directory inside {work_root}; refusing to write there. Pass --dir DIR to choose one."
        )
    return workspace


def read_patches(context: BuildContext, spec: HotfixSpec) -> list[PatchInput]:
    def fetch_patch(url: str, sha256: str | None) -> bytes:
        return fetch_url(url, context.cache, sha256, context.http_client)[1].read_bytes()

    return [read_patch(s, context.manifest.directory, fetch_patch) for s in spec.patches]


def edit(context: BuildContext, spec: HotfixSpec, workspace: Path) -> EditResult:
    """Make (or reuse) the workspace of `spec`; refuses one with uncommitted work."""
    manifest = context.manifest
    inputs = inputs_key(spec, manifest.settings.label, manifest.directory)
    existing = workspace_in_use(workspace, spec.name)
    if existing is not None and (existing.name, existing.version, existing.inputs) == (
        spec.name,
        spec.version,
        inputs,
    ):
        return EditResult(workspace, reused=True, patches=len(spec.patches))
    from pyhotfix.wheelmode.releases import fetch_upstream_source  # wheel mode: lazily

    sdist_path, sdist_filename = fetch_upstream_source(
        context.upstream_url, spec.name, spec.version, spec.source, spec.platforms,
        context.cache, context.http_client,
    )  # fmt: skip
    patches = read_patches(context, spec)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    # Built next to its final place, then renamed: a failed patch leaves no half workspace.
    with tempfile.TemporaryDirectory(prefix=f".tmp-{spec.name}-", dir=workspace.parent) as tmp:
        tree = unpack_sdist(sdist_path, Path(tmp), display_name=sdist_filename)
        apply_patches(tree.root, patches, keep_git=True, target=f"{spec.name} {spec.version}")
        prepare_workspace_repo(tree.root)
        head = Git(tree.root).text("rev-parse", "HEAD")
        write_meta(tree.root, WorkspaceMeta(EDIT, spec.name, spec.version, inputs, head))
        if workspace.exists():
            shutil.rmtree(workspace)  # clean but outdated (checked above)
        tree.root.replace(workspace)
    return EditResult(workspace, reused=False, patches=len(spec.patches))


def _checked_meta(context: BuildContext, spec: HotfixSpec, workspace: Path) -> WorkspaceMeta:
    meta = read_meta(workspace)
    if meta is None:
        raise LifecycleError(
            f"There is no pyhotfix workspace at {workspace}. Make one with `pyhotfix edit "
            f"{spec.name}{dir_option(workspace, spec.name)}`."
        )
    if meta.name != spec.name:
        raise LifecycleError(
            f"The workspace {workspace} belongs to the hotfix {meta.name}, not {spec.name}. "
            "Pass the right --dir."
        )
    if meta.mode == REBASE:
        raise LifecycleError(
            f"The workspace {workspace} holds a rebase onto {meta.rebase.get('to')} that is not "
            f"finished: resolve the conflicts there, then run `pyhotfix rebase {spec.name} "
            f"--continue{dir_option(workspace, spec.name)}` (or `--abort`)."
        )
    manifest = context.manifest
    inputs = inputs_key(spec, manifest.settings.label, manifest.directory)
    if (meta.version, meta.inputs) != (spec.version, inputs):
        raise LifecycleError(
            f"hotfixes.toml or the patches of {spec.name} changed since the workspace "
            f"{workspace} was made (it is based on {meta.version}), so a patch made from it may "
            f"not fit. Save your changes (`{git_in(workspace)} add --all && {git_in(workspace)} "
            f"diff --cached --binary HEAD > my.diff`), delete the workspace, run `pyhotfix edit "
            f"{spec.name}{dir_option(workspace, spec.name)}` and apply them again (`git apply`)."
        )
    return meta


def commit(
    context: BuildContext,
    spec: HotfixSpec,
    workspace: Path,
    message: str | None,
    fields: Dep3Headers | None = None,
) -> CommitResult:
    """Turn the workspace's new changes into the next patch, add it to the manifest, build.

    The patch's DEP-3 fields (`fields`, Origin by default "pyhotfix edit of …", Forwarded "no")
    end its commit message; its Description is the message."""
    trailers = _trailers(
        spec, fields or Dep3Headers()
    )  # a bad value is refused before anything is made
    meta = _checked_meta(context, spec, workspace)
    git = Git(workspace)
    if git.must("ls-files", "--unmerged"):
        raise LifecycleError(
            f"The workspace {workspace} has unresolved merge conflicts. Resolve them (and "
            f"`git add` the files), then run `pyhotfix commit {spec.name}"
            f"{dir_option(workspace, spec.name)}` again."
        )
    tree, changed = worktree_tree(git, meta.base)
    if not changed:
        return CommitResult(workspace, None, (), None)
    marked = files_with_markers(git, tree, changed)
    if marked:
        raise LifecycleError(
            f"{', '.join(marked)} in {workspace} still contain conflict markers (<<<<<<<, "
            f"=======, >>>>>>>). Resolve them, then run `pyhotfix commit {spec.name}"
            f"{dir_option(workspace, spec.name)}` again."
        )
    text = _message(git, meta.base, message, changed, trailers)
    user = git.with_env(**user_identity_env())
    new_commit = user.commit_tree(tree, meta.base, text)
    content = format_patch(git, new_commit)
    manifest = context.manifest
    rel = next_patch_path(manifest, spec.name, text.splitlines()[0], len(spec.patches) + 1)
    edits = FileEdits()
    with undo_on_error(edits):
        edits.save(manifest.path)
        edits.write(manifest.directory / rel, content)
        upsert_hotfix(manifest.path, spec.name, spec.version, [FilePatch(rel)], None)
        new_manifest = load_manifest(manifest.path)
        new_spec = new_manifest.get(spec.name)
        result = build_one(replace(context, manifest=new_manifest), new_spec, BuildOptions())
        if result.status == "failed":
            raise LifecycleError(
                f"The build of {spec.name} with the new patch failed: {result.message} "
                f"hotfixes.toml and patches/ were left as they were; your changes are still in "
                f"{workspace}."
            )
    # The workspace now starts from the new patch, so a second commit only takes newer changes.
    git.must("update-ref", "HEAD", new_commit)
    git.must("read-tree", new_commit)
    new_inputs = inputs_key(new_spec, new_manifest.settings.label, new_manifest.directory)
    write_meta(workspace, replace(meta, base=new_commit, inputs=new_inputs))
    return CommitResult(workspace, rel, tuple(changed), result)


def _message(
    git: Git,
    base: str,
    message: str | None,
    changed: list[str],
    trailers: str,
) -> str:
    if not message:
        # The user's own commits in the workspace, if any, else the files changed.
        subjects = git.run("log", "--reverse", "--format=%s", f"{base}..HEAD")
        lines = (
            subjects.stdout.decode("utf-8", "replace").split("\n")
            if subjects.returncode == 0
            else []
        )
        lines = [s.strip() for s in lines if s.strip()]
        if lines:
            message = (
                "\n\n".join([lines[0], *(f"- {s}" for s in lines[1:])])
                if len(lines) > 1
                else lines[0]
            )
        elif len(changed) <= 2:
            message = f"Change {' and '.join(changed)}"
        else:
            message = f"Change {len(changed)} files"
    return f"{message.strip()}\n\n{trailers}"


def _trailers(spec: HotfixSpec, fields: Dep3Headers) -> str:
    """The DEP-3 lines that end the patch's commit message (git keeps them in the commit)."""
    defaults = Dep3Headers(
        origin=f"pyhotfix edit of {spec.name} {spec.version} (sdist)", forwarded="no"
    )
    try:
        lines = field_lines(defaults.merged(replace(fields, description=None)))
    except ValueError as exc:
        raise UsageError(f"The patch's DEP-3 fields cannot be written: {exc}.") from None
    return "".join(line + "\n" for line in lines)
