"""The SBOM inside each wheel (PEP 770): a CycloneDX 1.6 document valid against the schema, with the
upstream ancestor and every patch in its pedigree; the wheel stays valid (RECORD), installable and
byte-reproducible."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from packageurl import PackageURL

from pyhotfix.building import EnvCache
from pyhotfix.errors import BuildError
from pyhotfix.patching.dep3 import Dep3Headers, with_headers
from pyhotfix.sbom import (
    MAX_DIFF_TEXT_BYTES,
    SbomInputs,
    SbomPatch,
    add_sbom,
    hotfix_purl,
    render_sbom,
)
from tests.conftest import Pyhotfix, Venv
from tests.support.apps import app_dir, fix_patch
from tests.support.cyclonedx import cyclonedx_problem
from tests.support.dists import make_wheel
from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_project, make_sdist

SDE = 1700000000
DIFF = b"--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
SBOM_MEMBER = "my_pkg-1.0+hotfix.2.dist-info/sboms/pyhotfix.cdx.json"


def inputs(**changes: Any) -> SbomInputs:
    values: dict[str, Any] = {
        "name": "my-pkg",
        "version": "1.0",
        "hotfix_version": "1.0+hotfix.2",
        "inputs_key": "ab" * 32,
        "upstream_url": "https://files.example.org/my_pkg-1.0.tar.gz",
        "upstream_sha256": "cd" * 32,
        "patches": (
            SbomPatch(
                "patches/my-pkg/0001-fix.patch",
                b"Origin: upstream, https://git.example.org/c/1\n\n" + DIFF,
                "11" * 32,
                Dep3Headers(
                    origin="upstream, https://git.example.org/c/1",
                    bug="https://bugs.example.org/7",
                ),
            ),
            SbomPatch(
                "ours.patch",
                DIFF,
                "22" * 32,
                Dep3Headers(forwarded="no"),
                url="https://example.org/ours.patch",
            ),
        ),
        "fixes": ("CVE-2024-37891", "GHSA-34jh-p97f-mpxf"),
        "source_date_epoch": SDE,
    }
    values.update(changes)
    return SbomInputs(**values)


def component(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["metadata"]["component"]
    return result


def test_document_is_valid_cyclonedx_with_the_pedigree() -> None:
    text = render_sbom(inputs()).decode()
    assert cyclonedx_problem(text) is None
    document = json.loads(text)
    main = component(document)
    assert main["purl"] == "pkg:pypi/my-pkg@1.0%2Bhotfix.2"
    purl = PackageURL.from_string(main["purl"])
    assert (purl.type, purl.name, purl.version) == ("pypi", "my-pkg", "1.0+hotfix.2")
    (ancestor,) = main["pedigree"]["ancestors"]
    assert ancestor["purl"] == hotfix_purl("my-pkg", "1.0") == "pkg:pypi/my-pkg@1.0"
    assert ancestor["hashes"] == [{"alg": "SHA-256", "content": "cd" * 32}]
    assert ancestor["externalReferences"][0]["url"] == "https://files.example.org/my_pkg-1.0.tar.gz"
    upstream, ours = main["pedigree"]["patches"]
    # Origin: upstream → a backport; the team's own patch → unofficial
    assert (upstream["type"], ours["type"]) == ("backport", "unofficial")
    assert upstream["diff"]["text"]["content"].endswith(DIFF.decode())
    assert upstream["diff"]["url"] == "https://git.example.org/c/1"
    assert ours["diff"] == {
        "text": {"contentType": "text/x-diff", "content": DIFF.decode()},
        "url": "https://example.org/ours.patch",
    }
    security = [r for r in ours["resolves"] if r["type"] == "security"]
    assert [r["id"] for r in security] == ["CVE-2024-37891", "GHSA-34jh-p97f-mpxf"]
    assert security[0]["source"]["url"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-37891"
    assert {"type": "defect", "references": ["https://bugs.example.org/7"]} in upstream["resolves"]
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"  # SOURCE_DATE_EPOCH


def test_same_inputs_same_bytes_and_serial_number_follows_the_inputs() -> None:
    assert render_sbom(inputs()) == render_sbom(inputs())
    serials = {
        json.loads(render_sbom(i))["serialNumber"]
        for i in (inputs(), inputs(inputs_key="ef" * 32), inputs(hotfix_version="1.0+hotfix.3"))
    }
    assert len(serials) == 3
    assert all(s.startswith("urn:uuid:") for s in serials)


def test_binary_and_huge_patches() -> None:
    latin1 = DIFF.replace(b"a = 2", b"a = '\xe9'")
    huge = DIFF + b"+" + b"x" * MAX_DIFF_TEXT_BYTES + b"\n"
    document = render_sbom(
        inputs(
            patches=(
                SbomPatch("latin1.patch", latin1, "33" * 32, Dep3Headers()),
                SbomPatch("huge.patch", huge, "44" * 32, Dep3Headers()),
            ),
            fixes=(),
            upstream_url="file:///home/me/mirror/my_pkg-1.0.tar.gz",
        )
    ).decode()
    assert cyclonedx_problem(document) is None
    assert len(document) < 20_000  # the huge diff is named, not included
    main = component(json.loads(document))
    binary, big = main["pedigree"]["patches"]
    assert binary["diff"]["text"]["encoding"] == "base64"
    assert base64.b64decode(binary["diff"]["text"]["content"]) == latin1
    assert "diff" not in big and "resolves" not in big
    assert {"name": "pyhotfix:patch", "value": f"huge.patch sha256:{'44' * 32}"} in main[
        "properties"
    ]
    # a path on the builder's disk is not published as the ancestor's URL
    assert "externalReferences" not in main["pedigree"]["ancestors"][0]


def _record(wheel: Path) -> dict[str, tuple[str, str]]:
    with zipfile.ZipFile(wheel) as zf:
        info = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        rows = csv.reader(io.StringIO(zf.read(info).decode()))
        return {r[0]: (r[1], r[2]) for r in rows if r}


def test_add_sbom_writes_the_pep_770_file_with_its_record_line(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "a", "my_pkg", "1.0+hotfix.2")
    assert add_sbom(wheel, inputs()) == wheel
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        document = zf.read(SBOM_MEMBER)
        assert all(i.date_time == (2023, 11, 14, 22, 13, 20) for i in zf.infolist())
        assert zf.testzip() is None
    assert names[-2:] == [SBOM_MEMBER, "my_pkg-1.0+hotfix.2.dist-info/RECORD"]
    assert document == render_sbom(inputs())
    digest = base64.urlsafe_b64encode(hashlib.sha256(document).digest()).rstrip(b"=").decode()
    record = _record(wheel)
    assert record[SBOM_MEMBER] == (f"sha256={digest}", str(len(document)))
    assert record["my_pkg-1.0+hotfix.2.dist-info/RECORD"] == ("", "")


def test_add_sbom_is_byte_reproducible_and_idempotent(tmp_path: Path) -> None:
    first = make_wheel(tmp_path / "a", "my_pkg", "1.0+hotfix.2")
    second = tmp_path / "b" / first.name
    second.parent.mkdir()
    shutil.copy(first, second)
    add_sbom(first, inputs())
    time.sleep(1.1)  # a wall-clock time anywhere would show now
    add_sbom(second, inputs())
    assert first.read_bytes() == second.read_bytes()
    once = first.read_bytes()
    add_sbom(first, inputs())  # again: replaced, not added twice
    assert first.read_bytes() == once
    add_sbom(first, inputs(fixes=()))
    assert first.read_bytes() != once
    assert list(_record(first)).count(SBOM_MEMBER) == 1


@pytest.mark.parametrize("kind", ["not-a-zip", "two-dist-info", "no-record"])
def test_a_broken_wheel_is_a_build_error(tmp_path: Path, kind: str) -> None:
    wheel = tmp_path / "my_pkg-1.0+hotfix.2-py3-none-any.whl"
    if kind == "not-a-zip":
        wheel.write_bytes(b"PK\x03\x04 not really")
    else:
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("a-1.dist-info/METADATA", "Name: a\n")
            if kind == "two-dist-info":
                zf.writestr("a-1.dist-info/RECORD", "")
                zf.writestr("b-1.dist-info/RECORD", "")
    before = wheel.read_bytes()
    with pytest.raises(BuildError, match=r"Cannot add the SBOM to my_pkg-1\.0\+hotfix\.2"):
        add_sbom(wheel, inputs())
    assert wheel.read_bytes() == before  # left as it was


def test_installers_keep_the_sbom(tmp_path: Path, venv: Venv) -> None:
    wheel = add_sbom(make_wheel(tmp_path / "a", "my_pkg", "1.0+hotfix.2"), inputs())
    done = venv.pip("install", "--no-index", "--no-deps", str(wheel))
    assert done.returncode == 0, done.stderr
    found = venv.run(
        "import importlib.metadata as m; "
        "print([str(f) for f in m.distribution('my_pkg').files if 'sboms' in str(f)])"
    )
    assert found == "['my_pkg-1.0+hotfix.2.dist-info/sboms/pyhotfix.cdx.json']"


# --- the pipeline: every built wheel carries it -------------------------------------------------


DEMO = "demo-sbom"


@pytest.fixture(scope="module")
def upstream_sdist(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Path:
    root = tmp_path_factory.mktemp("upstream")
    project = make_project(root / DEMO, DEMO, "1.0", "setuptools-setup.py")
    return make_sdist(project, root / "dist", envs)


@pytest.mark.slow
def test_built_wheels_carry_the_sbom_and_rebuild_byte_identical(
    tmp_path: Path, upstream_sdist: Path, pyhotfix: Pyhotfix
) -> None:
    name, sdist = DEMO, upstream_sdist
    with FakeIndex() as index:
        index.add_file(sdist)
        app = app_dir(tmp_path, index)
        headers = Dep3Headers(
            description="Fix the answer",
            origin="upstream, https://git.example.org/demo/commit/0123abc",
        )
        (app / "fix.patch").write_bytes(with_headers(fix_patch(name).encode(), headers))
        added = pyhotfix(
            "add", f"{name}==1.0", "--patch", "fix.patch", "--fixes", "PYSEC-2024-12", cwd=app
        )
        assert added.code == 0, added.output
        (wheel,) = (app / "hotfix-index").rglob("*.whl")
        first = wheel.read_bytes()
        # Same inputs and N: the rebuild must give the locked files (checked by build itself).
        rebuilt = pyhotfix("build", "--force", cwd=app)
        assert rebuilt.code == 0, rebuilt.output
        assert wheel.read_bytes() == first

    with zipfile.ZipFile(wheel) as zf:
        text = zf.read("demo_sbom-1.0+hotfix.1.dist-info/sboms/pyhotfix.cdx.json").decode()
    assert cyclonedx_problem(text) is None
    main = component(json.loads(text))
    assert main["purl"] == "pkg:pypi/demo-sbom@1.0%2Bhotfix.1"
    (ancestor,) = main["pedigree"]["ancestors"]
    assert ancestor["hashes"][0]["content"] == hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert ancestor["externalReferences"][0]["url"].startswith(index.url.split("/simple")[0])
    (patch,) = main["pedigree"]["patches"]
    assert patch["type"] == "backport"
    assert patch["diff"]["text"]["content"] == (app / "fix.patch").read_text()
    assert patch["resolves"][0]["id"] == "PYSEC-2024-12"
    # the lock records the wheel with its SBOM
    assert hashlib.sha256(first).hexdigest() in (app / "hotfixes.lock").read_text()


@pytest.mark.slow
def test_a_hotfix_locked_before_sboms_keeps_its_locked_wheel(
    tmp_path: Path,
    upstream_sdist: Path,
    shared_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Locked by a pyhotfix without SBOMs (simulated: add_sbom does nothing), a rebuild from the
    same inputs must give the locked bytes, so that wheel stays as it was."""
    import pyhotfix.sbom
    from pyhotfix.cli import cli

    monkeypatch.setenv("PYHOTFIX_CACHE_DIR", str(shared_cache))
    with FakeIndex() as index:
        index.add_file(upstream_sdist)
        app = app_dir(tmp_path, index)
        (app / "fix.patch").write_text(fix_patch(DEMO))
        manifest = app / "hotfixes.toml"
        with monkeypatch.context() as old:
            old.setattr(pyhotfix.sbom, "add_sbom", lambda wheel, inputs: wheel)
            added = CliRunner().invoke(
                cli, ["-m", str(manifest), "add", f"{DEMO}==1.0", "--patch", str(app / "fix.patch")]
            )
        assert added.exit_code == 0, added.output
        (wheel,) = (app / "hotfix-index").rglob("*.whl")
        locked = wheel.read_bytes()
        rebuilt = CliRunner().invoke(cli, ["-m", str(manifest), "build", "--force"])
        assert rebuilt.exit_code == 0, rebuilt.output
    assert wheel.read_bytes() == locked
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if "/sboms/" in n]
