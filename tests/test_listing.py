"""`pyhotfix list`'s rows as typed values (`pyhotfix.listing`), and its JSON made from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyhotfix.cli import cli
from pyhotfix.listing import list_hotfixes
from pyhotfix.manifest import load_manifest
from tests.support.manifests import write_lock, write_manifest

SDIST = "alpha-1.0+hotfix.2.tar.gz"
WHEEL = "alpha-1.0+hotfix.2-py3-none-any.whl"


def test_rows_say_what_is_built_current_and_in_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_manifest(tmp_path, {"alpha": "1.0", "beta": "2.0", "gamma": "3.0"})
    # alpha: built, but its files are not in the index; beta: built for an older upstream;
    # gamma: never built
    write_lock(path, {"alpha": ("1.0+hotfix.2", (SDIST, WHEEL)), "beta": ("1.9+hotfix.1", ())})
    alpha, beta, gamma = list_hotfixes(load_manifest(path))

    assert (alpha.hotfix_version, alpha.published, alpha.index) == ("1.0+hotfix.2", False, "no")
    assert {(p.filename, p.status) for p in alpha.problems} == {
        (SDIST, "missing"),
        (WHEEL, "missing"),
    }
    assert alpha.mismatches == ()  # missing files are rebuilt, not a mismatch
    assert (beta.hotfix_version, beta.published, beta.index) == (None, False, "no")
    assert (gamma.hotfix_version, gamma.published, gamma.problems) == (None, False, ())
    assert [r.patches for r in (alpha, beta, gamma)] == [1, 1, 1]

    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(cli, ["list", "--json"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document == [row.to_json() for row in (alpha, beta, gamma)]
    assert list(document[0]) == [
        "name",
        "version",
        "hotfix_version",
        "patches",
        "published",
        "index",
        "problems",
        "reason",
        "patch_info",  # DEP-3 fields of each patch file (test_dep3)
        "fixes",  # advisory IDs (test_advisories)
    ]
    assert list(document[0]["problems"][0]) == ["filename", "status", "detail"]


def test_a_file_changed_in_the_index_is_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_manifest(tmp_path, {"alpha": "1.0"})
    write_lock(path, {"alpha": ("1.0+hotfix.2", (SDIST,))})
    stored = tmp_path / "hotfix-index" / "simple" / "alpha" / SDIST
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"other byte")  # the lock records 10 bytes with another sha256
    (row,) = list_hotfixes(load_manifest(path))
    assert row.index == "mismatch" and not row.published
    assert len(row.mismatches) == 1 and SDIST in row.mismatches[0]

    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(cli, ["list"], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "mismatch" in shown.stdout
    assert f"mismatch: {row.mismatches[0]}" in shown.stderr
    assert "Run `pyhotfix check`" in shown.stderr


def test_build_plan_settles_nothing_unbuilt_and_keeps_the_order(tmp_path: Path) -> None:
    """`pipeline.plan_build`, the up-to-date decision `build` makes before loading any stage:
    unbuilt or forced hotfixes are pending; results come back in the selection's order."""
    from pyhotfix.pipeline import BuildOptions, BuildPlan, BuildStatus, HotfixResult, plan_build
    from pyhotfix.publish import resolve_target

    manifest = load_manifest(write_manifest(tmp_path, {"alpha": "1.0", "beta": "2.0"}))
    index = resolve_target(manifest.settings, manifest.directory)
    specs = list(manifest.hotfixes)
    plan = plan_build(manifest, index, specs, BuildOptions())
    assert plan == BuildPlan(("alpha", "beta"), {}, ("alpha", "beta"))
    assert plan_build(manifest, index, specs, BuildOptions(force=True)).pending == plan.pending

    def result(name: str, status: BuildStatus) -> HotfixResult:
        return HotfixResult(name, "1.0", None, (), 0.0, status)

    mixed = BuildPlan(("alpha", "beta"), {"beta": result("beta", "up-to-date")}, ("alpha",))
    assert [(r.name, r.status) for r in mixed.results([result("alpha", "built")])] == [
        ("alpha", "built"),
        ("beta", "up-to-date"),
    ]
