"""Deploying hotfixes: every export format installs the hotfix with real pip / uv, `pin` rewrites an
app's requirements safely, and `verify` proves the result and catches the dangerous configurations.

The fixture world: a fake PyPI (a static index on 127.0.0.1) carrying demo-pkg 1.0 (buggy: answer() is 41) and a
*higher* upstream release 1.1; demo-pkg 1.0 hotfixed twice through the real CLI (1.0+hotfix.1, then
a changed patch gives 1.0+hotfix.2, the current build), and the hotfix index also served over HTTP.
Built once per module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

from pyhotfix.building import EnvCache
from pyhotfix.deploy import Deployment, HotfixBuild, load_deployment, reqfile
from pyhotfix.deploy import export as export_module
from pyhotfix.deploy.formats import FORMATS
from pyhotfix.deploy.pin import pin_pyproject, pin_requirements
from pyhotfix.deploy.verify import VerifyOptions, read_env_file, verify
from pyhotfix.errors import PyhotfixError
from pyhotfix.index import LocalIndex
from pyhotfix.lock import LockedFile, LockedHotfix, read_lock
from tests.conftest import Pyhotfix, Run, clean_pip_env
from tests.support.apps import fix_patch
from tests.support.deployworld import serve_directory
from tests.support.dockerfile import dockerfile_instructions
from tests.support.projects import make_project, make_sdist, make_wheel

NAME = "demo-pkg"
MODULE = "demo_pkg"
CURRENT = "1.0+hotfix.2"


@dataclass(frozen=True)
class Upstream:
    """The fake PyPI: a static index on 127.0.0.1 (with PEP 658 metadata and HEAD support, which
    uv's resolver uses; tests/support/fakeindex.py answers HEAD with 501)."""

    base_url: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/simple/"


@dataclass(frozen=True)
class World:
    upstream: Upstream
    app: Path  # the directory of hotfixes.toml; the index is app/hotfix-index
    index_url: str  # the hotfix index over HTTP (…/simple/)
    stale: LockedHotfix  # the lock entry of 1.0+hotfix.1
    cli: Pyhotfix

    @property
    def index_root(self) -> Path:
        return self.app / "hotfix-index"

    def run(self, *args: str | Path, cwd: Path | None = None, **env: str) -> Run:
        return self.cli("-m", self.app / "hotfixes.toml", *args, cwd=cwd or self.app, env=env)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, envs: EnvCache, shared_cache: Path
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("deploy")
    cli = Pyhotfix(cache_dir=shared_cache)
    old = make_project(root / "up-1.0", NAME, "1.0", "hatchling")
    new = make_project(root / "up-1.1", NAME, "1.1", "hatchling")
    files = [
        make_sdist(old, root / "dist", envs),
        make_wheel(old, root / "dist", envs),
        make_wheel(new, root / "dist", envs),
    ]
    LocalIndex(root / "pypi", fsync=False).publish(NAME, files)
    with serve_directory(root / "pypi") as pypi:
        upstream = Upstream(pypi)
        app = root / "hotfixes"
        app.mkdir()
        (app / "hotfixes.toml").write_text(f'[settings]\nupstream = "{upstream.url}"\n')
        (app / "fix.patch").write_text(fix_patch(NAME))
        first = cli("add", f"{NAME}==1.0", "--patch", "fix.patch", cwd=app)
        assert first.code == 0, first.output
        stale = read_lock(app / "hotfixes.lock").hotfixes[NAME]
        (app / "fix.patch").write_text(fix_patch(NAME, ", for good"))
        second = cli("build", cwd=app)
        assert second.code == 0, second.output
        assert read_lock(app / "hotfixes.lock").hotfixes[NAME].hotfix_version == CURRENT
        with serve_directory(app / "hotfix-index") as base:
            yield World(upstream, app, f"{base}/simple/", stale, cli)


# -- installing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def pip(
        self, *args: str, cwd: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "pip", *args],
            cwd=cwd,
            env=clean_pip_env(env),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def uv(
        self, *args: str, cwd: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full = clean_pip_env({"VIRTUAL_ENV": str(self.root), "UV_NO_CONFIG": "1", **(env or {})})
        return subprocess.run(
            [find_uv_bin(), *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=300
        )

    def version(self) -> str | None:
        code = f"import importlib.metadata as m; print(m.version({NAME!r}))"
        done = subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, timeout=60
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def answer(self) -> str:
        code = f"import {MODULE}; print({MODULE}.answer())"
        return subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()


def make_env(path: Path, seed: bool = True) -> Env:
    cmd = [find_uv_bin(), "venv", "--quiet", "--python", sys.executable, str(path)]
    if seed:
        cmd.insert(2, "--seed")
    subprocess.run(cmd, check=True, env=clean_pip_env(), timeout=120)
    return Env(path)


def app_with(tmp_path: Path, requirements: str) -> Path:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "requirements.txt").write_text(requirements)
    return app


def assert_hotfix(env: Env, done: subprocess.CompletedProcess[str] | None = None) -> None:
    detail = f"{done.stdout}\n{done.stderr}" if done is not None else ""
    assert env.version() == CURRENT, detail
    assert env.answer() == "42"


# -- export: every format pip or uv can consume installs the hotfix -----------------------------


def test_export_offers_the_exporters_formats() -> None:
    """One list: the CLI's --format choices are the exporter's formats."""
    import click

    from pyhotfix.cli import cli

    (fmt,) = [p for p in cli.commands["export"].params if p.name == "fmt"]
    assert isinstance(fmt.type, click.Choice)
    assert tuple(fmt.type.choices) == FORMATS


@pytest.mark.parametrize(("installer", "hashes"), [("pip", True), ("uv", True), ("pip", False)])
def test_export_requirements(tmp_path: Path, world: World, installer: str, hashes: bool) -> None:
    """The fragment replaces the app's own line for the package; without hashes it can sit next
    to unhashed requirements (with them, pip would demand hashes for every line)."""
    app = app_with(tmp_path, "")
    args: list[str | Path] = ["--index-url", world.index_url, "-o", app / "hf.txt"]
    if not hashes:
        args.append("--no-hashes")
    run = world.run("export", "--format", "requirements", *args)
    assert run.code == 0, run.output
    text = (app / "hf.txt").read_text()
    assert f"--extra-index-url {world.index_url}" in text
    assert f"{NAME}=={CURRENT}" in text
    assert text.count("--hash=sha256:") == (2 if hashes else 0)
    assert ("hash-checking mode" if hashes else "another build") in text, "the comment says why"
    (app / "requirements.txt").write_text("-r hf.txt\n" if hashes else f"{NAME}>=1.0\n-r hf.txt\n")
    env = make_env(tmp_path / "venv", seed=installer == "pip")
    upstream = {"PIP_INDEX_URL": world.upstream.url, "UV_DEFAULT_INDEX": world.upstream.url}
    if installer == "pip":
        done = env.pip("install", "-r", "requirements.txt", cwd=app, env=upstream)
    else:
        done = env.uv("pip", "install", "-r", "requirements.txt", cwd=app, env=upstream)
    assert done.returncode == 0, done.stderr
    assert_hotfix(env, done)


@pytest.mark.parametrize(
    ("fmt", "installer"),
    [("constraints", "pip"), ("constraints", "uv"), ("heroku", "pip"), ("direct", "uv")],
)
def test_export_url_pins(tmp_path: Path, world: World, fmt: str, installer: str) -> None:
    """URL pins take the exact file and check its sha256, even when the app asks for `>=1.0`
    and upstream has 1.1."""
    app = app_with(tmp_path, f"{NAME}>=1.0\n")
    run = world.run("export", "--format", fmt, "--index-url", world.index_url)
    assert run.code == 0, run.output
    assert "--extra-index-url" not in run.stdout
    (line,) = [x for x in run.stdout.splitlines() if x.startswith(f"{NAME} @ ")]
    assert line.startswith(f"{NAME} @ {world.index_url}{NAME}/demo_pkg-1.0%2Bhotfix.2-")
    assert re.search(r"#sha256=[0-9a-f]{64}$", line)
    env = make_env(tmp_path / "venv", seed=installer == "pip")
    upstream = {"PIP_INDEX_URL": world.upstream.url, "UV_DEFAULT_INDEX": world.upstream.url}
    if fmt == "constraints":
        (app / "constraints.txt").write_text(run.stdout)
        args = ["-r", "requirements.txt", "-c", "constraints.txt"]
    else:
        (app / "requirements.txt").write_text(f"{NAME}>=1.0\n{run.stdout}")
        args = ["-r", "requirements.txt"]
    if installer == "pip":
        done = env.pip("install", *args, cwd=app, env=upstream)
    else:
        done = env.uv("pip", "install", *args, cwd=app, env=upstream)
    assert done.returncode == 0, done.stderr
    assert_hotfix(env, done)


def test_export_pip_conf(tmp_path: Path, world: World) -> None:
    app = app_with(tmp_path, f"{NAME}>=1.0\n")
    conf = tmp_path / "etc" / "pip.conf"
    run = world.run("export", "--format", "pip-conf", "--index-url", world.index_url, "-o", conf)
    assert run.code == 0, run.output
    constraints = conf.parent / "hotfix-constraints.txt"
    assert f"constraint = {constraints}" in conf.read_text()
    assert "merges" in conf.read_text(), "the comment says why there is no index line"
    env = make_env(tmp_path / "venv")
    done = env.pip(
        "install",
        "-r",
        "requirements.txt",
        cwd=app,
        env={"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": world.upstream.url},
    )
    assert done.returncode == 0, done.stderr
    assert_hotfix(env, done)


def test_export_uv_project(tmp_path: Path, world: World) -> None:
    """The uv fragment in a project: `uv sync` takes demo-pkg from the hotfix index alone, even
    for `>=1.0` with 1.1 on the default index."""
    run = world.run("export", "--format", "uv", "--index-url", world.index_url)
    assert run.code == 0, run.output
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["{NAME}>=1.0"]\n\n{run.stdout}'
    )
    env = make_env(tmp_path / "venv", seed=False)
    done = env.uv(
        "sync",
        "--python",
        str(env.python),
        cwd=project,
        env={"UV_PROJECT_ENVIRONMENT": str(env.root), "UV_DEFAULT_INDEX": world.upstream.url},
    )
    assert done.returncode == 0, done.stderr
    assert_hotfix(env, done)
    assert f'version = "{CURRENT}"' in (project / "uv.lock").read_text()


