"""pbr and versioneer projects (setuptools plugins that compute the version): the fixes set_version
makes on their trees (fast), and real builds from their upstream sdists (slow)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache, build
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import set_version
from tests.support.projects import make_sdist
from tests.support.setuptoolsplugins import make_plugin_project

NAME = "demo-pkg"

_VERSION_PY = """\
import json

version_json = '''
{
 "dirty": false,
 "error": null,
 "full-revisionid": "0123456789abcdef",
 "version": "1.0"
}
'''  # END VERSION_JSON


def get_versions():
    return json.loads(version_json)
"""


def sdist_tree(root: Path, setup_py: str, version: str = "1.0") -> Path:
    root.mkdir()
    (root / "setup.py").write_text(setup_py)
    (root / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n")
    return root


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (None, "include setup.py\n"),
        ("include README.md", "include README.md\ninclude setup.py\n"),
        ("include setup.py README.md\n", "include setup.py README.md\n"),
    ],
)
def test_pbr_sdist_keeps_setup_py(tmp_path: Path, manifest: str | None, expected: str) -> None:
    root = sdist_tree(tmp_path / "p", "import setuptools\nsetuptools.setup(pbr=True)\n")
    if manifest is not None:
        (root / "MANIFEST.in").write_text(manifest)
    set_version(root, NAME, "1.0+hotfix.1")
    assert (root / "MANIFEST.in").read_text() == expected
    assert "tag_build = +hotfix.1" in (root / "setup.cfg").read_text()


def test_plain_setuptools_gets_no_manifest(tmp_path: Path) -> None:
    root = sdist_tree(tmp_path / "p", "from setuptools import setup\nsetup(name='demo-pkg')\n")
    set_version(root, NAME, "1.0+hotfix.1")
    assert not (root / "MANIFEST.in").exists()


@pytest.mark.parametrize("config", ["setup.cfg", "pyproject.toml"])
def test_versioneer_frozen_version_json(tmp_path: Path, config: str) -> None:
    root = sdist_tree(tmp_path / "p", "import versioneer\n")
    (root / "demo_pkg").mkdir()
    version_py = root / "demo_pkg" / "_version.py"
    version_py.write_text(_VERSION_PY)
    if config == "setup.cfg":
        (root / "setup.cfg").write_text(
            "[versioneer]\nVCS = git\nversionfile_source = demo_pkg/_version.py\n"
        )
    else:
        (root / "pyproject.toml").write_text(
            '[tool.versioneer]\nversionfile_source = "demo_pkg/_version.py"\n'
        )
    set_version(root, NAME, "1.0+hotfix.1")
    assert version_py.read_text() == _VERSION_PY.replace('"1.0"', '"1.0+hotfix.1"')


def test_versioneer_file_outside_the_tree_is_not_written(tmp_path: Path) -> None:
    root = sdist_tree(tmp_path / "p", "import versioneer\n")
    outside = tmp_path / "_version.py"
    outside.write_text(_VERSION_PY)
    (root / "setup.cfg").write_text("[versioneer]\nversionfile_source = ../_version.py\n")
    set_version(root, NAME, "1.0+hotfix.1")
    assert outside.read_text() == _VERSION_PY


def test_versioneer_unfrozen_version_file_is_left_alone(tmp_path: Path) -> None:
    # The _version.py of a git checkout computes the version (no version_json): nothing to set.
    root = sdist_tree(tmp_path / "p", "import versioneer\n")
    (root / "_version.py").write_text("def get_versions():\n    return git_pieces()\n")
    (root / "setup.cfg").write_text("[versioneer]\nversionfile_source = _version.py\n")
    set_version(root, NAME, "1.0+hotfix.1")
    assert (root / "_version.py").read_text() == "def get_versions():\n    return git_pieces()\n"


@pytest.mark.slow
@pytest.mark.parametrize(("plugin", "version"), [("pbr", "1.0.0"), ("versioneer", "1.0")])
def test_plugin_project_builds_with_the_hotfix_version(
    tmp_path: Path, envs: EnvCache, plugin: str, version: str
) -> None:
    # pbr normalises the tag 1.0 to 1.0.0; versioneer keeps the tag's spelling.
    project = make_plugin_project(tmp_path / "project", NAME, version, plugin, envs)
    sdist = make_sdist(project, tmp_path / "dist", envs)
    root = unpack_sdist(sdist, tmp_path / "src").root
    hotfix = f"{version}+hotfix.1"
    info = set_version(root, NAME, hotfix)
    # build() checks both files' names and metadata: pbr's wheel said 0.0.0 without setup.py.
    built = build(
        root,
        NAME,
        hotfix,
        tmp_path / "out",
        source_date_epoch=1_700_000_000,
        envs=envs,
        backend=info,
    )
    assert built.wheel.filename == f"demo_pkg-{hotfix}-py3-none-any.whl"
    if plugin == "versioneer":
        with zipfile.ZipFile(built.wheel.path) as zf:
            assert f'"version": "{hotfix}"' in zf.read("demo_pkg/_version.py").decode()
