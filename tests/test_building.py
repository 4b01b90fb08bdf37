"""Real builds for every supported backend: names, metadata, reproducibility, failures.

Build environments come from the session-wide `envs` fixture (conftest.py), so each backend's
environment is created once per test worker; only the backends themselves come from PyPI.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import os
import platform
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.version import Version

from pyhotfix.building import BuiltDists, EnvCache, build
from pyhotfix.errors import BuildError
from pyhotfix.treeremove import remove_tree
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import BackendInfo, detect_backend, set_version
from tests.support.intree import in_tree_backend_info, make_in_tree_backend_project
from tests.support.projects import (
    BACKENDS,
    make_c_extension_project,
    make_project,
    make_sdist,
    module_name,
    strip_directory_entries,
)

NAME = "demo-pkg"
NEW = "1.0+hotfix.1"
SDE = 1_700_000_000
SDIST = "demo_pkg-1.0+hotfix.1.tar.gz"
WHEEL = "demo_pkg-1.0+hotfix.1-py3-none-any.whl"

Upstream = Callable[[str], Path]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Upstream:
    """The upstream sdist of each fixture project, built on first use."""
    root = tmp_path_factory.mktemp("upstream")
    built: dict[str, Path] = {}

    def get(backend: str) -> Path:
        if backend not in built:
            project = make_project(root / backend / "project", NAME, "1.0", backend)
            built[backend] = make_sdist(project, root / backend / "dist", envs)
        return built[backend]

    return get


def prepare(sdist: Path, dest: Path, *, version: str | None = NEW) -> tuple[Path, BackendInfo]:
    """Unpack, fix the fixture's bug (what a patch does) and set the version unless None."""
    root = unpack_sdist(sdist, dest).root
    init = next(root.rglob(f"{module_name(NAME)}/__init__.py"))
    init.write_text(init.read_text().replace("return 41  # bug: should be 42", "return 42"))
    info = set_version(root, NAME, version) if version else detect_backend(root)
    return root, info


def wheel_metadata(wheel: Path) -> Metadata:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return Metadata.from_email(zf.read(name), validate=False)


def sdist_metadata(sdist: Path) -> Metadata:
    with tarfile.open(sdist) as tar:
        fh = tar.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/PKG-INFO")
        assert fh is not None
        return Metadata.from_email(fh.read(), validate=False)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# Where each fixture's package keeps a __version__ that must follow the hotfix version.