def test_export_poetry_and_pipenv_are_valid(world: World) -> None:
    import tomllib

    poetry = world.run("export", "--format", "poetry", "--index-url", world.index_url)
    data = tomllib.loads(poetry.stdout)
    assert data["tool"]["poetry"]["source"] == [
        {"name": "hotfix", "url": world.index_url, "priority": "explicit"}
    ]
    assert data["tool"]["poetry"]["dependencies"][NAME] == {"version": CURRENT, "source": "hotfix"}
    pipenv = world.run("export", "--format", "pipenv", "--index-url", world.index_url)
    data = tomllib.loads(pipenv.stdout)
    # A file = URL with its sha256 (issue 11: Pipenv keeps an installed upstream for `index =`).
    (url,) = [data["packages"][NAME]["file"]]
    assert url.startswith(world.index_url) and "#sha256=" in url and "source" not in data


def test_export_s2i_writes_environment_and_constraints(tmp_path: Path, world: World) -> None:
    app = app_with(tmp_path, f"{NAME}==1.0\n")
    run = world.run(
        "export", "--format", "s2i", "--index-url", world.index_url, "-o", app / ".s2i/environment"
    )
    assert run.code == 0, run.output
    env = read_s2i_environment(app / ".s2i" / "environment")
    assert env == {"PIP_CONSTRAINT": ".s2i/hotfix-constraints.txt"}
    constraints = (app / ".s2i" / "hotfix-constraints.txt").read_text()
    assert f"{NAME} @ {world.index_url}" in constraints
    assert "--extra-index-url" not in (app / ".s2i" / "environment").read_text()
    venv = make_env(tmp_path / "venv")
    done = s2i_assemble(app, venv, world.upstream.url)
    assert done.returncode == 0, done.stderr
    assert_hotfix(venv, done)
    # The same configuration does nothing for uv, and verify says why.
    code, report, run = verify_json(
        world, "-r", app / "requirements.txt", "--installer", "uv", "--fresh-only"
    )
    assert code == 1, run.output
    (row,) = report["checks"]
    assert row["installed"] == "1.0" and "uv does not read PIP_CONSTRAINT" in row["reason"], (
        json.dumps(row)
    )


