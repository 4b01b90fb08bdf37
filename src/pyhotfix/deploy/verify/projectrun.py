"""One project tool (uv, Poetry, Pipenv, PDM) from one starting point, and its verdict.

The project is copied into a temporary directory (the user's tree is never touched), its `.venv`
is created — empty, or with the upstream release installed as after an earlier deployment — and
the tool's own commands run there. The verdict is the installed bytes against the built wheel;
the tool's lock file only names where a wrong build came from.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.verify.install import inspect_installed
from pyhotfix.deploy.verify.lockfiles import LOCK_FILES, LockedPackage, locked_package
from pyhotfix.deploy.verify.projects import ProjectTool
from pyhotfix.deploy.verify.record import compare_files
from pyhotfix.deploy.verify.relocate import COPY_IGNORE
from pyhotfix.deploy.verify.report import Check, CheckResult, Installed, Runner, VerifyOptions
from pyhotfix.deploy.verify.scenarios import install_upstream
from pyhotfix.deploy.verify.tools import ToolStep, tool_env, tool_steps
from pyhotfix.deploy.verify.venvs import INSTALL_TIMEOUT, last_lines, make_venv, run_command
from pyhotfix.httpclient import redact

__all__ = ["fix_for", "run_tool_scenario"]


def _ignore(directory: str, names: list[str]) -> set[str]:
    # .pdm-python names the developer's own interpreter: the copy gets its own .venv.
    return set(COPY_IGNORE(directory, names)) | ({".pdm-python"} & set(names))


def fix_for(tool: ProjectTool, project: Path, deployment: Deployment, build: HotfixBuild) -> str:
    """What makes `tool`'s project install the hotfix (issue 11's pin/export for pyprojects)."""
    if tool == "pipenv":
        # Pipenv keeps an installed upstream X for `==X+hotfix.N` (it drops the local label);
        # a URL requirement it installs every time, and the URL's sha256 fixes the bytes.
        return (
            f"pin it by URL in the Pipfile's [packages], `{build.name} = {{file = "
            f'"{redact(deployment.pinned_url(build))}"}}` (at the http(s) URL deployments reach '
            "the hotfix index at: Pipfile.lock records a local file relative to the project), "
            "then `pipenv lock`"
        )
    return f"`pyhotfix pin --pyproject {project}/pyproject.toml`, then lock again"


def run_tool_scenario(
    deployment: Deployment,
    options: VerifyOptions,
    tool: ProjectTool,
    exe: str,
    wheels: Mapping[str, Mapping[str, str] | None],
    scenario: str,
    work: Path,
    uv: str,
    base_env: Mapping[str, str],
    deploy_env: Mapping[str, str],
    runner: Runner,
    *,
    shown: VerifyOptions,  # the options as the user gave them, for messages
) -> list[Check]:
    root = work / f"{tool}-{scenario}"
    project = root / "project"
    assert options.project is not None
    shutil.copytree(options.project, project, ignore=_ignore, symlinks=True)
    shown_project = shown.project or options.project
    fixes = {b.name: fix_for(tool, shown_project, deployment, b) for b in deployment.hotfixes}

    def rows(result: CheckResult, reason: str, environment: str = scenario) -> list[Check]:
        return [
            Check(b.name, tool, environment, b.hotfix_version, None, result, reason)
            for b in deployment.hotfixes
        ]

    # Pipenv runs pip inside the environment; the others install with their own installers.
    python, problem = make_venv(uv, project / ".venv", options.python, tool == "pipenv", runner)
    if python is None:
        return rows("error", problem)
    before: dict[str, str] = {}
    environment = "fresh"
    if scenario == "existing":
        first = install_upstream(deployment, options, "uv", python, uv, root, base_env, runner)
        if isinstance(first, str):
            return rows(
                "skipped", f"could not install the upstream releases first: {first}", "had upstream"
            )
        before = first
        environment = "had " + ", ".join(sorted(set(before.values()))) if before else "had upstream"

    env = tool_env(options, tool, project, root, deploy_env)
    for step in tool_steps(tool, exe, project):
        done = run_command(runner, step.argv, project, env, INSTALL_TIMEOUT)
        if done.returncode != 0:
            return rows(
                "FAIL",
                _step_failure(
                    tool, step, done.stderr or done.stdout, "; ".join(dict.fromkeys(fixes.values()))
                ),
                environment,
            )

    names = [b.name for b in deployment.hotfixes]
    found = inspect_installed(python, names, runner, root)
    checks: list[Check] = []
    for build in deployment.hotfixes:
        installed = found.get(build.name)
        locked = locked_package(tool, project, build)
        result, reason = tool_verdict(
            build,
            installed,
            locked,
            before.get(build.name),
            tool,
            wheels.get(build.name),
            fixes[build.name],
        )
        checks.append(
            Check(
                build.name,
                tool,
                environment,
                build.hotfix_version,
                installed.version if installed else None,
                result,
                reason,
                redact(locked.where) if locked and locked.where else None,
            )
        )
    return checks


def _step_failure(tool: ProjectTool, step: ToolStep, output: str, fix: str) -> str:
    error = last_lines(output, 3).rstrip(".")
    if step.lock_check:
        lock = LOCK_FILES[tool]
        return (
            f"`{step.shown}` failed: {error}. {lock} is missing or does not match the project, "
            f"so the deployment fails at this step: run `{tool} lock` and commit {lock} (and if "
            f"the project does not take the hotfix yet, first {fix})."
        )
    return (
        f"`{step.shown}` failed: {error}. A deployment running it fails the same way: fix the "
        f"project's {tool} configuration ({fix})."
    )


def tool_verdict(
    build: HotfixBuild,
    installed: Installed | None,
    locked: LockedPackage | None,
    before: str | None,
    tool: ProjectTool,
    wheel: Mapping[str, str] | None,
    fix: str,
) -> tuple[CheckResult, str]:
    """ok only when the installed files are the built wheel's (or, with no wheel here, the
    version is the hotfix's); otherwise what was installed and what let it in."""
    if installed is None:
        return "unused", f"not installed: the project does not depend on {build.name}"
    lock = f" ({locked.describe()})" if locked else ""
    try:
        got = Version(installed.version)
    except InvalidVersion:
        return "FAIL", f"installed an unparseable version {installed.version!r}{lock}"
    if got == Version(build.hotfix_version):
        problems = compare_files(installed, wheel) if wheel is not None else []
        if problems:
            return "FAIL", (
                f"{installed.version} is not the build in hotfixes.lock: "
                f"{'; '.join(problems[:3])}{lock}. Another index serves a different build under "
                f"this version; tie {build.name} to the hotfix index alone: {fix}."
            )
        if wheel is None:
            return "ok", f"version matches{lock}"
        count = len(wheel)
        return "ok", f"{count} file{'s match' if count != 1 else ' matches'} the built wheel{lock}"
    if before is not None and installed.version == before:
        locks_hotfix = locked is not None and locked.version == build.hotfix_version
        why = (
            f"although {locked.lock if locked else 'the lock'} says {build.hotfix_version}: "
            f"{tool} treats the installed {before} as satisfying it"
            if locks_hotfix
            else f"and {tool} kept it{lock}"
        )
        return "FAIL", (
            f"upstream {before} was already installed {why}. A deployment over an existing "
            f"environment keeps upstream: {fix}."
        )
    kind = "a local build" if "+" in installed.version else "upstream"
    return "FAIL", f"got {kind} {installed.version}{lock}. Fix: {fix}."
