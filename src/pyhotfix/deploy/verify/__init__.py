"""`pyhotfix verify`: install the application the way a deployment does, in fresh virtual
environments, and prove that every hotfix in the lock is what got installed.

A project deployed with uv, Poetry, Pipenv or PDM (its lock file or configuration says which,
`projects.detect_tool`; `--tool` overrides) is installed by that tool's own commands in a copy
of the project (`projectrun`); requirements files and plain projects with pip and/or uv pip.

For each installer (pip, uv) and each starting point — a fresh environment, and one that already
has the upstream release installed (an incremental build, a cached Heroku environment, a
long-lived server) — it installs the app's requirements or project with the configuration the
user ships, then checks each hotfix: the installed version is the lock's hotfix version, and every
file of the built wheel is installed with the wheel's hash, in the installed RECORD and on disk
(so the patched files are). A failure names what was installed, where it came from (pip's
`--report`, uv's index annotations or lock), and which requirement let it through.

The installs are isolated from the developer's own pip and uv configuration (config files and
PIP_*/UV_* variables), because a deployment does not have it; `use_user_config` keeps it.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.appconfig import read_project_config, read_requirements_config
from pyhotfix.deploy.verify.diagnose import fragile_warnings
from pyhotfix.deploy.verify.install import default_installers
from pyhotfix.deploy.verify.projectrun import run_tool_scenario
from pyhotfix.deploy.verify.projects import PROJECT_TOOLS, TOOLS, ProjectTool, detect_tool
from pyhotfix.deploy.verify.record import wheel_hashes
from pyhotfix.deploy.verify.relocate import deployed_pattern, relocate, source_app_dir
from pyhotfix.deploy.verify.report import (
    Check,
    CheckResult,
    Runner,
    VerifyOptions,
    VerifyReport,
)
from pyhotfix.deploy.verify.scenarios import run_scenario
from pyhotfix.deploy.verify.tools import find_tool, tool_steps
from pyhotfix.deploy.verify.venvs import (
    default_index_env,
    install_base_env,
    read_env_file,
)
from pyhotfix.errors import UsageError
from pyhotfix.httpclient import redact

__all__ = [
    "Check",
    "CheckResult",
    "ProjectTool",
    "Runner",
    "VerifyOptions",
    "VerifyReport",
    "default_installers",
    "read_env_file",
    "resolve_tool",
    "verify",
]


def resolve_tool(options: VerifyOptions) -> ProjectTool:
    """The tool that deploys the app: --tool, else pip for a requirements file, else the one
    the project's lock file or configuration names."""
    if options.tool is not None:
        tool = next((t for t in TOOLS if t == options.tool), None)
        if tool is None:
            raise UsageError(f"--tool {options.tool!r} is not one of {', '.join(TOOLS)}.")
        if options.requirements is not None and tool != "pip":
            raise UsageError(
                f"--tool {tool} installs a project: give --project DIR. A requirements file is "
                "installed with pip or uv pip (--installer pip|uv|both)."
            )
        return tool
    if options.requirements is not None:
        return "pip"
    assert options.project is not None
    return detect_tool(options.project)


def verify(
    deployment: Deployment, options: VerifyOptions, runner: Runner = subprocess.run
) -> VerifyReport:
    if (options.requirements is None) == (options.project is None):
        raise UsageError("Give one of -r FILE or --project DIR.")
    with tempfile.TemporaryDirectory(prefix="pyhotfix-verify-") as tmp:
        work = Path(tmp)
        run_options = options if options.deployed_at is None else relocate(options, work)
        return _verify(deployment, options, run_options, work, runner)