def test_export_dockerfile_snippet(tmp_path: Path, world: World) -> None:
    """The snippet for the default (local directory) index: COPY the index into the image, write
    the constraints, install. Run here with / mapped to a scratch directory."""
    run = world.run("export", "--format", "dockerfile")
    assert run.code == 0, run.output
    snippet = run.stdout
    assert "COPY hotfix-index/ /opt/pyhotfix/hotfix-index/" in snippet
    image = tmp_path / "image"
    app = app_with(tmp_path, f"{NAME}>=1.0\n")
    venv = make_env(tmp_path / "venv")
    env = clean_pip_env(
        {"PATH": f"{venv.bin}{os.pathsep}{os.environ['PATH']}", "PIP_INDEX_URL": world.upstream.url}
    )
    for instruction in dockerfile_instructions(snippet):
        keyword, _, rest = instruction.partition(" ")
        rest = rest.replace("/opt/pyhotfix", f"{image}/opt/pyhotfix")
        if keyword == "COPY":
            source, dest = rest.split()
            shutil.copytree(world.app / source, dest)
        elif keyword == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
        elif keyword == "RUN":
            done = subprocess.run(
                ["bash", "-c", rest], cwd=app, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stderr
    assert_hotfix(venv)


# -- OpenShift s2i: what the Python builder's assemble step runs -------------------------------


def read_s2i_environment(path: Path) -> dict[str, str]:
    """As s2i reads .s2i/environment (pkg/scripts/environment.go): `#` lines are comments; KEY=VALUE
    split at the first `=`, both sides trimmed."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip()
    return env


def s2i_assemble(app: Path, venv: Env, mirror: str) -> subprocess.CompletedProcess[str]:
    """sclorg/s2i-python-container's assemble: in the source directory, with the environment
    file's variables set (and the platform's mirror as PIP_INDEX_URL), `pip install -r
    requirements.txt` when the file exists, then `pip install .` for setup.py/setup.cfg apps."""
    env = clean_pip_env(
        {
            "PIP_INDEX_URL": mirror,
            "PATH": f"{venv.bin}{os.pathsep}{os.environ['PATH']}",
            **read_s2i_environment(app / ".s2i" / "environment"),
        }
    )
    script = (
        "set -e\n"
        "if [[ -f requirements.txt ]]; then pip install -r requirements.txt; fi\n"
        "if [[ -f setup.py || -f setup.cfg ]]; then pip install .; fi\n"
    )
    return subprocess.run(
        ["bash", "-c", script], cwd=app, env=env, capture_output=True, text=True, timeout=300
    )


EXAMPLE = Path(__file__).parents[1] / "examples" / "openshift-s2i"
EXAMPLE_URL = "file:///opt/app-root/src/hotfix-index/simple/"


def test_openshift_example_is_the_export_of_its_lock(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    """The example's .s2i files are exactly what `pyhotfix export --format s2i` writes for its
    lock, and pin python-magic to the build its lock records."""
    out = tmp_path / ".s2i" / "environment"
    run = pyhotfix(
        "-m", EXAMPLE / "hotfixes.toml", "export", "--format", "s2i",
        "--index-url", EXAMPLE_URL, "-o", out, cwd=tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.output
    for name in ("environment", "hotfix-constraints.txt"):
        assert (EXAMPLE / ".s2i" / name).read_text() == (out.parent / name).read_text()
    locked = read_lock(EXAMPLE / "hotfixes.lock").hotfixes["python-magic"]
    wheel = next(f for f in locked.files if f.filename.endswith(".whl"))
    constraints = (EXAMPLE / ".s2i" / "hotfix-constraints.txt").read_text()
    assert f"#sha256={wheel.sha256}" in constraints
    assert (EXAMPLE / "requirements.txt").read_text().strip().endswith("python-magic==0.4.3")


@pytest.mark.slow
def test_openshift_s2i_assemble_installs_the_hotfix(tmp_path: Path, world: World) -> None:
    """The example app's layout, hermetic: its requirements.txt with the fixture package instead
    of python-magic, its .s2i/environment generated for the fixture index, a stale upstream
    install in the image (incremental build), and the builder's assemble step."""
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("hotfix-index", ".s2i"))
    requirements = (app / "requirements.txt").read_text()
    (app / "requirements.txt").write_text(
        requirements.replace("python-magic==0.4.3", "demo-pkg==1.0")
    )
    run = world.run(
        "export", "--format", "s2i", "--index-url", world.index_url, "-o", app / ".s2i/environment"
    )
    assert run.code == 0, run.output
    venv = make_env(tmp_path / "venv")
    assert (
        venv.pip("install", f"{NAME}==1.0", "--index-url", world.upstream.url, cwd=app).returncode
        == 0
    )
    assert venv.version() == "1.0"
    done = s2i_assemble(app, venv, world.upstream.url)
    assert done.returncode == 0, done.stderr
    assert_hotfix(venv, done)
    verify = world.run("verify", "-r", app / "requirements.txt", "--fresh-only", "--json")
    assert verify.code == 0, verify.output
    report = json.loads(verify.stdout)
    assert {(c["installer"], c["result"]) for c in report["checks"]} == {("pip", "ok")}
    assert any(".s2i/environment" in note for note in report["notes"])