DUNDER_VERSION_FILE = {
    "setuptools-scm": "_version.py",
    "hatchling-dynamic": "__about__.py",
    "hatch-vcs": "_version.py",
    "pdm": "__about__.py",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_build_every_backend(
    tmp_path: Path, upstream: Upstream, envs: EnvCache, backend: str
) -> None:
    root, info = prepare(upstream(backend), tmp_path / "src")
    out = tmp_path / "out"

    built = build(root, NAME, NEW, out, source_date_epoch=SDE, envs=envs, backend=info)

    assert sorted(p.name for p in out.iterdir()) == sorted([SDIST, WHEEL])
    for f, name in ((built.sdist, SDIST), (built.wheel, WHEEL)):
        assert f.path == out / name
        assert f.filename == name
        assert f.sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest()
        assert f.size == f.path.stat().st_size
    for meta in (sdist_metadata(built.sdist.path), wheel_metadata(built.wheel.path)):
        assert meta.name == NAME
        assert meta.version == Version(NEW)
    assert built.backend == info.backend
    Version(built.backend_version)  # the real installed version, not "unknown"
    assert built.python == platform.python_version()

    with zipfile.ZipFile(built.wheel.path) as zf:
        assert "return 42" in zf.read("demo_pkg/__init__.py").decode()
        if backend in DUNDER_VERSION_FILE:
            code = zf.read(f"demo_pkg/{DUNDER_VERSION_FILE[backend]}").decode()
            assert f"'{NEW}'" in code or f'"{NEW}"' in code


@pytest.mark.parametrize("backend", BACKENDS)
def test_builds_are_reproducible(
    tmp_path: Path, upstream: Upstream, envs: EnvCache, backend: str
) -> None:
    # Different source and output paths, different wall-clock time and different umask:
    # setuptools writes umask-dependent modes into wheels, pdm/setuptools vary their tarballs.
    results = []
    for i, mask in enumerate((0o022, 0o002)):
        root, info = prepare(upstream(backend), tmp_path / f"src{i}")
        with umask(mask):
            results.append(
                build(
                    root,
                    NAME,
                    NEW,
                    tmp_path / f"out{i}",
                    source_date_epoch=SDE,
                    envs=envs,
                    backend=info,
                )
            )
    first, second = results
    assert first.sdist.sha256 == second.sdist.sha256
    assert first.wheel.sha256 == second.wheel.sha256


@pytest.mark.parametrize("backend", BACKENDS)
def test_sdists_without_directory_entries_build_reproducibly(
    tmp_path: Path, upstream: Upstream, envs: EnvCache, backend: str
) -> None:
    # With time passing between two builds in different directories, an sdist that lists no
    # directories must still give the same files.
    sdist = strip_directory_entries(upstream(backend), tmp_path / "upstream.tar.gz", mtime_step=7)
    digests = []
    for i in range(2):
        if i:
            time.sleep(1.1)
        root, info = prepare(sdist, tmp_path / f"src{i}")
        built = build(
            root, NAME, NEW, tmp_path / f"out{i}", source_date_epoch=SDE, envs=envs, backend=info
        )
        digests.append((built.sdist.sha256, built.wheel.sha256))
    assert digests[0] == digests[1]


def test_c_extension_builds_are_reproducible(tmp_path: Path, envs: EnvCache) -> None:
    # Built with -g and an absolute source path: the build directory would be in the debug info
    # and in __FILE__ if the build did not map it to a fixed path.
    project = make_c_extension_project(tmp_path / "project", NAME, "1.0")
    sdist = make_sdist(project, tmp_path / "dist", envs)
    wheels = []
    for i in range(2):
        root, info = prepare(sdist, tmp_path / f"src{i}")
        built = build(
            root, NAME, NEW, tmp_path / f"out{i}", source_date_epoch=SDE, envs=envs, backend=info
        )
        assert built.wheel.filename != WHEEL  # a platform wheel, with the compiled module
        wheels.append(built.wheel.path.read_bytes())
        with zipfile.ZipFile(built.wheel.path) as zf:
            (so,) = [n for n in zf.namelist() if n.endswith(".so")]
            binary = zf.read(so)
        assert b"pyhotfix-build-" not in binary  # no temporary directory name
        assert b"/pyhotfix-build/" in binary  # the fixed path it was mapped to
    assert wheels[0] == wheels[1]


def test_flit_dynamic_version(tmp_path: Path, envs: EnvCache) -> None:
    # The common flit form: the version is `__version__` in the module, which set_version edits.
    project = make_project(tmp_path / "project", NAME, "1.0", "flit")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"', 'dynamic = ["version"]'))
    init = project / "demo_pkg" / "__init__.py"
    init.write_text(init.read_text() + '\n__version__ = "1.0"\n')
    root, info = prepare(make_sdist(project, tmp_path / "dist", envs), tmp_path / "src")
    built = build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    assert wheel_metadata(built.wheel.path).version == Version(NEW)
    with zipfile.ZipFile(built.wheel.path) as zf:
        assert f'__version__ = "{NEW}"' in zf.read("demo_pkg/__init__.py").decode()


def test_flit_version_imported_from_package_data(tmp_path: Path, envs: EnvCache) -> None:
    # `from .package_data import __version__`, which flit_core cannot read without importing:
    # the static [project] version pyhotfix sets is what flit builds.
    project = make_project(tmp_path / "project", NAME, "1.0", "flit")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        .replace('version = "1.0"', 'dynamic = ["version", "description"]')
        .replace('description = "A fixture project"\n', "")
    )
    init = project / "demo_pkg" / "__init__.py"
    init.write_text('"""A demo."""\nfrom .package_data import __version__\n\n' + init.read_text())
    (project / "demo_pkg" / "package_data.py").write_text('__version__ = "1.0"\n')
    sdist = make_sdist(project, tmp_path / "dist", envs)
    assert sdist_metadata(sdist).version == Version("1.0")
    root, info = prepare(sdist, tmp_path / "src")

    built = build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)

    assert (built.sdist.filename, built.wheel.filename) == (SDIST, WHEEL)
    for meta in (sdist_metadata(built.sdist.path), wheel_metadata(built.wheel.path)):
        assert meta.version == Version(NEW)
        assert meta.summary == "A demo."  # the other dynamic field still comes from the module
    with zipfile.ZipFile(built.wheel.path) as zf:
        assert zf.read("demo_pkg/package_data.py").decode() == f'__version__ = "{NEW}"\n'


