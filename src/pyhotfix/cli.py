"""The command line: parse options, call one function, render its result, map errors to exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from packaging.requirements import InvalidRequirement, Requirement
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pyhotfix import __version__
from pyhotfix.building import EnvCache
from pyhotfix.errors import PyhotfixError, UsageError
from pyhotfix.lock import lock_path, read_lock
from pyhotfix.manifest import (
    MANIFEST_NAME,
    FilePatch,
    GitPatch,
    Manifest,
    PatchSource,
    UrlPatch,
    find_manifest,
    load_manifest,
    upsert_hotfix,
)
from pyhotfix.pipeline import BuildContext, BuildOptions, HotfixResult, build_all, resolve_index
from pyhotfix.upstream import Cache, default_cache_dir, default_upstream_url, fetch_url

stdout = Console()
stderr = Console(stderr=True)


def main() -> None:
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(prog_name="pyhotfix", standalone_mode=False)
    except click.exceptions.Abort:
        stderr.print("Aborted.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PyhotfixError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pyhotfix")
@click.option(
    "-m",
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The manifest (default: {MANIFEST_NAME} in this directory or the nearest parent).",
)
@click.pass_context
def cli(ctx: click.Context, manifest_path: Path | None) -> None:
    """Build, publish and deploy hotfixed versions of third-party Python packages."""
    ctx.obj = manifest_path


def _manifest_path(ctx: click.Context, *, create: bool = False) -> Path:
    given: Path | None = ctx.obj
    if given is not None:
        if not given.exists() and not create:
            raise UsageError(f"The manifest {given} does not exist. Check -m/--manifest.")
        return given.absolute()
    try:
        return find_manifest(Path.cwd())
    except UsageError:
        if create:
            return Path.cwd() / MANIFEST_NAME
        raise


def _cache() -> Cache:
    return Cache(default_cache_dir())


def _context(manifest: Manifest, on_stage: Any) -> BuildContext:
    cache_dir = default_cache_dir()
    return BuildContext(
        manifest=manifest,
        upstream_url=manifest.settings.upstream or default_upstream_url(),
        index=resolve_index(manifest),
        cache=Cache(cache_dir),
        envs=EnvCache(cache_dir / "envs"),
        on_stage=on_stage,
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    """A spinner per hotfix on a terminal; a no-op callback otherwise."""
    if not enabled:
        yield lambda name, stage: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_stage(name: str, stage: str) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name)
            progress.update(tasks[name], description=f"{name}: {stage}")

        yield on_stage


def _run_build(
    manifest_path: Path, names: Sequence[str], options: BuildOptions, as_json: bool
) -> int:
    manifest = load_manifest(manifest_path)
    with _progress(stderr.is_terminal and not as_json) as on_stage:
        results = build_all(_context(manifest, on_stage), names, options)
    _report(results, as_json)
    return 1 if any(r.status == "failed" for r in results) else 0


def _report(results: Sequence[HotfixResult], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for result in results:
        for warning in result.warnings:
            stderr.print(
                f"[yellow]warning:[/] {result.name}: {warning}", highlight=False, soft_wrap=True
            )
    table = Table(title=None)
    for column in ("name", "upstream", "hotfix version", "files", "seconds", "result"):
        table.add_column(column, overflow="fold")
    colours = {"built": "green", "up-to-date": "cyan", "failed": "red"}
    for r in results:
        table.add_row(
            r.name,
            r.version,
            r.hotfix_version or "-",
            "\n".join(r.files) or "-",
            f"{r.seconds:.1f}",
            f"[{colours[r.status]}]{r.status}[/]",
        )
    stdout.print(table)
    for r in results:
        if r.message:
            stderr.print(
                f"[bold red]error:[/] {r.name}: {r.message}", highlight=False, soft_wrap=True
            )


@cli.command()
@click.argument("names", nargs=-1)
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
@click.option(
    "--strict", is_flag=True, help="Fail when a patch touches files absent from the sdist."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def build(
    ctx: click.Context,
    names: tuple[str, ...],
    jobs: int,
    force: bool,
    no_publish: bool,
    out_dir: Path | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Build (and publish) the hotfixes in the manifest, or only NAMES."""
    if no_publish and out_dir is None:
        raise UsageError("--no-publish needs --out DIR: the built files must go somewhere.")
    options = BuildOptions(
        force=force, publish=not no_publish, out_dir=out_dir, strict=strict, jobs=jobs
    )
    ctx.exit(_run_build(_manifest_path(ctx), names, options, as_json))


