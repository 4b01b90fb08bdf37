"""A rebuild of a locked hotfix version must give the locked files, or stop without changing
anything (the lock, the index, the output directory)."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache
from pyhotfix.lock import read_lock
from tests.conftest import Pyhotfix
from tests.support.apps import app_dir, fix_patch, index_files
from tests.support.fakeindex import FakeIndex
from tests.support.projects import (
    BACKENDS,
    make_project,
    make_sdist,
    module_name,
    strip_directory_entries,
)

STABLE, UNSTABLE = "demo-stable", "demo-unstable"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    """A reproducible project, and one whose setup.py writes the current time into the package."""
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        index.add_file(
            make_sdist(
                make_project(root / STABLE, STABLE, "1.0", "setuptools-setup.py"),
                root / "dist",
                envs,
            )
        )
        unstable = make_project(root / UNSTABLE, UNSTABLE, "1.0", "setuptools-setup.py")
        setup_py = unstable / "setup.py"
        setup_py.write_text(
            "import time\n"
            f"open('{module_name(UNSTABLE)}/_stamp.py', 'w').write(f'STAMP = {{time.time_ns()}}\\n')\n"
            + setup_py.read_text()
        )
        index.add_file(make_sdist(unstable, root / "dist", envs))
        yield index


def app_with(tmp_path: Path, upstream: FakeIndex, name: str) -> Path:
    app = app_dir(
        tmp_path, upstream, f'[hotfix.{name}]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    )
    (app / "fix.patch").write_text(fix_patch(name))
    return app


def fresh_clone(app: Path, dest: Path) -> Path:
    """What a colleague or CI gets from version control: the manifest, lock and patches, no index."""
    dest.mkdir(parents=True)
    for name in ("hotfixes.toml", "hotfixes.lock", "fix.patch"):
        shutil.copy2(app / name, dest / name)
    return dest


def digests(app: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (app / "hotfix-index").rglob("*")
        if p.suffix in (".whl", ".gz")
    }


def test_reproducible_rebuild_of_a_locked_version_is_accepted(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_with(tmp_path / "one", upstream, STABLE)
    assert pyhotfix("build", cwd=app).code == 0
    lock = (app / "hotfixes.lock").read_bytes()
    locked = {f.filename: f.sha256 for f in read_lock(app / "hotfixes.lock").hotfixes[STABLE].files}

    clone = fresh_clone(app, tmp_path / "clone")
    run = pyhotfix("build", cwd=clone)
    assert run.code == 0, run.output
    assert digests(clone) == locked
    assert (clone / "hotfixes.lock").read_bytes() == lock

    forced = pyhotfix("build", "--force", cwd=app)
    assert forced.code == 0, forced.output
    assert (app / "hotfixes.lock").read_bytes() == lock


def test_rebuild_that_differs_from_the_lock_stops_and_changes_nothing(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_with(tmp_path / "one", upstream, UNSTABLE)
    assert pyhotfix("build", cwd=app).code == 0
    lock = (app / "hotfixes.lock").read_bytes()
    published = digests(app)

    # A fresh clone with an empty index used to re-lock the same version with new hashes.
    clone = fresh_clone(app, tmp_path / "clone")
    out = tmp_path / "out"
    for where, args in (
        (clone, ()),
        (app, ("--force",)),
        (clone, ("--no-publish", "--out", str(out))),
    ):
        run = pyhotfix("build", *args, cwd=where)
        assert run.code == 1, run.output
        message = " ".join(run.output.split())
        assert f"Rebuilding {UNSTABLE} 1.0+hotfix.1 from the inputs recorded in" in message
        assert "gave different files" in message
        assert "the lock says" in message
        assert "lock was NOT changed" in message
        assert "`build --force` does not get around this check" in message
        assert "Traceback" not in run.output
        assert (where / "hotfixes.lock").read_bytes() == lock
    assert index_files(clone) == []
    assert digests(app) == published
    assert not out.exists() or not any(out.iterdir())


@pytest.fixture(scope="module")
def dirless_upstream(
    tmp_path_factory: pytest.TempPathFactory, envs: EnvCache
) -> Iterator[FakeIndex]:
    """One sdist per backend, named nodirs-<backend>, written without directory entries."""
    root = tmp_path_factory.mktemp("dirless")
    with FakeIndex() as index:
        for backend in BACKENDS:
            name = f"nodirs-{backend.replace('.', '-')}"
            sdist = make_sdist(make_project(root / name, name, "1.0", backend), root / "dist", envs)
            index.add_file(strip_directory_entries(sdist, root / "stripped" / sdist.name))
        yield index


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_sdist_without_directory_entries_rebuilds_identically_later(
    backend: str, tmp_path: Path, dirless_upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    # Unpacking creates the directories with the current time, which must not reach
    # SOURCE_DATE_EPOCH: a fresh clone building a second later must get the locked files.
    name = f"nodirs-{backend.replace('.', '-')}"
    app = app_with(tmp_path / "one", dirless_upstream, name)
    first = pyhotfix("build", cwd=app)
    assert first.code == 0, first.output
    time.sleep(1.1)
    clone = fresh_clone(app, tmp_path / "clone")
    again = pyhotfix("build", cwd=clone)
    assert again.code == 0, again.output
    assert digests(clone) == digests(app)


def test_a_rebuild_pins_the_locked_backend_release() -> None:
    from pyhotfix.pipeline import with_backend_version
    from pyhotfix.versioning import BackendInfo

    info = BackendInfo(
        "setuptools.build_meta", ("setuptools>=61; python_version>'3'", "wheel"), (), "setuptools"
    )
    pinned = with_backend_version(info, "84.2.1")
    assert pinned.requires == ('setuptools==84.2.1; python_version > "3"', "wheel")
    # a backend not named in its requirements is added; "unknown" and in-tree backends are not
    bare = BackendInfo("flit_core.buildapi", ("other",), (), "flit-core")
    assert with_backend_version(bare, "3.9").requires == ("other", "flit-core==3.9")
    assert with_backend_version(info, "unknown") == info
    intree = BackendInfo("backend", ("dep",), (".",), "mypkg")
    assert with_backend_version(intree, "1.0") == intree
