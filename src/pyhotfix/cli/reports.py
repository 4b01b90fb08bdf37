"""How each command's result reads: one renderer per result type of the library.

Cells are rich markup, so every literal value is escaped. Tables go to stdout, messages to stderr
(`pyhotfix.cli.render` holds both consoles; they are looked up when printing, so tests can swap
them)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from pyhotfix.cli import render
from pyhotfix.cli.render import Column, print_error, print_line, print_table, say

if TYPE_CHECKING:
    from pyhotfix.deploy.pin import PinResult
    from pyhotfix.deploy.verify import VerifyReport
    from pyhotfix.index.integrity import FileCheck
    from pyhotfix.lifecycle.status import HotfixStatus
    from pyhotfix.listing import ListedHotfix
    from pyhotfix.manifest import Manifest
    from pyhotfix.patching.dep3 import PatchInfo
    from pyhotfix.pipeline import HotfixResult
    from pyhotfix.publish import PublishedFile

__all__ = [
    "local_url_note",
    "patch_info_cell",
    "render_build",
    "render_check",
    "render_list",
    "render_pin",
    "render_publish",
    "render_status",
    "render_status_problems",
    "render_verify",
    "render_yank",
    "say_no_hotfixes",
]


def say_no_hotfixes(manifest: Manifest) -> None:
    """An empty manifest is not an error (exit 0): there is nothing to list or build."""
    say(f"No hotfixes in {manifest.path}; add one with `pyhotfix add NAME==VERSION --patch FILE`.")


def render_build(results: Sequence[HotfixResult]) -> None:
    for result in results:
        for warning in result.warnings:
            print_line(render.stderr, f"[yellow]warning:[/] {result.name}: {escape(warning)}")
    from pyhotfix.platforms import file_platform

    colours = {"built": "green", "up-to-date": "cyan", "failed": "red"}
    print_table(
        render.stdout,
        ("name", "upstream", "hotfix version", "files", "platform", "seconds", "result"),
        [
            (
                escape(r.name),
                escape(r.version),
                escape(r.hotfix_version or "-"),
                escape("\n".join(r.files) or "-"),
                escape("\n".join(file_platform(f) for f in r.files) or "-"),
                f"{r.seconds:.1f}",
                f"[{colours[r.status]}]{r.status}[/]",
            )
            for r in results
        ],
    )
    for r in results:
        if r.message:
            print_error(render.stderr, f"{r.name}: {r.message}")


def render_list(rows: Sequence[ListedHotfix]) -> None:
    shown = {"yes": "[green]yes[/]", "no": "[yellow]no[/]", "mismatch": "[bold red]mismatch[/]"}
    # The requires-dist and patch info columns show only when some hotfix has them.
    edits = any(row.requires_dist for row in rows)
    infos = [patch_info_cell(row.patch_info, row.fixes) for row in rows]
    with_info = any(infos)  # no DEP-3 fields or advisories anywhere: no such column
    columns: list[str | Column] = ["name", "upstream", "hotfix version", "patches"]
    if edits:
        columns.append("requires-dist")
    columns += ["in index", Column("reason", prose=True)]
    if with_info:
        columns.append(Column("patch info", prose=True))
    print_table(
        render.stdout,
        columns,
        [
            [
                escape(row.name),
                escape(row.version),
                escape(row.hotfix_version or "not built"),
                str(row.patches),
                *([escape("\n".join(_requires_dist_cells(row)))] if edits else []),
                shown[row.index],
                escape(row.reason or ""),
                *([escape(info)] if with_info else []),
            ]
            for row, info in zip(rows, infos, strict=True)
        ],
    )
    mismatches = [detail for row in rows for detail in row.mismatches]
    for detail in mismatches:
        print_line(render.stderr, f"[bold red]mismatch:[/] {escape(detail)}")
    if mismatches:
        print_line(render.stderr, "Run `pyhotfix check` for every file and how to repair it.")


def _requires_dist_cells(row: ListedHotfix) -> list[str]:
    return [e.requirement or f"{e.name}: removed" for e in row.requires_dist]


def patch_info_cell(infos: Sequence[PatchInfo], fixes: Sequence[str] = ()) -> str:
    """The DEP-3 fields of each patch file, one line each, and the advisories fixed."""
    lines = [info.summary() for info in infos if info.headers.fields()]
    if fixes:
        lines.append(f"fixes {', '.join(fixes)}")
    return "\n".join(lines)


def render_publish(where: str, files: Sequence[PublishedFile]) -> None:
    print_line(render.stdout, escape(f"Published to {where}:"))
    colours = {"added": "green", "unchanged": "cyan"}
    print_table(
        render.stdout,
        ("name", "file", "result"),
        [
            (escape(f.name), escape(f.filename), f"[{colours[f.status]}]{f.status}[/]")
            for f in files
        ],
    )


def render_check(where: str, checks: Sequence[FileCheck], advice: str) -> None:
    print_line(render.stdout, escape(f"Checked {where}:"))
    print_table(
        render.stdout,
        ("name", "file", "result"),
        [
            (
                escape(c.name),
                escape(c.filename),
                f"[{'green' if c.status == 'ok' else 'bold red'}]{c.status}[/]",
            )
            for c in checks
        ],
    )
    problems = [c for c in checks if c.status != "ok"]
    for c in problems:
        print_line(render.stderr, f"[bold red]{c.status}:[/] {escape(c.detail)}")
    if problems:
        print_line(render.stderr, escape(advice))


def render_yank(where: str, name: str, version: str, files: Sequence[str], yanked: bool) -> None:
    verb = "Yanked" if yanked else "Un-yanked"
    print_line(render.stdout, escape(f"{verb} {name} {version} in {where}:"))
    for filename in files:
        print_line(render.stdout, escape(f"  {filename}"))
    if yanked:
        print_line(render.stdout, "Installers now skip it unless it is pinned with ==.")


def render_status(
    results: Sequence[HotfixStatus], patch_info: Mapping[str, str] | None = None
) -> None:
    """`patch_info`: name → the "patch info" cell (`patch_info_cell`); no such column without it."""
    rows = []
    colours = {"keep": "green", "retire": "cyan", "rebase": "yellow", "conflict": "red"}
    for r in results:
        lines = []
        for release in r.releases:
            if not release.checked:
                lines.append(f"{escape(release.version)}  [dim]{escape(release.note or '')}[/]")
                continue
            states = ", ".join(
                p.state + (f" ({', '.join(p.conflicts)})" if p.conflicts else "")
                for p in release.patches
            )
            if len(release.patches) > 1:  # the series as a whole decides retire
                states += f"; series: {release.series_state}"
            lines.append(escape(f"{release.version}  {states}"))
        advice = f"[{colours.get(r.recommendation.action, 'magenta')}]{r.recommendation}[/]"
        if r.error is not None and not r.stale:
            advice = "[red]not checked[/]"
        elif r.stale:
            advice += " [magenta](stale)[/]"
        row = [escape(f"{r.name} {r.version}"), "\n".join(lines) or "-", advice]
        if patch_info is not None:
            row.append(escape(patch_info.get(r.name, "")))
        rows.append(row)
    columns: list[str | Column] = ["hotfix", "newer releases", "recommendation"]
    if patch_info is not None:
        columns.append(Column("patch info", prose=True))
    print_table(render.stdout, columns, rows)
    hints = {
        "retire": "retire → V: upgrade to V and drop the hotfix: `pyhotfix retire NAME`",
        "rebase": "rebase → V: carry the patches to V: `pyhotfix rebase NAME --to V`",
        "conflict": "conflict → V: `pyhotfix rebase NAME --to V`, resolve in the workspace and "
        "`git add` the files, then `pyhotfix rebase NAME --continue`",
    }
    for action in dict.fromkeys(r.recommendation.action for r in results if r.needs_action):
        if action in hints:
            say(hints[action])


def render_status_problems(results: Sequence[HotfixStatus]) -> None:
    for r in results:
        if r.stale:
            when = datetime.datetime.fromtimestamp(r.page_fetched_at or 0, datetime.UTC)
            say(
                f"{r.name}: {r.error} Showing the answer from the cached "
                f"project page of {when:%Y-%m-%d %H:%M} UTC (stale).",
                "[yellow]warning:[/] ",
            )
        elif r.error is not None:
            say(f"{r.name}: {r.error}", "[bold red]error:[/] ")


def local_url_note(url: str) -> None:
    render.stderr.print(
        f"[yellow]note:[/] the hotfix index is referred to as {url}, a path on this machine; "
        "give --index-url with the URL deployments use.",
        highlight=False,
        soft_wrap=True,
    )


def render_pin(path: Path, result: PinResult, check: bool) -> None:
    notes = [f"[yellow]note:[/] {escape(note)}" for note in result.notes]
    # After a change the lock is stale by design: its problems are the next step, not a failure.
    label = "[yellow]next:[/]" if result.changed and not check else "[bold red]stale lock:[/]"
    notes += [f"{label} {escape(problem)}" for problem in result.problems]
    if not result.changed and not result.problems:
        print_line(
            render.stdout,
            escape(f"{path}: every hotfixed requirement is pinned to its current build."),
        )
        for note in notes:
            render.stderr.print(note, highlight=False, soft_wrap=True)
        return
    if not result.changed:
        for note in notes:
            render.stderr.print(note, highlight=False, soft_wrap=True)
        return
    print_table(
        render.stdout,
        ("where", "was", "now"),
        [
            (escape(change.where), escape(change.before or "-"), escape(change.after))
            for change in result.changes
        ],
    )
    for note in notes:
        render.stderr.print(note, highlight=False, soft_wrap=True)
    if check:
        how = f"{'--pyproject' if path.suffix == '.toml' else '-r'} {path}"
        render.stderr.print(
            f"[bold red]not pinned:[/] {escape(str(path))} needs the changes above; run "
            f"`pyhotfix pin {escape(how)}`.",
            highlight=False,
            soft_wrap=True,
        )
    else:
        print_line(render.stdout, escape(f"{path}: pinned."))


def render_verify(report: VerifyReport) -> None:
    for note in report.notes:
        render.stderr.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True)
    colours = {
        "ok": "green",
        "FAIL": "red",
        "error": "red",
        "unused": "yellow",
        "skipped": "yellow",
    }
    print_table(
        render.stdout,
        (
            "hotfix",
            "installer",
            "environment",
            "expected",
            "installed",
            "result",
            Column("reason", prose=True),
        ),
        [
            (
                escape(c.hotfix),
                escape(c.installer),
                escape(c.environment),
                escape(c.expected),
                escape(c.installed or "-"),
                f"[{colours.get(c.result, 'white')}]{escape(c.result)}[/]",
                escape(c.reason),
            )
            for c in report.checks
        ],
    )
    for warning in report.warnings:
        render.stderr.print(
            f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    if report.ok:
        print_line(
            render.stdout,
            escape(f"{report.target}: every deployment checked gets the hotfix builds."),
        )
    else:
        render.stderr.print(
            f"[bold red]error:[/] {report.target}: a deployment would not get the hotfix build "
            "(see the reasons above).",
            highlight=False,
            soft_wrap=True,
        )