def test_poetry_core_2_project_with_dynamic_version(tmp_path: Path, envs: EnvCache) -> None:
    # poetry-core >= 2 reads [project]; its version may be dynamic, taken from [tool.poetry].
    project = make_project(tmp_path / "project", NAME, "1.0", "poetry")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "demo-pkg"\ndynamic = ["version"]\nrequires-python = ">=3.8"\n\n'
        + pyproject.read_text().replace("poetry-core>=1.0.0", "poetry-core>=2")
    )
    root, info = prepare(make_sdist(project, tmp_path / "dist", envs), tmp_path / "src")
    built = build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    assert (built.sdist.filename, built.wheel.filename) == (SDIST, WHEEL)
    for meta in (sdist_metadata(built.sdist.path), wheel_metadata(built.wheel.path)):
        assert meta.version == Version(NEW)


def test_archives_are_normalised(tmp_path: Path, upstream: Upstream, envs: EnvCache) -> None:
    root, info = prepare(upstream("setuptools-pyproject"), tmp_path / "src")
    built = build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)

    raw = built.sdist.path.read_bytes()
    assert int.from_bytes(raw[4:8], "little") == SDE  # gzip header mtime
    assert not raw[3] & 0x08  # no FNAME: the temp file name does not leak into the header
    with gzip.open(built.sdist.path) as gz, tarfile.open(fileobj=gz) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (SDE, 0, 0, "", "")
        assert m.mode == (0o755 if m.isdir() else 0o644)

    expected = time.gmtime(SDE)[:6]
    with zipfile.ZipFile(built.wheel.path) as zf:
        infos = zf.infolist()
    assert infos[-1].filename.endswith(".dist-info/RECORD")  # the backend's order is kept
    for zi in infos:
        assert zi.date_time == expected
        assert zi.external_attr >> 16 == 0o100644

    other = build(
        root, NAME, NEW, tmp_path / "later", source_date_epoch=SDE + 86400, envs=envs, backend=info
    )
    assert other.sdist.sha256 != built.sdist.sha256  # SOURCE_DATE_EPOCH really is the clock


def test_version_override_not_applied_is_caught(
    tmp_path: Path, upstream: Upstream, envs: EnvCache
) -> None:
    # set_version skipped: the backend builds 1.0, and nothing may reach the output directory.
    root, info = prepare(upstream("setuptools-setup.py"), tmp_path / "src", version=None)
    out = tmp_path / "out"
    with pytest.raises(BuildError) as excinfo:
        build(root, NAME, NEW, out, source_date_epoch=SDE, envs=envs, backend=info)
    message = str(excinfo.value)
    assert "the sdist filename demo_pkg-1.0.tar.gz says version 1.0" in message
    assert "the wheel's METADATA says version 1.0" in message
    assert "ignored the version" in message
    assert not out.exists() or not any(out.iterdir())


def test_version_edit_a_backend_ignores_is_caught(
    tmp_path: Path, upstream: Upstream, envs: EnvCache
) -> None:
    # The naive edit: bump __version__ in a hatchling project with a dynamic version. hatchling
    # takes the version from PKG-INFO in an sdist and silently ignores the file.
    root, info = prepare(upstream("hatchling-dynamic"), tmp_path / "src", version=None)
    (root / "demo_pkg" / "__about__.py").write_text(f'__version__ = "{NEW}"\n')
    with pytest.raises(BuildError, match=r"the sdist's PKG-INFO says version 1\.0"):
        build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)


def test_wrong_name_is_caught(tmp_path: Path, upstream: Upstream, envs: EnvCache) -> None:
    root, info = prepare(upstream("flit"), tmp_path / "src")
    with pytest.raises(BuildError, match=r"names the project 'demo-pkg'"):
        build(
            root, "other-pkg", NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info
        )


def test_sdist_hook_failure(tmp_path: Path, upstream: Upstream, envs: EnvCache) -> None:
    root, info = prepare(upstream("setuptools-setup.py"), tmp_path / "src")
    setup_py = root / "setup.py"
    setup_py.write_text("raise RuntimeError('a patch broke setup.py')\n" + setup_py.read_text())
    with pytest.raises(BuildError) as excinfo:
        build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    message = str(excinfo.value)
    assert message.startswith(f"Building the sdist from the patched source of {NAME} {NEW} failed")
    assert "get_requires_for_build_sdist" in message  # setuptools runs setup.py there first
    assert "RuntimeError: a patch broke setup.py" in message
    assert len(message.split("Last ", 1)[1].splitlines()) <= 31  # only the tail of the output
    # The wheel step's interpreter, started early, was stopped and reaped: no child is left.
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_wheel_hook_failure(tmp_path: Path, upstream: Upstream, envs: EnvCache) -> None:
    root, info = prepare(upstream("setuptools-setup.py"), tmp_path / "src")
    setup_py = root / "setup.py"
    setup_py.write_text(
        "import sys\nif 'bdist_wheel' in sys.argv:\n    raise SystemExit('no wheels today')\n"
        + setup_py.read_text()
    )
    with pytest.raises(BuildError) as excinfo:
        build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    message = str(excinfo.value)
    assert "wheel from the hotfix sdist" in message
    assert "build_wheel" in message
    assert "no wheels today" in message


