"""What the commands look up from the invocation: the manifest, the cache, the build context, the
index target, a workspace, and the progress display. Heavy modules are imported when used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pyhotfix.cli import render
from pyhotfix.errors import UsageError
from pyhotfix.manifest import MANIFEST_NAME, Manifest, find_manifest, load_manifest
from pyhotfix.publish import PublishTarget, resolve_target

if TYPE_CHECKING:
    from pyhotfix.pipeline import BuildContext, StageCallback
    from pyhotfix.upstream import Cache

__all__ = [
    "build_context",
    "cache",
    "index_target",
    "lifecycle_workspace",
    "manifest_path",
    "progress",
    "upstream_url",
]


def manifest_path(ctx: click.Context, *, create: bool = False) -> Path:
    """-m/--manifest, else hotfixes.toml here or in the nearest parent (with `create`: here)."""
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


def cache() -> Cache:
    from pyhotfix.upstream import Cache, default_cache_dir

    return Cache(default_cache_dir())


def upstream_url(manifest: Manifest) -> str:
    from pyhotfix.upstream import default_upstream_url

    return manifest.settings.upstream or default_upstream_url()


def build_context(
    manifest: Manifest, on_stage: StageCallback, index: PublishTarget | None = None
) -> BuildContext:
    from pyhotfix.building import EnvCache
    from pyhotfix.pipeline import BuildContext
    from pyhotfix.upstream import Cache, default_cache_dir

    cache_dir = default_cache_dir()
    return BuildContext(
        manifest=manifest,
        upstream_url=upstream_url(manifest),
        index=index or resolve_target(manifest.settings, manifest.directory),
        cache=Cache(cache_dir),
        envs=EnvCache(cache_dir / "envs"),
        on_stage=on_stage,
    )


def index_target(ctx: click.Context, to: str | None) -> PublishTarget:
    """--to, else the manifest's [settings] index. With --to, no manifest is needed."""
    from pyhotfix.manifest import DEFAULT_INDEX, DEFAULT_LABEL, Settings

    try:
        path = manifest_path(ctx)
    except UsageError:
        if to is None:
            raise
        return resolve_target(Settings(None, DEFAULT_INDEX, DEFAULT_LABEL), Path.cwd(), to)
    manifest = load_manifest(path)
    return resolve_target(manifest.settings, manifest.directory, to)


def lifecycle_workspace(manifest: Manifest, name: str, given: Path | None) -> Path:
    from pyhotfix.lifecycle.workspace import checked_workspace

    return given.absolute() if given is not None else checked_workspace(manifest, name)


@contextmanager
def progress(enabled: bool) -> Iterator[StageCallback]:
    """A spinner per hotfix on a terminal; a no-op callback otherwise."""
    if not enabled:
        yield lambda name, stage: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=render.stderr,
        transient=True,
    ) as shown:
        tasks: dict[str, Any] = {}

        def on_stage(name: str, stage: str) -> None:
            if name not in tasks:
                tasks[name] = shown.add_task(name)
            shown.update(tasks[name], description=f"{name}: {stage}")

        yield on_stage
