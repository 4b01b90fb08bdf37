"""`edit`, `commit`, `status`, `rebase` and `retire`: the hotfix lifecycle (issue #5)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pyhotfix.cli import render, reports
from pyhotfix.cli.build import print_build_report
from pyhotfix.cli.options import dir_option, json_option, names_argument, reason_option
from pyhotfix.cli.render import say
from pyhotfix.cli.session import (
    build_context,
    cache,
    lifecycle_workspace,
    manifest_path,
    progress,
    upstream_url,
)
from pyhotfix.errors import UsageError
from pyhotfix.manifest import load_manifest

if TYPE_CHECKING:
    from pyhotfix.lifecycle.status import HotfixStatus

__all__ = ["commit", "edit", "rebase", "retire", "status"]


@click.command()
@click.argument("name")
@dir_option()
@click.pass_context
def edit(ctx: click.Context, name: str, directory: Path | None) -> None:
    """Unpack NAME's upstream sdist into a git workspace, one commit per patch, to edit.

    Prints the workspace's path. Edit there with your own tools, then run `pyhotfix commit NAME`.
    """
    from pyhotfix.lifecycle.workspace import edit as make_workspace

    manifest = load_manifest(manifest_path(ctx))
    spec = manifest.get(name)
    workspace = lifecycle_workspace(manifest, spec.name, directory)
    result = make_workspace(build_context(manifest, lambda n, s: None), spec, workspace)
    state = "is up to date" if result.reused else "is ready"
    say(
        f"The workspace of {spec.name} {spec.version} {state}: the pristine sdist and "
        f"{result.patches} patch(es) as git commits. Edit the files there, then run "
        f"`pyhotfix commit {spec.name} -m MESSAGE`."
    )
    click.echo(str(result.workspace))
    ctx.exit(0)


@click.command()
@click.argument("name")
@click.option("-m", "--message", help="The patch's description (default: your commits' subjects).")
@click.option("--forwarded", metavar="URL", help="Where the change was sent upstream (PR, issue).")
@click.option("--bug", metavar="URL", help="The upstream bug report the patch fixes.")
@click.option(
    "--origin",
    metavar="TEXT",
    help='Where the change comes from, e.g. "upstream, URL" or "backport, URL" (DEP-3).',
)
@click.option(
    "--applied-upstream",
    metavar="TEXT",
    help="The upstream version, commit or URL that has the change.",
)
@dir_option()
@json_option("Print the build report as JSON.")
@click.pass_context
def commit(
    ctx: click.Context,
    name: str,
    message: str | None,
    forwarded: str | None,
    bug: str | None,
    origin: str | None,
    applied_upstream: str | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Turn the workspace's new changes into the next patch of NAME, add it, and build.

    The patch is patches/NAME/NNNN-<slug>.patch (git format-patch style; its message ends with
    DEP-3 Origin:, Forwarded: and, when given, Bug: and Applied-Upstream: lines). With nothing
    changed, nothing is written.
    """
    from pyhotfix.lifecycle.workspace import commit as commit_workspace
    from pyhotfix.patching.dep3 import Dep3Headers

    fields = Dep3Headers(
        origin=origin, bug=bug, forwarded=forwarded, applied_upstream=applied_upstream
    )

    manifest = load_manifest(manifest_path(ctx))
    spec = manifest.get(name)
    workspace = lifecycle_workspace(manifest, spec.name, directory)
    with progress(render.stderr.is_terminal and not as_json) as on_stage:
        result = commit_workspace(
            build_context(manifest, on_stage), spec, workspace, message, fields
        )
    if result.patch is None:
        say(f"No changes in {workspace} since the last patch: nothing was written.")
        ctx.exit(0)
    assert result.build is not None
    say(
        f"Wrote {result.patch} (changes {', '.join(result.files)}) and added it to "
        f"{manifest.path.name}."
    )
    print_build_report([result.build], as_json)
    ctx.exit(0)