@cli.command()
@click.argument("requirement")
@click.option(
    "-p",
    "--patch",
    "patches",
    multiple=True,
    required=True,
    help="A patch file, an http(s) URL, or git+REPO@COMMIT.",
)
@click.option(
    "--sha256", "hashes", multiple=True, help="Expected sha256 of each URL patch, in order."
)
@click.option("--reason", help="Why this hotfix exists (shown in listings).")
@click.option(
    "--strict", is_flag=True, help="Fail when a patch touches files absent from the sdist."
)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.pass_context
def add(
    ctx: click.Context,
    requirement: str,
    patches: tuple[str, ...],
    hashes: tuple[str, ...],
    reason: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Add or update the hotfix REQUIREMENT (NAME==VERSION) with patches, then build it.

    If the build fails, the manifest is left as it was.
    """
    name, version = _parse_pinned(requirement)
    manifest_path = _manifest_path(ctx, create=True)
    sources = _patch_sources(patches, list(hashes), manifest_path.parent)
    before = manifest_path.read_bytes() if manifest_path.exists() else None
    upsert_hotfix(manifest_path, name, version, sources, reason)
    try:
        code = _run_build(manifest_path, [name], BuildOptions(strict=strict), as_json)
    except BaseException:
        _restore(manifest_path, before)
        raise
    if code != 0:
        _restore(manifest_path, before)
        stderr.print(f"{manifest_path} was left unchanged because the build failed.")
    ctx.exit(code)


def _restore(path: Path, content: bytes | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(content)


def _parse_pinned(requirement: str) -> tuple[str, str]:
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


def _patch_sources(values: Sequence[str], hashes: list[str], base_dir: Path) -> list[PatchSource]:
    url_count = sum(v.startswith(("http://", "https://")) for v in values)
    if hashes and len(hashes) != url_count:
        raise UsageError(
            f"--sha256 was given {len(hashes)} time(s) for {url_count} URL patch(es); give one per URL, in order."
        )
    sources: list[PatchSource] = []
    for value in values:
        if value.startswith(("http://", "https://")):
            expected = hashes.pop(0).lower() if hashes else None
            sha256, _ = fetch_url(value, _cache(), expected)
            sources.append(UrlPatch(url=value, sha256=sha256))
        elif value.startswith("git+"):
            repo, sep, commit = value[4:].rpartition("@")
            if not sep or not repo or not commit:
                raise UsageError(f"{value!r} is not git+REPO@COMMIT.")
            if "://" not in repo and Path(repo).exists():
                repo = _relative(Path(repo), base_dir)
            sources.append(GitPatch(repo=repo, commit=commit))
        else:
            path = Path(value)
            if not path.is_file():
                raise UsageError(
                    f"The patch file {value} does not exist. Give a patch file, an http(s) URL or git+REPO@COMMIT."
                )
            sources.append(FilePatch(path=_relative(path, base_dir)))
    return sources


def _relative(path: Path, base_dir: Path) -> str:
    return Path(os.path.relpath(path.absolute(), base_dir)).as_posix()


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The manifest's hotfixes, their current hotfix version, and whether the index has their files."""
    manifest = load_manifest(_manifest_path(ctx))
    lock = read_lock(lock_path(manifest.path))
    index = resolve_index(manifest)
    rows = []
    for spec in manifest.hotfixes:
        locked = lock.get(spec.name)
        current = locked is not None and locked.version == spec.version
        published = bool(
            locked
            and index.has_files(
                spec.name,
                [f.filename for f in locked.files],
                {f.filename: f.sha256 for f in locked.files},
            )
        )
        rows.append(
            {
                "name": spec.name,
                "version": spec.version,
                "hotfix_version": locked.hotfix_version if locked and current else None,
                "patches": len(spec.patches),
                "published": published and current,
                "reason": spec.reason,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in ("name", "upstream", "hotfix version", "patches", "in index", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["version"]),
            str(row["hotfix_version"] or "not built"),
            str(row["patches"]),
            "[green]yes[/]" if row["published"] else "[yellow]no[/]",
            str(row["reason"] or ""),
        )
    stdout.print(table)
