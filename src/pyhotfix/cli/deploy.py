"""`export`, `pin` and `verify`: make deployments install the hotfix builds, and check they do."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import click
from rich.markup import escape

from pyhotfix.cli import render, reports
from pyhotfix.cli.options import index_url_option, json_option
from pyhotfix.cli.session import manifest_path, progress
from pyhotfix.deploy.formats import DOCKER_INSTALLERS, FORMATS, DockerInstaller
from pyhotfix.errors import UsageError
from pyhotfix.manifest import load_manifest

__all__ = ["export_", "pin", "verify"]


@click.command(name="export")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="What to write.",
)
@index_url_option()
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
@click.option(
    "--installer",
    type=click.Choice(DOCKER_INSTALLERS),
    help="dockerfile: the image's install step: pip (default), uv-pip (`uv pip install`) or "
    "uv-sync (a uv project's `uv sync --locked`).",
)
@click.pass_context
def export_(
    ctx: click.Context,
    fmt: str,
    index_url: str | None,
    output: Path | None,
    no_hashes: bool,
    installer: DockerInstaller | None,
) -> None:
    """Configuration that makes a deployment install the hotfix builds (see the README per format)."""
    from pyhotfix.deploy import load_deployment
    from pyhotfix.deploy.export import ExportOptions, export, write_export

    if installer is not None and fmt != "dockerfile":
        raise UsageError("--installer applies to --format dockerfile only.")
    deployment = load_deployment(manifest_path(ctx), index_url)
    options = ExportOptions(hashes=not no_hashes, out=output, installer=installer or "pip")
    result = export(deployment, fmt, options)
    if output is None:
        for n, file in enumerate(result.files):
            if len(result.files) > 1:  # like `head` with several files
                click.echo(("\n" if n else "") + f"# ==> {file.name} <==")
            click.echo(file.content, nl=False)
    else:
        written = write_export(result, output)
        render.print_line(render.stderr, escape("wrote " + ", ".join(str(p) for p in written)))
    # The Dockerfile copies a local index itself; the workflow takes it from the checkout; vex
    # and pip-audit name no index.
    if index_url is None and fmt not in ("dockerfile", "github-actions", "vex", "pip-audit"):
        reports.local_url_note(deployment.index_url)
    ctx.exit(0)


@click.command()
@click.option(
    "-r",
    "--requirements",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The requirements file to pin (default: requirements.txt here).",
)
@click.option(
    "--pyproject",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A pyproject.toml to pin instead (for uv, Poetry or PDM: whichever manages it).",
)
@click.option(
    "--pipfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Pipfile to pin instead: each hotfix (and one Pipfile.lock shows a dependency pulls "
    "in) becomes a file = URL#sha256 entry; then run `pipenv lock`.",
)
@index_url_option()
@click.option(
    "--hashes/--no-hashes",
    default=None,
    help="Add --hash options to the pins (default: when pip will not then demand hashes for "
    "the file's other requirements).",
)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the file is not pinned.")
@json_option("Print the result as JSON.")
@click.pass_context
def pin(
    ctx: click.Context,
    requirements: Path | None,
    pyproject: Path | None,
    pipfile: Path | None,
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

    if sum(p is not None for p in (requirements, pyproject, pipfile)) > 1:
        raise UsageError("Give one of -r FILE, --pyproject FILE and --pipfile FILE.")
    path = requirements or pyproject or pipfile
    if path is None:
        for candidate in (Path("requirements.txt"), Path("pyproject.toml"), Path("Pipfile")):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise UsageError(
                "No requirements.txt, pyproject.toml or Pipfile here: name the file with -r FILE, "
                "--pyproject FILE or --pipfile FILE."
            )
    if not path.is_file():
        raise UsageError(f"{path} does not exist.")
    given = index_url or existing_index_url(path)
    deployment = load_deployment(manifest_path(ctx), given)
    result = pin_file(path, deployment, hashes, pipfile=pipfile is not None)
    if not check and result.changed:
        write_result(result)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(path),
                    "pinned": result.pinned,
                    "written": result.changed and not check,
                    "changes": [asdict(c) for c in result.changes],
                    "notes": list(result.notes),
                    "unsafe": list(result.unsafe),
                },
                indent=2,
            )
        )
    else:
        reports.render_pin(path, result, check)
    if given is None and result.changed and not check:
        reports.local_url_note(deployment.index_url)
    ctx.exit(1 if check and not result.pinned else 0)


@click.command()
@click.option(
    "-r",
    "--requirements",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Install this requirements file, as written (its index lines and options included).",
)
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install this project directory with its own tool (uv, Poetry, Pipenv, PDM: detected "
    "from its lock file or configuration), or pip install DIR for a plain project.",
)
@click.option(
    "--tool",
    type=click.Choice(("pip", "uv", "poetry", "pipenv", "pdm")),
    help="The tool that deploys the project, instead of the detected one.",
)
@click.option(
    "--tool-path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The tool's executable (default: found on PATH).",
)
@click.option(
    "--installer",
    type=click.Choice(("pip", "uv", "both")),
    help="For requirements files and plain projects: pip (default), uv (uv pip), or both.",
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
@json_option()
@click.pass_context
def verify(
    ctx: click.Context,
    requirements: Path | None,
    project: Path | None,
    tool: str | None,
    tool_path: Path | None,
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
    from pyhotfix.deploy.verify import VerifyOptions, default_installers, resolve_tool
    from pyhotfix.deploy.verify import verify as run_verify
    from pyhotfix.upstream import PYPI_SIMPLE_URL

    if requirements is not None and project is not None:
        raise UsageError("Give -r FILE or --project DIR, not both.")
    if requirements is None and project is None:
        if Path("requirements.txt").is_file():
            requirements = Path("requirements.txt")
        elif Path("pyproject.toml").is_file() or Path("Pipfile").is_file():
            project = Path(".")
        else:
            raise UsageError("Nothing to verify here: give -r requirements.txt or --project DIR.")
    env: dict[str, str] = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r} is not KEY=VALUE.")
        env[key] = value
    deployment = load_deployment(manifest_path(ctx))
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
        # --installer names pip/uv pip installs, which a project tool does not run
        tool=tool or ("pip" if installer is not None else None),
        tool_path=tool_path,
    )
    if installer is None:
        installers = ("pip",) if tool == "pip" else default_installers(options)
    else:
        installers = ("pip", "uv") if installer == "both" else (installer,)
    options = replace(options, installers=installers)
    chosen = resolve_tool(options)
    shown = ", ".join(installers) if chosen == "pip" else chosen
    with progress(render.stderr.is_terminal and not as_json) as on_stage:
        on_stage("verify", f"installing with {shown} in fresh environments")
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
        reports.render_verify(report)
    ctx.exit(0 if report.ok else 1)
