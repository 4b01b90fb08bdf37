"""`pyhotfix audit`: the index holds exactly what the lock says (files, statements), over a local
directory and over HTTP; `--rebuild` proves it by building again; any difference is named."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache
from pyhotfix.index import LocalIndex
from pyhotfix.lock import read_lock
from pyhotfix.provenance.audit import compare_statement
from pyhotfix.provenance.statement import parse_statement, render_statement
from tests.conftest import Pyhotfix
from tests.support.apps import APP_CANON, app_dir, fix_patch, make_app
from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_project, make_sdist
from tests.support.staticserve import serve_directory
from tests.test_provenance import locked_hotfix, validate_statement
from tests.test_publish import AWS_ENV, s3_client
from tests.test_publish import bucket as bucket
from tests.test_publish import moto_endpoint as moto_endpoint

NAME = "demo-audit"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        project = make_project(root / NAME, NAME, "1.0", "setuptools-setup.py")
        index.add_file(make_sdist(project, root / "dist", envs))
        yield index


@pytest.fixture(scope="module")
def built_app(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeIndex, shared_cache: Path
) -> Path:
    """An app whose hotfix was built and published by the real CLI (once per module)."""
    app = app_dir(
        tmp_path_factory.mktemp("built"),
        upstream,
        f'[hotfix.{NAME}]\nversion = "1.0"\npatches = ["fix.patch"]\n',
    )
    (app / "fix.patch").write_text(fix_patch(NAME))
    run = Pyhotfix(shared_cache)("build", cwd=app)
    assert run.code == 0, run.output
    return app


@pytest.fixture
def app(built_app: Path, tmp_path: Path) -> Path:
    """A copy of the built app this test may tamper with."""
    return Path(shutil.copytree(built_app, tmp_path / "app", symlinks=True))


def project_dir(app: Path) -> Path:
    return app / "hotfix-index" / "simple" / NAME


def audit_json(pyhotfix: Pyhotfix, app: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    run = pyhotfix("audit", "--json", *args, cwd=app)
    assert "Traceback" not in run.output
    assert run.code in (0, 1), run.output
    return run.code, json.loads(run.stdout)


def reasons(findings: list[dict[str, object]]) -> dict[str, str]:
    return {str(f["filename"]): str(f["reason"]) for f in findings if not f["ok"]}


def test_built_hotfix_has_valid_provenance_and_audits_clean(app: Path, pyhotfix: Pyhotfix) -> None:
    locked = read_lock(app / "hotfixes.lock").hotfixes[NAME]
    assert any(r.startswith("setuptools==") for r in locked.build_requires)
    for f in locked.files:
        document = validate_statement((project_dir(app) / f"{f.filename}.intoto.json").read_bytes())
        assert document["subject"][0]["digest"]["sha256"] == f.sha256
        deps = document["predicate"]["buildDefinition"]["resolvedDependencies"]
        assert {"name": "upstream-sdist", "uri": locked.upstream_url,
                "digest": {"sha256": locked.upstream_sha256}} in deps  # fmt: skip
    code, findings = audit_json(pyhotfix, app)
    assert code == 0
    assert sorted(str(f["filename"]) for f in findings) == sorted(f.filename for f in locked.files)
    assert all(f["ok"] for f in findings)
    plain = pyhotfix("audit", NAME, cwd=app)
    assert plain.code == 0 and "matches the lock and its statement" in plain.stdout


def test_audit_names_every_file_that_differs_and_why(app: Path, pyhotfix: Pyhotfix) -> None:
    locked = read_lock(app / "hotfixes.lock").hotfixes[NAME]
    wheel = next(f.filename for f in locked.files if f.filename.endswith(".whl"))
    sdist = next(f.filename for f in locked.files if f.filename.endswith(".tar.gz"))
    with (project_dir(app) / wheel).open("ab") as fh:
        fh.write(b"tampered")
    statement = project_dir(app) / f"{sdist}.intoto.json"
    patch_sha = locked.patches[0].sha256
    statement.write_text(statement.read_text().replace(patch_sha, "0" * 64))
    code, findings = audit_json(pyhotfix, app)
    assert code == 1
    why = reasons(findings)
    assert "sha256 differs from the lock" in why[wheel]
    assert "the statement names patch fix.patch with another sha256" in why[sdist]
    assert "its page lists" in why[sdist]

    (project_dir(app) / f"{wheel}.intoto.json").unlink()
    stray = project_dir(app) / "index.json"
    record = json.loads(stray.read_text())
    record["files"][0]["hashes"]["sha256"] = "1" * 64
    stray.write_text(json.dumps(record))
    code, findings = audit_json(pyhotfix, app)
    assert code == 1
    why = reasons(findings)
    assert "no provenance statement" in why[wheel]
    assert "the index page lists sha256 1111" in why[record["files"][0]["filename"]]


def test_audit_reports_a_file_of_the_version_the_lock_does_not_record(
    app: Path, pyhotfix: Pyhotfix, tmp_path: Path
) -> None:
    locked = read_lock(app / "hotfixes.lock").hotfixes[NAME]
    wheel = next(f.filename for f in locked.files if f.filename.endswith(".whl"))
    other = tmp_path / wheel.replace("-py3-none-any", "-py2.py3-none-any")
    shutil.copyfile(project_dir(app) / wheel, other)
    LocalIndex(app / "hotfix-index").publish(NAME, [other])
    code, findings = audit_json(pyhotfix, app)
    assert code == 1
    assert reasons(findings) == {
        other.name: "listed in the index as a file of 1.0+hotfix.1, but not in the lock"
    }


def test_audit_of_an_index_served_over_http(app: Path, pyhotfix: Pyhotfix) -> None:
    for page in ("index.json", "index.html"):
        with serve_directory(app / "hotfix-index", page=page) as base:
            code, findings = audit_json(pyhotfix, app, "--index", f"{base}simple/")
            assert code == 0, findings
            assert len(findings) == 2
    wheel = next(p for p in project_dir(app).iterdir() if p.name.endswith(".whl"))
    wheel.write_bytes(wheel.read_bytes()[:-1] + b"X")
    sdist = next(p for p in project_dir(app).iterdir() if p.name.endswith(".tar.gz"))
    with sdist.open("ab") as fh:
        fh.write(b"x" * 100_000)  # read only as far as the locked size
    with serve_directory(app / "hotfix-index", page="index.json") as base:
        code, findings = audit_json(pyhotfix, app, "--index", f"{base}simple/")
    assert code == 1
    why = reasons(findings)
    assert "sha256 differs from the lock (index" in why[wheel.name]
    assert "sha256 differs from the lock (the index's file is larger than" in why[sdist.name]


def test_audit_usage_errors(app: Path, pyhotfix: Pyhotfix) -> None:
    run = pyhotfix("audit", "no-such-hotfix", cwd=app)
    assert run.code == 2 and "not in" in run.output and "Traceback" not in run.output
    (app / "hotfixes.lock").unlink()
    run = pyhotfix("audit", cwd=app)
    assert run.code == 2 and "nothing to audit" in run.output


@pytest.mark.slow
def test_audit_rebuild_passes_and_fails_on_a_tampered_file(app: Path, pyhotfix: Pyhotfix) -> None:
    code, findings = audit_json(pyhotfix, app, "--rebuild")
    assert code == 0, findings
    assert [f["reason"] for f in findings].count("rebuilt byte for byte") == 2
    wheel = next(p for p in project_dir(app).iterdir() if p.name.endswith(".whl"))
    wheel.write_bytes(wheel.read_bytes()[:-1] + b"X")
    code, findings = audit_json(pyhotfix, app, "--rebuild")
    assert code == 1
    failing = [str(f["reason"]) for f in findings if f["filename"] == wheel.name and not f["ok"]]
    assert any("sha256 differs from the lock" in r for r in failing)
    assert any(r.startswith("rebuild differs: the rebuilt file has sha256") for r in failing)


def test_rebuild_from_a_manifest_that_left_the_lock_is_refused(
    app: Path, pyhotfix: Pyhotfix
) -> None:
    (app / "fix.patch").write_text(fix_patch(NAME, extra=" (v2)"))
    code, findings = audit_json(pyhotfix, app, "--rebuild")
    assert code == 1
    assert reasons(findings)[""].startswith("rebuild skipped: the manifest's entry")
    assert [f["ok"] for f in findings if f["filename"]] == [True, True]  # the index is fine


def test_compare_statement_names_each_difference() -> None:
    locked = locked_hotfix()
    expected = parse_statement(render_statement(locked, locked.files[0]))
    other = dataclasses.replace(
        locked,
        upstream_url="https://evil.example/demo-1.0.tar.gz",
        patches=(locked.patches[0],),
        build_requires=("setuptools==1.0", "wheel==0.45.1"),
        inputs="f" * 64,
    )
    actual = parse_statement(render_statement(other, other.files[0]))
    problems = compare_statement(actual, expected)
    assert "the statement's external parameters (the manifest entry) differ" in problems
    assert any(p.startswith("the statement's inputs is") for p in problems)
    assert any(
        p.startswith("the statement names upstream sdist at https://evil.example/")
        for p in problems
    )
    assert "the statement does not name patch https://example.org/pull/1.patch" in problems
    assert "the statement does not name build requirement setuptools==80.9.0" in problems
    assert "the statement names build requirement setuptools==1.0, which the lock does not" in (
        problems
    )
    assert compare_statement(expected, expected) == []


def test_publish_to_s3_carries_the_statements_and_audit_reads_the_bucket(
    tmp_path: Path, request: pytest.FixtureRequest, pyhotfix: Pyhotfix
) -> None:
    """`publish` regenerates each statement from the lock; audit checks an s3:// index too."""
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket: str = request.getfixturevalue("bucket")
    settings = f'index = "s3://{bucket}/hf"\nendpoint_url = "{endpoint}"\n'
    app = make_app(tmp_path, settings)
    env = {**AWS_ENV, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    assert pyhotfix("publish", "--from", app / "hotfix-index", cwd=app, env=env).code == 0
    locked = read_lock(app / "hotfixes.lock").hotfixes[APP_CANON]
    client = s3_client(endpoint)
    for f in locked.files:
        key = f"hf/simple/{APP_CANON}/{f.filename}.intoto.json"
        stored = client.get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == render_statement(locked, f)
        assert stored["ContentType"] == "application/vnd.in-toto+json"
    run = pyhotfix("audit", "--json", cwd=app, env=env)
    assert run.code == 0, run.output
    assert all(f["ok"] for f in json.loads(run.stdout))

    key = f"hf/simple/{APP_CANON}/{locked.files[0].filename}"
    client.put_object(Bucket=bucket, Key=key, Body=b"replaced")
    run = pyhotfix("audit", "--json", cwd=app, env=env)
    assert run.code == 1, run.output
    assert (
        "sha256 differs from the lock" in reasons(json.loads(run.stdout))[locked.files[0].filename]
    )
