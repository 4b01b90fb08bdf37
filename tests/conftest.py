"""Shared fixtures: a pyhotfix CLI runner, fresh virtualenvs with real pip, and a warm cache."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pyhotfix.building import EnvCache

if TYPE_CHECKING:
    from tests.support.deployworld import DeployWorld


def clean_pip_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment where pip sees only what a test gives it.

    This machine's global pip config adds extra indexes, find-links and a constraints file; a test
    that installs from a hotfix index must not be helped (or confused) by them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_CACHE_DIR"] = "1"
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Pyhotfix:
    """Runs the real CLI (`python -m pyhotfix`) in a subprocess, as a user would."""

    cache_dir: Path

    def __call__(self, *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None) -> Run:
        full_env = clean_pip_env(
            {"PYHOTFIX_CACHE_DIR": str(self.cache_dir), "COLUMNS": "200", **(env or {})}
        )
        done = subprocess.run(
            [sys.executable, "-m", "pyhotfix", *map(str, args)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One pyhotfix cache (sdists and build environments) per test worker, reused across tests."""
    return tmp_path_factory.getbasetemp().parent / f"pyhotfix-cache-{worker_id}"


@pytest.fixture(scope="session")
def envs(shared_cache: Path) -> EnvCache:
    return EnvCache(shared_cache / "envs")


@pytest.fixture
def pyhotfix(shared_cache: Path) -> Pyhotfix:
    return Pyhotfix(cache_dir=shared_cache)


@pytest.fixture
def fresh_cache_pyhotfix(tmp_path: Path) -> Pyhotfix:
    return Pyhotfix(cache_dir=tmp_path / "cache")


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "pip", *args],
            env=clean_pip_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def run(self, code: str) -> str:
        return subprocess.run(
            [str(self.python), "-c", code], check=True, capture_output=True, text=True, timeout=60
        ).stdout.strip()


@pytest.fixture
def venv(tmp_path: Path) -> Iterator[Venv]:
    """A fresh virtual environment with real pip in it."""
    from uv import find_uv_bin

    root = tmp_path / "venv"
    subprocess.run(
        [find_uv_bin(), "venv", "--seed", "--quiet", "--python", sys.executable, str(root)],
        check=True,
        env=clean_pip_env(),
        timeout=120,
    )
    yield Venv(root)


@pytest.fixture(scope="session")
def world(
    tmp_path_factory: pytest.TempPathFactory, envs: EnvCache, shared_cache: Path
) -> Iterator[DeployWorld]:
    """The deploy matrix's world (tests/support/deployworld.py), built once per test worker and
    shared by the matrix and verify modules (tests only read it; tests/test_deploy.py has a
    `world` of its own)."""
    from tests.support.deployworld import deploy_world

    with deploy_world(tmp_path_factory.mktemp("world"), envs, Pyhotfix(shared_cache)) as built:
        yield built
