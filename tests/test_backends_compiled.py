"""Compiled builds for real: scikit-build-core (CMake), meson-python (meson) and maturin (cargo).

End to end, per backend: upstream's sdist (without directory entries, as flit and maturin write
them) served on 127.0.0.1, `pyhotfix add` in two application directories (two builds in
different temporary directories), byte-identical wheels, and the hotfix installed with pip and
imported. The backends, meson, ninja and cmake come from PyPI as wheels; the Rust crate has no
registry dependencies, so cargo needs no network. Also the build environment's additions for
these toolchains (fast).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache, build
from pyhotfix.building.environ import backend_environment, with_scripts_on_path
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import set_version
from tests.conftest import Pyhotfix, Venv
from tests.support.apps import app_dir, fix_patch, index_files
from tests.support.compiledprojects import make_compiled_project, make_compiled_sdist
from tests.support.fakeindex import FakeIndex
from tests.support.projects import strip_directory_entries

# backend fixture -> (project name, upstream version); maturin's version is the crate's (semver).
E2E = {
    "scikit-build-core-regex": ("demo-skbuild", "1.0"),
    "meson-python": ("demo-meson", "1.0"),
    "maturin": ("demo-maturin", "1.0.0"),
}


# What the extension says it was compiled from (`where()`, or the Rust module's docstring): CMake
# compiles the absolute path, mapped to a fixed one; meson a path relative to its build
# directory; cargo a crate-relative one.
WHERE = {
    "scikit-build-core-regex": "/pyhotfix-build/unpacked/demo_skbuild-1.0+hotfix.1/src/native.c",
    "meson-python": "../demo_meson/_native.c",
    "maturin": "src/lib.rs",
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    """A fake PyPI with each compiled fixture's 1.0 sdist, stripped of directory entries."""
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        for backend, (name, version) in E2E.items():
            project = make_compiled_project(root / name, name, version, backend)
            sdist = make_compiled_sdist(project, root / "dist", envs)
            index.add_file(strip_directory_entries(sdist, root / "stripped" / sdist.name))
        yield index


def wheel_of(app: Path) -> Path:
    (wheel,) = (app / "hotfix-index").rglob("*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(E2E))
def test_compiled_hotfix_builds_reproducibly_and_installs(
    backend: str, tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix, venv: Venv
) -> None:
    name, version = E2E[backend]
    hotfix = f"{version}+hotfix.1"
    wheels = []
    for i in range(2):
        app = app_dir(tmp_path / str(i), upstream)
        (app / "fix.patch").write_text(fix_patch(name))
        run = pyhotfix("add", f"{name}=={version}", "--patch", "fix.patch", cwd=app)
        assert run.code == 0, run.output
        assert hotfix in run.stdout
        assert len(index_files(app)) == 2
        wheels.append(wheel_of(app))
    assert "-cp3" in wheels[0].name and "+hotfix.1" in wheels[0].name  # a platform wheel
    # Two builds in two random temporary directories: the same bytes.
    digests = [hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels]
    assert digests[0] == digests[1]
    with zipfile.ZipFile(wheels[0]) as zf:
        (binary,) = [zf.read(n) for n in zf.namelist() if n.endswith(".so")]
        # pyhotfix's own SBOM only: maturin's Rust SBOM records the build path
        sboms = [n for n in zf.namelist() if "sboms/" in n]
        assert [n.rsplit("/", 1)[-1] for n in sboms] == ["pyhotfix.cdx.json"], sboms
    assert b"pyhotfix-build-" not in binary  # no temporary directory name

    done = venv.pip(
        "install",
        "--index-url",
        (tmp_path / "0" / "app" / "hotfix-index" / "simple").as_uri() + "/",
        f"{name}=={hotfix}",
    )
    assert done.returncode == 0, done.stderr
    module = name.replace("-", "_")
    probe = (
        f"import {module} as m, {module}._native as n; print(m.answer(), n.__doc__ or n.where())"
    )
    answer, where = venv.run(probe).split(" ", 1)
    assert answer == "42"
    assert where == WHERE[backend] or where.startswith(WHERE[backend])


@pytest.mark.slow
def test_scikit_build_core_scm_writes_the_hotfix_version_file(
    tmp_path: Path, envs: EnvCache
) -> None:
    # The setuptools_scm provider is kept: scm reads PKG-INFO in the sdist and writes its
    # version_file with the hotfix version (a static version would leave it unwritten).
    project = make_compiled_project(tmp_path / "p", "demo-pkg", "1.0", "scikit-build-core-scm")
    sdist = make_compiled_sdist(project, tmp_path / "dist", envs)
    root = unpack_sdist(sdist, tmp_path / "src").root
    info = set_version(root, "demo-pkg", "1.0+hotfix.1")
    built = build(
        root,
        "demo-pkg",
        "1.0+hotfix.1",
        tmp_path / "out",
        source_date_epoch=1_700_000_000,
        envs=envs,
        backend=info,
    )
    with zipfile.ZipFile(built.wheel.path) as zf:
        assert "version = '1.0+hotfix.1'" in zf.read("demo_pkg/_version.py").decode()


# --- the build environment for these toolchains ---------------------------------------------------


def test_cargo_home_is_inside_the_temporary_home(tmp_path: Path) -> None:
    # The user's CARGO_HOME may hold registry tokens (credentials.toml): never the backend's.
    env = backend_environment(
        {"PATH": "/usr/bin", "HOME": "/home/dev", "CARGO_HOME": "/home/dev/.cargo"},
        tmp_path,
        source_date_epoch=0,
    )
    assert env["CARGO_HOME"] == str(tmp_path / "home" / ".cargo")
    assert env["RUSTUP_HOME"] == "/home/dev/.rustup"  # the toolchains, no credentials
    assert f"--remap-path-prefix={tmp_path}=/pyhotfix-build" in env["RUSTFLAGS"]


def test_build_environment_scripts_come_first_on_path(tmp_path: Path) -> None:
    scripts = tmp_path / "env" / "bin"
    assert with_scripts_on_path({"PATH": "/usr/bin"}, scripts)["PATH"] == (
        f"{scripts}{os.pathsep}/usr/bin"
    )
    assert with_scripts_on_path({}, scripts) == {"PATH": str(scripts)}
