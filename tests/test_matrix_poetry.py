"""The deploy matrix for Poetry 2 (`poetry lock`, then `poetry sync --only main` as the Heroku
buildpack runs it, or `poetry install`), classic [tool.poetry] and PEP 621 [project] layouts: after
`pyhotfix pin --pyproject`, the real Poetry installs the hotfix build, judged by its bytes, for a
direct and a transitive dependency, into a fresh `.venv`, over an installed upstream release, and
with the attacker's index as the project's primary source."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from tests.support.deployworld import (
    HOTFIXED,
    PARENT,
    DeployWorld,
    assert_verify_agrees,
    installed_origin,
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
Layout = Literal["classic", "pep621"]
SCENARIOS: tuple[Scenario, ...] = ("fresh", "upstream-installed", "other-index")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("poetry-tool")  # one Poetry cache for the module's cells


def poetry_project(root: Path, layout: Layout, dependency: Dependency, index: str) -> Path:
    root.mkdir()
    name, spec = (HOTFIXED, ">=1.0") if dependency == "direct" else (PARENT, "==1.0")
    source = f'[[tool.poetry.source]]\nname = "main"\nurl = "{index}"\npriority = "primary"\n'
    if layout == "classic":
        text = (
            '[tool.poetry]\nname = "app"\nversion = "0.1"\ndescription = ""\nauthors = []\n'
            "package-mode = false\n\n"
            f'[tool.poetry.dependencies]\npython = ">=3.9"\n{name} = "{spec}"\n\n{source}'
        )
    else:
        text = (
            '[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.9"\n'
            f'dependencies = ["{name}{spec}"]\n\n[tool.poetry]\npackage-mode = false\n\n{source}'
        )
    (root / "pyproject.toml").write_text(text)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("dependency", ["direct", "transitive"])
@pytest.mark.parametrize("layout", ["classic", "pep621"])
def test_poetry_project_installs_the_hotfix(
    tmp_path: Path,
    world: DeployWorld,
    scratch: Path,
    layout: Layout,
    dependency: Dependency,
    scenario: Scenario,
) -> None:
    project = poetry_project(tmp_path / "app", layout, dependency, main_index(world, scenario))
    env = tool_env(scratch)
    pinned = pin_project(world, project)
    assert pinned.code == 0, pinned.output
    assert "tool.uv" not in (project / "pyproject.toml").read_text()
    python = make_venv(project, world, scenario, env)
    poetry = str(tool_executable("poetry"))
    # Heroku's Poetry path (`poetry sync --only main`) in the upstream-installed cells.
    install = [poetry, "sync", "--only", "main"] if scenario != "fresh" else [poetry, "install"]
    for command in ([poetry, "lock"], install):
        done = run_tool(command, project, env)
        assert done.code == 0, done.output
    assert installed_origin(python, world) == "hotfix"
    check = pin_project(world, project, "--check")
    assert check.code == 0, check.output
    if scenario == "other-index":  # verify installs fresh and over upstream itself
        tool_dir = tool_executable("poetry").parent
        assert_verify_agrees(world, "--project", project, "--tool", "poetry", tool_dir=tool_dir)


@pytest.mark.slow
def test_pin_check_fails_while_poetry_lock_takes_upstream(
    tmp_path: Path, world: DeployWorld, scratch: Path
) -> None:
    project = poetry_project(tmp_path / "app", "pep621", "transitive", world.pypi_url)
    env = tool_env(scratch)
    poetry = str(tool_executable("poetry"))
    assert run_tool([poetry, "lock"], project, env).code == 0
    assert pin_project(world, project).code == 0
    check = pin_project(world, project, "--check")
    assert check.code == 1, check.output
    assert f"poetry.lock installs {HOTFIXED} 1.1 from {world.pypi_url.rstrip('/')}" in check.output
    assert "run `poetry lock`" in check.output
    assert run_tool([poetry, "lock"], project, env).code == 0
    assert pin_project(world, project, "--check").code == 0


def test_poetry_refuses_a_file_index(tmp_path: Path, world: DeployWorld) -> None:
    """Poetry cannot read a file:// source (`poetry lock` fails): export and pin say so, exit 2
    (a usage error), and change nothing."""
    export = world.cli("export", "--format", "poetry", cwd=world.app)
    assert export.code == 2, export.output
    assert "Poetry cannot read an index at file://" in export.output
    assert "pyhotfix serve" in export.output and "Traceback" not in export.output
    project = poetry_project(tmp_path / "app", "classic", "direct", world.pypi_url)
    before = (project / "pyproject.toml").read_text()
    index = (world.app / "hotfix-index").as_uri()
    pinned = world.cli(
        "pin", "--pyproject", project / "pyproject.toml", "--index-url", index, cwd=world.app
    )
    assert pinned.code == 2 and "Poetry cannot read" in pinned.output, pinned.output
    assert (project / "pyproject.toml").read_text() == before
