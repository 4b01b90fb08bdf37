"""`add`, `build`, `list` and `check`: from the manifest to built, published and checked files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape

from pyhotfix.cli import render, reports
from pyhotfix.cli.options import (
    json_option,
    names_argument,
    reason_option,
    sign_option,
    strict_option,
)
from pyhotfix.cli.session import build_context, cache, manifest_path, progress
from pyhotfix.errors import UsageError
from pyhotfix.manifest import PatchSource, load_manifest, upsert_hotfix
from pyhotfix.pipeline import BuildOptions, HotfixResult, build_all, plan_build
from pyhotfix.publish import resolve_target

__all__ = ["add", "build", "check", "list_", "print_build_report", "run_build"]


def run_build(path: Path, names: Sequence[str], options: BuildOptions, as_json: bool) -> int:
    """Build NAMES (none: all) of the manifest at `path`, print the report; the exit status."""
    manifest = load_manifest(path)
    index = resolve_target(manifest.settings, manifest.directory)
    specs = [manifest.get(n) for n in names] if names else list(manifest.hotfixes)
    if not specs:
        if as_json:
            click.echo("[]")
        reports.say_no_hotfixes(manifest)
        return 0
    plan = plan_build(manifest, index, specs, options)
    built: list[HotfixResult] = []
    if plan.pending:
        with progress(render.stderr.is_terminal and not as_json) as on_stage:
            built = build_all(build_context(manifest, on_stage, index), plan.pending, options)
    results = plan.results(built)
    print_build_report(results, as_json)
    return 1 if any(r.status == "failed" for r in results) else 0


def print_build_report(results: Sequence[HotfixResult], as_json: bool) -> None:
    if as_json:
        from pyhotfix.platforms import file_platform

        documents = [
            {**asdict(r), "platforms": {f: file_platform(f) for f in r.files}} for r in results
        ]
        click.echo(json.dumps(documents, indent=2))
    else:
        reports.render_build(results)


@click.command()
@names_argument()
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Hotfixes built at once.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the inputs are unchanged.")
@click.option("--no-publish", is_flag=True, help="Build only; do not publish or update the lock.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also copy built files here.",
)
@strict_option()
@sign_option()
@json_option()
@click.pass_context
def build(
    ctx: click.Context,
    names: tuple[str, ...],
    jobs: int,
    force: bool,
    no_publish: bool,
    out_dir: Path | None,
    strict: bool,
    sign: bool,
    as_json: bool,
) -> None:
    """Build (and publish) the hotfixes in the manifest, or only NAMES."""
    if no_publish and out_dir is None:
        raise UsageError("--no-publish needs --out DIR: the built files must go somewhere.")
    signing = None
    if sign:
        from pyhotfix.provenance.signing import find_identity

        signing = find_identity()  # before anything is built: no identity, nothing done
    options = BuildOptions(
        force=force,
        publish=not no_publish,
        out_dir=out_dir,
        strict=strict,
        jobs=jobs,
        signing=signing,
    )
    ctx.exit(run_build(manifest_path(ctx), names, options, as_json))


@click.command()
@click.argument("requirement")
@click.option(
    "-p",
    "--patch",
    "patches",
    multiple=True,
    help="A patch file, an http(s):// or file:// URL (stored under patches/), or git+REPO@COMMIT.",
)
@click.option(
    "--requires-dist",
    "requires_dist",
    multiple=True,
    metavar="REQUIREMENT",
    help='Replace every Requires-Dist on its name with REQUIREMENT (e.g. "urllib3>=1.21.1,<3").',
)
@click.option(
    "--remove-requires-dist",
    "remove_requires_dist",
    multiple=True,
    metavar="NAME",
    help="Remove every Requires-Dist on NAME.",
)
@click.option(
    "--sha256", "hashes", multiple=True, help="Expected sha256 of each URL patch, in order."
)
@reason_option("Why this hotfix exists (shown in listings).")
@click.option(
    "--from",
    "source",
    type=click.Choice(["sdist", "wheels"]),
    default=None,
    help="Build from the upstream sdist (default) or patch the wheels upstream published.",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    help="With --from wheels: only wheels whose platform tag matches this glob (repeatable).",
)
@click.option(
    "--fixes",
    "fixes",
    multiple=True,
    metavar="ID",
    help="An advisory the patches fix (CVE-…, GHSA-…, PYSEC-…); repeat for several.",
)
@strict_option()
@json_option("Print the build report as JSON.")
@click.pass_context
def add(
    ctx: click.Context,
    requirement: str,
    patches: tuple[str, ...],
    hashes: tuple[str, ...],
    reason: str | None,
    source: str | None,
    platforms: tuple[str, ...],
    fixes: tuple[str, ...],
    strict: bool,
    as_json: bool,
    requires_dist: tuple[str, ...] = (),
    remove_requires_dist: tuple[str, ...] = (),
) -> None:
    """Add or update the hotfix REQUIREMENT (NAME==VERSION) with patches and/or Requires-Dist
    edits, then build it.

    If the build fails, the manifest is left as it was.
    """
    from pyhotfix.lifecycle.common import FileEdits, undo_on_error
    from pyhotfix.requiresdist.options import requires_dist_edits

    name, version = _parse_pinned(requirement)
    if platforms and source != "wheels":
        raise UsageError(
            "--platform selects upstream wheels, so it needs --from wheels "
            f"(e.g. `pyhotfix add {requirement} --patch P --from wheels --platform 'manylinux*'`)."
        )
    metadata_edits = requires_dist_edits(requires_dist, remove_requires_dist)
    if not patches and not metadata_edits:
        raise UsageError(
            "Give at least one --patch, or a metadata edit (--requires-dist REQUIREMENT, "
            "--remove-requires-dist NAME)."
        )
    path = manifest_path(ctx, create=True)
    edits = FileEdits()
    with undo_on_error(edits):
        edits.save(path)
        made: list[Path] = []  # patch files stored for URL patches, and their directories
        try:
            sources = _patch_sources(patches, list(hashes), path, name, made)
        finally:
            for made_path in made:
                edits.made(made_path)
        upsert_hotfix(
            path,
            name,
            version,
            sources,
            reason,
            source=source,
            platforms=platforms,
            requires_dist=metadata_edits,
            fixes=fixes,
        )
        code = run_build(path, [name], BuildOptions(strict=strict), as_json)
    if code != 0:
        edits.undo()
        render.print_line(
            render.stderr, escape(f"{path} was left unchanged because the build failed.")
        )
    ctx.exit(code)


def _parse_pinned(requirement: str) -> tuple[str, str]:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        parsed = None
    specs = list(parsed.specifier) if parsed else []
    if parsed is None or len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        raise UsageError(
            f"{requirement!r} is not NAME==VERSION. Name the exact upstream release to fix, "
            "e.g. `pyhotfix add python-magic==0.4.3 --patch fix.patch`."
        )
    return parsed.name, specs[0].version


def _patch_sources(
    values: Sequence[str], hashes: list[str], path: Path, name: str, made: list[Path]
) -> list[PatchSource]:
    from pyhotfix.patching.entries import patch_sources
    from pyhotfix.upstream import fetch_url

    def download(url: str, expected: str | None) -> Path:
        return fetch_url(url, cache(), expected)[1]

    return patch_sources(values, hashes, path, name, made, download)


@click.command(name="list")
@json_option("Print as JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The manifest's hotfixes, their current hotfix version, and whether the index has their files.

    "in index" is "mismatch" when a file there has other bytes than the lock records (or a page
    lists other ones); `pyhotfix check` tells more.
    """
    from pyhotfix.listing import list_hotfixes

    manifest = load_manifest(manifest_path(ctx))
    rows = list_hotfixes(manifest)
    if as_json:
        click.echo(json.dumps([row.to_json() for row in rows], indent=2))
    elif not rows:
        reports.say_no_hotfixes(manifest)
    else:
        reports.render_list(rows)


