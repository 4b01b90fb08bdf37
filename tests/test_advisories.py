"""`fixes = [...]`: advisory IDs a hotfix fixes — their shape, manifest errors with file/line/key,
`add --fixes`, and the inputs key (set → a new N; unset → the key every existing lock has)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhotfix.advisories import MAX_FIXES, advisory_kind, advisory_problem, advisory_url
from pyhotfix.errors import ManifestError, UsageError
from pyhotfix.manifest import FilePatch, load_manifest, upsert_hotfix
from pyhotfix.pipeline import inputs_key
from tests.conftest import Pyhotfix
from tests.support.manifests import write_manifest


@pytest.mark.parametrize(
    ("advisory", "kind"),
    [
        ("CVE-2024-37891", "CVE"),
        ("CVE-2021-1234567", "CVE"),
        ("GHSA-34jh-p97f-mpxf", "GHSA"),
        ("PYSEC-2024-12", "PYSEC"),
    ],
)
def test_known_shapes(advisory: str, kind: str) -> None:
    assert advisory_kind(advisory) == kind
    assert advisory_problem(advisory) is None
    url = advisory_url(advisory)
    assert url is not None and url.endswith(advisory)


@pytest.mark.parametrize(
    ("advisory", "hint"),
    [
        ("cve-2024-37891", "write it as 'CVE-2024-37891'"),
        ("GHSA-34JH-P97F-MPXF", "write it as 'GHSA-34jh-p97f-mpxf'"),
        ("CVE-24-1", "not an advisory ID"),
        ("GHSA-0000-0000-0000", "not an advisory ID"),  # 0 is not in GitHub's alphabet
        ("CVE-2024-37891\n", "write it as 'CVE-2024-37891'"),
        (" PYSEC-2024-12", "write it as 'PYSEC-2024-12'"),
        ("urllib3", "not an advisory ID"),
        ("", "not an advisory ID"),
    ],
)
def test_bad_ids_say_what_to_write(advisory: str, hint: str) -> None:
    problem = advisory_problem(advisory)
    assert problem is not None and hint in problem
    assert advisory_kind(advisory) is None


@given(st.text(max_size=200))
def test_any_text_is_judged_without_crashing(text: str) -> None:
    problem = advisory_problem(text)
    assert (problem is None) == (advisory_kind(text) is not None)
    assert problem is None or len(problem) < 400  # a long value is shortened in the message


def _manifest_with(tmp_path: Path, fixes: str) -> Path:
    path = write_manifest(tmp_path, {"pkg": "1.0"})
    path.write_text(path.read_text() + fixes)
    return path


def test_fixes_load_in_order(tmp_path: Path) -> None:
    path = _manifest_with(tmp_path, 'fixes = ["PYSEC-2024-12", "CVE-2024-37891"]\n')
    assert load_manifest(path).get("pkg").fixes == ("PYSEC-2024-12", "CVE-2024-37891")
    assert load_manifest(write_manifest(tmp_path / "b", {"pkg": "1.0"})).get("pkg").fixes == ()


@pytest.mark.parametrize(
    ("fixes", "message"),
    [
        ('fixes = "CVE-2024-37891"\n', r"line 7: hotfix\.pkg\.fixes must be a list"),
        (
            'fixes = [\n  "CVE-2024-37891",\n  "cve-2024-12345",\n]\n',
            r"line 9: hotfix\.pkg\.fixes\[1\] is 'cve-2024-12345'; write it as 'CVE-2024-12345'",
        ),
        ("fixes = [42]\n", r"hotfix\.pkg\.fixes\[0\] must be a string"),
        (
            'fixes = ["CVE-2024-37891", "CVE-2024-37891"]\n',
            r"fixes\[1\] is 'CVE-2024-37891' again",
        ),
        ("fixes = [" + ", ".join(['"CVE-2024-1000"'] * (MAX_FIXES + 1)) + "]\n", "at most 100"),
    ],
)
def test_bad_fixes_name_file_line_and_key(tmp_path: Path, fixes: str, message: str) -> None:
    path = _manifest_with(tmp_path, fixes)
    with pytest.raises(ManifestError, match=message) as caught:
        load_manifest(path)
    assert str(caught.value).startswith(str(path))


def test_inputs_key_changes_only_when_fixes_are_set(tmp_path: Path) -> None:
    plain = load_manifest(write_manifest(tmp_path, {"pkg": "1.0"}))
    spec = plain.get("pkg")
    # the key as every lock written before `fixes` existed has it
    patch_hash = hashlib.sha256((tmp_path / "fix.patch").read_bytes()).hexdigest()
    old = json.dumps({"version": "1.0", "label": "hotfix", "patches": [f"file:{patch_hash}"]})
    assert inputs_key(spec, "hotfix", tmp_path) == hashlib.sha256(old.encode()).hexdigest()

    one = load_manifest(_manifest_with(tmp_path / "one", 'fixes = ["CVE-2024-37891"]\n'))
    two = load_manifest(
        _manifest_with(tmp_path / "two", 'fixes = ["CVE-2024-37891", "PYSEC-2024-12"]\n')
    )
    swapped = load_manifest(
        _manifest_with(tmp_path / "three", 'fixes = ["PYSEC-2024-12", "CVE-2024-37891"]\n')
    )
    keys = {inputs_key(m.get("pkg"), "hotfix", m.directory) for m in (plain, one, two, swapped)}
    assert len(keys) == 4  # the SBOM lists them in this order: another order is other bytes


def test_upsert_appends_fixes_once_and_refuses_bad_ids(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"pkg": "1.0"})
    upsert_hotfix(path, "pkg", "1.0", [FilePatch("fix.patch")], None, fixes=["CVE-2024-37891"])
    upsert_hotfix(path, "pkg", "1.0", [], None, fixes=["CVE-2024-37891", "GHSA-34jh-p97f-mpxf"])
    assert load_manifest(path).get("pkg").fixes == ("CVE-2024-37891", "GHSA-34jh-p97f-mpxf")
    before = path.read_bytes()
    with pytest.raises(UsageError, match=r"--fixes\) is 'CVE-1', not an advisory ID"):
        upsert_hotfix(path, "pkg", "1.0", [], None, fixes=["CVE-1"])
    assert path.read_bytes() == before


def test_cli_add_with_a_bad_advisory_is_a_usage_error(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    path = write_manifest(tmp_path, {"pkg": "1.0"})
    before = path.read_bytes()
    run = pyhotfix("add", "pkg==1.0", "--patch", "fix.patch", "--fixes", "CVE-2024", cwd=tmp_path)
    assert run.code == 2, run.output
    assert "error: The advisory (--fixes) is 'CVE-2024', not an advisory ID" in run.stderr
    assert "Traceback" not in run.output
    assert path.read_bytes() == before