def test_extra_requirements_from_get_requires(tmp_path: Path, envs: EnvCache) -> None:
    # setuptools reports setup_requires through get_requires_for_build_*: the build must move to
    # an environment that has them (the speculative build in the base environment is discarded).
    project = make_project(tmp_path / "project", NAME, "1.0", "setuptools-setup.py")
    setup_py = project / "setup.py"
    setup_py.write_text(
        setup_py.read_text().replace(
            "    python_requires", '    setup_requires=["wheel"],\n    python_requires'
        )
    )
    sdist = make_sdist(project, tmp_path / "dist", envs)
    root, info = prepare(sdist, tmp_path / "src")
    built = build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    assert built.wheel.filename == WHEEL
    env_python = envs.environment([*info.requires, "wheel"])
    assert "wheel" in envs.installed(env_python)


def test_env_cache_keys_ignore_order_and_spelling(envs: EnvCache) -> None:
    one = envs.environment(["hatchling", "hatch-vcs"])
    assert envs.environment(["hatch-vcs", "hatchling"]) == one
    assert envs.environment(["setuptools >= 61"]) == envs.environment(["setuptools>=61"])


def test_env_cache_recreates_unfinished_env(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    python = cache.environment([])
    leftover = python.parent.parent / "leftover"
    leftover.write_text("from an interrupted creation")
    (python.parent.parent / ".pyhotfix-env.json").unlink()
    assert cache.environment([]) == python
    assert not leftover.exists()
    assert cache.installed(python) == {}


def test_env_cache_with_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    python = EnvCache(Path("envs")).environment([])
    assert python.is_absolute()
    assert python == tmp_path / "envs" / python.parent.parent.name / "bin" / "python"
    assert python.exists()


def test_env_cache_creates_each_env_once_under_concurrency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = EnvCache(tmp_path / "envs")
    created: list[Path] = []
    original = EnvCache._create

    def counting(self: EnvCache, env_dir: Path, reqs: list[str]) -> None:
        created.append(env_dir)
        time.sleep(0.2)  # widen the window in which a second creator could slip in
        original(self, env_dir, reqs)

    monkeypatch.setattr(EnvCache, "_create", counting)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.environment([]))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1
    assert len(set(results)) == 1 and len(results) == 4
    # Only the finished environment and its lock file remain: no staging directories.
    assert sorted(p.suffix for p in (tmp_path / "envs").iterdir()) == ["", ".lock"]


