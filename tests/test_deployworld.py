"""The deploy world tells builds apart by their bytes: upstream, the hotfix, the attacker's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.conftest import clean_pip_env
from tests.support.deployworld import (
    DeployWorld,
    Origin,
    installed_origin,
    requirement_for,
)


def _uv_install(tmp_path: Path, *args: str) -> Path:
    uv = find_uv_bin()
    venv = tmp_path / "venv"
    env = clean_pip_env({"UV_NO_CONFIG": "1"})
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *args],
        check=True,
        env=env,
        timeout=300,
    )
    return python


@pytest.mark.parametrize(
    ("index", "dependency", "extra", "expected"),
    [
        ("pypi", "transitive", (), "upstream"),
        ("attacker", "direct", (), "attacker"),
        (
            "pypi",
            "direct",
            ("demo-six==1.0+hotfix.1", "--index-strategy", "unsafe-best-match"),
            "hotfix",
        ),
    ],
)
def test_installed_origin_is_judged_by_bytes(
    tmp_path: Path,
    world: DeployWorld,
    index: str,
    dependency: str,
    extra: tuple[str, ...],
    expected: Origin,
) -> None:
    url = world.pypi_url if index == "pypi" else world.attacker_url
    args = [
        "--default-index",
        url,
        requirement_for("direct" if dependency == "direct" else "transitive"),
    ]
    if expected == "hotfix":
        args += ["--index", world.hotfix_url]
    python = _uv_install(tmp_path, *args, *extra)
    assert installed_origin(python, world) == expected


def test_a_tampered_installed_file_is_not_the_hotfix(tmp_path: Path, world: DeployWorld) -> None:
    python = _uv_install(tmp_path, str(world.hotfix_wheel))
    assert installed_origin(python, world) == "hotfix"
    (init,) = (tmp_path / "venv").rglob("demo_six/__init__.py")
    init.write_text(init.read_text().replace("42", "43"))
    # the hotfix's version with other bytes is what an attacker's same-version build looks like
    assert installed_origin(python, world) == "attacker"
