"""set_version for the compiled-build backends (scikit-build-core, meson-python, maturin) on
fixture trees shaped like their unpacked sdists (fast: no builds; real builds are in
test_backends_compiled.py)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix.errors import VersioningError
from pyhotfix.versioning import BackendInfo, detect_backend, set_version
from pyhotfix.versioning.maturin import cargo_version
from pyhotfix.versioning.meson import meson_project_version_span
from tests.support.compiledprojects import make_compiled_project

NAME = "demo-pkg"
NEW = "1.0+hotfix.1"


def unpacked(tmp_path: Path, backend: str, version: str = "1.0") -> Path:
    """A fixture project as its sdist unpacks: PKG-INFO, no .git."""
    root = make_compiled_project(tmp_path / "p", NAME, version, backend)
    shutil.rmtree(root / ".git", ignore_errors=True)
    (root / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n\nVersion: the body\n"
    )
    return root


def pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text())


def pkg_info(root: Path) -> str:
    return (root / "PKG-INFO").read_text()


def git_files(root: Path) -> list[str]:
    done = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.split()


# --- scikit-build-core ---------------------------------------------------------------------------


def test_scikit_build_core_static_version(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "scikit-build-core")
    info = set_version(root, NAME, NEW)
    assert info == BackendInfo(
        "scikit_build_core.build",
        ("scikit-build-core>=0.10",),
        (),
        "scikit-build-core",
        (("build-dir", ".pyhotfix-build/{wheel_tag}"),),
    )
    assert pyproject(root)["project"]["version"] == NEW
    assert pkg_info(root).startswith(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {NEW}\n")
    assert pkg_info(root).endswith("Version: the body\n")


def test_scikit_build_core_regex_provider_becomes_static(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "scikit-build-core-regex")
    set_version(root, NAME, NEW)
    data = pyproject(root)
    assert data["project"]["version"] == NEW
    assert "dynamic" not in data["project"]
    # scikit-build-core refuses a version provider for a static version: the provider goes.
    assert "tool" not in data or "metadata" not in data["tool"].get("scikit-build", {})
    assert (root / "demo_pkg" / "__about__.py").read_text() == f'__version__ = "{NEW}"\n'


def test_scikit_build_core_regex_input_outside_the_tree_is_not_written(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "scikit-build-core-regex")
    outside = tmp_path / "outside.py"
    outside.write_text('__version__ = "1.0"\n')
    text = (root / "pyproject.toml").read_text()
    for hostile in ("../outside.py", str(outside)):
        (root / "pyproject.toml").write_text(
            text.replace('input = "demo_pkg/__about__.py"', f'input = "{hostile}"')
        )
        set_version(root, NAME, NEW)
        assert outside.read_text() == '__version__ = "1.0"\n'
        assert pyproject(root)["project"]["version"] == NEW


def test_scikit_build_core_dynamic_metadata_array_form(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "scikit-build-core-regex")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        text.replace("[tool.scikit-build.metadata.version]", "[[tool.dynamic-metadata]]")
        + '\n[[tool.dynamic-metadata]]\nprovider = "my_readme"\nfield = "readme"\n'
    )
    set_version(root, NAME, NEW)
    data = pyproject(root)
    assert data["project"]["version"] == NEW
    assert data["tool"]["dynamic-metadata"] == [{"provider": "my_readme", "field": "readme"}]


def test_scikit_build_core_scm_provider_reads_pkg_info(tmp_path: Path) -> None:
    # setuptools-scm reads PKG-INFO in an sdist and writes its version_file from it: the
    # provider stays, and PKG-INFO says the hotfix version.
    root = unpacked(tmp_path, "scikit-build-core-scm")
    before = (root / "pyproject.toml").read_text()
    set_version(root, NAME, NEW)
    assert (root / "pyproject.toml").read_text() == before
    assert f"\nVersion: {NEW}\n" in pkg_info(root)
    (root / "PKG-INFO").unlink()
    with pytest.raises(VersioningError, match="no PKG-INFO"):
        set_version(root, NAME, NEW)


def test_scikit_build_core_without_project_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["scikit-build-core"]\n'
        'build-backend = "scikit_build_core.build"\n'
    )
    with pytest.raises(VersioningError, match=r"no \[project\] table, which scikit-build-core"):
        set_version(tmp_path, NAME, NEW)


# --- meson-python --------------------------------------------------------------------------------


def test_meson_python_sets_both_places_and_commits_for_meson_dist(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "meson-python")
    info = set_version(root, NAME, NEW)
    assert info.distribution == "meson-python"
    assert info.config_settings == (("build-dir", ".pyhotfix-build"),)
    assert pyproject(root)["project"]["version"] == NEW
    assert "dynamic" not in pyproject(root)["project"]
    assert f"  version : '{NEW}',\n" in (root / "meson.build").read_text()
    assert f"\nVersion: {NEW}\n" in pkg_info(root)
    # meson dist packs what is committed; meson-python writes its own PKG-INFO.
    assert sorted(git_files(root)) == [
        "README.md",
        "demo_pkg/__init__.py",
        "demo_pkg/_native.c",
        "meson.build",
        "pyproject.toml",
    ]


def test_meson_python_without_project_table(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "meson-python")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n'
    )
    set_version(root, NAME, NEW)
    assert f"version : '{NEW}'" in (root / "meson.build").read_text()
    assert "project" not in pyproject(root)


def test_meson_python_version_from_a_file(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "meson-python")
    meson_build = root / "meson.build"
    meson_build.write_text(meson_build.read_text().replace("'1.0'", "files('VERSION')"))
    (root / "VERSION").write_text("1.0\n")
    set_version(root, NAME, NEW)
    assert (root / "VERSION").read_text() == f"{NEW}\n"


def test_meson_python_computed_version(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "meson-python")
    meson_build = root / "meson.build"
    computed = meson_build.read_text().replace(
        "'1.0'", "run_command('python3', 'get_version.py', check : true).stdout().strip()"
    )
    meson_build.write_text(computed)
    set_version(root, NAME, NEW)  # the static [project] version decides
    assert pyproject(root)["project"]["version"] == NEW
    assert meson_build.read_text() == computed

    shutil.rmtree(root / ".git")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n'
    )
    with pytest.raises(VersioningError, match="literal version"):
        set_version(root, NAME, NEW)


def test_meson_build_is_read_bounded(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "meson-python")
    (root / "meson.build").unlink()
    (root / "meson.build").mkdir()  # not a regular file
    set_version(root, NAME, NEW)  # [project] decides; meson.build is not there to edit
    (root / "meson.build").rmdir()
    (root / "meson.build").write_bytes(b"project('x', version : '1.0')\n" + b"#" * (5 << 20))
    with pytest.raises(VersioningError, match="larger than 4 MiB"):
        set_version(root, NAME, NEW)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("project('x', version: '1.0')", "'1.0'"),
        ("# project('no', version: '0')\nproject('x', 'c', version : '1.0' )", "'1.0'"),
        (
            "project(\n  'x', # version: '9'\n  default_options : ['a=b', 'version=2'],\n"
            "  version : files('VERSION'),\n)",
            "files('VERSION')",
        ),
        ("project('x', 'c', license : 'MIT')", None),
        # a keyword of a nested call is not project()'s
        ("project('x', meson_version : f(version : '2'))", None),
        ("project('x', '''multi\nline version: '3' ''', version : '1.0')", "'1.0'"),
        ("project('x', version : '1.0'", None),  # unbalanced
        ("subproject('x', version : '1.0')", None),
    ],
)
def test_meson_project_version_span(text: str, value: str | None) -> None:
    span = meson_project_version_span(text)
    assert (text[span[0] : span[1]] if span else None) == value


_MESON_TOKEN = st.sampled_from(
    ["'", "'''", "(", ")", "[", "]", "{", "}", ",", "#", "\n", ":", "version", " ", "a", "\\"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_MESON_TOKEN, max_size=40).map("".join))
def test_meson_scanner_never_fails_on_hostile_text(noise: str) -> None:
    for text in (noise, f"project({noise}", f"project('x', version : '1.0', {noise}"):
        span = meson_project_version_span(text)
        if span is not None:
            assert 0 <= span[0] <= span[1] <= len(text)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["'c'", "license : 'MIT'", "default_options : ['a=b']"]), max_size=3),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True),
)
def test_meson_scanner_finds_the_version_among_other_arguments(
    others: list[str], version: str
) -> None:
    args = ["'x'", *others, f"version : '{version}'"]
    text = "project(\n  " + ",\n  ".join(args) + ",\n)\n"
    span = meson_project_version_span(text)
    assert span is not None and text[span[0] : span[1]] == f"'{version}'"


# --- maturin -------------------------------------------------------------------------------------


def test_maturin_static_project_version_and_crate_version(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "maturin", "1.0.0")
    (root / "Cargo.lock").write_text(
        'version = 4\n\n[[package]]\nname = "demo_pkg"\nversion = "1.0.0"\n'
        'dependencies = [\n "pyo3-ffi",\n]\n\n'
        '[[package]]\nname = "pyo3-ffi"\nversion = "0.25.0"\n'
    )
    info = set_version(root, NAME, "1.0.0+hotfix.1")
    assert info.distribution == "maturin"
    data = pyproject(root)
    assert data["project"]["version"] == "1.0.0+hotfix.1"
    assert "dynamic" not in data["project"]
    # The Rust SBOM records the build directory: off, for reproducible wheels.
    assert data["tool"]["maturin"]["sbom"] == {"rust": False}
    assert data["tool"]["maturin"]["module-name"] == "demo_pkg._native"
    assert 'version = "1.0.0+hotfix.1"\n' in (root / "Cargo.toml").read_text()
    lock = (root / "Cargo.lock").read_text()
    assert 'name = "demo_pkg"\nversion = "1.0.0+hotfix.1"\n' in lock
    assert 'name = "pyo3-ffi"\nversion = "0.25.0"\n' in lock
    # maturin refuses to build an sdist from a tree that has PKG-INFO; it writes its own.
    assert not (root / "PKG-INFO").exists()


def test_maturin_without_project_table_uses_the_crate(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "maturin", "1.0.0")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n'
    )
    set_version(root, NAME, "1.0+hotfix.1")  # 1.0 == 1.0.0 (PEP 440)
    assert 'version = "1.0.0+hotfix.1"\n' in (root / "Cargo.toml").read_text()
    assert pyproject(root)["tool"]["maturin"]["sbom"]["rust"] is False
    assert "project" not in pyproject(root)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (("1.0.0", "2.0.0"), "not the upstream version"),
        ('version = "1.0.0"', "version.workspace = true"),
    ],
)
def test_maturin_crate_version_that_cannot_be_set(
    tmp_path: Path, edit: tuple[str, str] | str, why: str
) -> None:
    root = unpacked(tmp_path, "maturin", "1.0.0")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n'
    )
    cargo = root / "Cargo.toml"
    old, new = edit if isinstance(edit, tuple) else (edit, why)
    cargo.write_text(cargo.read_text().replace(old, new, 1))
    before = cargo.read_text()
    with pytest.raises(VersioningError, match=r"no \[project\] table.*Add a \[project\] table"):
        set_version(root, NAME, "1.0.0+hotfix.1")
    assert cargo.read_text() == before


def test_maturin_manifest_path_outside_the_tree_is_not_touched(tmp_path: Path) -> None:
    root = unpacked(tmp_path, "maturin", "1.0.0")
    outside = tmp_path / "Cargo.toml"
    outside.write_text('[package]\nname = "victim"\nversion = "1.0.0"\n')
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        text.replace("[tool.maturin]\n", '[tool.maturin]\nmanifest-path = "../Cargo.toml"\n')
    )
    set_version(root, NAME, "1.0.0+hotfix.1")
    assert outside.read_text() == '[package]\nname = "victim"\nversion = "1.0.0"\n'


@pytest.mark.parametrize(
    ("version", "crate", "expected"),
    [
        ("1.0.0+hotfix.1", "1.0.0", "1.0.0+hotfix.1"),
        ("1.0+hotfix.2", "1.0.0", "1.0.0+hotfix.2"),
        ("1.0.0+hotfix.2", "1.0.0+hotfix.1", "1.0.0+hotfix.2"),
        ("1.0.0a1+hotfix.1", "1.0.0-alpha.1", "1.0.0-alpha.1+hotfix.1"),
        ("1.0.1+hotfix.1", "1.0.0", None),
        ("1.0.0", "1.0.0", None),  # no local label to carry
        ("1.0.0+hotfix.1", "not-semver", None),
    ],
)
def test_cargo_version(version: str, crate: str, expected: str | None) -> None:
    assert cargo_version(version, crate) == expected


def test_detect_backend_of_compiled_fixtures(tmp_path: Path) -> None:
    found = {
        backend: detect_backend(unpacked(tmp_path / backend, backend)).distribution
        for backend in ("scikit-build-core", "meson-python", "maturin")
    }
    assert found == {
        "scikit-build-core": "scikit-build-core",
        "meson-python": "meson-python",
        "maturin": "maturin",
    }
