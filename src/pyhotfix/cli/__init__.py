"""The command line: parse options, call one library function, render its result, map errors to
exit codes. One module per command group; `render`/`reports` print, `session` looks things up.

- `build`: add, build, list, check
- `index`: publish, yank, unyank, serve
- `lifecycle`: edit, commit, status, rebase, retire
- `deploy`: export, pin, verify
- `audit`: the index against the lock and the provenance
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pyhotfix import __version__
from pyhotfix.cli import audit, build, deploy, index, lifecycle, render
from pyhotfix.errors import PyhotfixError
from pyhotfix.manifest import MANIFEST_NAME

__all__ = ["cli", "main"]

# Modules only some commands need (httpx, tomlkit, asyncio, the build stages, rich's table and
# progress) are imported inside those commands, so that `pyhotfix build` with nothing to do starts
# in well under 0.1 s.


def main() -> None:
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(prog_name="pyhotfix", standalone_mode=False)
    except click.exceptions.Abort:
        render.stderr.print("Aborted.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PyhotfixError as exc:  # raised outside a command (the group maps those it sees)
        render.print_error(render.stderr, str(exc))
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
            render.print_error(render.stderr, str(exc))
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


for _command in (
    build.add,
    build.build,
    build.list_,
    build.check,
    index.publish,
    index.yank,
    index.unyank,
    index.serve,
    lifecycle.edit,
    lifecycle.commit,
    lifecycle.status,
    lifecycle.rebase,
    lifecycle.retire,
    deploy.export_,
    deploy.pin,
    deploy.verify,
    audit.audit,
):
    cli.add_command(_command)
