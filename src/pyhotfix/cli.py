"""The command line: parse options, call one function, render its result, map errors to exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from pyhotfix import __version__
from pyhotfix.errors import PyhotfixError, UsageError
from pyhotfix.lock import lock_path, read_lock
from pyhotfix.manifest import (
    MANIFEST_NAME,
    Manifest,
    PatchSource,
    find_manifest,
    load_manifest,
    upsert_hotfix,
)
from pyhotfix.pipeline import (
    BuildContext,
    BuildOptions,
    HotfixResult,
    build_all,
    resolve_index,
    up_to_date,
)
from pyhotfix.publish import PublishTarget, resolve_target
from pyhotfix.render import Column, print_error, print_line, print_table

if TYPE_CHECKING:
    from pyhotfix.upstream import Cache

# Modules only some commands need (httpx, the build stages, rich's table and progress) are imported
# inside those commands, so that `pyhotfix build` with nothing to do starts in well under 0.1 s.

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
    except PyhotfixError as exc:  # raised outside a command (the group maps those it sees)
        print_error(stderr, str(exc))
        sys.exit(exc.exit_code)
    # Any other exception is a bug in pyhotfix: it propagates with its traceback (exit 1).
    sys.exit(code if isinstance(code, int) else 0)


class _Commands(click.Group):
    """Maps a PyhotfixError from any command to one `error: ...` line and its exit code, in
    `main` and under click's CliRunner alike."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PyhotfixError as exc:
            print_error(stderr, str(exc))
            ctx.exit(exc.exit_code)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    from pyhotfix.upstream import Cache, default_cache_dir

    return Cache(default_cache_dir())


def _upstream_url(manifest: Manifest) -> str:
    from pyhotfix.upstream import default_upstream_url

    return manifest.settings.upstream or default_upstream_url()


