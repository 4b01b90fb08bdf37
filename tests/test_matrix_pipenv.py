"""The deploy matrix for Pipenv (issue 11), with the real Pipenv: the app's Pipfile pinned by
`pyhotfix pin --pipfile` (file = URL#sha256 entries), `pipenv lock`, then Heroku's install step
(`pipenv install --deploy` into the platform's Python, PIPENV_SYSTEM=1) or `pipenv sync` into the
project's .venv, fresh or over an installed upstream, with the fake PyPI or the attacker's index as
the Pipfile's source.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pytest
from uv import find_uv_bin

from tests.conftest import clean_pip_env
from tests.support.deployworld import (
    HOTFIXED,
    PARENT,
    DeployWorld,
    assert_verify_agrees,
    installed_origin,
)
from tests.support.tools import tool_executable

Dependency = Literal["direct", "transitive"]
Setting = Literal["fresh", "upstream-installed", "other-index"]
TIMEOUT = 300


def _run(
    args: list[str | Path], cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


def _pipenv_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return clean_pip_env(
        {
            "PIPENV_CACHE_DIR": str(tmp / "pipenv-cache"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "PIPENV_NOSPIN": "1",
            "PIPENV_YES": "1",
            "PIPENV_VERBOSITY": "-1",
            "PIPENV_IGNORE_VIRTUALENVS": "1",
            "WORKON_HOME": str(tmp / "virtualenvs"),
            **(extra or {}),
        }
    )


def _venv(path: Path, world: DeployWorld, setting: Setting) -> Path:
    env = clean_pip_env({"UV_NO_CONFIG": "1"})
    uv = find_uv_bin()
    _run([uv, "venv", "-q", "--seed", "--python", sys.executable, path], path.parent, env)
    python = path / "bin" / "python"
    if setting == "upstream-installed":
        _run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                python,
                "--default-index",
                world.pypi_url,
                f"{HOTFIXED}==1.0",
            ],
            path.parent,
            env,
        )
        assert installed_origin(python, world) == "upstream"
    return python


def _pipfile(app: Path, source: str, dependency: Dependency) -> Path:
    app.mkdir()
    name = HOTFIXED if dependency == "direct" else PARENT
    spec = '">=1.0"' if dependency == "direct" else '"==1.0"'
    pipfile = app / "Pipfile"
    pipfile.write_text(
        f'[[source]]\nname = "main"\nurl = "{source}"\nverify_ssl = false\n\n'
        f"[packages]\n{name} = {spec}\n"
    )
    return pipfile


def _prepare(tmp: Path, world: DeployWorld, dependency: Dependency, setting: Setting) -> Path:
    """The README's steps: pin --pipfile, pipenv lock (for a package a dependency pulls in: lock,
    pin again, lock again), and pin --check passes only at the end."""
    source = world.attacker_url if setting == "other-index" else world.pypi_url
    pipfile = _pipfile(tmp / "app", source, dependency)
    app = pipfile.parent
    pipenv = tool_executable("pipenv")
    env = _pipenv_env(tmp)
    # Until a hotfix is in the Pipfile, pin cannot read the index URL back from it: pass it.
    url = ("--index-url", world.hotfix_url)
    pinned = world.cli("pin", "--pipfile", pipfile, *url, cwd=world.app)
    assert pinned.code == 0, pinned.output
    _run([pipenv, "lock"], app, env)
    if dependency == "transitive":
        # Pipfile.lock has demo-six from the source: --check says so, pin names it.
        check = world.cli("pin", "--pipfile", pipfile, "--check", *url, cwd=world.app)
        assert check.code == 1 and "Pipfile.lock [default] installs demo-six" in check.output, (
            check.output
        )
        pinned = world.cli("pin", "--pipfile", pipfile, *url, cwd=world.app)
        assert pinned.code == 0 and "pulled in by a dependency" in pinned.output, pinned.output
        check = world.cli("pin", "--pipfile", pipfile, "--check", *url, cwd=world.app)
        assert check.code == 1, check.output  # the lock is stale until `pipenv lock`
        _run([pipenv, "lock"], app, env)
    check = world.cli("pin", "--pipfile", pipfile, "--check", *url, cwd=world.app)
    assert check.code == 0, check.output
    locked = json.loads((app / "Pipfile.lock").read_text())["default"][HOTFIXED]
    assert locked["file"].startswith(world.hotfix_url) and "#sha256=" in locked["file"]
    return app


CELLS = [
    (d, s) for d in ("direct", "transitive") for s in ("fresh", "upstream-installed", "other-index")
]


@pytest.mark.slow
@pytest.mark.parametrize(("dependency", "setting"), CELLS)
def test_heroku_pipenv_install_deploy(
    tmp_path: Path, world: DeployWorld, dependency: Dependency, setting: Setting
) -> None:
    """Heroku's Pipenv step (lib/pipenv.sh): `pipenv install --deploy` with PIPENV_SYSTEM=1 and
    VIRTUAL_ENV at the platform's Python."""
    app = _prepare(tmp_path, world, dependency, setting)
    python = _venv(tmp_path / "venv", world, setting)
    venv = python.parent.parent
    env = _pipenv_env(
        tmp_path,
        {
            "PIPENV_SYSTEM": "1",
            "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        },
    )
    _run([tool_executable("pipenv"), "install", "--deploy"], app, env)
    assert installed_origin(python, world) == "hotfix"
    if setting == "other-index":  # verify installs fresh and over upstream itself
        tool_dir = tool_executable("pipenv").parent
        assert_verify_agrees(world, "--project", app, "--tool", "pipenv", tool_dir=tool_dir)


@pytest.mark.slow
@pytest.mark.parametrize("dependency", ("direct", "transitive"))
def test_pipenv_sync_over_an_installed_upstream(
    tmp_path: Path, world: DeployWorld, dependency: Dependency
) -> None:
    """`pipenv sync` into the project's .venv, which already has upstream 1.0 (a cached build)."""
    app = _prepare(tmp_path, world, dependency, "upstream-installed")
    python = _venv(app / ".venv", world, "upstream-installed")
    env = _pipenv_env(tmp_path, {"PIPENV_VENV_IN_PROJECT": "1"})
    _run([tool_executable("pipenv"), "sync"], app, env)
    assert installed_origin(python, world) == "hotfix"


@pytest.mark.slow
def test_the_old_index_form_keeps_an_installed_upstream(tmp_path: Path, world: DeployWorld) -> None:
    """Why the export changed: `index =` with ==1.0+hotfix.1 in Pipfile.lock, and Pipenv keeps
    upstream 1.0 (it drops +hotfix.1 in its already-satisfied check). If a Pipenv release fixes
    this, the README's Pipenv row can say so."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text(
        f'[[source]]\nname = "main"\nurl = "{world.pypi_url}"\nverify_ssl = false\n\n'
        f'[[source]]\nname = "hotfix"\nurl = "{world.hotfix_url}"\nverify_ssl = false\n\n'
        f'[packages]\n{HOTFIXED} = {{version = "=={world.hotfix_version}", index = "hotfix"}}\n'
    )
    env = _pipenv_env(tmp_path, {"PIPENV_VENV_IN_PROJECT": "1"})
    python = _venv(app / ".venv", world, "upstream-installed")
    _run([tool_executable("pipenv"), "lock"], app, env)
    _run([tool_executable("pipenv"), "sync"], app, env)
    assert installed_origin(python, world) == "upstream"