def test_verify_an_s2i_app_with_its_committed_index(tmp_path: Path, world: World) -> None:
    """ORIGIN.md's "include it in your tree": the index committed with the app, reached by the
    builder at /opt/app-root/src. `verify --deployed-at` reads that path from the app here."""
    app = app_with(tmp_path, f"{NAME}==1.0\n")
    shutil.copytree(world.index_root, app / "hotfix-index")
    run = world.run(
        "export", "--format", "s2i", "--index-url", EXAMPLE_URL, "-o", app / ".s2i/environment"
    )
    assert run.code == 0, run.output
    assert EXAMPLE_URL in (app / ".s2i" / "hotfix-constraints.txt").read_text()
    code, report, run = verify_json(
        world, "-r", app / "requirements.txt", "--deployed-at", "/opt/app-root/src"
    )
    assert code == 0, run.output
    assert {(c["environment"], c["installed"], c["result"]) for c in report["checks"]} == {
        ("fresh", CURRENT, "ok"),
        ("had 1.0", CURRENT, "ok"),
    }
    fresh = next(c for c in report["checks"] if c["environment"] == "fresh")
    assert "from the hotfix index" in fresh["reason"]
    assert fresh["source"].startswith(EXAMPLE_URL), "reported as the deployment sees it"
    without = world.run("verify", "-r", app / "requirements.txt", "--fresh-only")
    assert without.code == 1, "without the mapping, /opt/app-root/src does not exist here"
    assert "/opt/app-root/src" in without.stdout


# -- pin -----------------------------------------------------------------------------------------

APP_REQUIREMENTS = """\
# The app's requirements.
--index-url {upstream}

{name}==1.0  # the buggy one; see hotfixes.toml
other-thing>=2 ; python_version >= "3.8"
"""


