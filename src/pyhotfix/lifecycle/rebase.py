"""`pyhotfix rebase NAME --to VERSION`: carry a hotfix's patches onto another upstream release.

The old upstream sdist and its patches become git history (`series.build_series`), the new
upstream is committed beside it, and each patch is carried over with a real three-way merge
(`series.replay`). Patches the new release already contains are dropped (their files move to
`patches/.retired/<name>/`).

- Every patch carried: the patch files are rewritten from the carried commits (same names; a URL
  or git patch that needed a merge becomes a local file), the manifest gets the new version, and
  the pipeline builds and publishes `VERSION+hotfix.N`. If that build fails, the manifest and
  patch files are restored.
- A conflict: nothing is written except a workspace (default `.pyhotfix/work/<name>/`) holding
  the new release with the earlier patches committed and the conflicting one applied with
  conflict markers (`git status` lists the files). Resolve them there and mark each with
  `git add` (or `git rm`), then `pyhotfix rebase NAME --continue` carries the remaining patches
  and finishes as above (it refuses while a path is unmerged or still has markers);
  `pyhotfix rebase NAME --abort` deletes the workspace.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from packaging.version import InvalidVersion, Version

from pyhotfix._git import Git
from pyhotfix.errors import LifecycleError, UsageError
from pyhotfix.lifecycle.common import (
    REBASE,
    FileEdits,
    WorkspaceMeta,
    dir_option,
    files_with_markers,
    format_patch,
    git_in,
    next_patch_path,
    prepare_workspace_repo,
    read_meta,
    retired_path,
    undo_on_error,
    workspace_in_use,
    worktree_tree,
    write_meta,
)
from pyhotfix.lifecycle.series import (
    APPLIES,
    CONFLICTS,
    PatchState,
    Series,
    SeriesPatch,
    build_series,
    import_release,
    replay,
)
from pyhotfix.lifecycle.workspace import read_patches
from pyhotfix.manifest import FilePatch, HotfixSpec, PatchSource, load_manifest, set_hotfix_patches
from pyhotfix.patching import PatchInput
from pyhotfix.patching.diff import MBOX_FROM
from pyhotfix.pipeline import BuildContext, BuildOptions, HotfixResult, build_one, inputs_key

RESOLVED: Final = "resolved"  # a conflict the user resolved in the workspace
DROPPED: Final = "dropped"  # a conflict the user resolved by removing the patch's change
ChangeState = PatchState | Literal["resolved", "dropped"]


@dataclass(frozen=True)
class PatchChange:
    label: str
    state: ChangeState
    action: str  # what happened to the patch file, e.g. "rewritten", "retired to …"


@dataclass(frozen=True)
class RebaseResult:
    name: str
    from_version: str
    to_version: str
    done: tuple[PatchChange, ...]  # patches carried so far (all of them when finished)
    workspace: Path | None = None  # set when stopped at a conflict
    conflict_patch: str | None = None
    conflicts: tuple[str, ...] = ()
    build: HotfixResult | None = None


def _check_version(spec: HotfixSpec, to_version: str) -> str:
    try:
        parsed = Version(to_version)
    except InvalidVersion:
        raise UsageError(f"--to {to_version!r} is not a version (PEP 440).") from None
    if parsed.local is not None:
        raise UsageError(f"--to {to_version!r}: give the upstream release, without +local.")
    if parsed == Version(spec.version):
        raise UsageError(f"{spec.name} is already hotfixed at {spec.version}; nothing to rebase.")
    return to_version


def rebase(
    context: BuildContext, spec: HotfixSpec, to_version: str, workspace: Path
) -> RebaseResult:
    to_version = _check_version(spec, to_version)
    workspace_in_use(workspace, spec.name)
    manifest = context.manifest
    inputs = inputs_key(spec, manifest.settings.label, manifest.directory)
    from pyhotfix.wheelmode.releases import fetch_upstream_source  # wheel mode: lazily

    old_path, _ = fetch_upstream_source(
        context.upstream_url, spec.name, spec.version, spec.source, spec.platforms,
        context.cache, context.http_client,
    )  # fmt: skip
    new_path, _ = fetch_upstream_source(
        context.upstream_url, spec.name, to_version, spec.source, spec.platforms,
        context.cache, context.http_client,
    )  # fmt: skip
    patches = read_patches(context, spec)
    with tempfile.TemporaryDirectory(prefix=f"pyhotfix-rebase-{spec.name}-") as tmp:
        series = build_series(old_path, patches, Path(tmp), f"{spec.name} {spec.version}")
        onto = import_release(series, new_path, Path(tmp) / "release", to_version)
        outcomes, head = replay(series, onto, stop_on_conflict=True)
        assert head is not None  # replay commits by default
        changes = [(o.state, o.commit) for o in outcomes]
        if outcomes and outcomes[-1].state == CONFLICTS:
            state: dict[str, Any] = {
                "from": spec.version,
                "to": to_version,
                "onto": onto,
                "pristine": series.pristine,
                "patches": [vars(p) for p in series.patches],
                "done": changes[:-1],
            }
            meta = WorkspaceMeta(REBASE, spec.name, spec.version, inputs, head, state)
            return _stop(series, meta, len(outcomes) - 1, workspace, outcomes[-1].conflicts)
        return _finish(context, spec, to_version, series.git, series.patches, changes, patches)


def continue_rebase(context: BuildContext, spec: HotfixSpec, workspace: Path) -> RebaseResult:
    meta = _rebase_meta(spec, workspace)
    manifest = context.manifest
    if (meta.version, meta.inputs) != (
        spec.version,
        inputs_key(spec, manifest.settings.label, manifest.directory),
    ):
        raise LifecycleError(
            f"hotfixes.toml or the patches of {spec.name} changed since this rebase started, so "
            f"it cannot be finished. Run `pyhotfix rebase {spec.name} --abort"
            f"{dir_option(workspace, spec.name)}` and start again."
        )
    state = meta.rebase
    git = Git(workspace)
    series = Series(
        root=workspace,
        pristine=state["pristine"],
        patches=tuple(SeriesPatch(**p) for p in state["patches"]),
    )
    k = len(state["done"])
    tree, changed = worktree_tree(git, meta.base)
    marked = files_with_markers(git, tree, changed)
    if marked:
        raise LifecycleError(
            f"{', '.join(marked)} in {workspace} still contain conflict markers (<<<<<<<, "
            f"|||||||, =======, >>>>>>>). Resolve them, mark each file resolved with "
            f"`{git_in(workspace)} add PATH`, then run `pyhotfix rebase {spec.name} --continue"
            f"{dir_option(workspace, spec.name)}` again."
        )
    unmerged = unmerged_paths(git)
    if unmerged:
        raise LifecycleError(_unmerged_message(spec.name, workspace, unmerged))
    git.run("cherry-pick", "--quit")  # forget the stopped cherry-pick; its result is the tree
    if changed:
        head = git.commit_tree(tree, meta.base, series.patches[k].message)
        resolved: tuple[str, str | None] = (RESOLVED, head)
    else:
        head, resolved = meta.base, (DROPPED, None)
    git.must("update-ref", "HEAD", head)
    git.must("read-tree", head)
    outcomes, carried = replay(series, state["onto"], start=k + 1, head=head, stop_on_conflict=True)
    assert carried is not None  # replay commits by default
    head = carried
    changes = [*map(tuple, state["done"]), resolved, *((o.state, o.commit) for o in outcomes)]
    if outcomes and outcomes[-1].state == CONFLICTS:
        new_state = {**state, "done": changes[:-1]}
        new_meta = replace(meta, base=head, rebase=new_state)
        return _stop(series, new_meta, len(changes) - 1, workspace, outcomes[-1].conflicts)
    patches = read_patches(context, spec)
    result = _finish(context, spec, state["to"], git, series.patches, changes, patches)
    shutil.rmtree(workspace)
    return result


def unmerged_paths(git: Git) -> dict[str, frozenset[int]]:
    """Paths git still holds as unmerged (`git ls-files -u`), with the stages present: 1 the
    old upstream, 2 the release ("ours"), 3 the patch ("theirs")."""
    found: dict[str, set[int]] = {}
    for entry in git.must("ls-files", "--unmerged", "-z").split(b"\0"):
        info, tab, path = entry.partition(b"\t")
        fields = info.split()
        if tab and len(fields) == 3 and fields[2].isdigit():
            found.setdefault(os.fsdecode(path), set()).add(int(fields[2]))
    return {path: frozenset(stages) for path, stages in sorted(found.items())}


def _unmerged_message(name: str, workspace: Path, unmerged: Mapping[str, frozenset[int]]) -> str:
    # A conflict without markers (modify/delete, add/add of a binary...) leaves the file looking
    # finished; only git's index says it is not, so the user must say how it ends.
    kinds = []
    for path, stages in unmerged.items():
        if 2 not in stages:
            kind = "changed by the patch, deleted or moved by the release"
        elif 3 not in stages:
            kind = "deleted by the patch, changed by the release"
        else:
            kind = "changed by both"
        kinds.append(f"{path} ({kind})")
    shown = "; ".join(kinds[:10]) + (f"; and {len(kinds) - 10} more" if len(kinds) > 10 else "")
    return (
        f"The rebase of {name} in {workspace} still has unresolved paths: {shown}. For each: "
        f"make the file what the rebased hotfix should contain (when the release moved the code, "
        f"carry the patch's change into its new place), then mark it resolved with "
        f"`{git_in(workspace)} add PATH`, or `{git_in(workspace)} rm PATH` if the file should "
        f"not exist. Then run `pyhotfix rebase {name} --continue{dir_option(workspace, name)}` "
        "again."
    )


def abort_rebase(spec: HotfixSpec, workspace: Path) -> str:
    meta = _rebase_meta(spec, workspace)
    shutil.rmtree(workspace)
    return str(meta.rebase.get("to"))


def _rebase_meta(spec: HotfixSpec, workspace: Path) -> WorkspaceMeta:
    meta = read_meta(workspace)
    if meta is None or meta.mode != REBASE or meta.name != spec.name:
        raise LifecycleError(
            f"No rebase of {spec.name} is in progress at {workspace}. Start one with "
            f"`pyhotfix rebase {spec.name} --to VERSION{dir_option(workspace, spec.name)}`."
        )
    return meta


def _stop(
    series: Series, meta: WorkspaceMeta, k: int, workspace: Path, conflicts: Sequence[str]
) -> RebaseResult:
    """Leave the workspace at the conflict: head checked out, patch k applied with markers."""
    git = series.git
    patch = series.patches[k]
    git.must("checkout", "--quiet", "--force", "-B", "pyhotfix", meta.base)
    theirs = git.commit_tree(git.tree_of(patch.tip), patch.base, patch.message)
    # diff3 markers show the old upstream's lines too: what the patch was written against.
    git.run("cherry-pick", "--no-commit", theirs, config=("merge.conflictStyle=diff3",))
    prepare_workspace_repo(series.root)
    write_meta(series.root, meta)
    if series.root != workspace:
        if workspace.exists():
            shutil.rmtree(workspace)  # an up-to-date edit workspace without changes (checked)
        workspace.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(series.root, workspace)
    done = tuple(
        PatchChange(p.label, state, "carried")
        for p, (state, _c) in zip(series.patches, meta.rebase["done"], strict=False)
    )
    return RebaseResult(
        name=meta.name,
        from_version=meta.rebase["from"],
        to_version=meta.rebase["to"],
        done=done,
        workspace=workspace,
        conflict_patch=patch.label,
        conflicts=tuple(conflicts),
    )


def _finish(
    context: BuildContext,
    spec: HotfixSpec,
    to_version: str,
    git: Git,
    members: Sequence[SeriesPatch],
    changes: Sequence[tuple[ChangeState, str | None]],
    patches: Sequence[PatchInput],
) -> RebaseResult:
    """Rewrite the patch files, set the version, build and publish; undo everything on failure."""
    if all(commit is None for _state, commit in changes):
        if any(state == DROPPED for state, _commit in changes):
            # The user emptied a patch while resolving: status may not see the fix upstream, so
            # a plain retire could be refused; say what each way out means.
            raise LifecycleError(
                f"Nothing of {spec.name}'s patches is left to carry onto {to_version}: the "
                f"release contains some and the conflict resolution removed the rest. If "
                f"{to_version} has the fix, drop the rebase (`pyhotfix rebase {spec.name} "
                f"--abort{dir_option(git.root, spec.name)}`) and retire the hotfix: `pyhotfix "
                f"retire {spec.name}` (add --force if status does not see the fix). Otherwise "
                "abort and rebase again, keeping the change when you resolve the conflict. "
                "Nothing was changed."
            )
        raise LifecycleError(
            f"{to_version} already contains every patch of {spec.name}: there is nothing left to "
            f"carry. Retire the hotfix instead: `pyhotfix retire {spec.name}` (it prints the "
            "requirement to use). Nothing was changed."
        )
    manifest = context.manifest
    edits = FileEdits()
    done: list[PatchChange] = []
    sources: list[PatchSource] = []
    with undo_on_error(edits):
        edits.save(manifest.path)
        for i, (source, member, patch, (state, commit)) in enumerate(
            zip(spec.patches, members, patches, changes, strict=True)
        ):
            if commit is None:
                action = "dropped from the manifest"
                if isinstance(source, FilePatch) and _only_user(manifest.hotfixes, spec, source):
                    path = manifest.directory / source.path
                    target = retired_path(manifest, spec.name, path)
                    if path.exists():
                        edits.move(path, target)
                        action = f"moved to {target.relative_to(manifest.directory)}"
                done.append(PatchChange(patch.label, state, action))
                continue
            content = _refreshed(git, member, commit, patch.content)
            if isinstance(source, FilePatch):
                edits.write(manifest.directory / source.path, content)
                sources.append(source)
                action = "rewritten" if content != patch.content else "unchanged"
            elif state == APPLIES:
                sources.append(source)  # still applies as published: keep the pinned source
                action = "unchanged (still applies)"
            else:
                subject = member.message.splitlines()[0] if member.message else patch.label
                rel = next_patch_path(manifest, spec.name, subject, i + 1)
                edits.write(manifest.directory / rel, content)
                sources.append(FilePatch(rel))
                action = f"replaced by {rel}"
            done.append(PatchChange(patch.label, state, action))
        set_hotfix_patches(manifest.path, spec.name, to_version, sources)
        new_manifest = load_manifest(manifest.path)
        result = build_one(
            replace(context, manifest=new_manifest), new_manifest.get(spec.name), BuildOptions()
        )
        if result.status == "failed":
            raise LifecycleError(
                f"The rebased {spec.name} {to_version} did not build: {result.message} Nothing "
                "was published; hotfixes.toml and the patch files were left as they were."
            )
    return RebaseResult(spec.name, spec.version, to_version, tuple(done), build=result)


def _only_user(hotfixes: Sequence[HotfixSpec], spec: HotfixSpec, source: PatchSource) -> bool:
    return not any(source in h.patches for h in hotfixes if h.name != spec.name)


_FIRST_DIFF = re.compile(rb"^(diff --git |--- \S)", re.MULTILINE)


def _refreshed(git: Git, member: SeriesPatch, commit: str, original: bytes) -> bytes:
    """The carried patch in the original's format: a format-patch mail keeps its message and
    author; a plain diff keeps whatever text came before its first file (its description)."""
    if MBOX_FROM.match(original):
        fields = git.text("log", "-1", "--format=%an%x00%ae%x00%ad", "--date=raw", member.tip)
        name, email, date = fields.split("\0")
        author = git.with_env(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date)
        mail = author.commit_tree(git.tree_of(commit), f"{commit}^", member.message)
        return format_patch(git, mail)
    found = _FIRST_DIFF.search(original)
    preamble = original[: found.start()] if found else b""
    diff = git.must(
        "diff",
        "--binary",
        "--no-color",
        "--no-ext-diff",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        f"{commit}^",
        commit,
    )
    return preamble + diff
