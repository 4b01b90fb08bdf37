"""`publish`, `yank`, `unyank` and `serve`: the hotfix index."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from pyhotfix.cli import reports
from pyhotfix.cli.options import (
    json_option,
    names_argument,
    reason_option,
    sign_option,
    to_index_option,
)
from pyhotfix.cli.session import index_target, manifest_path
from pyhotfix.errors import UsageError
from pyhotfix.manifest import load_manifest

__all__ = ["publish", "serve", "unyank", "yank"]


@click.command()
@names_argument()
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
@sign_option()
@json_option()
@click.pass_context
def publish(
    ctx: click.Context,
    names: tuple[str, ...],
    to: str | None,
    upload_url: str | None,
    source: Path | None,
    sign: bool,
    as_json: bool,
) -> None:
    """Publish the built hotfixes recorded in hotfixes.lock (or only NAMES) to a target.

    Every file is checked against the lock's sha256 before anything is published. A file the
    target already has with the same bytes is left alone; with other bytes, it is refused.
    """
    from pyhotfix.publish import publish_built, resolve_target, source_index

    signing = None
    if sign:
        from pyhotfix.provenance.signing import find_identity

        signing = find_identity()
    manifest = load_manifest(manifest_path(ctx))
    target = resolve_target(manifest.settings, manifest.directory, to, upload_url)
    files = publish_built(manifest, target, names, source_index(manifest, source), signing=signing)
    if as_json:
        report = {"target": target.description, "files": [asdict(f) for f in files]}
        click.echo(json.dumps(report, indent=2))
    else:
        reports.render_publish(target.description, files)
    ctx.exit(0)


@click.command()
@click.argument("name")
@click.argument("version")
@reason_option("Why (shown by installers that skip it).")
@to_index_option()
@json_option("Print the result as JSON.")
@click.pass_context
def yank(
    ctx: click.Context, name: str, version: str, reason: str | None, to: str | None, as_json: bool
) -> None:
    """Yank every file of NAME VERSION (PEP 592), e.g. `pyhotfix yank attrs 23.1.0+hotfix.2`."""
    target = index_target(ctx, to)
    files = target.yank(name, version, reason)
    if as_json:
        click.echo(json.dumps({"target": target.description, "yanked": True, "files": files}))
    else:
        reports.render_yank(target.description, name, version, files, True)
    ctx.exit(0)


@click.command()
@click.argument("name")
@click.argument("version")
@to_index_option()
@json_option("Print the result as JSON.")
@click.pass_context
def unyank(ctx: click.Context, name: str, version: str, to: str | None, as_json: bool) -> None:
    """Undo `yank` for every file of NAME VERSION."""
    target = index_target(ctx, to)
    files = target.unyank(name, version)
    if as_json:
        click.echo(json.dumps({"target": target.description, "yanked": False, "files": files}))
    else:
        reports.render_yank(target.description, name, version, files, False)
    ctx.exit(0)


@click.command()
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
    from pyhotfix.pipeline import resolve_index

    try:
        path = manifest_path(ctx)
    except UsageError:
        if ctx.obj is not None:
            raise
        return Path("hotfix-index")
    # UsageError when the manifest's index is a bucket or a registry: nothing local to serve
    return resolve_index(load_manifest(path)).root