@click.command()
@names_argument()
@json_option()
@click.option("--check", is_flag=True, help="Exit 3 when any hotfix needs action (for CI).")
@click.option("--pre", is_flag=True, help="Consider pre-releases too.")
@click.option(
    "--newest",
    is_flag=True,
    help="Judge against the newest release only: rebase → it, or conflict → it.",
)
@click.pass_context
def status(
    ctx: click.Context,
    names: tuple[str, ...],
    as_json: bool,
    check: bool,
    pre: bool,
    newest: bool,
) -> None:
    """For each hotfix (or NAMES): newer upstream releases, whether they contain each patch or it
    still applies, and what to do: keep, retire → V, rebase → V or conflict → V.

    Exit status: 0; 3 with --check when a hotfix needs action; 1 when the index could not be
    reached (answers from the cache are shown, marked stale) or a hotfix could not be checked.
    """
    from pyhotfix.lifecycle.status import StatusOptions
    from pyhotfix.lifecycle.status import status as check_status
    from pyhotfix.patching.dep3 import patch_infos

    manifest = load_manifest(manifest_path(ctx))
    results = check_status(
        manifest,
        names,
        upstream_url=upstream_url(manifest),
        cache=cache(),
        options=StatusOptions(pre=pre, newest=newest),
    )
    stale = any(r.stale for r in results)
    failed = any(r.error is not None and not r.stale for r in results)
    needs_action = any(r.needs_action for r in results)
    specs = {spec.name: spec for spec in manifest.hotfixes}
    infos = {r.name: patch_infos(specs[r.name], manifest.directory) for r in results}
    if as_json:
        document = {
            "stale": stale,
            "needs_action": needs_action,
            "hotfixes": [
                {**r.to_json(), "patch_info": [i.to_json() for i in infos[r.name]]} for r in results
            ],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        cells = {name: reports.patch_info_cell(found) for name, found in infos.items()}
        reports.render_status(results, cells if any(cells.values()) else None)
    reports.render_status_problems(results)
    if failed or stale:
        ctx.exit(1)
    ctx.exit(3 if check and needs_action else 0)


@click.command()
@click.argument("name")
@click.option("--to", "to_version", metavar="VERSION", help="The upstream release to move to.")
@click.option("--continue", "continue_", is_flag=True, help="Finish after resolving conflicts.")
@click.option("--abort", is_flag=True, help="Drop a stopped rebase (deletes its workspace).")
@dir_option()
@json_option("Print the build report as JSON.")
@click.pass_context
def rebase(
    ctx: click.Context,
    name: str,
    to_version: str | None,
    continue_: bool,
    abort: bool,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Carry NAME's patches onto upstream VERSION with 3-way merges, then build and publish.

    On a conflict nothing is published and nothing in the manifest or patches changes: a
    workspace holds the conflict markers; resolve them there and run `pyhotfix rebase NAME
    --continue` (or `--abort`). Exits 1 when it stops at a conflict.
    """
    from pyhotfix.lifecycle.rebase import abort_rebase, continue_rebase
    from pyhotfix.lifecycle.rebase import rebase as rebase_hotfix

    if sum((to_version is not None, continue_, abort)) != 1:
        raise UsageError("Give exactly one of --to VERSION, --continue and --abort.")
    manifest = load_manifest(manifest_path(ctx))
    spec = manifest.get(name)
    workspace = lifecycle_workspace(manifest, spec.name, directory)
    if abort:
        target = abort_rebase(spec, workspace)
        say(f"Dropped the rebase of {spec.name} onto {target}; nothing else was changed.")
        ctx.exit(0)
    with progress(render.stderr.is_terminal and not as_json) as on_stage:
        context = build_context(manifest, on_stage)
        if continue_:
            result = continue_rebase(context, spec, workspace)
        else:
            assert to_version is not None
            result = rebase_hotfix(context, spec, to_version, workspace)
    for change in result.done:
        say(f"{change.label}: {change.state}, {change.action}")
    if result.workspace is not None:
        from pyhotfix.lifecycle.common import dir_option as dir_advice

        where = dir_advice(result.workspace, spec.name)
        say(
            f"{result.conflict_patch} does not apply to "
            f"{spec.name} {result.to_version} ({', '.join(result.conflicts)}). Nothing was "
            f"published and hotfixes.toml is unchanged. Resolve the conflicts in "
            f"{result.workspace} (`git status` there lists them) and mark each with `git add` (or "
            f"`git rm`), then run `pyhotfix rebase {spec.name} --continue{where}`; or `pyhotfix "
            f"rebase {spec.name} --abort{where}`.",
            "[bold yellow]conflict:[/] ",
        )
        click.echo(str(result.workspace))
        ctx.exit(1)
    assert result.build is not None
    say(f"{spec.name} moved from {result.from_version} to {result.to_version}.")
    print_build_report([result.build], as_json)
    ctx.exit(0)


@click.command()
@click.argument("name")
@click.option("--yank", is_flag=True, help="Yank the hotfix's builds in the index (PEP 592).")
@reason_option("The yank reason shown by installers.")
@click.option("--delete", is_flag=True, help="Delete the patch files instead of moving them.")
@click.option(
    "--force",
    is_flag=True,
    help="Retire even though no upstream release is known to contain the fix.",
)
@json_option("Print the result as JSON.")
@click.pass_context
def retire(
    ctx: click.Context,
    name: str,
    yank: bool,
    reason: str | None,
    delete: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Drop hotfix NAME: remove it from the manifest and lock, move its patch files to
    patches/.retired/, optionally yank its builds, and print the requirement to use instead.

    Refused unless `pyhotfix status` finds an upstream release containing every patch (the
    requirement then names it); --force retires anyway, with a warning."""
    from pyhotfix.lifecycle.retire import fix_evidence
    from pyhotfix.lifecycle.retire import retire as retire_hotfix
    from pyhotfix.lifecycle.status import status as check_status

    manifest = load_manifest(manifest_path(ctx))
    spec = manifest.get(name)

    def spec_status() -> HotfixStatus:
        (found,) = check_status(
            manifest, [spec.name], upstream_url=upstream_url(manifest), cache=cache()
        )
        return found

    evidence = fix_evidence(spec_status)
    index = build_context(manifest, lambda n, s: None).index if yank else None
    result = retire_hotfix(
        manifest,
        spec,
        fixed_in=evidence.fixed_in,
        without_fix=evidence.without_fix,
        unknown_because=evidence.unknown_because,
        force=force,
        index=index,
        reason=reason,
        delete=delete,
    )
    if not result.fixed_upstream:
        say(
            f"retired {spec.name} although no upstream release is known to contain its fix "
            f"({evidence.unknown_because}): the app now gets upstream {spec.version} without the patches.",
            "[yellow]warning:[/] ",
        )
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
        ctx.exit(0)
    say(f"Removed {spec.name} {spec.version} from {manifest.path.name} and the lock.")
    for src, dst in result.moved:
        say(f"Moved {src} to {dst}.")
    for path in result.deleted:
        say(f"Deleted {path}.")
    for path in result.kept:
        say(f"Kept {path}: another hotfix uses it.")
    if result.yanked:
        say(f"Yanked {', '.join(result.yanked)} in the index.")
    elif yank:
        say("The index had no unyanked build of it to yank.")
    if result.fixed_upstream:
        click.echo(
            f"Change the app's requirement: {result.requirement_before} → "
            f"{result.requirement_after}"
        )
    else:
        click.echo(f"The app's requirement: {result.requirement_after} (upstream, without the fix)")
    ctx.exit(0)