def test_pin_is_idempotent_and_keeps_everything_else(tmp_path: Path, world: World) -> None:
    original = APP_REQUIREMENTS.format(upstream=world.upstream.url, name=NAME)
    app = app_with(tmp_path, original)
    first = world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url)
    assert first.code == 0, first.output
    pinned = (app / "requirements.txt").read_text()
    assert pinned.splitlines()[:2] == original.splitlines()[:2], "comments and order stay"
    assert pinned.splitlines()[3] == f"--extra-index-url {world.index_url}", "beside --index-url"
    assert f"{NAME}=={CURRENT}  # the buggy one; see hotfixes.toml" in pinned
    assert 'other-thing>=2 ; python_version >= "3.8"' in pinned
    assert "--hash" not in pinned, "other-thing has no hash: adding one would break the install"
    assert "hash-checking mode" in first.stderr, "the note says why"
    second = world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url)
    assert second.code == 0, second.output
    assert (app / "requirements.txt").read_text() == pinned
    assert "pinned to its current build" in second.stdout


def test_pin_adds_hashes_when_the_file_can_take_them(tmp_path: Path, world: World) -> None:
    app = app_with(tmp_path, f"# only the hotfixed package\n{NAME}==1.0 \\\n    # no hash yet\n")
    run = world.run("pin", "--index-url", world.index_url, cwd=app)
    assert run.code == 0, run.output
    text = (app / "requirements.txt").read_text()
    lock = read_lock(world.app / "hotfixes.lock").hotfixes[NAME]
    for file in lock.files:
        assert f"--hash=sha256:{file.sha256}" in text
    assert world.run("pin", "--index-url", world.index_url, "--check", cwd=app).code == 0


def test_pin_check_fails_until_pinned(tmp_path: Path, world: World) -> None:
    app = app_with(tmp_path, f"{NAME}>=1.0\n")
    check = world.run("pin", "-r", app / "requirements.txt", "--check")
    assert check.code == 1, check.output
    assert "not pinned" in check.stderr and f"{NAME}=={CURRENT}" in check.stdout
    assert (app / "requirements.txt").read_text() == f"{NAME}>=1.0\n", "--check writes nothing"
    assert world.run("pin", "-r", app / "requirements.txt").code == 0
    assert world.run("pin", "-r", app / "requirements.txt", "--check").code == 0


def test_pin_updates_a_stale_pin_and_the_index_url(tmp_path: Path, world: World) -> None:
    old = world.stale
    hashes = "".join(f" --hash=sha256:{f.sha256}" for f in old.files)
    app = app_with(tmp_path, f"{NAME}=={old.hotfix_version}{hashes}\n")
    run = world.run("pin", "-r", app / "requirements.txt", "--index-url", "https://old.example/")
    assert run.code == 0, run.output
    run = world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url)
    text = (app / "requirements.txt").read_text()
    assert f"{NAME}=={CURRENT}" in text and old.hotfix_version not in text
    assert "old.example" not in text and text.count("--extra-index-url") == 1


def test_pin_refuses_an_impossible_pin(tmp_path: Path, world: World) -> None:
    original = f"# keep me\n{NAME}==1.1\n"
    app = app_with(tmp_path, original)
    run = world.run("pin", "-r", app / "requirements.txt")
    assert run.code == 1, run.output
    message = " ".join(run.stderr.split())
    assert f"`{NAME}==1.1` asks for a version the hotfix cannot satisfy" in message
    assert f"the hotfix is {CURRENT}, a patched {NAME} 1.0" in message
    assert (
        f"`pyhotfix retire {NAME}`" in message and f"`pyhotfix rebase {NAME} --to 1.1`" in message
    )
    assert "Traceback" not in run.output
    assert (app / "requirements.txt").read_text() == original


def test_pin_pyproject_for_uv(tmp_path: Path, world: World) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    original = (
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\n'
        f'dependencies = [\n  "{NAME}>=1.0",  # buggy\n]\n\n[tool.ruff]\nline-length = 100\n'
    )
    (project / "pyproject.toml").write_text(original)
    run = world.run(
        "pin", "--pyproject", project / "pyproject.toml", "--index-url", world.index_url
    )
    assert run.code == 0, run.output
    text = (project / "pyproject.toml").read_text()
    assert f'"{NAME}=={CURRENT}",  # buggy' in text and "[tool.ruff]\nline-length = 100" in text
    assert "explicit = true" in text and f'{NAME} = {{index = "hotfix"}}' in text
    again = world.run(
        "pin", "--pyproject", project / "pyproject.toml", "--index-url", world.index_url
    )
    assert again.code == 0 and (project / "pyproject.toml").read_text() == text
    verify = world.run("verify", "--project", project, "--json")
    assert verify.code == 0, verify.output
    checks = json.loads(verify.stdout)["checks"]
    assert {(c["installer"], c["installed"], c["result"]) for c in checks} == {
        ("uv", CURRENT, "ok")
    }


# -- verify --------------------------------------------------------------------------------------


def verify_json(world: World, *args: str | Path) -> tuple[int, dict[str, Any], Run]:
    run = world.run("verify", *args, "--json")
    assert "Traceback" not in run.output, run.output
    return run.code, json.loads(run.stdout), run


