"""Compiled builds: the auditwheel repair of Linux wheels (reproducible, locked, honest when it
cannot repair) and the platform each built file is for."""

from __future__ import annotations

import json
import platform
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from pyhotfix.building import EnvCache, build
from pyhotfix.building.repair import needs_repair
from pyhotfix.lock import lock_path, read_lock
from pyhotfix.platforms import file_platform
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import set_version
from tests.conftest import Pyhotfix
from tests.support.apps import app_dir, fix_patch
from tests.support.compiled import make_compiled_project, make_platform_project_without_elf
from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_sdist

NAME = "demo-compiled"
SDE = 1_700_000_000
on_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="auditwheel repairs Linux wheels only"
)


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("a-1.0.tar.gz", "source"),
        ("a-1.0-py3-none-any.whl", "any"),
        ("a-1.0-py2.py3-none-any.whl", "any"),
        ("a-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", "manylinux_2_28 x86_64"),
        (
            "a-1.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            "manylinux_2_17 aarch64",
        ),
        ("a-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl", "manylinux_2_5 x86_64"),
        ("a-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "musllinux_1_2 x86_64"),
        ("a-1.0-cp311-cp311-linux_x86_64.whl", "linux x86_64 (not manylinux)"),
        ("a-1.0-cp311-cp311-macosx_11_0_arm64.whl", "macosx 11.0 arm64"),
        (
            "a-1.0-cp311-cp311-macosx_10_9_x86_64.macosx_11_0_arm64.whl",
            "macosx 10.9 x86_64 + macosx 11.0 arm64",
        ),
        ("a-1.0-cp311-cp311-win_amd64.whl", "windows amd64"),
        ("a-1.0-cp311-cp311-win32.whl", "windows x86"),
        ("a-1.0-cp311-abi3-emscripten_3_1_58_wasm32.whl", "emscripten_3_1_58_wasm32"),
        ("not a wheel.whl", "unknown"),
    ],
)
def test_file_platform(filename: str, shown: str) -> None:
    assert file_platform(filename) == shown


def test_only_linux_platform_wheels_on_linux_are_repaired() -> None:
    assert needs_repair("a-1.0-cp311-cp311-linux_x86_64.whl", "linux")
    assert needs_repair("a-1.0-cp311-cp311-linux_aarch64.whl", "linux")
    assert not needs_repair("a-1.0-cp311-cp311-linux_x86_64.whl", "darwin")
    assert not needs_repair("a-1.0-py3-none-any.whl", "linux")
    assert not needs_repair("a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "linux")
    assert not needs_repair("a-1.0-cp311-cp311-macosx_11_0_arm64.whl", "linux")
    assert not needs_repair("not a wheel.whl", "linux")  # check_built reports it


# --- real builds (Linux) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        project = make_compiled_project(root / NAME, NAME, "1.0")
        index.add_file(make_sdist(project, root / "dist", envs))
        yield index


@on_linux
@pytest.mark.slow
def test_compiled_wheel_is_repaired_locked_and_rebuilds_byte_identical(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_dir(
        tmp_path, upstream, f'[hotfix.{NAME}]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    )
    (app / "fix.patch").write_text(fix_patch(NAME))
    built = pyhotfix("build", "--json", cwd=app)
    assert built.code == 0, built.output
    (result,) = json.loads(built.stdout)
    (wheel,) = [f for f in result["files"] if f.endswith(".whl")]
    tags = parse_wheel_filename(wheel)[3]
    assert all(
        t.platform.startswith("manylinux_") or t.platform.startswith("manylinux1") for t in tags
    ), wheel
    arch = platform.machine()
    assert result["platforms"][wheel].startswith("manylinux_2_") and result["platforms"][
        wheel
    ].endswith(arch)
    assert result["warnings"] == []
    # The lock and the index hold the repaired wheel; its WHEEL file says the same tags.
    locked = read_lock(lock_path(app / "hotfixes.toml")).get(NAME)
    assert locked is not None
    assert wheel in [f.filename for f in locked.files]
    published = app / "hotfix-index" / "simple" / NAME / wheel
    with zipfile.ZipFile(published) as zf:
        (wheel_file,) = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
        listed = {
            line.split(": ", 1)[1]
            for line in zf.read(wheel_file).decode().splitlines()
            if line.startswith("Tag: ")
        }
        assert listed == {str(t) for t in tags}
        assert any(n.endswith(".so") for n in zf.namelist())

    # A rebuild must give the locked bytes (the pipeline refuses otherwise): the repair is
    # reproducible, auditwheel's own zip included.
    again = pyhotfix("build", "--force", cwd=app)
    assert again.code == 0, again.output
    assert "platform" in again.stdout.splitlines()[0]
    assert "manylinux_2_" in again.stdout


@on_linux
@pytest.mark.slow
def test_wheel_auditwheel_refuses_keeps_its_linux_tag_with_a_warning(
    tmp_path: Path, envs: EnvCache
) -> None:
    project = make_platform_project_without_elf(tmp_path / "project", NAME, "1.0")
    sdist = make_sdist(project, tmp_path / "dist", envs)
    root = unpack_sdist(sdist, tmp_path / "src").root
    info = set_version(root, NAME, "1.0+hotfix.1")
    built = build(
        root, NAME, "1.0+hotfix.1", tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info
    )
    assert built.wheel.filename.endswith(f"-linux_{platform.machine()}.whl")
    assert file_platform(built.wheel.filename) == f"linux {platform.machine()} (not manylinux)"
    (warning,) = built.warnings
    assert "is kept as built, with its linux platform tag" in warning
    assert "auditwheel could not repair it:" in warning
    assert "ELF" in warning  # auditwheel's own reason
    assert built.wheel.path.is_file()
