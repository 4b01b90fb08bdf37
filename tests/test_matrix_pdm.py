"""The deploy matrix for PDM (`pdm lock`, then `pdm sync --prod`, or `pdm install --prod`): after
`pyhotfix pin --pyproject`, the real PDM installs the hotfix build, judged by its bytes, for a direct
and a transitive dependency, into a fresh `.venv`, over an installed upstream release, and with the
attacker's index as the project's main source (named "pypi", which replaces PyPI)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

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
from tests.support.tools import tool_executable

Dependency = Literal["direct", "transitive"]
SCENARIOS: tuple[Scenario, ...] = ("fresh", "upstream-installed", "other-index")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdm-tool")  # one PDM cache for the module's cells


def pdm_project(root: Path, dependency: Dependency, index: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.9"\n'
        f'dependencies = ["{requirement_for(dependency)}"]\n\n'
        "[tool.pdm]\ndistribution = false\n\n"
        f'[[tool.pdm.source]]\nname = "pypi"\nurl = "{index}"\n'
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("dependency", ["direct", "transitive"])
def test_pdm_project_installs_the_hotfix(
    tmp_path: Path, world: DeployWorld, scratch: Path, dependency: Dependency, scenario: Scenario
) -> None:
    project = pdm_project(tmp_path / "app", dependency, main_index(world, scenario))
    env = tool_env(scratch)
    pinned = pin_project(world, project)
    assert pinned.code == 0, pinned.output
    python = make_venv(project, world, scenario, env)
    pdm = str(tool_executable("pdm"))
    install = [pdm, "install", "--prod"] if scenario == "fresh" else [pdm, "sync", "--prod"]
    for command in ([pdm, "lock"], install):
        done = run_tool(command, project, env)
        assert done.code == 0, done.output
    assert installed_origin(python, world) == "hotfix"
    check = pin_project(world, project, "--check")
    assert check.code == 0, check.output
    if scenario == "other-index":  # verify installs fresh and over upstream itself
        tool_dir = tool_executable("pdm").parent
        assert_verify_agrees(world, "--project", project, "--tool", "pdm", tool_dir=tool_dir)


@pytest.mark.slow
def test_pin_check_fails_while_pdm_lock_has_another_build(
    tmp_path: Path, world: DeployWorld, scratch: Path
) -> None:
    """pdm.lock records no index, only files and hashes: the attacker's same-version build is
    told apart from the hotfix by its sha256."""
    project = pdm_project(tmp_path / "app", "direct", world.attacker_url)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace(f"{HOTFIXED}>=1.0", f"{HOTFIXED}=={world.hotfix_version}")
    )
    env = tool_env(scratch)
    pdm = str(tool_executable("pdm"))
    done = run_tool([pdm, "lock"], project, env)
    assert done.code == 0, done.output
    check = pin_project(world, project, "--check")
    assert check.code == 1, check.output
    assert "pdm.lock installs demo-six 1.0+hotfix.1 with files that are not the hotfix build" in (
        check.output
    )
    assert pin_project(world, project).code == 0
    assert run_tool([pdm, "lock"], project, env).code == 0
    assert pin_project(world, project, "--check").code == 0