@pytest.mark.slow
def test_verify_passes_with_pip_and_uv(tmp_path: Path, world: World) -> None:
    app = app_with(tmp_path, f"{NAME}==1.0\n")
    assert (
        world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url).code == 0
    )
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--installer", "both")
    assert code == 0, run.output
    rows = {(c["installer"], c["environment"]): c for c in report["checks"]}
    assert set(rows) == {("pip", "fresh"), ("pip", "had 1.0"), ("uv", "fresh"), ("uv", "had 1.0")}
    for row in rows.values():
        assert row["installed"] == CURRENT and row["result"] == "ok", row
        assert "1 file matches the built wheel" in row["reason"], json.dumps(row)
    assert "from the hotfix index" in rows["pip", "fresh"]["reason"], "pip's report says where"
    assert rows["pip", "fresh"]["source"].startswith(world.index_url)
    assert report["warnings"] == [], "exact pin with hashes: nothing to warn about"

    # Without hashes the merge could take another build under the same version: a warning.
    assert world.run("pin", "-r", app / "requirements.txt", "--no-hashes").code == 0
    table = world.run("verify", "-r", app / "requirements.txt", "--fresh-only")
    assert table.code == 0 and "every deployment checked gets the hotfix builds" in table.stdout
    assert "has no hash" in table.stderr and "another build" in " ".join(table.stderr.split())
    print(table.stdout, table.stderr)


def test_verify_catches_extra_index_without_pins(tmp_path: Path, world: World) -> None:
    """pip merges --extra-index-url with the default index: `>=1.0` takes upstream's 1.1."""
    app = app_with(tmp_path, f"--extra-index-url {world.index_url}\n{NAME}>=1.0\n")
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--fresh-only")
    assert code == 1, run.output
    (row,) = report["checks"]
    assert row["installed"] == "1.1" and row["result"] == "FAIL"
    reason = row["reason"]
    assert f"`{NAME}>=1.0` (requirements.txt:2) allows it" in reason
    assert f"--extra-index-url {world.index_url} (requirements.txt:1)" in reason
    assert world.upstream.base_url in reason, "names the index that won"
    assert "pyhotfix pin" in reason


def test_verify_catches_a_stale_pin(tmp_path: Path, world: World) -> None:
    old = world.stale
    hashes = "".join(f" --hash=sha256:{f.sha256}" for f in old.files)
    app = app_with(
        tmp_path, f"--extra-index-url {world.index_url}\n{NAME}=={old.hotfix_version}{hashes}\n"
    )
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--fresh-only")
    assert code == 1, run.output
    (row,) = report["checks"]
    assert row["installed"] == "1.0+hotfix.1" and row["result"] == "FAIL"
    assert "an older hotfix build, 1.0+hotfix.1" in row["reason"]
    assert f"the current build is {CURRENT}" in row["reason"]


@pytest.mark.slow
def test_verify_catches_an_installed_upstream_release(tmp_path: Path, world: World) -> None:
    """`==1.0` with the hotfix index merged works in a fresh environment, but pip and uv keep an
    installed upstream 1.0; the exact pin replaces it."""
    app = app_with(tmp_path, f"--extra-index-url {world.index_url}\n{NAME}==1.0\n")
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--installer", "both")
    assert code == 1, run.output
    rows = {(c["installer"], c["environment"]): c for c in report["checks"]}
    for installer in ("pip", "uv"):
        assert rows[installer, "fresh"]["result"] == "ok"
        kept = rows[installer, "had 1.0"]
        assert kept["installed"] == "1.0" and kept["result"] == "FAIL"
        assert f"so {installer} kept it without looking at any index" in kept["reason"]

    assert (
        world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url).code == 0
    )
    venv = make_env(tmp_path / "venv")
    assert venv.pip("install", f"{NAME}==1.0", "-i", world.upstream.url, cwd=app).returncode == 0
    assert venv.version() == "1.0"
    done = venv.pip(
        "install", "-r", "requirements.txt", cwd=app, env={"PIP_INDEX_URL": world.upstream.url}
    )
    assert done.returncode == 0, done.stderr
    assert_hotfix(venv, done)


def test_verify_keeps_index_credentials_off_the_command_line(tmp_path: Path, world: World) -> None:
    """A credentialed default index reaches pip and uv through the environment only: any local
    user can read a command line (ps, /proc/PID/cmdline)."""
    app = app_with(tmp_path, f"{NAME}==1.0\n")
    assert (
        world.run("pin", "-r", app / "requirements.txt", "--index-url", world.index_url).code == 0
    )
    secret = "s3cr3t-t0ken"
    # http.server ignores the Authorization header, so the install works with any credentials.
    default_index = world.upstream.url.replace("http://", f"http://ci-user:{secret}@")
    calls: list[tuple[list[str], dict[str, str]]] = []

    def recording_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append((list(cmd), dict(kwargs.get("env") or {})))
        done: subprocess.CompletedProcess[str] = subprocess.run(cmd, **kwargs)
        return done

    options = VerifyOptions(
        requirements=app / "requirements.txt",
        installers=("pip", "uv"),
        default_index=default_index,
        existing=True,
    )
    report = verify(
        load_deployment(world.app / "hotfixes.toml", world.index_url), options, recording_run
    )
    rows = {(c.installer, c.environment): c for c in report.checks}
    # The upstream release was installed first from the credentialed index, then replaced.
    assert set(rows) == {("pip", "fresh"), ("pip", "had 1.0"), ("uv", "fresh"), ("uv", "had 1.0")}
    assert all(c.result == "ok" for c in report.checks), report
    assert calls and not [argv for argv, _ in calls if any(secret in arg for arg in argv)]
    installs = [env for argv, env in calls if "install" in argv]
    assert installs and all(
        env.get("PIP_INDEX_URL") == default_index and env.get("UV_DEFAULT_INDEX") == default_index
        for env in installs
    )
    assert secret not in " ".join(report.notes)


