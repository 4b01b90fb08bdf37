"""The deploy matrix for uv projects (`uv lock && uv sync --locked`, and the Heroku buildpack's
`uv sync --locked --no-default-groups`): after `pyhotfix pin --pyproject`, the real uv installs the
hotfix build, judged by its bytes, for a direct and a transitive dependency, into a fresh `.venv`,
over an installed upstream release, and with the attacker's index as the project's main index."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from uv import find_uv_bin

from tests.support.deployworld import (
    HOTFIXED,
    DeployWorld,
    assert_verify_agrees,
    installed_origin,
    requirement_for,
)
from tests.support.projecttools import (
    Scenario,
    main_index,
    make_venv,
    pin_project,
    run_tool,
    tool_env,
)

Dependency = Literal["direct", "transitive"]
SCENARIOS: tuple[Scenario, ...] = ("fresh", "upstream-installed", "other-index")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-tool")  # one uv cache for the module's cells


def uv_project(root: Path, dependency: Dependency, index: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.9"\n'
        f'dependencies = ["{requirement_for(dependency)}"]\n\n'
        f'[[tool.uv.index]]\nname = "main"\nurl = "{index}"\ndefault = true\n'
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("dependency", ["direct", "transitive"])
def test_uv_project_installs_the_hotfix(
    tmp_path: Path, world: DeployWorld, scratch: Path, dependency: Dependency, scenario: Scenario
) -> None:
    project = uv_project(tmp_path / "app", dependency, main_index(world, scenario))
    env = tool_env(scratch)
    pinned = pin_project(world, project)
    assert pinned.code == 0, pinned.output
    python = make_venv(project, world, scenario, env)
    uv = find_uv_bin()
    # Heroku's uv path in the upstream-installed cells, plain `uv sync --locked` elsewhere.
    sync = [uv, "sync", "--locked"]
    if scenario == "upstream-installed":
        sync.append("--no-default-groups")
    for command in ([uv, "lock"], sync):
        done = run_tool(command, project, env)
        assert done.code == 0, done.output
    assert installed_origin(python, world) == "hotfix"
    check = pin_project(world, project, "--check")
    assert check.code == 0, check.output
    if scenario == "other-index":  # verify installs fresh and over upstream itself
        assert_verify_agrees(world, "--project", project, "--tool", "uv")


@pytest.mark.slow
def test_pin_check_fails_while_uv_lock_resolves_the_transitive_hotfix_elsewhere(
    tmp_path: Path, world: DeployWorld, scratch: Path
) -> None:
    """The issue's case: pinned the old way (sources only), uv.lock takes the transitive demo-six
    from the main index; `pin --check` must say so even once pyproject.toml is right."""
    project = uv_project(tmp_path / "app", "transitive", world.attacker_url)
    env = tool_env(scratch)
    done = run_tool([find_uv_bin(), "lock"], project, env)
    assert done.code == 0, done.output
    assert 'version = "99.0"' in (project / "uv.lock").read_text()
    check = pin_project(world, project, "--check")
    assert check.code == 1, check.output
    assert pin_project(world, project).code == 0
    check = pin_project(world, project, "--check")
    assert check.code == 1, check.output
    assert f"uv.lock installs {HOTFIXED} 99.0 from {world.attacker_url}" in check.output
    assert "run `uv lock`" in check.output
    assert run_tool([find_uv_bin(), "lock"], project, env).code == 0
    assert pin_project(world, project, "--check").code == 0
