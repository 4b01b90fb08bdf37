"""The deploy matrix for the pip family (issue 11): pip with constraints, pip.conf, OpenShift s2i,
Heroku's pip path, `uv pip`, pip-tools, and the Dockerfile with pip, `uv pip` and `uv sync`.

Each cell prepares the app the way the README says (`pyhotfix export` / `pin` with the hotfix
index's URL), runs the tool's real install commands in a virtual environment that is fresh or
already has upstream demo-six 1.0, with the fake PyPI or the attacker's index as the main index,
and judges what got installed by its bytes (`installed_origin`).
"""

from __future__ import annotations

import os
import shutil
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
    DeployWorld,
    Origin,
    assert_verify_agrees,
    installed_origin,
    requirement_for,
)
from tests.support.dockerfile import dockerfile_instructions
from tests.support.tools import tool_executable

Dependency = Literal["direct", "transitive"]
Setting = Literal["fresh", "upstream-installed", "other-index"]
DEPENDENCIES: tuple[Dependency, ...] = ("direct", "transitive")
SETTINGS: tuple[Setting, ...] = ("fresh", "upstream-installed", "other-index")
CELLS = [(d, s) for d in DEPENDENCIES for s in SETTINGS]
TIMEOUT = 300


def _run(args: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


def _venv(path: Path, world: DeployWorld, setting: Setting) -> Path:
    """A virtual environment with real pip; with upstream demo-six 1.0 in it when asked."""
    env = clean_pip_env({"UV_NO_CONFIG": "1"})
    _run(
        [find_uv_bin(), "venv", "-q", "--seed", "--python", sys.executable, str(path)],
        path.parent,
        env,
    )
    python = path / "bin" / "python"
    if setting == "upstream-installed":
        _run(
            [
                find_uv_bin(),
                "pip",
                "install",
                "-q",
                "--python",
                str(python),
                "--default-index",
                world.pypi_url,
                f"{HOTFIXED}==1.0",
            ],
            path.parent,
            env,
        )
        assert installed_origin(python, world) == "upstream"
    return python


def _main_index(world: DeployWorld, setting: Setting) -> str:
    return world.attacker_url if setting == "other-index" else world.pypi_url


def _app(tmp_path: Path, dependency: Dependency, name: str = "requirements.txt") -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / name).write_text(requirement_for(dependency) + "\n")
    return app


# Exports whose files do not depend on where they are written, by (world, format, options):
# each is made once with the real CLI and copied into every cell (the CLI costs CPU per run).
_EXPORTED: dict[tuple[str, str, tuple[str, ...]], dict[str, str]] = {}


def _export(world: DeployWorld, fmt: str, out: Path, *extra: str) -> None:
    key = (world.hotfix_url, fmt, extra)
    if fmt == "pip-conf" or key not in _EXPORTED:  # pip.conf names its constraints by path
        target = (
            out if fmt == "pip-conf" else world.root / "exports" / fmt / "-".join(extra) / out.name
        )
        done = world.cli(
            "export",
            "--format",
            fmt,
            "--index-url",
            world.hotfix_url,
            "-o",
            target,
            *extra,
            cwd=world.app,
        )
        assert done.code == 0, done.output
        if fmt == "pip-conf":
            return
        _EXPORTED[key] = {p.name: p.read_text() for p in target.parent.iterdir()}
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, content in _EXPORTED[key].items():
        (out.parent / name).write_text(content)