def test_verify_warns_safe_today_unsafe_tomorrow(tmp_path: Path, world: World) -> None:
    """Installs the hotfix today (no 1.0.x upstream yet) but `<1.1` lets a 1.0.1 win tomorrow."""
    app = app_with(tmp_path, f"--extra-index-url {world.index_url}\n{NAME}>=1.0,<1.1\n")
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--fresh-only")
    assert code == 0, run.output
    assert [c["result"] for c in report["checks"]] == ["ok"]
    (warning,) = report["warnings"]
    assert "safe today, unsafe tomorrow" in warning and "1.0.1" in warning
    assert "--extra-index-url" in warning


def test_verify_detects_a_different_build_under_the_same_version(
    tmp_path: Path, world: World
) -> None:
    """Another index serves a different build numbered 1.0+hotfix.2: the version matches, the
    files do not."""
    original = next((world.index_root / "simple" / NAME).glob(f"*{CURRENT}*.whl"))
    impostor = tmp_path / "wheel" / original.name
    impostor.parent.mkdir()
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(impostor, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == f"{MODULE}/__init__.py":
                data = data.replace(b"return 42", b"return 40")
            dst.writestr(info, data)
    LocalIndex(tmp_path / "impostor", fsync=False).publish(NAME, [impostor])
    url = (tmp_path / "impostor" / "simple").as_uri() + "/"
    app = app_with(tmp_path, f"--extra-index-url {url}\n{NAME}=={CURRENT}\n")
    code, report, run = verify_json(world, "-r", app / "requirements.txt", "--fresh-only")
    assert code == 1, run.output
    (row,) = report["checks"]
    assert row["installed"] == CURRENT and row["result"] == "FAIL"
    assert f"{MODULE}/__init__.py on disk differs from the built wheel" in row["reason"]
    assert "is not the build in hotfixes.lock" in row["reason"]


def test_verify_usage_errors(tmp_path: Path, world: World) -> None:
    run = world.run("verify", "-r", tmp_path / "nope.txt")
    assert run.code == 2 and "Traceback" not in run.output
    run = world.run("verify", cwd=tmp_path)
    assert run.code == 2 and "Nothing to verify here" in run.stderr


def test_export_before_any_build(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    (tmp_path / "hotfixes.toml").write_text(
        '[hotfix.demo-pkg]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    )
    run = pyhotfix("export", "--format", "requirements", cwd=tmp_path)
    assert run.code == 1, run.output
    assert "Not built yet" in run.stderr and "pyhotfix build" in run.stderr
    bad = pyhotfix("export", "--format", "uv", "--index-url", "ftp://x/", cwd=tmp_path)
    assert bad.code in (1, 2) and "Traceback" not in bad.output


# -- units: requirements parsing, pin and export as pure functions ------------------------------


def unit_deployment(url: str = "https://hotfixes.example/simple/") -> Deployment:
    files = (
        LockedFile("python_magic-0.4.3+hotfix.1-py3-none-any.whl", "a" * 64, 10),
        LockedFile("python_magic-0.4.3+hotfix.1.tar.gz", "b" * 64, 10),
    )
    build = HotfixBuild("python-magic", "0.4.3", "0.4.3+hotfix.1", "hotfix", files)
    return Deployment(Path("/app/hotfixes.toml"), url, None, None, (build,))


def test_requirements_parsing_follows_pip() -> None:
    text = (
        "# comment\r\n"
        "--extra-index-url=${INDEX}  # where\r\n"
        "python-magic[x] == 0.4.3 ; python_version >= '3.8' \\\r\n"
        "    --hash=sha256:abc\r\n"
        "pkg @ https://x.example/pkg-1.0.tar.gz#sha256=00\r\n"
        "-r base.txt\r\n"
        "./local/path\r\n"
    )
    parsed = reqfile.parse_text(text, Path("requirements.txt"), {"INDEX": "https://i.example/"})
    lines = [line for line in parsed.logical if line.content]
    assert [line.start for line in lines] == [1, 2, 4, 5, 6]
    assert lines[0].option_values("--extra-index-url") == ["https://i.example/"]
    assert lines[0].comment == "# where"
    magic = lines[1]
    assert magic.requirement is not None and magic.requirement.extras == {"x"}
    assert magic.hashes == ("sha256:abc",) and magic.end == 4
    assert lines[2].requirement is not None and lines[2].requirement.url, "#sha256 is no comment"
    assert lines[3].option_values("--requirement") == ["base.txt"]
    assert lines[4].requirement is None and lines[4].error
    assert parsed.newline == "\r\n"


def test_pin_requirements_keeps_crlf_markers_and_options() -> None:
    text = (
        "flask>=2 --hash=sha256:1111\r\n"
        "Python_Magic[x]>=0.4 ; python_version >= '3.8' --config-settings=a=b  # keep\r\n"
    )
    result = pin_requirements(text, Path("requirements.txt"), unit_deployment())
    lines = result.text.split("\r\n")
    assert "\n" not in result.text.replace("\r\n", ""), "line endings stay CRLF"
    assert lines[0].startswith("# pyhotfix: hotfix index")
    assert lines[1] == "--extra-index-url https://hotfixes.example/simple/"
    assert lines[2] == "flask>=2 --hash=sha256:1111"
    assert lines[3] == (
        "Python_Magic[x]==0.4.3+hotfix.1; python_version >= '3.8' --config-settings=a=b \\"
    )
    assert lines[4:6] == [
        f"    --hash=sha256:{'a' * 64} \\",
        f"    --hash=sha256:{'b' * 64}  # keep",
    ]
    again = pin_requirements(result.text, Path("requirements.txt"), unit_deployment())
    assert not again.changed


def test_pin_requirements_refuses_a_url_requirement() -> None:
    text = "python-magic @ https://elsewhere.example/python_magic-0.4.3.tar.gz\n"
    with pytest.raises(PyhotfixError, match="installs python-magic from a URL"):
        pin_requirements(text, Path("requirements.txt"), unit_deployment())


def test_pin_requirements_notes_a_transitive_hotfix() -> None:
    result = pin_requirements("flask\n", Path("requirements.txt"), unit_deployment())
    assert not result.changed
    assert any("python-magic is not in requirements.txt" in note for note in result.notes)


def test_pin_poetry_project() -> None:
    text = (
        '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'python-magic = "^0.4"  # buggy\n'
    )
    result = pin_pyproject(text, Path("pyproject.toml"), unit_deployment())
    data = tomllib.loads(result.text)
    poetry = data["tool"]["poetry"]
    assert poetry["dependencies"]["python-magic"] == {
        "version": "0.4.3+hotfix.1",
        "source": "hotfix",
    }
    assert poetry["source"] == [
        {"name": "hotfix", "url": "https://hotfixes.example/simple/", "priority": "explicit"}
    ]
    assert "# buggy" in result.text
    assert not pin_pyproject(result.text, Path("pyproject.toml"), unit_deployment()).changed
    with pytest.raises(PyhotfixError, match="cannot satisfy"):
        pin_pyproject(text.replace("^0.4", "^0.5"), Path("pyproject.toml"), unit_deployment())


def test_pin_pyproject_refuses_a_conflicting_uv_source() -> None:
    text = (
        '[project]\nname = "app"\nversion = "0"\ndependencies = ["python-magic==0.4.3"]\n\n'
        '[tool.uv.sources]\npython-magic = { git = "https://github.com/ahupp/python-magic" }\n'
    )
    with pytest.raises(PyhotfixError, match=r"already takes python-magic from elsewhere"):
        pin_pyproject(text, Path("pyproject.toml"), unit_deployment())


def test_export_direct_uses_the_sdist_for_a_platform_wheel() -> None:
    files = (
        LockedFile("fast-1.0+hotfix.1-cp311-cp311-linux_x86_64.whl", "c" * 64, 10),
        LockedFile("fast-1.0+hotfix.1.tar.gz", "d" * 64, 10),
    )
    build = HotfixBuild("fast", "1.0", "1.0+hotfix.1", "hotfix", files)
    deployment = Deployment(
        Path("/a/hotfixes.toml"), "https://h.example/simple/", None, None, (build,)
    )
    text = export_module.export(deployment, "direct").files[0].content
    assert "platform-specific" in text
    assert (
        f"fast @ https://h.example/simple/fast/fast-1.0%2Bhotfix.1.tar.gz#sha256={'d' * 64}" in text
    )


def test_s2i_environment_file_parsing_matches_s2i(tmp_path: Path) -> None:
    env_file = tmp_path / "environment"
    env_file.write_text("# c=1\n  # indented = kept by s2i\nA = 1\nB=x=y\nnot a pair\n")
    assert read_env_file(env_file) == {"# indented": "kept by s2i", "A": "1", "B": "x=y"}


def test_pin_poetry2_project_dependencies_get_the_source() -> None:
    text = (
        '[project]\nname = "app"\nversion = "0"\ndependencies = ["python-magic>=0.4"]\n\n'
        '[tool.poetry.dependencies]\npython = "^3.11"\n'
    )
    result = pin_pyproject(text, Path("pyproject.toml"), unit_deployment())
    data = tomllib.loads(result.text)
    assert data["project"]["dependencies"] == ["python-magic==0.4.3+hotfix.1"]
    assert data["tool"]["poetry"]["dependencies"]["python-magic"] == {"source": "hotfix"}
    assert data["tool"]["poetry"]["source"][0]["priority"] == "explicit"
    assert not pin_pyproject(result.text, Path("pyproject.toml"), unit_deployment()).changed