def _verify(
    deployment: Deployment,
    options: VerifyOptions,
    run_options: VerifyOptions,
    work: Path,
    runner: Runner,
) -> VerifyReport:
    app_dir = source_app_dir(run_options)
    target = (
        str(options.requirements) if options.requirements is not None else f"{options.project}/"
    )
    notes: list[str] = []
    deploy_env = _deploy_env(options, run_options, app_dir, notes)

    base_env = install_base_env(options)
    install_env = {**base_env, **default_index_env(options.default_index), **deploy_env}
    hotfixed = {b.name for b in deployment.hotfixes}
    if run_options.requirements is not None:
        config = read_requirements_config(run_options.requirements, install_env, app_dir, hotfixed)
    else:
        config = read_project_config(app_dir, install_env, hotfixed)
    if options.use_user_config:
        notes.append("with your own pip/uv/tool configuration (--use-user-config)")
    else:
        notes.append(
            "isolated from your own pip/uv/tool configuration (a deployment does not have it; "
            "--use-user-config to include it)"
        )
    notes.append(f"default index: {redact(options.default_index)}")

    wheels = {b.name: wheel_hashes(deployment, b) for b in deployment.hotfixes}
    for build in deployment.hotfixes:
        if wheels[build.name] is None:
            notes.append(
                f"{build.name}: the built wheel is not on this machine, so only the version is "
                "checked (run `pyhotfix build` here to compare files too)"
            )

    from uv import find_uv_bin

    uv = find_uv_bin()
    checks: list[Check] = []
    tool = resolve_tool(run_options)
    scenarios: list[str] = ["fresh"] + (["existing"] if options.existing else [])
    if tool in PROJECT_TOOLS:
        assert run_options.project is not None
        exe = find_tool(tool, options.tool_path)
        shown_steps = " && ".join(s.shown for s in tool_steps(tool, exe, run_options.project))
        notes.append(f"{tool}: {shown_steps}, in a copy of the project, into its .venv")
        for scenario in scenarios:
            checks.extend(
                run_tool_scenario(
                    deployment, run_options, tool, exe, wheels, scenario, work, uv,
                    base_env, deploy_env, runner, shown=options,
                )
            )  # fmt: skip
    for installer in options.installers if tool == "pip" else ():
        for scenario in scenarios:
            checks.extend(
                run_scenario(
                    deployment, run_options, config, wheels, installer, scenario, work, uv,
                    base_env, install_env, app_dir, runner, shown=options,
                )
            )  # fmt: skip
    if options.deployed_at is not None:
        checks = _as_deployed(checks, app_dir, options.deployed_at)
    warnings = fragile_warnings(deployment, options, config, checks)
    return VerifyReport(target, tuple(checks), tuple(warnings), tuple(notes))


def _deploy_env(
    options: VerifyOptions, run_options: VerifyOptions, app_dir: Path, notes: list[str]
) -> dict[str, str]:
    """The variables the deployment sets: .s2i/environment, the --env-file files, then --env;
    each file read is noted."""
    deploy_env: dict[str, str] = {}
    s2i_env = app_dir / ".s2i" / "environment"
    env_files = list(run_options.env_files)
    if s2i_env.is_file() and s2i_env.absolute() not in {p.absolute() for p in env_files}:
        env_files.insert(0, s2i_env)
    for env_file in env_files:
        values = read_env_file(env_file)
        deploy_env.update(values)
        if values:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            name = env_file.relative_to(app_dir) if env_file.is_relative_to(app_dir) else env_file
            notes.append(f"environment from {name}: {shown}")
    deploy_env.update(options.env)
    pattern = deployed_pattern(options)
    if pattern is not None:
        deploy_env = {k: pattern.sub(str(app_dir), v) for k, v in deploy_env.items()}
        notes.append(
            f"{options.deployed_at} (the deployed app) is read from a copy of {source_app_dir(options)}"
        )
    return deploy_env


def _as_deployed(checks: list[Check], app_dir: Path, deployed_at: str) -> list[Check]:
    """The checks with paths in the copy written as the deployment sees them."""
    copy, deployed = str(app_dir), deployed_at.rstrip("/")
    return [
        replace(
            c,
            reason=c.reason.replace(copy, deployed),
            source=c.source.replace(copy, deployed) if c.source else None,
        )
        for c in checks
    ]