def _pip_env(python: Path, main: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The deployment's environment: the venv first on PATH, the platform's main index."""
    path = (
        f"{python.parent}{os.pathsep}{Path(find_uv_bin()).parent}{os.pathsep}{os.environ['PATH']}"
    )
    return clean_pip_env(
        {
            "PATH": path,
            "PIP_INDEX_URL": main,
            "VIRTUAL_ENV": str(python.parent.parent),
            **(extra or {}),
        }
    )


# -- the rows: each prepares the app in tmp_path and installs it into `python` -----------------


def row_constraints(
    tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str
) -> None:
    """`pip install -c hotfix-constraints.txt -r requirements.txt`."""
    app = _app(tmp, dep)
    _export(world, "constraints", app / "hotfix-constraints.txt")
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-c",
            "hotfix-constraints.txt",
            "-r",
            "requirements.txt",
        ],
        app,
        _pip_env(python, main),
    )
    if main == world.attacker_url:  # verify installs fresh and over upstream itself
        constraints = app / "hotfix-constraints.txt"
        requirements = app / "requirements.txt"
        env = ("--env", f"PIP_CONSTRAINT={constraints}", "--env", f"UV_CONSTRAINT={constraints}")
        args = ("-r", requirements, *env, "--default-index", main)
        assert_verify_agrees(world, *args, "--installer", "both")


def row_pip_conf(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    """pip.conf's `[install] constraint`, the install step unchanged."""
    app = _app(tmp, dep)
    conf = tmp / "etc" / "pip.conf"
    _export(world, "pip-conf", conf)
    env = _pip_env(python, main, {"PIP_CONFIG_FILE": str(conf)})
    _run([str(python), "-m", "pip", "install", "-r", "requirements.txt"], app, env)


def row_s2i(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    """s2i-python-container's assemble: `pip install -r requirements.txt` in the source directory
    with .s2i/environment's variables (and the platform mirror as PIP_INDEX_URL)."""
    from pyhotfix.deploy.verify import read_env_file

    app = _app(tmp, dep)
    _export(world, "s2i", app / ".s2i" / "environment")
    env = _pip_env(python, main, read_env_file(app / ".s2i" / "environment"))
    script = "set -e\nif [[ -f requirements.txt ]]; then pip install -r requirements.txt; fi\n"
    _run(["bash", "-c", script], app, env)
    if main == world.attacker_url:  # verify reads .s2i/environment as the assemble does
        args = ("-r", app / "requirements.txt", "--default-index", main)
        assert_verify_agrees(world, *args, "--installer", "pip", cwd=app)


def row_heroku(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    """The buildpack's pip step (lib/pip.sh), the export's lines added to requirements.txt."""
    app = _app(tmp, dep)
    _export(world, "heroku", tmp / "heroku.txt")
    with (app / "requirements.txt").open("a") as f:
        f.write((tmp / "heroku.txt").read_text())
    args = [
        "pip",
        "install",
        "-r",
        "requirements.txt",
        "--disable-pip-version-check",
        "--exists-action=w",
        "--no-cache-dir",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    _run(args, app, _pip_env(python, main))


def row_uv_pip(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    """`uv pip install -r requirements.txt -c hotfix-constraints.txt`."""
    app = _app(tmp, dep)
    _export(world, "constraints", app / "hotfix-constraints.txt")
    env = _pip_env(python, main, {"UV_DEFAULT_INDEX": main, "UV_NO_CONFIG": "1"})
    _run(
        [
            find_uv_bin(),
            "pip",
            "install",
            "--python",
            str(python),
            "-r",
            "requirements.txt",
            "-c",
            "hotfix-constraints.txt",
        ],
        app,
        env,
    )


def row_pip_tools(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    """requirements.in with `-c hotfix-constraints.txt`, then `pip-compile` and `pip-sync`."""
    app = _app(tmp, dep, "requirements.in")
    _export(world, "constraints", app / "hotfix-constraints.txt")
    (app / "requirements.in").write_text(
        "-c hotfix-constraints.txt\n" + (app / "requirements.in").read_text()
    )
    env = _pip_env(python, main, {"PIP_NO_CACHE_DIR": "1", "XDG_CACHE_HOME": str(tmp / "cache")})
    compile_ = tool_executable("pip-tools", "pip-compile")
    _run(
        [str(compile_), "-q", "--no-strip-extras", "requirements.in", "-o", "requirements.txt"],
        app,
        env,
    )
    sync = tool_executable("pip-tools", "pip-sync")
    _run([str(sync), "--python-executable", str(python), "requirements.txt"], app, env)


def _dockerfile(tmp: Path, world: DeployWorld, installer: str) -> list[str]:
    out = tmp / "Dockerfile"
    _export(world, "dockerfile", out, "--installer", installer)
    return dockerfile_instructions(out.read_text())


def _run_dockerfile(
    instructions: list[str], app: Path, image: Path, env: dict[str, str], source: Path
) -> None:
    """COPY, ENV and RUN as Docker would, with the image's / mapped to `image` (no Docker here)."""
    for instruction in instructions:
        keyword, _, rest = instruction.partition(" ")
        rest = rest.replace("/opt/pyhotfix", f"{image}/opt/pyhotfix")
        if keyword == "COPY":
            *sources, dest = rest.split()
            for item in sources:
                if (source / item).is_dir():
                    shutil.copytree(source / item, dest, dirs_exist_ok=True)
                else:
                    assert (app / item).is_file(), item  # the app's own files, already there
        elif keyword == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
        elif keyword == "RUN":
            _run(["bash", "-c", rest], app, env)


def row_docker_pip(tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str) -> None:
    app = _app(tmp, dep)
    steps = _dockerfile(tmp, world, "pip")
    assert steps[-1] == "RUN pip install --no-cache-dir -r requirements.txt"
    _run_dockerfile(steps, app, tmp / "image", _pip_env(python, main), world.app)


def row_docker_uv_pip(
    tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str
) -> None:
    app = _app(tmp, dep)
    steps = _dockerfile(tmp, world, "uv-pip")
    assert steps[-1].startswith("RUN uv pip install --system")
    env = _pip_env(
        python, main, {"UV_DEFAULT_INDEX": main, "UV_NO_CONFIG": "1", "UV_PYTHON": str(python)}
    )
    _run_dockerfile(steps, app, tmp / "image", env, world.app)


def row_docker_uv_sync(
    tmp: Path, world: DeployWorld, dep: Dependency, python: Path, main: str
) -> None:
    """A uv project pinned by `pyhotfix pin --pyproject` and locked with `uv lock` on the host,
    then the Dockerfile's `uv sync --locked` into the image's environment."""
    app = tmp / "app"
    app.mkdir()
    deps = [requirement_for(dep)]
    (app / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\n'
        f"dependencies = {deps!r}\n\n"
        f'[[tool.uv.index]]\nname = "main"\nurl = "{main}"\ndefault = true\n'
    )
    pinned = world.cli(
        "pin", "--pyproject", app / "pyproject.toml", "--index-url", world.hotfix_url, cwd=world.app
    )
    assert pinned.code == 0, pinned.output
    if HOTFIXED not in (app / "pyproject.toml").read_text():
        # pin's note for a package a dependency pulls in: name it, and pin again
        assert f"Add `{HOTFIXED}==1.0`" in pinned.output, pinned.output
        text = (
            (app / "pyproject.toml")
            .read_text()
            .replace(f"dependencies = {deps!r}", f"dependencies = {[*deps, f'{HOTFIXED}==1.0']!r}")
        )
        (app / "pyproject.toml").write_text(text)
        pinned = world.cli(
            "pin",
            "--pyproject",
            app / "pyproject.toml",
            "--index-url",
            world.hotfix_url,
            cwd=world.app,
        )
        assert pinned.code == 0, pinned.output
    # uv reads the project's [tool.uv]: no UV_NO_CONFIG; no user config either (XDG, UV_*).
    env = _pip_env(
        python,
        main,
        {
            "XDG_CONFIG_HOME": str(tmp / "xdg"),
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "UV_PROJECT_ENVIRONMENT": str(python.parent.parent),
            "UV_PYTHON": str(python),
        },
    )
    _run([find_uv_bin(), "lock"], app, env)
    steps = _dockerfile(tmp, world, "uv-sync")
    assert steps[0] == "COPY pyproject.toml uv.lock ./"
    assert "--locked" in steps[-1]
    _run_dockerfile(steps, app, tmp / "image", env, world.app)


ROWS = {
    "pip-constraints": row_constraints,
    "pip-conf": row_pip_conf,
    "s2i": row_s2i,
    "heroku-pip": row_heroku,
    "uv-pip-constraints": row_uv_pip,
    "pip-tools": row_pip_tools,
    "dockerfile-pip": row_docker_pip,
    "dockerfile-uv-pip": row_docker_uv_pip,
    "dockerfile-uv-sync": row_docker_uv_sync,
}


@pytest.mark.slow
@pytest.mark.parametrize("row", list(ROWS))
@pytest.mark.parametrize(("dependency", "setting"), CELLS)
def test_matrix_installs_the_hotfix(
    tmp_path: Path, world: DeployWorld, row: str, dependency: Dependency, setting: Setting
) -> None:
    python = _venv(tmp_path / "venv", world, setting)
    ROWS[row](tmp_path, world, dependency, python, _main_index(world, setting))
    origin: Origin = installed_origin(python, world)
    assert origin == "hotfix"


@pytest.mark.slow
@pytest.mark.parametrize(("dependency", "setting"), CELLS)
def test_matrix_pin_requirements(
    tmp_path: Path, world: DeployWorld, dependency: Dependency, setting: Setting
) -> None:
    """`pyhotfix pin -r` (exact +hotfix pins and the hotfix index), as the README tells: for a
    package a dependency pulls in, `pin --check` fails until the package is named and pinned.
    With another index, only --hash pins are safe (pip has no index priority): pin adds them
    when the file allows it, and says so when it does not."""
    app = _app(tmp_path, dependency)
    reqs = app / "requirements.txt"
    pinned = world.cli("pin", "-r", reqs, "--index-url", world.hotfix_url, cwd=world.app)
    assert pinned.code == 0, pinned.output
    check = world.cli("pin", "-r", reqs, "--check", cwd=world.app)
    if dependency == "transitive":
        assert check.code == 1 and f"{HOTFIXED}: no requirement names" in check.output, check.output
        reqs.write_text(reqs.read_text() + f"{HOTFIXED}==1.0\n")
        pinned = world.cli("pin", "-r", reqs, cwd=world.app)
        assert pinned.code == 0, pinned.output
        check = world.cli("pin", "-r", reqs, "--check", cwd=world.app)
    assert check.code == 0, check.output
    hashed = "--hash=sha256:" in reqs.read_text()
    assert hashed == (dependency == "direct")  # demo-dateutil has no hash: none can be added
    if setting == "other-index" and not hashed:
        # the one unsafe cell: pin does not claim otherwise
        assert "pip has no index priority" in pinned.output, pinned.output
        return
    python = _venv(tmp_path / "venv", world, setting)
    _run(
        [str(python), "-m", "pip", "install", "-r", "requirements.txt"],
        app,
        _pip_env(python, _main_index(world, setting)),
    )
    assert installed_origin(python, world) == "hotfix"


def test_dockerfile_uv_sync_refuses_a_path_on_this_machine(world: DeployWorld) -> None:
    """uv.lock records the index URL: a host path cannot be the image's, so no snippet."""
    done = world.cli("export", "--format", "dockerfile", "--installer", "uv-sync", cwd=world.app)
    assert done.code == 2
    assert "a path on this machine" in done.stderr and "--index-url" in done.stderr
    wrong = world.cli("export", "--format", "s2i", "--installer", "uv-sync", cwd=world.app)
    assert wrong.code == 2 and "--format dockerfile only" in wrong.stderr