def _context(manifest: Manifest, on_stage: Any, index: PublishTarget | None = None) -> BuildContext:
    from pyhotfix.building import EnvCache
    from pyhotfix.upstream import Cache, default_cache_dir

    cache_dir = default_cache_dir()
    return BuildContext(
        manifest=manifest,
        upstream_url=_upstream_url(manifest),
        index=index or resolve_target(manifest.settings, manifest.directory),
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
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
    index = resolve_target(manifest.settings, manifest.directory)
    specs = [manifest.get(n) for n in names] if names else list(manifest.hotfixes)
    if not specs:
        if as_json:
            click.echo("[]")
        _say_no_hotfixes(manifest)
        return 0
    # Hotfixes with nothing to do are settled before any build machinery is loaded.
    settled = {s.name: r for s in specs if (r := up_to_date(manifest, index, s, options))}
    pending = [s.name for s in specs if s.name not in settled]
    if pending:
        with _progress(stderr.is_terminal and not as_json) as on_stage:
            built = build_all(_context(manifest, on_stage, index), pending, options)
        settled.update((r.name, r) for r in built)
    results = [settled[s.name] for s in specs]
    _report(results, as_json)
    return 1 if any(r.status == "failed" for r in results) else 0


def _report(results: Sequence[HotfixResult], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for result in results:
        for warning in result.warnings:
            print_line(stderr, f"[yellow]warning:[/] {result.name}: {escape(warning)}")
    colours = {"built": "green", "up-to-date": "cyan", "failed": "red"}
    print_table(
        stdout,
        ("name", "upstream", "hotfix version", "files", "seconds", "result"),
        [
            (
                escape(r.name),
                escape(r.version),
                escape(r.hotfix_version or "-"),
                escape("\n".join(r.files) or "-"),
                f"{r.seconds:.1f}",
                f"[{colours[r.status]}]{r.status}[/]",
            )
            for r in results
        ],
    )
    for r in results:
        if r.message:
            print_error(stderr, f"{r.name}: {r.message}")


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
    help="A patch file, an http(s):// or file:// URL (stored under patches/), or git+REPO@COMMIT.",
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
    before = manifest_path.read_bytes() if manifest_path.exists() else None
    created: list[Path] = []  # patch files stored for URL patches, removed again on failure
    try:
        sources = _patch_sources(patches, list(hashes), manifest_path, name, created)
        upsert_hotfix(manifest_path, name, version, sources, reason)
        code = _run_build(manifest_path, [name], BuildOptions(strict=strict), as_json)
    except BaseException:
        _restore(manifest_path, before, created)
        raise
    if code != 0:
        _restore(manifest_path, before, created)
        print_line(stderr, escape(f"{manifest_path} was left unchanged because the build failed."))
    ctx.exit(code)


def _restore(path: Path, content: bytes | None, created: Sequence[Path] = ()) -> None:
    if content is None:
        path.unlink(missing_ok=True)
    elif not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)
    for made in reversed(created):  # files first, then the directories add made for them
        with contextlib.suppress(FileNotFoundError):
            if made.is_dir():
                with contextlib.suppress(OSError):  # not empty: something else is in it now
                    made.rmdir()
            else:
                made.unlink()


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
    values: Sequence[str], hashes: list[str], manifest_path: Path, name: str, created: list[Path]
) -> list[PatchSource]:
    from pyhotfix.patchsources import patch_sources
    from pyhotfix.upstream import fetch_url

    def download(url: str, expected: str | None) -> Path:
        return fetch_url(url, _cache(), expected)[1]

    return patch_sources(values, hashes, manifest_path, name, created, download)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The manifest's hotfixes, their current hotfix version, and whether the index has their files.

    "in index" is "mismatch" when a file there has other bytes than the lock records (or a page
    lists other ones); `pyhotfix check` tells more.
    """
    manifest = load_manifest(_manifest_path(ctx))
    from pyhotfix.index import StaticIndex
    from pyhotfix.integrity import check_hotfix
    from pyhotfix.publish import resolve_target

    lock = read_lock(lock_path(manifest.path))
    index = resolve_target(manifest.settings, manifest.directory)
    rows = []
    mismatches: list[str] = []
    for spec in manifest.hotfixes:
        locked = lock.get(spec.name)
        current = locked is not None and locked.version == spec.version
        problems: list[dict[str, str]] = []
        if locked is None:
            published = False
        elif isinstance(index, StaticIndex):
            checks = check_hotfix(index, locked, full=False)
            problems = [
                {"filename": c.filename, "status": c.status, "detail": c.detail}
                for c in checks
                if c.status != "ok"
            ]
            published = not problems
        else:
            published = index.has_files(
                spec.name,
                [f.filename for f in locked.files],
                {f.filename: f.sha256 for f in locked.files},
            )
        changed = [p["detail"] for p in problems if p["status"] in ("mismatch", "page-mismatch")]
        mismatches.extend(changed)
        mismatch = bool(changed)
        rows.append(
            {
                "name": spec.name,
                "version": spec.version,
                "hotfix_version": locked.hotfix_version if locked and current else None,
                "patches": len(spec.patches),
                "published": published and current,
                "index": "mismatch" if mismatch else "yes" if published and current else "no",
                "problems": problems,
                "reason": spec.reason,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _say_no_hotfixes(manifest)
        return
    shown = {"yes": "[green]yes[/]", "no": "[yellow]no[/]", "mismatch": "[bold red]mismatch[/]"}
    print_table(
        stdout,
        ("name", "upstream", "hotfix version", "patches", "in index", Column("reason", prose=True)),
        [
            (
                escape(str(row["name"])),
                escape(str(row["version"])),
                escape(str(row["hotfix_version"] or "not built")),
                str(row["patches"]),
                shown[str(row["index"])],
                escape(str(row["reason"] or "")),
            )
            for row in rows
        ],
    )
    for detail in mismatches:
        print_line(stderr, f"[bold red]mismatch:[/] {escape(detail)}")
    if mismatches:
        print_line(stderr, "Run `pyhotfix check` for every file and how to repair it.")


def _say_no_hotfixes(manifest: Manifest) -> None:
    """An empty manifest is not an error (exit 0): there is nothing to list or build."""
    _say(f"No hotfixes in {manifest.path}; add one with `pyhotfix add NAME==VERSION --patch FILE`.")


# -- serve ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed).",
)
@click.option(
    "--auth",
    "auth_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An htpasswd file: require HTTP Basic auth from its users.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (default: one per CPU).",
)
@click.option("--access-log", is_flag=True, help="Log every request to stderr.")
@click.option(
    "--head-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a whole request head.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a keep-alive connection may wait for its next request.",
)
@click.option(
    "--write-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a client may take none of its reply before it is dropped.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 1_000_000),
    default=512,
    show_default=True,
    help="Open connections per worker (fewer if the file descriptor limit is lower).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    directory: Path | None,
    host: str,
    port: int,
    auth_file: Path | None,
    workers: int | None,
    access_log: bool,
    head_timeout: float,
    idle_timeout: float,
    write_timeout: float,
    max_connections: int,
) -> None:
    """Serve the hotfix index DIRECTORY over HTTP, read-only (default: the manifest's index).

    PEP 503/691 simple API with content negotiation, for development and CI. In production,
    serve the same directory with nginx or from a bucket (see the README).
    """
    from pyhotfix.serve import ConnectionLimits, Htpasswd, ServeOptions, default_workers, index_root
    from pyhotfix.serve import serve as run_server

    if directory is None:
        directory = _serve_default_dir(ctx)
    options = ServeOptions(
        root=index_root(directory),
        host=host,
        port=port,
        workers=workers or default_workers(),
        auth=Htpasswd.load(auth_file) if auth_file is not None else None,
        access_log=access_log,
        limits=ConnectionLimits(head_timeout, idle_timeout, write_timeout, max_connections),
    )
    ctx.exit(run_server(options, announce=click.echo))


def _serve_default_dir(ctx: click.Context) -> Path:
    """The manifest's index directory when there is a manifest, else ./hotfix-index."""
    try:
        manifest_path = _manifest_path(ctx)
    except UsageError:
        if ctx.obj is not None:
            raise
        return Path("hotfix-index")
    # UsageError when the manifest's index is a bucket or a registry: nothing local to serve
    return resolve_index(load_manifest(manifest_path)).root


# -- lifecycle: edit, commit, status, rebase, retire (issue #5) ------------------------------------

_DIR_HELP = "The workspace (default: .pyhotfix/work/NAME beside the manifest)."


def _lifecycle_workspace(manifest: Manifest, name: str, given: Path | None) -> Path:
    from pyhotfix.lifecycle.workspace import checked_workspace

    return given.absolute() if given is not None else checked_workspace(manifest, name)


def _say(text: str, prefix: str = "") -> None:
    """A message on stderr; `text` is printed literally (rich markup only in `prefix`)."""
    from rich.markup import escape

    stderr.print(prefix + escape(text), highlight=False, soft_wrap=True)


@cli.command()
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
@click.pass_context
def edit(ctx: click.Context, name: str, directory: Path | None) -> None:
    """Unpack NAME's upstream sdist into a git workspace, one commit per patch, to edit.

    Prints the workspace's path. Edit there with your own tools, then run `pyhotfix commit NAME`.
    """
    from pyhotfix.lifecycle.workspace import edit as make_workspace

    manifest = load_manifest(_manifest_path(ctx))
    spec = manifest.get(name)
    workspace = _lifecycle_workspace(manifest, spec.name, directory)
    result = make_workspace(_context(manifest, lambda n, s: None), spec, workspace)
    state = "is up to date" if result.reused else "is ready"
    _say(
        f"The workspace of {spec.name} {spec.version} {state}: the pristine sdist and "
        f"{result.patches} patch(es) as git commits. Edit the files there, then run "
        f"`pyhotfix commit {spec.name} -m MESSAGE`."
    )
    click.echo(str(result.workspace))
    ctx.exit(0)


@cli.command()
@click.argument("name")
@click.option("-m", "--message", help="The patch's description (default: your commits' subjects).")
@click.option("--forwarded", metavar="URL", help="Where the change was sent upstream (PR, issue).")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.pass_context
def commit(
    ctx: click.Context,
    name: str,
    message: str | None,
    forwarded: str | None,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Turn the workspace's new changes into the next patch of NAME, add it, and build.

    The patch is patches/NAME/NNNN-<slug>.patch (git format-patch style, with Origin: and
    Forwarded: lines). With nothing changed, nothing is written.
    """
    from pyhotfix.lifecycle.workspace import commit as commit_workspace

    manifest = load_manifest(_manifest_path(ctx))
    spec = manifest.get(name)
    workspace = _lifecycle_workspace(manifest, spec.name, directory)
    with _progress(stderr.is_terminal and not as_json) as on_stage:
        result = commit_workspace(_context(manifest, on_stage), spec, workspace, message, forwarded)
    if result.patch is None:
        _say(f"No changes in {workspace} since the last patch: nothing was written.")
        ctx.exit(0)
    assert result.build is not None
    _say(
        f"Wrote {result.patch} (changes {', '.join(result.files)}) and added it to "
        f"{manifest.path.name}."
    )
    _report([result.build], as_json)
    ctx.exit(0)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
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

    manifest = load_manifest(_manifest_path(ctx))
    results = check_status(
        manifest,
        names,
        upstream_url=_upstream_url(manifest),
        cache=_cache(),
        options=StatusOptions(pre=pre, newest=newest),
    )
    stale = any(r.stale for r in results)
    failed = any(r.error is not None and not r.stale for r in results)
    needs_action = any(r.needs_action for r in results)
    if as_json:
        document = {
            "stale": stale,
            "needs_action": needs_action,
            "hotfixes": [r.to_json() for r in results],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        _render_status(results)
    _status_problems(results)
    if failed or stale:
        ctx.exit(1)
    ctx.exit(3 if check and needs_action else 0)


def _render_status(results: Sequence[Any]) -> None:
    from rich.markup import escape

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
        rows.append((escape(f"{r.name} {r.version}"), "\n".join(lines) or "-", advice))
    print_table(stdout, ("hotfix", "newer releases", "recommendation"), rows)
    hints = {
        "retire": "retire → V: upgrade to V and drop the hotfix: `pyhotfix retire NAME`",
        "rebase": "rebase → V: carry the patches to V: `pyhotfix rebase NAME --to V`",
        "conflict": "conflict → V: `pyhotfix rebase NAME --to V`, resolve in the workspace and "
        "`git add` the files, then `pyhotfix rebase NAME --continue`",
    }
    for action in dict.fromkeys(r.recommendation.action for r in results if r.needs_action):
        if action in hints:
            _say(hints[action])


def _status_problems(results: Sequence[Any]) -> None:
    import datetime

    for r in results:
        if r.stale:
            when = datetime.datetime.fromtimestamp(r.page_fetched_at or 0, datetime.UTC)
            _say(
                f"{r.name}: {r.error} Showing the answer from the cached "
                f"project page of {when:%Y-%m-%d %H:%M} UTC (stale).",
                "[yellow]warning:[/] ",
            )
        elif r.error is not None:
            _say(f"{r.name}: {r.error}", "[bold red]error:[/] ")


@cli.command()
@click.argument("name")
@click.option("--to", "to_version", metavar="VERSION", help="The upstream release to move to.")
@click.option("--continue", "continue_", is_flag=True, help="Finish after resolving conflicts.")
@click.option("--abort", is_flag=True, help="Drop a stopped rebase (deletes its workspace).")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
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
    manifest = load_manifest(_manifest_path(ctx))
    spec = manifest.get(name)
    workspace = _lifecycle_workspace(manifest, spec.name, directory)
    if abort:
        target = abort_rebase(spec, workspace)
        _say(f"Dropped the rebase of {spec.name} onto {target}; nothing else was changed.")
        ctx.exit(0)
    with _progress(stderr.is_terminal and not as_json) as on_stage:
        context = _context(manifest, on_stage)
        if continue_:
            result = continue_rebase(context, spec, workspace)
        else:
            assert to_version is not None
            result = rebase_hotfix(context, spec, to_version, workspace)
    for change in result.done:
        _say(f"{change.label}: {change.state}, {change.action}")
    if result.workspace is not None:
        from pyhotfix.lifecycle.common import dir_option

        where = dir_option(result.workspace, spec.name)
        _say(
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
    _say(f"{spec.name} moved from {result.from_version} to {result.to_version}.")
    _report([result.build], as_json)
    ctx.exit(0)


@cli.command()
@click.argument("name")
@click.option("--yank", is_flag=True, help="Yank the hotfix's builds in the index (PEP 592).")
@click.option("--reason", help="The yank reason shown by installers.")
@click.option("--delete", is_flag=True, help="Delete the patch files instead of moving them.")
@click.option(
    "--force",
    is_flag=True,
    help="Retire even though no upstream release is known to contain the fix.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
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
    from packaging.version import Version

    from pyhotfix.lifecycle.retire import retire as retire_hotfix
    from pyhotfix.lifecycle.status import RETIRE
    from pyhotfix.lifecycle.status import status as check_status

    manifest = load_manifest(_manifest_path(ctx))
    spec = manifest.get(name)
    fixed_in: str | None = None
    without_fix: list[str] = []
    try:
        (found,) = check_status(
            manifest,
            [spec.name],
            upstream_url=_upstream_url(manifest),
            cache=_cache(),
        )
    except PyhotfixError as exc:
        unknown_because = f"status could not check it: {exc}"
    else:
        unknown_because = f"status says {found.recommendation}"
        if found.error is not None and not found.stale:
            unknown_because = f"status could not check it: {found.error}"
        elif found.recommendation.action == RETIRE:
            fixed_in = found.recommendation.version
            after = [r for r in found.releases if Version(r.version) > Version(fixed_in or "0")]
            without_fix = [r.version for r in after if r.checked and not r.contains_all]
    index = _context(manifest, lambda n, s: None).index if yank else None
    result = retire_hotfix(
        manifest,
        spec,
        fixed_in=fixed_in,
        without_fix=without_fix,
        unknown_because=unknown_because,
        force=force,
        index=index,
        reason=reason,
        delete=delete,
    )
    if not result.fixed_upstream:
        _say(
            f"retired {spec.name} although no upstream release is known to contain its fix "
            f"({unknown_because}): the app now gets upstream {spec.version} without the patches.",
            "[yellow]warning:[/] ",
        )
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
        ctx.exit(0)
    _say(f"Removed {spec.name} {spec.version} from {manifest.path.name} and the lock.")
    for src, dst in result.moved:
        _say(f"Moved {src} to {dst}.")
    for path in result.deleted:
        _say(f"Deleted {path}.")
    for path in result.kept:
        _say(f"Kept {path}: another hotfix uses it.")
    if result.yanked:
        _say(f"Yanked {', '.join(result.yanked)} in the index.")
    elif yank:
        _say("The index had no unyanked build of it to yank.")
    if result.fixed_upstream:
        click.echo(
            f"Change the app's requirement: {result.requirement_before} → "
            f"{result.requirement_after}"
        )
    else:
        click.echo(f"The app's requirement: {result.requirement_after} (upstream, without the fix)")
    ctx.exit(0)


# -- publish, yank, unyank ----------------------------------------------------------------------


@cli.command()
@click.argument("names", nargs=-1)
@click.option(
    "--to",
    "to",
    metavar="TARGET",
    help="Publish here instead of [settings] index: a directory, file:// or s3://BUCKET/PREFIX.",
)
@click.option(
    "--upload",
    "upload_url",
    metavar="URL",
    help="Publish to this registry upload endpoint (the URL twine uploads to).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(file_okay=False, path_type=Path),
    help="The index directory that holds the built files (default: the manifest's index).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def publish(
    ctx: click.Context,
    names: tuple[str, ...],
    to: str | None,
    upload_url: str | None,
    source: Path | None,
    as_json: bool,
) -> None:
    """Publish the built hotfixes recorded in hotfixes.lock (or only NAMES) to a target.

    Every file is checked against the lock's sha256 before anything is published. A file the
    target already has with the same bytes is left alone; with other bytes, it is refused.
    """
    from pyhotfix.publish import publish_built, resolve_target, source_index

    manifest = load_manifest(_manifest_path(ctx))
    target = resolve_target(manifest.settings, manifest.directory, to, upload_url)
    files = publish_built(manifest, target, names, source_index(manifest, source))
    if as_json:
        report = {"target": target.description, "files": [asdict(f) for f in files]}
        click.echo(json.dumps(report, indent=2))
        ctx.exit(0)
    print_line(stdout, escape(f"Published to {target.description}:"))
    colours = {"added": "green", "unchanged": "cyan"}
    print_table(
        stdout,
        ("name", "file", "result"),
        [
            (escape(f.name), escape(f.filename), f"[{colours[f.status]}]{f.status}[/]")
            for f in files
        ],
    )
    ctx.exit(0)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Hash every index file of the locked hotfixes (or only NAMES) and compare it with
    hotfixes.lock and the index pages (index.json and index.html). Exit 1 when any differs."""
    from packaging.utils import canonicalize_name

    from pyhotfix.index import StaticIndex
    from pyhotfix.integrity import check_hotfix, repair_advice

    manifest = load_manifest(_manifest_path(ctx))
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
        ctx.exit(1 if problems else 0)
    print_line(stdout, escape(f"Checked {target.description}:"))
    print_table(
        stdout,
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
    for c in problems:
        print_line(stderr, f"[bold red]{c.status}:[/] {escape(c.detail)}")
    if problems:
        print_line(stderr, escape(advice))
    ctx.exit(1 if problems else 0)


def _index_target(ctx: click.Context, to: str | None) -> Any:
    """--to, else the manifest's [settings] index. With --to, no manifest is needed."""
    from pyhotfix.manifest import DEFAULT_INDEX, DEFAULT_LABEL, Settings
    from pyhotfix.publish import resolve_target

    try:
        path = _manifest_path(ctx)
    except UsageError:
        if to is None:
            raise
        return resolve_target(Settings(None, DEFAULT_INDEX, DEFAULT_LABEL), Path.cwd(), to)
    manifest = load_manifest(path)
    return resolve_target(manifest.settings, manifest.directory, to)


def _report_yank(target: Any, name: str, version: str, files: list[str], yanked: bool) -> None:
    verb = "Yanked" if yanked else "Un-yanked"
    print_line(stdout, escape(f"{verb} {name} {version} in {target.description}:"))
    for filename in files:
        print_line(stdout, escape(f"  {filename}"))
    if yanked:
        print_line(stdout, "Installers now skip it unless it is pinned with ==.")


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", help="Why (shown by installers that skip it).")
@click.option(
    "--to", "to", metavar="TARGET", help="The index to change (default: [settings] index)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def yank(
    ctx: click.Context, name: str, version: str, reason: str | None, to: str | None, as_json: bool
) -> None:
    """Yank every file of NAME VERSION (PEP 592), e.g. `pyhotfix yank attrs 23.1.0+hotfix.2`."""
    target = _index_target(ctx, to)
    files = target.yank(name, version, reason)
    if as_json:
        click.echo(json.dumps({"target": target.description, "yanked": True, "files": files}))
    else:
        _report_yank(target, name, version, files, True)
    ctx.exit(0)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option(
    "--to", "to", metavar="TARGET", help="The index to change (default: [settings] index)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def unyank(ctx: click.Context, name: str, version: str, to: str | None, as_json: bool) -> None:
    """Undo `yank` for every file of NAME VERSION."""
    target = _index_target(ctx, to)
    files = target.unyank(name, version)
    if as_json:
        click.echo(json.dumps({"target": target.description, "yanked": False, "files": files}))
    else:
        _report_yank(target, name, version, files, False)
    ctx.exit(0)


# --- deploy: export, pin, verify ----------------------------------------------------------------

# Kept in step with pyhotfix.deploy.export.FORMATS (a test checks); a literal keeps start-up fast.
_EXPORT_FORMATS = (
    "requirements",
    "constraints",
    "pip-conf",
    "uv",
    "poetry",
    "pipenv",
    "s2i",
    "heroku",
    "dockerfile",
    "direct",
)
_INDEX_URL_HELP = (
    "Where deployments reach the hotfix index (its simple/ URL). Default: the configured index "
    "directory as a file:// URL."
)


@cli.command(name="export")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(_EXPORT_FORMATS),
    required=True,
    help="What to write.",
)
@click.option("--index-url", metavar="URL", help=_INDEX_URL_HELP)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (companion files, e.g. the constraints of s2i and pip-conf, go next to "
    "it); default: print.",
)
@click.option(
    "--no-hashes", is_flag=True, help="requirements: pin versions without --hash options."
)
@click.pass_context
def export_(
    ctx: click.Context, fmt: str, index_url: str | None, output: Path | None, no_hashes: bool
) -> None:
    """Configuration that makes a deployment install the hotfix builds (see the README per format)."""
    from pyhotfix.deploy import load_deployment
    from pyhotfix.deploy.export import ExportOptions, export, write_export

    deployment = load_deployment(_manifest_path(ctx), index_url)
    result = export(deployment, fmt, ExportOptions(hashes=not no_hashes, out=output))
    if output is None:
        for n, file in enumerate(result.files):
            if len(result.files) > 1:  # like `head` with several files
                click.echo(("\n" if n else "") + f"# ==> {file.name} <==")
            click.echo(file.content, nl=False)
    else:
        written = write_export(result, output)
        print_line(stderr, escape("wrote " + ", ".join(str(p) for p in written)))
    if index_url is None and fmt != "dockerfile":  # the snippet copies a local index itself
        _local_url_note(deployment.index_url)
    ctx.exit(0)


def _local_url_note(url: str) -> None:
    stderr.print(
        f"[yellow]note:[/] the hotfix index is referred to as {url}, a path on this machine; "
        "give --index-url with the URL deployments use.",
        highlight=False,
        soft_wrap=True,
    )


@cli.command()
@click.option(
    "-r",
    "--requirements",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The requirements file to pin (default: requirements.txt here).",
)
@click.option(
    "--pyproject",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A pyproject.toml to pin instead (uv sources, or Poetry's when it uses Poetry).",
)
@click.option("--index-url", metavar="URL", help=_INDEX_URL_HELP)
@click.option(
    "--hashes/--no-hashes",
    default=None,
    help="Add --hash options to the pins (default: when pip will not then demand hashes for "
    "the file's other requirements).",
)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the file is not pinned.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def pin(
    ctx: click.Context,
    requirements: Path | None,
    pyproject: Path | None,
    index_url: str | None,
    hashes: bool | None,
    check: bool,
    as_json: bool,
) -> None:
    """Pin each hotfixed requirement of the app to its exact hotfix build, in place.

    Comments, order and other lines stay as they are; running it again changes nothing.
    """
    from pyhotfix.deploy import load_deployment
    from pyhotfix.deploy.pin import existing_index_url, pin_file, write_result

    if requirements is not None and pyproject is not None:
        raise UsageError("Give -r FILE or --pyproject FILE, not both.")
    path = requirements or pyproject
    if path is None:
        for candidate in (Path("requirements.txt"), Path("pyproject.toml")):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise UsageError(
                "No requirements.txt or pyproject.toml here: name the file with -r FILE or "
                "--pyproject FILE."
            )
    if not path.is_file():
        raise UsageError(f"{path} does not exist.")
    given = index_url or existing_index_url(path)
    deployment = load_deployment(_manifest_path(ctx), given)
    result = pin_file(path, deployment, hashes)
    if not check and result.changed:
        write_result(result)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(path),
                    "pinned": not result.changed,
                    "written": result.changed and not check,
                    "changes": [asdict(c) for c in result.changes],
                    "notes": list(result.notes),
                },
                indent=2,
            )
        )
    else:
        _render_pin(path, result, check)
    if given is None and result.changed and not check:
        _local_url_note(deployment.index_url)
    ctx.exit(1 if check and result.changed else 0)


def _render_pin(path: Path, result: Any, check: bool) -> None:
    from rich.markup import escape

    notes = [f"[yellow]note:[/] {escape(note)}" for note in result.notes]
    if not result.changed:
        print_line(
            stdout, escape(f"{path}: every hotfixed requirement is pinned to its current build.")
        )
        for note in notes:
            stderr.print(note, highlight=False, soft_wrap=True)
        return
    print_table(
        stdout,
        ("where", "was", "now"),
        [
            (escape(change.where), escape(change.before or "-"), escape(change.after))
            for change in result.changes
        ],
    )
    for note in notes:
        stderr.print(note, highlight=False, soft_wrap=True)
    if check:
        how = f"{'--pyproject' if path.suffix == '.toml' else '-r'} {path}"
        stderr.print(
            f"[bold red]not pinned:[/] {escape(str(path))} needs the changes above; run "
            f"`pyhotfix pin {escape(how)}`.",
            highlight=False,
            soft_wrap=True,
        )
    else:
        print_line(stdout, escape(f"{path}: pinned."))


@cli.command()
@click.option(
    "-r",
    "--requirements",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Install this requirements file, as written (its index lines and options included).",
)
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install this project directory (pip install DIR; uv sync when it is configured for uv).",
)
@click.option(
    "--installer",
    type=click.Choice(("pip", "uv", "both")),
    help="Default: uv for a project configured for uv, else pip (what platform builders run).",
)
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="The Python for the environments (default: this one).",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="KEY=VALUE variables the deployment sets (.s2i/environment in the app is always read).",
)
@click.option(
    "--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="A variable the deployment sets."
)
@click.option(
    "--default-index",
    metavar="URL",
    help="The index deployments use when the config names none (default: [settings] upstream, "
    "else PyPI).",
)
@click.option(
    "--use-user-config",
    is_flag=True,
    help="Let your own pip/uv configuration (files, PIP_*/UV_* variables) apply, as on a "
    "deployment that shares it.",
)
@click.option(
    "--fresh-only",
    is_flag=True,
    help="Skip the check over an environment that already has the upstream release.",
)
@click.option(
    "--deployed-at",
    metavar="PATH",
    help="Where the deployment puts the app (s2i: /opt/app-root/src): paths and file:// URLs "
    "under it are read from the app here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(
    ctx: click.Context,
    requirements: Path | None,
    project: Path | None,
    installer: str | None,
    python: str | None,
    env_files: tuple[Path, ...],
    env_pairs: tuple[str, ...],
    default_index: str | None,
    use_user_config: bool,
    fresh_only: bool,
    deployed_at: str | None,
    as_json: bool,
) -> None:
    """Install the app the way a deployment does, in fresh environments, and check that every
    hotfix installed is the build in hotfixes.lock: version, and each file against the built wheel.

    Exit 1 when any install would get upstream or another build; warns about configurations that
    only work until upstream's next release.
    """
    from pyhotfix.deploy import load_deployment
    from pyhotfix.deploy.verify import VerifyOptions, default_installers
    from pyhotfix.deploy.verify import verify as run_verify
    from pyhotfix.upstream import PYPI_SIMPLE_URL

    if requirements is not None and project is not None:
        raise UsageError("Give -r FILE or --project DIR, not both.")
    if requirements is None and project is None:
        if Path("requirements.txt").is_file():
            requirements = Path("requirements.txt")
        elif Path("pyproject.toml").is_file():
            project = Path(".")
        else:
            raise UsageError("Nothing to verify here: give -r requirements.txt or --project DIR.")
    env: dict[str, str] = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r} is not KEY=VALUE.")
        env[key] = value
    deployment = load_deployment(_manifest_path(ctx))
    manifest = load_manifest(deployment.manifest_path)
    options = VerifyOptions(
        requirements=requirements,
        project=project,
        python=python or sys.executable,
        default_index=default_index or manifest.settings.upstream or PYPI_SIMPLE_URL,
        env_files=env_files,
        env=env,
        use_user_config=use_user_config,
        existing=not fresh_only,
        deployed_at=deployed_at,
    )
    if installer is None:
        installers = default_installers(options)
    else:
        installers = ("pip", "uv") if installer == "both" else (installer,)
    options = VerifyOptions(**{**asdict(options), "installers": installers})
    with _progress(stderr.is_terminal and not as_json) as on_stage:
        on_stage("verify", f"installing with {', '.join(installers)} in fresh environments")
        report = run_verify(deployment, options)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "target": report.target,
                    "ok": report.ok,
                    "checks": [asdict(c) for c in report.checks],
                    "warnings": list(report.warnings),
                    "notes": list(report.notes),
                },
                indent=2,
            )
        )
    else:
        _render_verify(report)
    ctx.exit(0 if report.ok else 1)


def _render_verify(report: Any) -> None:
    from rich.markup import escape

    for note in report.notes:
        stderr.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True)
    colours = {
        "ok": "green",
        "FAIL": "red",
        "error": "red",
        "unused": "yellow",
        "skipped": "yellow",
    }
    print_table(
        stdout,
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
        stderr.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if report.ok:
        print_line(
            stdout, escape(f"{report.target}: every deployment checked gets the hotfix builds.")
        )
    else:
        stderr.print(
            f"[bold red]error:[/] {report.target}: a deployment would not get the hotfix build "
            "(see the reasons above).",
            highlight=False,
            soft_wrap=True,
        )
