"""Provenance: the in-toto Statement (SLSA Provenance v1) beside every published file, made from
the lock entry, validated with the official in-toto attestation bindings; published in the same
transaction as the files and linked from both page formats, which pip and uv still install from."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from uv import find_uv_bin

from pyhotfix.errors import PublishError, UsageError
from pyhotfix.index import LocalIndex
from pyhotfix.index.integrity import check_hotfix
from pyhotfix.lock import (
    Lock,
    LockedFile,
    LockedHotfix,
    LockedPatch,
    LockedUpstreamWheel,
    read_lock,
    render_lock,
)
from pyhotfix.provenance.layout import statement_name
from pyhotfix.provenance.signing import find_identity
from pyhotfix.provenance.statement import (
    PREDICATE_TYPE,
    parse_statement,
    render_statement,
    statements_for,
)
from pyhotfix.simpleapi import JSON_TYPE, parse_page
from tests.conftest import Pyhotfix, clean_pip_env
from tests.support.dists import make_sdist, make_wheel
from tests.support.staticserve import serve_directory

NAME, CANON = "My_Pkg.Extra", "my-pkg-extra"


def validate_statement(data: bytes) -> dict[str, Any]:
    """Parse `data` with the in-toto attestation bindings (Statement v1, SLSA Provenance v1
    predicate, every resource descriptor) and validate it as they do; the JSON document."""
    document: dict[str, Any] = json.loads(data)
    proto = json_format.Parse(data, statement_pb2.Statement())
    Statement.copy_from_pb(proto).validate()
    assert proto.predicate_type == PREDICATE_TYPE
    # ParseDict refuses unknown fields: the predicate is exactly the SLSA v1 schema.
    provenance = json_format.ParseDict(document["predicate"], provenance_pb2.Provenance())
    definition = provenance.build_definition
    assert definition.build_type and provenance.run_details.builder.id
    for descriptor in [*proto.subject, *definition.resolved_dependencies]:
        ResourceDescriptor.copy_from_pb(descriptor).validate()
    return document


def locked_hotfix(files: list[Path] | None = None, **changes: Any) -> LockedHotfix:
    locked_files = (
        tuple(
            LockedFile(p.name, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
            for p in files
        )
        if files
        else (LockedFile("my_pkg_extra-1.0+hotfix.1.tar.gz", "d" * 64, 10),)
    )
    entry = LockedHotfix(
        name=CANON,
        version="1.0",
        hotfix_version="1.0+hotfix.1",
        number=1,
        label="hotfix",
        inputs="a" * 64,
        upstream_url="https://pypi.org/packages/my_pkg_extra-1.0.tar.gz",
        upstream_sha256="b" * 64,
        patches=(
            LockedPatch("fix.patch", "c" * 64),
            LockedPatch("https://example.org/pull/1.patch", "e" * 64),
        ),
        files=locked_files,
        backend="setuptools.build_meta",
        backend_version="80.9.0",
        python="3.11.9",
        pyhotfix="0.1.0",
        source_date_epoch=1700000000,
        build_requires=("setuptools==80.9.0", "wheel==0.45.1"),
    )
    return dataclasses.replace(entry, **changes)


# -- the statement ------------------------------------------------------------------------------


def test_statement_is_valid_slsa_provenance_with_everything_the_build_used() -> None:
    locked = locked_hotfix()
    document = validate_statement(render_statement(locked, locked.files[0]))
    assert document["subject"] == [
        {"name": "my_pkg_extra-1.0+hotfix.1.tar.gz", "digest": {"sha256": "d" * 64}}
    ]
    definition = document["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == {
        "hotfix": {
            "name": CANON,
            "version": "1.0",
            "label": "hotfix",
            "source": "sdist",
            "patches": ["fix.patch", "https://example.org/pull/1.patch"],
        }
    }
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["upstream-sdist"] == {
        "name": "upstream-sdist",
        "uri": "https://pypi.org/packages/my_pkg_extra-1.0.tar.gz",
        "digest": {"sha256": "b" * 64},
    }
    assert deps["patch:fix.patch"]["digest"] == {"sha256": "c" * 64}
    assert deps["patch:https://example.org/pull/1.patch"]["uri"] == (
        "https://example.org/pull/1.patch"
    )
    assert deps["build-requirement:setuptools==80.9.0"]["uri"] == "pkg:pypi/setuptools@80.9.0"
    assert deps["build-requirement:wheel==0.45.1"]["uri"] == "pkg:pypi/wheel@0.45.1"
    assert deps["python"]["uri"] == "pkg:generic/python@3.11.9"
    assert definition["internalParameters"]["buildBackend"] == "setuptools.build_meta"
    assert definition["internalParameters"]["sourceDateEpoch"] == 1700000000
    assert document["predicate"]["runDetails"] == {
        "builder": {"id": "pkg:pypi/pyhotfix", "version": {"pyhotfix": "0.1.0"}}
    }


def test_statement_is_byte_deterministic_and_changes_with_its_inputs() -> None:
    locked = locked_hotfix()
    first = render_statement(locked, locked.files[0])
    assert render_statement(locked_hotfix(), locked_hotfix().files[0]) == first
    text = first.decode()
    # sorted keys, no wall-clock time anywhere
    assert json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n" == text
    assert "startedOn" not in text and "finishedOn" not in text
    other = locked_hotfix(patches=(LockedPatch("fix.patch", "f" * 64),))
    assert render_statement(other, other.files[0]) != first
    facts = parse_statement(first)
    assert facts.subject_sha256 == "d" * 64 and facts.builder_version == "0.1.0"


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"_type": "https://in-toto.io/Statement/v0.1"}',
        b'{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x"}',
        b"{" + b" " * (2 << 20) + b"}",
    ],
)
def test_parse_statement_refuses_what_is_not_one_of_ours(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_statement(data)


def test_lock_keeps_build_requirements_and_reads_old_locks(tmp_path: Path) -> None:
    locked = locked_hotfix()
    path = tmp_path / "hotfixes.lock"
    text = render_lock(Lock({CANON: locked}))
    path.write_text(text)
    assert read_lock(path).hotfixes[CANON] == locked
    # A lock written before build requirements were recorded: still readable, none recorded.
    old = dataclasses.replace(locked, build_requires=())
    path.write_text(render_lock(Lock({CANON: old})))
    assert "requires" not in path.read_text()
    assert read_lock(path).hotfixes[CANON].build_requires == ()


# -- the index ----------------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path: Path) -> tuple[LocalIndex, LockedHotfix, list[Path]]:
    dist = tmp_path / "dist"
    files = [make_wheel(dist, NAME, "1.0+hotfix.1"), make_sdist(dist, NAME, "1.0+hotfix.1")]
    locked = locked_hotfix(files)
    index = LocalIndex(tmp_path / "hotfix-index", fsync=False)
    index.publish(NAME, files, statements=statements_for(locked))
    return index, locked, files


def test_statements_are_published_beside_the_files_and_linked_from_both_pages(
    built: tuple[LocalIndex, LockedHotfix, list[Path]],
) -> None:
    index, locked, files = built
    project = index.simple / CANON
    html_page = (project / "index.html").read_text()
    record = json.loads((project / "index.json").read_text())
    for f in locked.files:
        stored = (project / statement_name(f.filename)).read_bytes()
        assert stored == render_statement(locked, f)
        validate_statement(stored)
        quoted = f.filename.replace("+", "%2B")
        assert f'data-intoto-statement="{quoted}.intoto.json"' in html_page
        entry = next(e for e in record["files"] if e["filename"] == f.filename)
        assert entry["_intoto-statement"] == {
            "url": f"{quoted}.intoto.json",
            "sha256": hashlib.sha256(stored).hexdigest(),
        }
        # PEP 740's names are for signed attestations only
        assert "provenance" not in entry
    assert "data-provenance" not in html_page
    # both pages still parse to the same files (statements are not files of the project)
    base = index.simple_url() + f"{CANON}/"
    for body, kind in ((html_page.encode(), "text/html"), (json.dumps(record).encode(), JSON_TYPE)):
        assert sorted(f.filename for f in parse_page(body, kind, base)) == sorted(
            p.name for p in files
        )
    assert {e.filename for e in index.project_entries(NAME)} == {p.name for p in files}
    # publishing the same build again changes nothing
    again = index.publish(NAME, files, statements=statements_for(locked))
    assert again.added == () and len(again.unchanged) == 2


def test_a_stray_statement_with_other_bytes_stops_the_whole_publish(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    files = [make_wheel(dist, NAME, "1.0+hotfix.1"), make_sdist(dist, NAME, "1.0+hotfix.1")]
    locked = locked_hotfix(files)
    index = LocalIndex(tmp_path / "hotfix-index", fsync=False)
    stray = index.simple / CANON / statement_name(files[1].name)
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    with pytest.raises(PublishError, match="already in the index directory with other content"):
        index.publish(NAME, files, statements=statements_for(locked))
    assert index.project_entries(NAME) == []
    assert not (index.simple / CANON / files[0].name).exists()
    assert stray.read_text() == "{}"


def test_an_index_published_without_statements_still_reads(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    index = LocalIndex(tmp_path / "hotfix-index", fsync=False)
    index.publish(NAME, [make_wheel(dist, NAME, "1.0+hotfix.1")])
    [entry] = index.project_entries(NAME)
    assert entry.statement_sha256 is None
    assert "intoto" not in (index.simple / CANON / "index.html").read_text()


@pytest.mark.slow
def test_pip_and_uv_install_from_both_page_formats_with_statement_links(
    built: tuple[LocalIndex, LockedHotfix, list[Path]], tmp_path: Path
) -> None:
    index, _, _ = built
    env = clean_pip_env({"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"})
    uv = find_uv_bin()
    code = "import importlib.metadata as m; print(m.version('My_Pkg.Extra'))"
    for page in ("index.html", "index.json"):
        with serve_directory(index.root, page=page) as base:
            for installer in ("pip", "uv"):
                venv = tmp_path / f"{installer}-{page}"
                subprocess.run(
                    [uv, "venv", "--quiet", "--python", sys.executable, venv],
                    check=True, env=env, timeout=120,
                )  # fmt: skip
                python = venv / "bin" / "python"
                if installer == "pip":
                    command = [sys.executable, "-m", "pip", "--python", str(python), "install",
                               "--no-cache-dir", "--index-url", f"{base}simple/", f"{NAME}==1.0"]  # fmt: skip
                else:
                    command = [uv, "pip", "install", "--python", str(python), "--no-cache",
                               "--index-url", f"{base}simple/", f"{NAME}==1.0"]  # fmt: skip
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, done.stdout + done.stderr
                shown = subprocess.run([python, "-c", code], capture_output=True, text=True)
                assert shown.stdout.strip() == "1.0+hotfix.1", (installer, page)


def test_publishing_again_adds_the_statement_to_a_file_listed_without_one(tmp_path: Path) -> None:
    """An index made before statements existed gets them when the same build is published
    again (`build --force`, `publish`); the file itself is unchanged."""
    dist = tmp_path / "dist"
    files = [make_wheel(dist, NAME, "1.0+hotfix.1"), make_sdist(dist, NAME, "1.0+hotfix.1")]
    locked = locked_hotfix(files)
    index = LocalIndex(tmp_path / "hotfix-index", fsync=False)
    index.publish(NAME, files)
    wheel_before = (index.simple / CANON / files[0].name).stat().st_mtime_ns
    result = index.publish(NAME, files, statements=statements_for(locked))
    assert result.added == () and len(result.unchanged) == 2
    for f in locked.files:
        stored = (index.simple / CANON / statement_name(f.filename)).read_bytes()
        assert stored == render_statement(locked, f)
    entries = {e.filename: e for e in index.project_entries(NAME)}
    assert all(e.statement_sha256 for e in entries.values())
    assert "data-intoto-statement" in (index.simple / CANON / "index.html").read_text()
    assert (index.simple / CANON / files[0].name).stat().st_mtime_ns == wheel_before


def test_a_restored_file_keeps_its_listed_statement(
    built: tuple[LocalIndex, LockedHotfix, list[Path]],
) -> None:
    """A listed file deleted by hand is restored; its statement is never replaced by another."""
    index, locked, files = built
    (index.simple / CANON / files[0].name).unlink()
    listed = {e.filename: e.statement_sha256 for e in index.project_entries(NAME)}
    newer = dataclasses.replace(locked, pyhotfix="9.9")  # another statement for the same file
    result = index.publish(NAME, files, statements=statements_for(newer))
    assert result.added == (files[0].name,)
    assert (index.simple / CANON / files[0].name).read_bytes() == files[0].read_bytes()
    statement = (index.simple / CANON / statement_name(files[0].name)).read_bytes()
    assert statement == render_statement(locked, locked.files[0])
    assert {e.filename: e.statement_sha256 for e in index.project_entries(NAME)} == listed


# -- signed PEP 740 provenance (--sign) ---------------------------------------------------------
# No Sigstore identity exists here: the signing itself is not exercised; what is tested is that
# --sign without one stops before anything is done, and that a provenance object given to the
# index is published and linked as PEP 740 says.

_NO_CI = {
    "GITHUB_ACTIONS": "",
    "GITLAB_CI": "",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "",
    "SIGSTORE_ID_TOKEN": "",
}


@pytest.mark.parametrize(
    "environ",
    [
        {},
        # GitHub Actions without `id-token: write`: the detector finds no token (or says why)
        {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
    ],
)
def test_sign_without_an_identity_is_a_clear_usage_error(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in _NO_CI:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(UsageError, match=r"--sign") as caught:
        find_identity(environ)
    assert caught.value.exit_code == 2


def test_build_and_publish_sign_stop_before_anything_without_an_identity(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "fix.patch").write_text("")
    (app / "hotfixes.toml").write_text(
        '[settings]\nupstream = "http://127.0.0.1:9/simple/"\n\n'
        '[hotfix.demo]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    )
    for command in (["build", "--sign"], ["publish", "--sign"]):
        run = pyhotfix(*command, cwd=app, env=_NO_CI)
        assert run.code == 2, run.output
        assert "--sign needs a Sigstore identity" in run.output
        assert "Traceback" not in run.output
    assert sorted(p.name for p in app.iterdir()) == ["fix.patch", "hotfixes.toml"]


def test_a_signed_provenance_object_is_published_and_linked_as_pep_740_says(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    files = [make_wheel(dist, NAME, "1.0+hotfix.1"), make_sdist(dist, NAME, "1.0+hotfix.1")]
    locked = locked_hotfix(files)
    # The index stores what it is given; a real one comes from provenance.signing.sign_files.
    signed = {p.name: b'{"version": 1, "attestation_bundles": []}' for p in files}
    index = LocalIndex(tmp_path / "hotfix-index", fsync=False)
    index.publish(NAME, files, statements=statements_for(locked), signed=signed)
    project = index.simple / CANON
    html_page = (project / "index.html").read_text()
    record = json.loads((project / "index.json").read_text())
    for p in files:
        quoted = p.name.replace("+", "%2B")
        assert (project / f"{p.name}.provenance").read_bytes() == signed[p.name]
        assert f'data-provenance="{quoted}.provenance"' in html_page
        entry = next(e for e in record["files"] if e["filename"] == p.name)
        assert entry["provenance"] == f"{quoted}.provenance"
    assert all(e.provenance for e in index.project_entries(NAME))
    # `check` takes the companions for what they are, not for stray files
    checks = check_hotfix(index, locked, full=True)
    assert [c.status for c in checks] == ["ok", "ok"]


def test_yanking_keeps_the_statements_and_their_links(
    built: tuple[LocalIndex, LockedHotfix, list[Path]],
) -> None:
    index, locked, files = built
    assert sorted(index.yank(NAME, "1.0+hotfix.1", "superseded")) == sorted(p.name for p in files)
    html_page = (index.simple / CANON / "index.html").read_text()
    for f in locked.files:
        stored = (index.simple / CANON / statement_name(f.filename)).read_bytes()
        assert stored == render_statement(locked, f)
    assert html_page.count("data-intoto-statement=") == 2
    assert html_page.count('data-yanked="superseded"') == 2
    assert all(e.statement_sha256 and e.yanked for e in index.project_entries(NAME))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["_type", "predicateType", "subject", "predicate", "name", "digest",
                         "sha256", "buildDefinition", "runDetails", "builder", "version",
                         "externalParameters", "resolvedDependencies", "uri", "x"]),
        children,
        max_size=5,
    ),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_json)
def test_parse_statement_takes_any_json_without_crashing(document: object) -> None:
    """Hostile statements from an index: facts or ValueError, never another exception."""
    try:
        facts = parse_statement(json.dumps(document).encode())
    except ValueError:
        return
    assert isinstance(facts.subject_name, str) and isinstance(facts.subject_sha256, str)
    assert all(isinstance(d.name, str) for d in facts.dependencies)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_parse_statement_takes_any_bytes_without_crashing(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_statement(data)  # no 200 bytes of noise make a statement


def test_parse_statement_refuses_deep_nesting() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_statement(b"[" * 200_000 + b"]" * 200_000)


def test_a_listed_statement_deleted_by_hand_is_put_back_by_the_same_publish(
    built: tuple[LocalIndex, LockedHotfix, list[Path]],
) -> None:
    index, locked, files = built
    statement = index.simple / CANON / statement_name(files[0].name)
    statement.unlink()
    index.publish(NAME, files, statements=statements_for(locked))
    assert statement.read_bytes() == render_statement(locked, locked.files[0])
    # another statement for it is never stored over the listed one
    statement.unlink()
    other = statements_for(dataclasses.replace(locked, pyhotfix="9.9"))
    index.publish(NAME, files, statements=other)
    assert not statement.exists()


def test_a_wheel_mode_statement_names_every_upstream_wheel() -> None:
    wheels = (
        LockedUpstreamWheel("https://files.example/demo-1.0-cp311-manylinux.whl", "1" * 64,
                            "demo-1.0-cp311-manylinux.whl"),
        LockedUpstreamWheel("https://files.example/demo-1.0-py3-none-any.whl", "2" * 64,
                            "demo-1.0-py3-none-any.whl"),
    )  # fmt: skip
    locked = locked_hotfix(upstream_wheels=wheels, build_requires=())
    document = validate_statement(render_statement(locked, locked.files[0]))
    definition = document["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["hotfix"]["source"] == "wheels"
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert "upstream-sdist" not in deps
    for w in wheels:
        assert deps[f"upstream-wheel:{w.filename}"] == {
            "name": f"upstream-wheel:{w.filename}",
            "uri": w.url,
            "digest": {"sha256": w.sha256},
        }
