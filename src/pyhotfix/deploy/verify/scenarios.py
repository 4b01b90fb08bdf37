"""One installer from one starting point: a fresh environment, or one that already has the
upstream release installed (an incremental build, a cached environment, a long-lived server)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.appconfig import AppConfig
from pyhotfix.deploy.verify.diagnose import diagnose
from pyhotfix.deploy.verify.install import inspect_installed, install_app, uv_origin
from pyhotfix.deploy.verify.report import Check, CheckResult, Runner, VerifyOptions
from pyhotfix.deploy.verify.venvs import (
    INSTALL_TIMEOUT,
    default_index_env,
    last_lines,
    make_venv,
    run_command,
)
from pyhotfix.httpclient import redact

__all__ = ["install_upstream", "run_scenario"]

_S2I_ROOT = "/opt/app-root/src"


def run_scenario(
    deployment: Deployment,
    options: VerifyOptions,
    config: AppConfig,
    wheels: Mapping[str, Mapping[str, str] | None],
    installer: str,
    scenario: str,
    work: Path,
    uv: str,
    base_env: Mapping[str, str],
    install_env: Mapping[str, str],
    app_dir: Path,
    runner: Runner,
    *,
    shown: VerifyOptions,  # the options as the user gave them, for messages
) -> list[Check]:
    root = work / f"{installer}-{scenario}"
    root.mkdir(parents=True)
    python, problem = make_venv(uv, root / "venv", options.python, installer == "pip", runner)

    def rows(result: CheckResult, reason: str, environment: str = scenario) -> list[Check]:
        return [
            Check(b.name, installer, environment, b.hotfix_version, None, result, reason)
            for b in deployment.hotfixes
        ]

    if python is None:
        return rows("error", problem)
    before: dict[str, str] = {}
    environment = "fresh"
    if scenario == "existing":
        first = install_upstream(deployment, options, installer, python, uv, root, base_env, runner)
        if isinstance(first, str):
            return rows(
                "skipped", f"could not install the upstream releases first: {first}", "had upstream"
            )
        before = first
        environment = "had " + ", ".join(sorted(set(before.values()))) if before else "had upstream"

    names = [b.name for b in deployment.hotfixes]
    run = install_app(options, installer, python, root, uv, install_env, app_dir, names, runner)
    rows_out: list[Check] = []
    for build in deployment.hotfixes:
        installed = run.installed.get(build.name)
        source = run.sources.get(build.name) or (installed.url if installed else None)
        result: CheckResult
        if not run.ok:
            result, reason = "error", _install_failure(installer, run.error, config, shown)
        else:
            kept = before.get(build.name)
            wrong = installed is not None and installed.version not in (build.hotfix_version, kept)
            if installer == "uv" and source is None and wrong:
                # uv has no install report: ask its resolver where the package comes from.
                source = uv_origin(options, python, uv, install_env, app_dir, root, build, runner)
            result, reason = diagnose(
                build, installed, source, before.get(build.name), installer,
                config.for_installer(installer), deployment, shown, wheels.get(build.name),
                ignored=config.pip_only() if installer == "uv" else [],
            )  # fmt: skip
        rows_out.append(
            Check(
                build.name,
                installer,
                environment,
                build.hotfix_version,
                installed.version if installed else None,
                result,
                reason,
                redact(source) if source else None,
            )
        )
    return rows_out


def install_upstream(
    deployment: Deployment,
    options: VerifyOptions,
    installer: str,
    python: Path,
    uv: str,
    root: Path,
    base_env: Mapping[str, str],
    runner: Runner,
) -> dict[str, str] | str:
    """Install the upstream releases, as before the hotfix configuration existed: the versions
    then installed by name, or the installer's error lines."""
    # `===`, not `==`: `==1.0` also matches a local build `1.0+anything` that another index may
    # serve, and "over upstream" must start from upstream's own release.
    specs = [f"{b.name}==={b.version}" for b in deployment.hotfixes]
    if installer == "pip":
        cmd = [str(python), "-m", "pip", "install", "--no-deps"]
    else:
        cmd = [uv, "pip", "install", "--python", str(python), "--no-deps"]
    # The index goes through the environment, never argv: its URL may carry credentials,
    # and any local user can read a command line (ps, /proc).
    env = {**base_env, **default_index_env(options.default_index)}
    done = run_command(runner, [*cmd, *specs], root, env, INSTALL_TIMEOUT)
    if done.returncode != 0:
        return last_lines(done.stderr)
    found = inspect_installed(python, [b.name for b in deployment.hotfixes], runner, root)
    return {name: i.version for name, i in found.items() if i is not None}


def _install_failure(installer: str, error: str, config: AppConfig, shown: VerifyOptions) -> str:
    """Why the install failed, with the likely cause when the configuration shows one."""
    reason = f"{installer} failed: {error}"
    if installer == "pip" and config.uv_project:
        reason += (
            " (pip does not read [tool.uv]: deployments that install with pip need the "
            "hotfix index in their own configuration, e.g. `pyhotfix export --format "
            "constraints`)"
        )
    if _S2I_ROOT in error and shown.deployed_at is None:
        reason += f" (s2i puts the app in {_S2I_ROOT}: add --deployed-at {_S2I_ROOT})"
    return reason
