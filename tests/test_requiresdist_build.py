"""Metadata hotfixes end to end: real upstream sdists of setuptools (setup.cfg), hatchling and
poetry-core projects, `pyhotfix build` through the CLI, and the built files' metadata."""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pyhotfix.building import EnvCache
from tests.conftest import Pyhotfix
from tests.support.apps import app_dir
from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_project, make_sdist

pytestmark = pytest.mark.slow

# Where each fixture backend declares requirements: (file, text after which they are inserted,
# the declaration). Each pins urllib3 below 2 and needs chardet, like requests 2.x did.
DECLARATIONS = {
    "setuptools-setup.cfg": (
        "setup.cfg",
        "[options]\n",
        'install_requires =\n    urllib3>=1.21.1,<2\n    chardet>=3; python_version >= "3"\n',
    ),
    "hatchling": (
        "pyproject.toml",
        'requires-python = ">=3.8"\n',
        'dependencies = ["urllib3>=1.21.1,<2", "chardet>=3", "idna"]\n'
        '[project.optional-dependencies]\nsocks = ["urllib3[socks]<2"]\n',
    ),
    "poetry": (
        "pyproject.toml",
        'python = ">=3.8"\n',
        'urllib3 = ">=1.21.1,<2"\nchardet = { version = ">=3", optional = true }\n'
        '[tool.poetry.extras]\ncharset = ["chardet"]\n',
    ),
}

EDITS = '[hotfix.{name}.requires-dist]\nurllib3 = "urllib3>=1.21.1,<3"\nchardet = false\n'


def fixture_name(backend: str) -> str:
    return f"meta-{backend.replace('.', '-')}"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        for backend, (filename, anchor, declaration) in DECLARATIONS.items():
            name = fixture_name(backend)
            project = make_project(root / name, name, "1.0", backend)
            path = project / filename
            text = path.read_text()
            assert anchor in text, (backend, text)
            path.write_text(text.replace(anchor, anchor + declaration, 1))
            index.add_file(make_sdist(project, root / "dist", envs))
        yield index


def requires_dist(metadata: bytes) -> list[str]:
    return HeaderParser().parsestr(metadata.decode()).get_all("Requires-Dist") or []


def built_metadata(app: Path, name: str, hotfix: str) -> tuple[list[str], list[str]]:
    """(the wheel's Requires-Dist, the sdist's PKG-INFO Requires-Dist) of the built files."""
    project = app / "hotfix-index" / "simple" / name
    (wheel,) = project.glob(f"*-{hotfix}-*.whl")
    (sdist,) = project.glob(f"*-{hotfix}.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        wheel_requires = requires_dist(zf.read(meta))
    with tarfile.open(sdist) as tf:
        member = next(
            m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        extracted = tf.extractfile(member)
        assert extracted is not None
        sdist_requires = requires_dist(extracted.read())
    return wheel_requires, sdist_requires


@pytest.mark.parametrize("backend", list(DECLARATIONS))
def test_built_wheel_has_the_new_requires_dist(
    backend: str, tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = fixture_name(backend)
    app = app_dir(
        tmp_path,
        upstream,
        f'[hotfix.{name}]\nversion = "1.0"\npatches = []\n' + EDITS.format(name=name),
    )
    built = pyhotfix("build", cwd=app)
    assert built.code == 0, built.output
    wheel_requires, sdist_requires = built_metadata(app, name, "1.0+hotfix.1")
    urllib3 = [r for r in wheel_requires if r.lower().startswith("urllib3")]
    assert len(urllib3) == 1 and re.fullmatch(
        r"urllib3\s*\(?(<3,>=1\.21\.1|>=1\.21\.1,<3)\)?", urllib3[0]
    ), wheel_requires
    assert not [r for r in wheel_requires if r.lower().startswith("chardet")], wheel_requires
    # Some backends copy PKG-INFO's Requires-Dist into the wheel: it says the same.
    assert [r.replace(" ", "") for r in sdist_requires] == [
        r.replace(" ", "") for r in wheel_requires
    ]

    listed = pyhotfix("list", "--json", cwd=app)
    assert listed.code == 0, listed.output
    assert json.loads(listed.stdout)[0]["requires_dist"] == [
        {"name": "urllib3", "requirement": str(Requirement("urllib3>=1.21.1,<3"))},
        {"name": "chardet", "requirement": None},
    ]


def test_changing_the_edit_changes_the_hotfix_number(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = fixture_name("hatchling")
    head = f'[hotfix.{name}]\nversion = "1.0"\npatches = []\n'
    app = app_dir(tmp_path, upstream, head + EDITS.format(name=name))
    assert pyhotfix("build", cwd=app).code == 0
    again = pyhotfix("build", "--json", cwd=app)
    assert json.loads(again.stdout)[0]["status"] == "up-to-date"

    manifest = app / "hotfixes.toml"
    manifest.write_text(manifest.read_text().replace("<3", "<2.3"))
    rebuilt = pyhotfix("build", "--json", cwd=app)
    assert rebuilt.code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout)[0]["hotfix_version"] == "1.0+hotfix.2"
    wheel_requires, _ = built_metadata(app, name, "1.0+hotfix.2")
    assert any(r.startswith("urllib3") and "<2.3" in r for r in wheel_requires), wheel_requires


def test_removing_a_dependency_the_project_lacks_fails_closed(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = fixture_name("hatchling")
    body = f'[hotfix.{name}]\nversion = "1.0"\npatches = []\n[hotfix.{name}.requires-dist]\nsix = false\n'
    app = app_dir(tmp_path, upstream, body)
    failed = pyhotfix("build", cwd=app)
    assert failed.code == 1
    assert "removes six, but pyproject.toml [project] dependencies" in failed.stderr
    assert "Traceback" not in failed.output
    assert not (app / "hotfix-index").exists() or not list((app / "hotfix-index").rglob("*.whl"))
    assert not (app / "hotfixes.lock").exists()


def test_add_with_requires_dist_writes_the_manifest_and_builds(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = fixture_name("hatchling")
    app = app_dir(tmp_path, upstream)
    added = pyhotfix(
        "add",
        f"{name}==1.0",
        "--requires-dist",
        "urllib3>=1.21.1,<3",
        "--remove-requires-dist",
        "chardet",
        cwd=app,
    )
    assert added.code == 0, added.output
    text = (app / "hotfixes.toml").read_text()
    assert f"[hotfix.{name}.requires-dist]" in text and "chardet = false" in text
    wheel_requires, _ = built_metadata(app, name, "1.0+hotfix.1")
    assert not [r for r in wheel_requires if r.startswith("chardet")]

    nothing = pyhotfix("add", f"{name}==1.0", cwd=app)
    assert nothing.code == 2 and "Give at least one --patch" in nothing.stderr
