"""`audit`: does the index hold exactly what hotfixes.lock says (and, with --rebuild, would a
build from the lock give the same bytes)?"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from pyhotfix.cli import render
from pyhotfix.cli.options import json_option, names_argument
from pyhotfix.cli.session import manifest_path
from pyhotfix.manifest import load_manifest

if TYPE_CHECKING:
    from pyhotfix.pipeline import BuildContext

__all__ = ["audit"]


@click.command()
@names_argument()
@click.option(
    "--rebuild",
    is_flag=True,
    help="Also rebuild every hotfix from the lock (fresh download cache, never published) and "
    "compare the bytes with the index's.",
)
@click.option(
    "--index",
    "index",
    metavar="TARGET",
    help="The index to audit: a directory, file://, s3:// or a served index's http(s)://…/simple/ "
    "URL (default: [settings] index).",
)
@json_option()
@click.pass_context
def audit(
    ctx: click.Context, names: tuple[str, ...], rebuild: bool, index: str | None, as_json: bool
) -> None:
    """Check every index file of NAMES (default: every locked hotfix) against the lock and its
    provenance statement; exit 1 naming each file that differs and why."""
    from pyhotfix.provenance.audit import audit_index, finding_dicts

    manifest = load_manifest(manifest_path(ctx))
    rebuild_context: Callable[[Path], BuildContext] | None = None
    if rebuild:
        from pyhotfix.cli.session import build_context
        from pyhotfix.upstream import Cache

        context = build_context(manifest, lambda name, stage: None)

        def with_fresh_cache(cache_dir: Path) -> BuildContext:
            # A fresh download cache: the upstream files and URL patches are fetched again and
            # checked against the lock, as on a second machine.
            return dataclasses.replace(context, cache=Cache(cache_dir))

        rebuild_context = with_fresh_cache

    findings = audit_index(manifest, names, index=index, rebuild_context=rebuild_context)
    if as_json:
        click.echo(json.dumps(finding_dicts(findings), indent=2))
    else:
        render.print_table(
            render.stdout,
            ["name", "file", "result", render.Column("why", prose=True)],
            [
                [
                    escape(f.name),
                    escape(f.filename or "-"),
                    "ok" if f.ok else "DIFFERS",
                    escape(f.reason),
                ]
                for f in findings
            ],
        )
    ctx.exit(0 if all(f.ok for f in findings) else 1)