@click.command()
@names_argument()
@json_option()
@click.pass_context
def check(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Hash every index file of the locked hotfixes (or only NAMES) and compare it with
    hotfixes.lock and the index pages (index.json and index.html). Exit 1 when any differs."""
    from packaging.utils import canonicalize_name

    from pyhotfix.index import StaticIndex
    from pyhotfix.index.integrity import check_hotfix, repair_advice
    from pyhotfix.lock import lock_path, read_lock

    manifest = load_manifest(manifest_path(ctx))
    lock = read_lock(lock_path(manifest.path))
    target = resolve_target(manifest.settings, manifest.directory)
    if not isinstance(target, StaticIndex):
        raise UsageError(
            f"`pyhotfix check` reads the files and pages of a static index (a directory, file:// "
            f"or s3:// URL), and [settings] index is a registry ({target.description}). A "
            "registry checks hashes itself: `pyhotfix publish` verifies what it lists after "
            "every upload."
        )
    by_name = {canonicalize_name(n): h for n, h in lock.hotfixes.items()}
    unknown = [n for n in names if canonicalize_name(n) not in by_name]
    if unknown:
        have = ", ".join(sorted(lock.hotfixes)) or "none"
        raise UsageError(
            f"{', '.join(unknown)}: not in {lock_path(manifest.path)} (it has: {have}). Only "
            "built hotfixes have files to check; run `pyhotfix build` first."
        )
    selected = [by_name[canonicalize_name(n)] for n in names] or [
        lock.hotfixes[n] for n in sorted(lock.hotfixes)
    ]
    checks = [c for locked in selected for c in check_hotfix(target, locked, full=True)]
    problems = [c for c in checks if c.status != "ok"]
    advice = repair_advice(problems) if problems else ""
    if as_json:
        report = {
            "target": target.description,
            "ok": not problems,
            "files": [asdict(c) for c in checks],
            "advice": advice,
        }
        click.echo(json.dumps(report, indent=2))
    else:
        reports.render_check(target.description, checks, advice)
    ctx.exit(1 if problems else 0)