def test_env_cache_reports_bad_requirements(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    with pytest.raises(BuildError, match="not a valid PEP 508 requirement"):
        cache.environment(["setuptools >>= 61"])
    with pytest.raises(
        BuildError, match=r"Could not install the build requirements setuptools>=9999"
    ):
        cache.environment(["setuptools>=9999"])
    assert [p.suffix for p in (tmp_path / "envs").iterdir()] == [".lock"]  # nothing half-made kept


def test_make_sdist_with_uv_build(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", NAME, "1.0", "flit")
    sdist = make_sdist(project, tmp_path / "dist")
    assert sdist == tmp_path / "dist" / "demo_pkg-1.0.tar.gz"
    assert sdist_metadata(sdist).version == Version("1.0")


def _in_tree_build(tmp_path: Path, envs: EnvCache, tag: str, source_mtime: int) -> BuiltDists:
    project = make_in_tree_backend_project(tmp_path / f"src-{tag}", NAME, NEW)
    backend_module = project / "tinybackend.py"
    os.utime(backend_module, (source_mtime, source_mtime))  # a .pyc would record this time
    built = build(
        project,
        NAME,
        NEW,
        tmp_path / f"out-{tag}",
        source_date_epoch=SDE,
        envs=envs,
        backend=in_tree_backend_info(),
    )
    assert not list(project.rglob("*.pyc")), "the backend's import wrote bytecode into the tree"
    return built


def test_in_tree_backend_writes_no_bytecode_and_builds_reproducibly(
    tmp_path: Path, envs: EnvCache
) -> None:
    """poetry-core builds itself with `backend-path = ["src"]`: importing the backend from the
    tree put 105 .pyc files into the hotfix sdist that upstream's has not, different each time."""
    first = _in_tree_build(tmp_path, envs, "1", 1_600_000_000)
    second = _in_tree_build(tmp_path, envs, "2", 1_650_000_000)
    with tarfile.open(first.sdist.path) as tar:
        names = tar.getnames()
    assert f"{SDIST.removesuffix('.tar.gz')}/tinybackend.py" in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n], names
    assert first.sdist.sha256 == second.sdist.sha256
    assert first.wheel.sha256 == second.wheel.sha256


def test_a_deep_scratch_tree_of_the_backend_is_cleaned_up(
    tmp_path: Path, envs: EnvCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend leaving a tree 1100 levels deep in its TMPDIR: the build's temporary directory
    is still removed (shutil.rmtree raised RecursionError after the files were built)."""
    temp_root = tmp_path / "temp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    project = make_in_tree_backend_project(tmp_path / "src", NAME, NEW)
    (project / "deep-tmp").write_text("1100")
    try:
        built = build(
            project,
            NAME,
            NEW,
            tmp_path / "out",
            source_date_epoch=SDE,
            envs=envs,
            backend=in_tree_backend_info(),
        )
        assert built.wheel.path.is_file()
        assert list(temp_root.iterdir()) == []
    finally:
        remove_tree(temp_root)  # pytest's own cleanup of tmp_path would recurse per level


def _marker_sdist_project(dest: Path, marker: Path) -> Path:
    """A project whose setup.py writes `marker` when anything builds it (as the red-team's
    evilreq recorded the UV_INDEX_*_PASSWORD and HOME it was built with)."""
    dest.mkdir(parents=True)
    (dest / "setup.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('built')\n"
        "from setuptools import setup\nsetup(name='evilreq', version='1.0')\n"
    )
    return dest


@pytest.mark.parametrize(
    "reference",
    [
        "evilreq @ {uri}",
        "evilreq @ https://example.invalid/evilreq-1.0.tar.gz",
        "evilreq @ git+https://example.invalid/evilreq.git",
    ],
)
def test_direct_reference_build_requirements_are_refused(
    tmp_path: Path, upstream: Upstream, envs: EnvCache, reference: str
) -> None:
    """The red-team sdist: [build-system] requires "evilreq @ file:///…/evil", which uv built
    with its own environment, index passwords included."""
    marker = tmp_path / "evil-was-built"
    evil = _marker_sdist_project(tmp_path / "evil", marker)
    requirement = reference.format(uri=evil.as_uri())
    root, _ = prepare(upstream("hatchling"), tmp_path / "src")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'requires = ["hatchling"', f'requires = ["{requirement}", "hatchling"'
        )
    )
    info = detect_backend(root)
    assert requirement in info.requires
    with pytest.raises(BuildError) as excinfo:
        build(root, NAME, NEW, tmp_path / "out", source_date_epoch=SDE, envs=envs, backend=info)
    message = str(excinfo.value)
    assert requirement in message and "direct reference" in message
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_build_requirements_are_installed_from_wheels_only(tmp_path: Path) -> None:
    """A requirement only available as an sdist is not built by uv: a clear error instead."""
    marker = tmp_path / "sdist-was-built"
    project = _marker_sdist_project(tmp_path / "evil", marker)
    links = tmp_path / "links"
    links.mkdir()
    with tarfile.open(links / "evilreq-1.0.tar.gz", "w:gz") as tar:
        tar.add(project, arcname="evilreq-1.0")
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "UV_NO_CONFIG": "1",
        "UV_INDEX_URL": (tmp_path / "links").as_uri(),  # no network: only the local sdist
        "UV_FIND_LINKS": str(links),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    cache = EnvCache(tmp_path / "envs", environ=environ)
    with pytest.raises(BuildError) as excinfo:
        cache.environment(["evilreq"])
    message = str(excinfo.value)
    assert "has no wheel" in message and "wheels only" in message and "UV_FIND_LINKS" in message
    assert not marker.exists()


def test_package_modules_declare_their_public_names() -> None:
    # One concept per module: each public module says what it offers, and the package facade
    # keeps the names callers import (`from pyhotfix.building import build, EnvCache, ...`).
    package = Path(importlib.import_module("pyhotfix.building").__file__ or "").parent
    public = sorted(p.stem for p in package.glob("*.py") if not p.stem.startswith("_"))
    assert public == ["checks", "environ", "envs", "hooks", "repack", "repair"]
    for stem in public:
        module = importlib.import_module(f"pyhotfix.building.{stem}")
        assert module.__all__, stem
        for name in module.__all__:
            assert not name.startswith("_") and hasattr(module, name), (stem, name)
    facade = importlib.import_module("pyhotfix.building")
    assert sorted(facade.__all__) == ["BuiltDists", "BuiltFile", "EnvCache", "build"]
    assert facade.EnvCache is importlib.import_module("pyhotfix.building.envs").EnvCache
