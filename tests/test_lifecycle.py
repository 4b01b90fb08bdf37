"""The hotfix lifecycle end to end: `status`, `rebase`, `retire`, `edit`/`commit`, through the CLI,
against fixture upstream releases on a fake index on 127.0.0.1.

The packages (sdists written directly, setuptools backend so hotfixes really build):
- alpha: 1.0 has the bug; 1.1 an unrelated change (the patch still applies); 1.2 contains the
  fix written differently (whitespace, context); 1.3 a refactor the patch conflicts with.
- bravo: the same, but 1.2 lacks the fix and changes the patch's context (a 3-way merge).
- charlie: no newer release.
- delta: 1.1 contains the fix with the same line in a different context.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix.patching import PatchInput, apply_patches
from pyhotfix.unpack import unpack_sdist
from tests.conftest import Pyhotfix, Venv
from tests.support.dists import make_module_wheel, make_setuptools_sdist
from tests.support.fakeindex import FakeIndex, FakeIndexHandler

HEAD = '"""A fixture package."""\n\n\n'
BUGGY = 'def answer() -> int:\n    """Return the answer."""\n    return 41  # bug: should be 42\n'
FIXED = 'def answer() -> int:\n    """Return the answer."""\n    return 42  # fixed\n'
OTHER = '\n\ndef other() -> str:\n    """Something else."""\n    return "other"\n'
OTHER_11 = OTHER.replace('"other"', '"other, improved"')
# 1.2 of alpha: the fix, with other whitespace and a different docstring around it.
FIX_12 = (
    'def answer() -> int:\n    """Return the answer (fixed in 1.2)."""\n    return  42   # fixed\n'
)
# 1.2 of bravo: no fix; the def line (patch context, one line away from the change) is changed.
CTX_12 = 'def answer() -> int:  # noqa: D401\n    """Return the answer."""\n    return 41  # bug: should be 42\n'
REFACTOR = (
    'ANSWER = 42\n\n\ndef answer() -> int:\n    """Return the answer."""\n    return ANSWER\n'
)
DELTA_11 = (
    '"""Delta, rewritten."""\n\nimport os\n\n\n'
    "def answer(default: int = 0) -> int:\n"
    '    """The answer to everything, now with a default."""\n'
    "    return 42  # fixed\n"
)

RELEASES: dict[str, dict[str, str]] = {
    "alpha": {
        "1.0": HEAD + BUGGY + OTHER,
        "1.1": HEAD + BUGGY + OTHER_11,
        "1.2": HEAD + FIX_12 + OTHER_11,
        "1.3": HEAD + REFACTOR + OTHER_11,
    },
    "bravo": {
        "1.0": HEAD + BUGGY + OTHER,
        "1.1": HEAD + BUGGY + OTHER_11,
        "1.2": HEAD + CTX_12 + OTHER_11,
        "1.3": HEAD + REFACTOR + OTHER_11,
    },
    "charlie": {"1.0": HEAD + BUGGY + OTHER},
    "delta": {"1.0": HEAD + BUGGY + OTHER, "1.1": DELTA_11},
}


def fix_patch(name: str) -> str:
    before = (HEAD + BUGGY + OTHER).splitlines(keepends=True)
    after = (HEAD + FIXED + OTHER).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before, after, f"a/{name}/__init__.py", f"b/{name}/__init__.py")
    )


class _EtagHandler(FakeIndexHandler):
    """The fake index's pages with ETags; a matching If-None-Match gets 304 Not Modified."""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        index = self.server.index
        if status == 200 and self.path.startswith("/simple/"):
            etag = '"' + hashlib.sha256(body + content_type.encode()).hexdigest()[:16] + '"'
            headers = {**(headers or {}), "ETag": etag}
            if self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            with index._lock:
                getattr(index, "statuses", []).append((self.path, status))
        if status == 304:
            self.send_response(304)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            return
        super()._send(status, body, content_type, headers)


class Upstream(FakeIndex):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[tuple[str, int]] = []
        self._server.RequestHandlerClass = _EtagHandler

    def __enter__(self) -> Upstream:
        super().__enter__()
        return self


def serve_releases(index: FakeIndex, root: Path, releases: dict[str, dict[str, str]]) -> None:
    for name, versions in releases.items():
        for version, module in versions.items():
            index.add_file(make_setuptools_sdist(root, name, version, module))
            if version == "1.0":
                index.add_file(make_module_wheel(root, name, version, module))


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    root = tmp_path_factory.mktemp("upstream")
    with Upstream() as index:
        serve_releases(index, root, RELEASES)
        yield index


def make_app(tmp_path: Path, index_url: str, names: list[str]) -> Path:
    app = tmp_path / "app"
    (app / "patches").mkdir(parents=True)
    body = f'[settings]\nupstream = "{index_url}"\n'
    for name in names:
        (app / "patches" / f"{name}-fix.patch").write_text(fix_patch(name))
        body += f'\n[hotfix.{name}]\nversion = "1.0"\npatches = ["patches/{name}-fix.patch"]\n'
    (app / "hotfixes.toml").write_text(body)
    return app


def status_json(
    pyhotfix: Pyhotfix, app: Path, *args: str
) -> tuple[int, dict[str, dict[str, object]]]:
    run = pyhotfix("status", "--json", *args, cwd=app)
    assert run.stdout, run.output
    document = json.loads(run.stdout)
    return run.code, {h["name"]: h for h in document["hotfixes"]}


def states(hotfix: dict[str, object]) -> dict[str, list[str]]:
    releases = hotfix["releases"]
    assert isinstance(releases, list)
    return {r["version"]: [p["state"] for p in r["patches"]] for r in releases}


def index_files(app: Path) -> list[str]:
    root = app / "hotfix-index"
    found = root.rglob("*") if root.exists() else iter(())
    return sorted(p.name for p in found if p.suffix in (".whl", ".gz"))


def snapshot(app: Path) -> dict[str, bytes]:
    """Every file of the app except the index and workspaces: to show nothing was changed."""
    return {
        str(p.relative_to(app)): p.read_bytes()
        for p in app.rglob("*")
        if p.is_file() and not {"hotfix-index", ".pyhotfix"} & set(p.relative_to(app).parts)
    }


# --- status ---------------------------------------------------------------------------------------


def test_status_recommendations(tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, upstream.url, ["alpha", "bravo", "charlie", "delta"])
    code, found = status_json(pyhotfix, app)
    assert code == 0
    assert states(found["alpha"]) == {
        "1.1": ["applies"],
        "1.2": ["contained"],
        "1.3": ["conflicts"],
    }
    assert found["alpha"]["recommendation"] == {
        "action": "retire",
        "version": "1.2",
        "text": "retire → 1.2",
    }
    assert states(found["bravo"]) == {
        "1.1": ["applies"],
        "1.2": ["applies-3way"],
        "1.3": ["conflicts"],
    }
    assert found["bravo"]["recommendation"]["text"] == "rebase → 1.2"  # type: ignore[index]
    assert found["charlie"]["recommendation"]["text"] == "keep"  # type: ignore[index]
    assert found["charlie"]["releases"] == []
    assert found["delta"]["recommendation"]["text"] == "retire → 1.1"  # type: ignore[index]

    # "Asked for the newest": bravo's series does not apply to 1.3.
    code, newest = status_json(pyhotfix, app, "--newest", "bravo")
    assert code == 0 and list(newest) == ["bravo"]
    assert newest["bravo"]["recommendation"]["text"] == "conflict → 1.3"  # type: ignore[index]
    conflict = newest["bravo"]["releases"][-1]["patches"][0]  # type: ignore[index]
    assert conflict["conflicts"] == ["bravo/__init__.py"]

    check = pyhotfix("status", "--check", "charlie", cwd=app)
    assert check.code == 0, check.output
    check = pyhotfix("status", "--check", cwd=app)
    assert check.code == 3, check.output
    for text in ("retire → 1.2", "rebase → 1.2", "keep", "applies-3way", "contained"):
        assert text in check.stdout


def test_status_revalidates_pages_and_reuses_cached_sdists(
    tmp_path: Path, upstream: Upstream, fresh_cache_pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path, upstream.url, ["alpha", "bravo"])
    first = fresh_cache_pyhotfix("status", cwd=app)
    assert first.code == 0, first.output
    seen = len(upstream.requests)
    with upstream._lock:
        upstream.statuses.clear()
    second = fresh_cache_pyhotfix("status", cwd=app)
    assert second.code == 0, second.output
    assert second.stdout == first.stdout
    with upstream._lock:
        assert sorted(upstream.statuses) == [("/simple/alpha/", 304), ("/simple/bravo/", 304)]
        assert not [r for r in upstream.requests[seen:] if r.startswith("/files/")], (
            "sdists come from the cache"
        )


def test_status_with_unreachable_upstream(tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix) -> None:
    index = Upstream()
    with index:
        serve_releases(index, tmp_path / "up", {"alpha": RELEASES["alpha"]})
        app = make_app(tmp_path, index.url, ["alpha"])
        code, before = status_json(fresh_cache_pyhotfix, app)
        assert code == 0 and before["alpha"]["stale"] is False
    # The server is gone: the cached answer is shown, marked stale, and the exit status says so.
    run = fresh_cache_pyhotfix("status", "--json", cwd=app)
    assert run.code == 1, run.output
    document = json.loads(run.stdout)
    (alpha,) = document["hotfixes"]
    assert document["stale"] is True and alpha["stale"] is True
    assert alpha["recommendation"] == before["alpha"]["recommendation"]
    assert alpha["releases"] == before["alpha"]["releases"]
    assert "could not fetch" in run.stderr and "(stale)" in run.stderr
    table = fresh_cache_pyhotfix("status", cwd=app)
    assert table.code == 1 and "retire → 1.2 (stale)" in table.stdout
    # Nothing cached: a clear error, no answer, no traceback.
    cold = Pyhotfix(cache_dir=tmp_path / "cold-cache")("status", "--check", cwd=app)
    assert cold.code == 1, cold.output
    assert "not checked" in cold.stdout
    assert "alpha: could not fetch http://127.0.0.1:" in cold.stderr
    assert "Check the [settings] upstream URL" in cold.stderr
    assert "Traceback" not in cold.output


# --- rebase ---------------------------------------------------------------------------------------


def wheel_module(app: Path, name: str, version: str, module: str = "__init__.py") -> str:
    (path,) = (app / "hotfix-index").rglob(f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"{name}/{module}").decode()


def test_rebase_onto_a_release_where_the_patch_applies(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path, upstream.url, ["alpha"])
    run = pyhotfix("rebase", "alpha", "--to", "1.1", cwd=app)
    assert run.code == 0, run.output
    assert "1.1+hotfix.1" in run.stdout
    assert 'version = "1.1"' in (app / "hotfixes.toml").read_text()
    assert index_files(app) == [
        "alpha-1.1+hotfix.1-py3-none-any.whl",
        "alpha-1.1+hotfix.1.tar.gz",
    ]
    built = wheel_module(app, "alpha", "1.1+hotfix.1")
    assert "return 42  # fixed" in built and '"other, improved"' in built
    # The patch file keeps its name and now fits 1.1.
    patch = (app / "patches" / "alpha-fix.patch").read_text()
    assert "+    return 42  # fixed" in patch
    assert 'hotfix-version = "1.1+hotfix.1"' in (app / "hotfixes.lock").read_text()


def test_rebase_conflict_stops_with_a_workspace_then_continues(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path, upstream.url, ["bravo"])
    before = snapshot(app)
    run = pyhotfix("rebase", "bravo", "--to", "1.3", cwd=app)
    assert run.code == 1, run.output
    workspace = app / ".pyhotfix" / "work" / "bravo"
    assert run.stdout.strip() == str(workspace)
    assert "does not apply to bravo 1.3 (bravo/__init__.py)" in run.stderr
    assert "pyhotfix rebase bravo --continue" in run.stderr
    assert snapshot(app) == before, "manifest and patch files untouched"
    assert index_files(app) == [], "nothing published"
    git_status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=workspace, capture_output=True, text=True, check=True
    )
    assert git_status.stdout == "UU bravo/__init__.py\n"
    module = workspace / "bravo" / "__init__.py"
    assert "<<<<<<< " in module.read_text() and "return ANSWER" in module.read_text()

    # Markers left in: refused, nothing changed.
    again = pyhotfix("rebase", "bravo", "--continue", cwd=app)
    assert again.code == 1 and "still contain conflict markers" in again.stderr
    assert snapshot(app) == before and index_files(app) == []
    # Another rebase or an edit must not run over the stopped one.
    other = pyhotfix("edit", "bravo", cwd=app)
    assert other.code == 1 and "--continue" in other.stderr

    module.write_text(HEAD + REFACTOR.replace("ANSWER = 42", "ANSWER = 42  # fixed") + OTHER_11)
    # Markers gone, but git still holds the path as unmerged until the user marks it resolved.
    unmarked = pyhotfix("rebase", "bravo", "--continue", cwd=app)
    assert unmarked.code == 1, unmarked.output
    assert "unresolved paths: bravo/__init__.py (changed by both)" in unmarked.stderr
    assert f"git -C {workspace} add PATH" in unmarked.stderr
    assert snapshot(app) == before and index_files(app) == []
    git(workspace, "add", "bravo/__init__.py")
    done = pyhotfix("rebase", "bravo", "--continue", cwd=app)
    assert done.code == 0, done.output
    assert "1.3+hotfix.1" in done.stdout
    assert not workspace.exists()
    assert 'version = "1.3"' in (app / "hotfixes.toml").read_text()
    assert "ANSWER = 42  # fixed" in wheel_module(app, "bravo", "1.3+hotfix.1")
    patch = (app / "patches" / "bravo-fix.patch").read_text()
    assert "+ANSWER = 42  # fixed" in patch and "-ANSWER = 42\n" in patch


def git(repo: Path, *args: str) -> str:
    """git as the user runs it in a workspace (no user configuration)."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


# foxtrot: 1.0 is one module, foxtrot.py; 1.1 moved it into a package and rewrote it, too much for
# git to see a rename, so the patch meets a modify/delete conflict: no markers anywhere.
FOXTROT_CORE = (
    '"""The core of foxtrot, now a package."""\n\nimport functools\n\n\n'
    + "".join(f"def helper_{i}() -> int:\n    return {i}\n\n\n" for i in range(8))
    + "@functools.cache\n"
    + BUGGY.replace("41  # bug: should be 42", "41  # still the bug")
)


def test_rebase_continue_refuses_an_unresolved_modify_delete(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    with Upstream() as index:
        up = tmp_path / "up"
        index.add_file(
            make_setuptools_sdist(
                up, "foxtrot", "1.0", "", files={"foxtrot.py": HEAD + BUGGY + OTHER}
            )
        )
        moved = {"foxtrot/__init__.py": "from foxtrot.core import answer\n"}
        moved["foxtrot/core.py"] = FOXTROT_CORE
        index.add_file(make_setuptools_sdist(up, "foxtrot", "1.1", "", files=moved))
        app = make_app(tmp_path, index.url, [])
        patch = fix_patch("foxtrot").replace("foxtrot/__init__.py", "foxtrot.py")
        (app / "patches" / "fix.patch").write_text(patch)
        with (app / "hotfixes.toml").open("a") as fh:
            fh.write('\n[hotfix.foxtrot]\nversion = "1.0"\npatches = ["patches/fix.patch"]\n')
        before = snapshot(app)
        stopped = pyhotfix("rebase", "foxtrot", "--to", "1.1", cwd=app)
        assert stopped.code == 1, stopped.output
        workspace = Path(stopped.stdout.strip())
        assert "does not apply to foxtrot 1.1 (foxtrot.py)" in stopped.stderr
        # The patch's whole old module sits in the work tree, without a single marker.
        assert "<<<<<<<" not in (workspace / "foxtrot.py").read_text()
        assert git(workspace, "ls-files", "-u").count("foxtrot.py") == 2

        refused = pyhotfix("rebase", "foxtrot", "--continue", cwd=app)
        assert refused.code == 1, refused.output
        assert (
            "unresolved paths: foxtrot.py (changed by the patch, deleted or moved by the release)"
            in refused.stderr
        )
        assert f"`git -C {workspace} rm PATH`" in refused.stderr
        assert "Traceback" not in refused.output
        assert snapshot(app) == before and index_files(app) == [], "nothing written or published"

        # Resolved the way the user means it: the fix carried into core.py, the old module gone.
        core = workspace / "foxtrot" / "core.py"
        core.write_text(core.read_text().replace("41  # still the bug", "42  # fixed"))
        git(workspace, "rm", "--quiet", "foxtrot.py")
        done = pyhotfix("rebase", "foxtrot", "--continue", cwd=app)
        assert done.code == 0, done.output
        rewritten = (app / "patches" / "fix.patch").read_text()
        assert "foxtrot.py" not in rewritten and "+++ b/foxtrot/core.py" in rewritten
        assert rewritten.count("\n+ ") == 1 and "+    return 42  # fixed" in rewritten
        assert "return 42  # fixed" in wheel_module(app, "foxtrot", "1.1+hotfix.1", "core.py")


def test_rebase_abort_and_bad_input(tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, upstream.url, ["bravo"])
    before = snapshot(app)
    assert pyhotfix("rebase", "bravo", "--to", "1.3", cwd=app).code == 1
    aborted = pyhotfix("rebase", "bravo", "--abort", cwd=app)
    assert aborted.code == 0, aborted.output
    assert "Dropped the rebase of bravo onto 1.3" in aborted.stderr
    assert not (app / ".pyhotfix" / "work" / "bravo").exists()
    assert snapshot(app) == before and index_files(app) == []

    missing = pyhotfix("rebase", "bravo", "--continue", cwd=app)
    assert missing.code == 1 and "No rebase of bravo is in progress" in missing.stderr
    unknown = pyhotfix("rebase", "bravo", "--to", "9.9", cwd=app)
    assert unknown.code == 1 and "versions available: 1.0, 1.1, 1.2, 1.3" in unknown.stderr
    neither = pyhotfix("rebase", "bravo", cwd=app)
    assert neither.code == 2 and "exactly one of --to VERSION" in neither.stderr
    for run in (missing, unknown, neither):
        assert "Traceback" not in run.output
    assert snapshot(app) == before and index_files(app) == []


def test_advice_after_a_rebase_names_commands_that_work(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhotfix.deploy import load_deployment
    from pyhotfix.deploy.verify import VerifyOptions
    from pyhotfix.deploy.verify.diagnose import hash_pin_hint

    app = make_app(tmp_path, upstream.url, ["alpha"])
    requirements = app / "requirements.txt"
    requirements.write_text("alpha==1.0\nsix==1.16.0\n")
    assert pyhotfix("build", "alpha", cwd=app).code == 0
    pinned = pyhotfix("pin", cwd=app)
    assert pinned.code == 0, pinned.output
    assert "alpha==1.0+hotfix.1\n" in requirements.read_text(), "six has no hash: none added"

    # verify's hash advice: six has no hash, so `pin --hashes` would make pip refuse six; only
    # the URL + sha256 constraints form is offered, and that command works.
    options = VerifyOptions(requirements=Path("requirements.txt"))
    monkeypatch.chdir(app)  # verify names the file as the user gave it, relative to here
    hint = hash_pin_hint(options, load_deployment(app / "hotfixes.toml"))
    assert "--hashes" not in hint
    assert "`pyhotfix export --format constraints -o hotfix-constraints.txt`" in hint
    exported = pyhotfix(
        "export", "--format", "constraints", "-o", "hotfix-constraints.txt", cwd=app
    )
    assert exported.code == 0, exported.output
    assert "alpha @ file://" in (app / "hotfix-constraints.txt").read_text()
    # With every other requirement hashed, `pin --hashes` is offered, and leaves every line hashed.
    six_hash = "--hash=sha256:" + "0" * 64
    requirements.write_text(
        requirements.read_text().replace("six==1.16.0", f"six==1.16.0 {six_hash}")
    )
    hint = hash_pin_hint(options, load_deployment(app / "hotfixes.toml"))
    assert "`pyhotfix pin -r requirements.txt --hashes`" in hint
    hashed = pyhotfix("pin", "-r", "requirements.txt", "--hashes", cwd=app)
    assert hashed.code == 0, hashed.output
    lines = [
        line for line in requirements.read_text().split("\n") if line.startswith(("alpha", "six"))
    ]
    assert len(lines) == 2 and all(
        "--hash=sha256:" in line or line.endswith("\\") for line in lines
    )
    requirements.write_text("alpha==1.0+hotfix.1\nsix==1.16.0\n")

    # The hotfix moves to 1.1; the app still pins the 1.0 build.
    assert pyhotfix("rebase", "alpha", "--to", "1.1", cwd=app).code == 0
    stale = pyhotfix("pin", cwd=app)
    assert stale.code == 1, stale.output
    assert "`alpha==1.0+hotfix.1` pins an earlier hotfix build of alpha 1.0" in stale.stderr
    assert "Replace it with `alpha==1.1` and run `pyhotfix pin` again" in stale.stderr
    assert "--to 1.0+hotfix.1" not in stale.stderr and "rebase" not in stale.stderr
    # Following the advice works.
    requirements.write_text(requirements.read_text().replace("alpha==1.0+hotfix.1", "alpha==1.1"))
    again = pyhotfix("pin", cwd=app)
    assert again.code == 0, again.output
    assert "alpha==1.1+hotfix.1\n" in requirements.read_text()
    # A requirement for a release the hotfix is not at names `rebase --to` with that release.
    requirements.write_text("alpha==1.2\n")
    moved = pyhotfix("pin", cwd=app)
    assert moved.code == 1
    assert "`pyhotfix rebase alpha --to 1.2`" in moved.stderr
    assert "`pyhotfix status alpha`" in moved.stderr


def test_advice_names_the_workspace_given_with_dir(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path, upstream.url, ["bravo"])
    elsewhere = tmp_path / "my work"
    stopped = pyhotfix("rebase", "bravo", "--to", "1.3", "--dir", elsewhere, cwd=app)
    assert stopped.code == 1, stopped.output
    advised = f"`pyhotfix rebase bravo --continue --dir '{elsewhere}'`"
    assert advised in stopped.stderr.replace("\n", " ")
    # The advised command, run as written, finds the rebase (and refuses: markers are left).
    again = pyhotfix("rebase", "bravo", "--continue", "--dir", elsewhere, cwd=app)
    assert again.code == 1 and "still contain conflict markers" in again.stderr
    assert f"`git -C '{elsewhere}' add PATH`" in again.stderr
    assert f"--continue --dir '{elsewhere}'`" in again.stderr
    edit = pyhotfix("edit", "bravo", "--dir", elsewhere, cwd=app)
    assert edit.code == 1 and f"--continue --dir '{elsewhere}'`" in edit.stderr
    # The default workspace needs no --dir.
    assert pyhotfix("rebase", "bravo", "--abort", "--dir", elsewhere, cwd=app).code == 0
    default = pyhotfix("rebase", "bravo", "--to", "1.3", cwd=app)
    assert "`pyhotfix rebase bravo --continue`" in default.stderr


# --- retire ---------------------------------------------------------------------------------------


def pip_install(venv: Venv, app: Path, upstream: FakeIndex, *args: str) -> str:
    """Install the app's requirement (alpha==1.0) from the hotfix index plus upstream; returns
    the installed version."""
    done = venv.pip(
        "install",
        "--index-url",
        (app / "hotfix-index" / "simple").as_uri() + "/",
        "--extra-index-url",
        upstream.url,
        *args,
        "-r",
        str(app / "requirements.txt"),
    )
    assert done.returncode == 0, done.stderr
    return venv.run("import importlib.metadata as m; print(m.version('alpha'))")


def test_retire_yank_makes_pip_take_upstream(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix, venv: Venv
) -> None:
    app = make_app(tmp_path, upstream.url, ["alpha", "charlie"])
    (app / "requirements.txt").write_text("alpha==1.0\n")
    built = pyhotfix("build", "alpha", cwd=app)
    assert built.code == 0, built.output
    assert pip_install(venv, app, upstream) == "1.0+hotfix.1"
    assert venv.run("import alpha; print(alpha.answer())") == "42"

    run = pyhotfix("retire", "alpha", "--yank", "--reason", "fixed in 1.2", cwd=app)
    assert run.code == 0, run.output
    # 1.2 has the fix; status finds 1.3 without it (the refactor conflicts), so it is excluded.
    assert "alpha==1.0 → alpha>=1.2,!=1.3" in run.stdout
    assert "Yanked 1.0+hotfix.1" in run.stderr
    manifest = (app / "hotfixes.toml").read_text()
    assert "[hotfix.alpha]" not in manifest and "[hotfix.charlie]" in manifest
    assert "[hotfix.alpha]" not in (app / "hotfixes.lock").read_text()
    assert not (app / "patches" / "alpha-fix.patch").exists()
    assert (app / "patches" / ".retired" / "alpha" / "alpha-fix.patch").read_text() == fix_patch(
        "alpha"
    )
    page = json.loads((app / "hotfix-index" / "simple" / "alpha" / "index.json").read_text())
    assert {f["filename"]: f["yanked"] for f in page["files"]} == {
        "alpha-1.0+hotfix.1-py3-none-any.whl": "fixed in 1.2",
        "alpha-1.0+hotfix.1.tar.gz": "fixed in 1.2",
    }
    # Same requirement, same indexes: pip now skips the yanked hotfix and takes upstream 1.0.
    assert pip_install(venv, app, upstream, "--force-reinstall") == "1.0"
    assert venv.run("import alpha; print(alpha.answer())") == "41"

    again = pyhotfix("retire", "alpha", cwd=app)
    assert again.code == 2 and "has no hotfix named 'alpha'" in again.stderr


def test_retire_without_a_known_fix(tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, upstream.url, ["bravo"])
    (app / "hotfix-index").mkdir()
    before = snapshot(app)
    # No bravo release contains the fix (status: rebase → 1.2): refused, nothing changed.
    run = pyhotfix("retire", "bravo", "--delete", "--yank", cwd=app)
    assert run.code == 1, run.output
    assert "No upstream release of bravo is known to contain every patch" in run.stderr
    assert "(status says rebase → 1.2)" in run.stderr
    assert "`pyhotfix rebase bravo --to VERSION`" in run.stderr
    assert "`pyhotfix retire bravo --force`" in run.stderr
    assert "Traceback" not in run.output
    assert snapshot(app) == before

    forced = pyhotfix("retire", "bravo", "--delete", "--force", cwd=app)
    assert forced.code == 0, forced.output
    assert "warning: retired bravo although no upstream release is known" in forced.stderr
    assert "The app's requirement: bravo==1.0 (upstream, without the fix)" in forced.stdout
    assert ">1.0" not in forced.stdout
    assert not (app / "patches" / "bravo-fix.patch").exists()
    assert not (app / "patches" / ".retired").exists()
    assert "[hotfix" not in (app / "hotfixes.toml").read_text()


def test_retire_a_series_fixed_as_a_whole(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    with Upstream() as index:
        app = serve_hotel(index, tmp_path / "up", tmp_path)
        run = pyhotfix("retire", "hotel", cwd=app)
        assert run.code == 0, run.output
        assert "hotel==1.0 → hotel>=1.2" in run.stdout
        assert "warning" not in run.stderr
        assert sorted(p.name for p in (app / "patches" / ".retired" / "hotel").iterdir()) == [
            "1-fix.patch",
            "2-rewrite.patch",
        ]


# --- edit and commit ------------------------------------------------------------------------------


def test_edit_commit_round_trip(tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, upstream.url, ["charlie"])
    made = pyhotfix("edit", "charlie", cwd=app)
    assert made.code == 0, made.output
    workspace = Path(made.stdout.strip())
    assert workspace == app / ".pyhotfix" / "work" / "charlie"
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=workspace, capture_output=True, text=True, check=True
    )
    assert log.stdout.splitlines() == ["Apply patches/charlie-fix.patch", "pristine sdist"]
    module = workspace / "charlie" / "__init__.py"
    assert "return 42  # fixed" in module.read_text()

    module.write_text(module.read_text().replace('return "other"', 'return "another"'))
    (workspace / "charlie" / "extra.py").write_text("EXTRA = True\n")
    (workspace / "charlie" / "__pycache__").mkdir()
    (workspace / "charlie" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    run = pyhotfix(
        "commit",
        "charlie",
        "-m",
        "Say another",
        "--forwarded",
        "https://example.invalid/pr/7",
        "--bug",
        "https://example.invalid/issues/6",
        "--applied-upstream",
        "1.1",
        cwd=app,
    )
    assert run.code == 0, run.output
    rel = "patches/charlie/0002-say-another.patch"
    patch = (app / rel).read_text()
    from pyhotfix.patching.dep3 import Dep3Headers, read_headers

    assert read_headers((app / rel).read_bytes()) == Dep3Headers(
        description="Say another",
        origin="pyhotfix edit of charlie 1.0 (sdist)",
        bug="https://example.invalid/issues/6",
        forwarded="https://example.invalid/pr/7",
        applied_upstream="1.1",
    )
    assert patch.startswith("From 0000000000000000000000000000000000000000 ")
    assert "Subject: [PATCH] Say another" in patch
    assert "Origin: pyhotfix edit of charlie 1.0 (sdist)" in patch
    assert "Forwarded: https://example.invalid/pr/7" in patch
    assert "__pycache__" not in patch
    assert f'"{rel}"' in (app / "hotfixes.toml").read_text()

    # The new patch applies on a clean checkout of the sdist, after the first one.
    clean = unpack_sdist(
        make_setuptools_sdist(tmp_path / "clean", "charlie", "1.0", RELEASES["charlie"]["1.0"]),
        tmp_path / "clean-tree",
    )
    series = [
        PatchInput(label, (app / label).read_bytes(), "")
        for label in ("patches/charlie-fix.patch", rel)
    ]
    apply_patches(clean.root, series)
    assert (clean.root / "charlie" / "__init__.py").read_text() == module.read_text()
    assert (clean.root / "charlie" / "extra.py").read_text() == "EXTRA = True\n"
    # ... and the build has the change.
    assert 'return "another"' in wheel_module(app, "charlie", "1.0+hotfix.1")

    # Nothing new: nothing written.
    before = snapshot(app)
    same = pyhotfix("commit", "charlie", cwd=app)
    assert same.code == 0, same.output
    assert "nothing was written" in same.stderr
    assert snapshot(app) == before
    # The workspace is clean again and up to date: edit reuses it.
    reused = pyhotfix("edit", "charlie", cwd=app)
    assert reused.code == 0 and "is up to date" in reused.stderr


def test_commit_build_failure_keeps_everything(
    tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path, upstream.url, ["charlie"])
    workspace = Path(pyhotfix("edit", "charlie", cwd=app).stdout.strip())
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("setuptools.build_meta", "no_such.backend"))
    before = snapshot(app)
    run = pyhotfix("commit", "charlie", "-m", "Break the build", cwd=app)
    assert run.code == 1, run.output
    assert "The build of charlie with the new patch failed" in run.stderr
    assert f"your changes are still in {workspace}" in run.stderr
    assert "Traceback" not in run.output
    assert snapshot(app) == before, "manifest restored, no patch file left behind"
    assert index_files(app) == []
    assert "no_such.backend" in pyproject.read_text()


def test_bad_input(tmp_path: Path, upstream: Upstream, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, upstream.url, ["charlie"])
    before = snapshot(app)
    for args in (
        ("edit", "nope"),
        ("commit", "nope"),
        ("status", "nope"),
        ("rebase", "nope", "--to", "1.1"),
        ("retire", "nope"),
    ):
        run = pyhotfix(*args, cwd=app)
        assert run.code == 2, (args, run.output)
        assert "has no hotfix named 'nope' (hotfixes: charlie)" in run.stderr
        assert "Traceback" not in run.output

    missing = pyhotfix("commit", "charlie", cwd=app)
    assert missing.code == 1
    assert "There is no pyhotfix workspace at" in missing.stderr
    assert "pyhotfix edit charlie" in missing.stderr

    occupied = tmp_path / "elsewhere"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    refused = pyhotfix("edit", "charlie", "--dir", occupied, cwd=app)
    assert refused.code == 1 and "is not a pyhotfix workspace" in refused.stderr
    assert (occupied / "notes.txt").read_text() == "mine"

    workspace = Path(pyhotfix("edit", "charlie", cwd=app).stdout.strip())
    (workspace / "charlie" / "__init__.py").write_text("changed = True\n")
    (workspace / "new.txt").write_text("new\n")
    dirty = pyhotfix("edit", "charlie", cwd=app)
    assert dirty.code == 1
    assert "has changes that are not in a patch yet (charlie/__init__.py, new.txt)" in dirty.stderr
    assert "pyhotfix commit charlie" in dirty.stderr
    assert (workspace / "charlie" / "__init__.py").read_text() == "changed = True\n"
    assert snapshot(app) == before and index_files(app) == []


# --- several patches, one of them fixed upstream --------------------------------------------------

OTHER_FIXED = OTHER.replace('"other"', '"other, fixed"')


def other_patch(name: str) -> str:
    before = (HEAD + BUGGY + OTHER).splitlines(keepends=True)
    after = (HEAD + BUGGY + OTHER_FIXED).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before, after, f"a/{name}/__init__.py", f"b/{name}/__init__.py")
    )


def test_partly_fixed_upstream_rebase_drops_the_contained_patch(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    with Upstream() as index:
        serve_releases(
            index,
            tmp_path / "up",
            {"echo": {"1.0": HEAD + BUGGY + OTHER, "1.1": HEAD + FIXED + OTHER}},
        )
        app = make_app(tmp_path, index.url, [])
        (app / "patches" / "answer.patch").write_text(fix_patch("echo"))
        (app / "patches" / "other.patch").write_text(other_patch("echo"))
        with (app / "hotfixes.toml").open("a") as fh:
            fh.write(
                '\n[hotfix.echo]\nversion = "1.0"  # pinned\n'
                'patches = [\n    "patches/answer.patch",\n    "patches/other.patch",\n]\n'
            )
        code, found = status_json(pyhotfix, app)
        assert code == 0
        assert states(found["echo"]) == {"1.1": ["contained", "applies"]}
        assert found["echo"]["recommendation"]["text"] == "rebase → 1.1"  # type: ignore[index]

        run = pyhotfix("rebase", "echo", "--to", "1.1", cwd=app)
        assert run.code == 0, run.output
        assert "patches/answer.patch: contained, moved to patches/.retired/echo/answer.patch" in (
            run.stderr
        )
        manifest = (app / "hotfixes.toml").read_text()
        assert 'version = "1.1"  # pinned' in manifest
        assert '"patches/other.patch"' in manifest and "answer.patch" not in manifest
        assert (app / "patches" / ".retired" / "echo" / "answer.patch").is_file()
        module = wheel_module(app, "echo", "1.1+hotfix.1")
        assert "return 42  # fixed" in module and '"other, fixed"' in module


# hotel: patch 1 fixes answer(); patch 2 rewrites the line patch 1 added. 1.1 has patch 1's fix
# only; 1.2 has the series' final line, so patch 1 alone conflicts there.
FIXED_TWICE = FIXED.replace("return 42  # fixed", "return 6 * 7  # fixed, computed")


def rewrite_patch(name: str) -> str:
    before = (HEAD + FIXED + OTHER).splitlines(keepends=True)
    after = (HEAD + FIXED_TWICE + OTHER).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before, after, f"a/{name}/__init__.py", f"b/{name}/__init__.py")
    )


def serve_hotel(index: FakeIndex, root: Path, tmp_path: Path) -> Path:
    """The hotel releases on `index`, and an app with its two-patch hotfix."""
    serve_releases(
        index,
        root,
        {
            "hotel": {
                "1.0": HEAD + BUGGY + OTHER,
                "1.1": HEAD + FIXED + OTHER_11,
                "1.2": HEAD + FIXED_TWICE + OTHER_11,
            }
        },
    )
    app = make_app(tmp_path, index.url, [])
    (app / "patches" / "1-fix.patch").write_text(fix_patch("hotel"))
    (app / "patches" / "2-rewrite.patch").write_text(rewrite_patch("hotel"))
    with (app / "hotfixes.toml").open("a") as fh:
        fh.write(
            '\n[hotfix.hotel]\nversion = "1.0"\n'
            'patches = ["patches/1-fix.patch", "patches/2-rewrite.patch"]\n'
        )
    return app


def test_status_judges_the_series_as_a_whole(
    tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix
) -> None:
    with Upstream() as index:
        app = serve_hotel(index, tmp_path / "up", tmp_path)
        code, found = status_json(fresh_cache_pyhotfix, app)
        assert code == 0
        hotel = found["hotel"]
        # The per-patch detail is kept: alone, patch 1 conflicts with 1.2's rewritten line ...
        assert states(hotel) == {"1.1": ["contained", "applies"], "1.2": ["conflicts", "contained"]}
        # ... but 1.2 has what the series adds up to: retire, not a rebase to 1.1.
        releases = hotel["releases"]
        assert isinstance(releases, list)
        assert [r["series"] for r in releases] == ["applies", "contained"]
        assert hotel["recommendation"]["text"] == "retire → 1.2"  # type: ignore[index]
        # The same answer again from the verdict cache, and in the table.
        table = fresh_cache_pyhotfix("status", cwd=app)
        assert table.code == 0, table.output
        assert "1.2  conflicts (hotel/__init__.py), contained; series: contained" in table.stdout
        assert "retire → 1.2" in table.stdout


def test_series_with_a_multi_mail_patch(tmp_path: Path) -> None:
    from pyhotfix.lifecycle.series import APPLIES, Series, build_series, import_release, replay

    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text(HEAD + BUGGY + OTHER)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"]
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}

    def commit(message: str) -> None:
        subprocess.run([*git, "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run([*git, "commit", "-qm", message], cwd=repo, check=True, env=env)

    subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=env)
    commit("base")
    (repo / "pkg" / "__init__.py").write_text(HEAD + FIXED + OTHER)
    commit("fix answer")
    (repo / "pkg" / "__init__.py").write_text(HEAD + FIXED + OTHER_FIXED)
    commit("fix other")
    mbox = subprocess.run(
        [*git, "format-patch", "--stdout", "HEAD~2"],
        cwd=repo,
        check=True,
        env=env,
        capture_output=True,
    ).stdout
    old = make_setuptools_sdist(tmp_path / "dist", "pkg", "1.0", HEAD + BUGGY + OTHER)
    new_file = b"--- /dev/null\n+++ b/pkg/extra.py\n@@ -0,0 +1 @@\n+EXTRA = 1\n"
    # A two-mail mbox (two commits), then a plain diff: the series must still map them apart.
    patches = [PatchInput("two.mbox", mbox, ""), PatchInput("new-file.diff", new_file, "")]
    series = build_series(old, patches, tmp_path / "work", "pkg 1.0")
    first, second = series.patches
    assert first.base == series.pristine and first.tip == second.base
    assert first.message.splitlines()[0] == "fix answer" and "fix other" in first.message
    assert series.git.text("diff", "--name-only", second.base, second.tip) == "pkg/extra.py"
    # The diffs read from the series' log are exactly what `git diff` makes.
    for member in series.patches:
        fresh = Series(series.root, series.pristine, series.patches)
        assert series.diff(member.base, member.tip) == fresh.diff(member.base, member.tip)
    assert (second.base, second.tip) in series.diffs, "one commit: its diff came with the log"
    new = make_setuptools_sdist(
        tmp_path / "dist", "pkg", "1.1", '"""Release 1.1."""\n\n\n' + BUGGY + OTHER
    )
    onto = import_release(series, new, tmp_path / "release", "1.1")
    outcomes, head = replay(series, onto)
    assert [o.state for o in outcomes] == [APPLIES, APPLIES]
    shown = series.git.text("show", f"{head}:pkg/__init__.py")
    assert shown.startswith('"""Release 1.1."""')
    assert "return 42  # fixed" in shown and '"other, fixed"' in shown
    assert series.git.text("show", f"{head}:pkg/extra.py") == "EXTRA = 1"


# --- the recommendation rules and the manifest edits, directly ------------------------------------


def test_recommendation_rules() -> None:
    from pyhotfix.lifecycle.series import PatchState
    from pyhotfix.lifecycle.status import PatchVerdict, ReleaseCheck, recommend

    def release(version: str, *patch_states: PatchState) -> ReleaseCheck:
        return ReleaseCheck(
            version, tuple(PatchVerdict(f"p{i}", s) for i, s in enumerate(patch_states))
        )

    applies: PatchState = "applies"
    contained: PatchState = "contained"
    conflicts: PatchState = "conflicts"
    assert str(recommend([])) == "keep"
    assert str(recommend([ReleaseCheck("2.0", note="no sdist")])) == "unknown"
    # The earliest release containing every patch wins, even over newer conflicting ones.
    mixed = [
        release("1.1", applies, contained),
        release("1.2", contained, contained),
        release("1.3", contained, contained),
        release("1.4", conflicts, contained),
    ]
    assert str(recommend(mixed)) == "retire → 1.2"
    assert str(recommend(mixed, newest=True)) == "retire → 1.2"
    # Otherwise the newest release the series applies to (contained patches just drop out).
    carry = [
        release("1.1", applies, contained),
        release("1.2", conflicts, applies),
        release("1.3", applies, "applies-3way"),
    ]
    assert str(recommend(carry)) == "rebase → 1.3"
    stuck = [release("1.1", applies, applies), release("1.2", conflicts, applies)]
    assert str(recommend(stuck)) == "rebase → 1.1"
    assert str(recommend(stuck, newest=True)) == "conflict → 1.2"
    assert str(recommend([release("1.1", conflicts)])) == "conflict → 1.1"
    # Releases that could not be checked are skipped, not guessed.
    assert (
        str(recommend([release("1.1", applies), ReleaseCheck("1.2", note="offline")], newest=True))
        == "rebase → 1.1"
    )


def test_manifest_edits_keep_the_users_format(tmp_path: Path) -> None:
    from pyhotfix.errors import UsageError
    from pyhotfix.manifest import FilePatch, load_manifest, remove_hotfix, set_hotfix_patches

    path = tmp_path / "hotfixes.toml"
    path.write_text(
        '# ours\n[hotfix.python-magic]\nversion = "0.4.3"  # pinned\npatches = [\n'
        '    "a.patch",  # the fix\n    "b.patch",\n]\n\n[hotfix.six]\nversion = "1.16.0"\n'
        'patches = ["s.patch"]\n'
    )
    set_hotfix_patches(path, "python_magic", "0.4.4", [FilePatch("a.patch"), FilePatch("b.patch")])
    text = path.read_text()
    assert 'version = "0.4.4"  # pinned' in text and '"a.patch",  # the fix' in text
    set_hotfix_patches(path, "python-magic", "0.4.4", [FilePatch("b.patch")])
    assert load_manifest(path).get("python-magic").patches == (FilePatch("b.patch"),)
    with pytest.raises(UsageError, match="version"):
        set_hotfix_patches(path, "six", "not a version", [FilePatch("s.patch")])
    with pytest.raises(UsageError, match="patches"):
        set_hotfix_patches(path, "six", "1.16.0", [])  # validated: an empty list never lands
    assert load_manifest(path).get("six").patches == (FilePatch("s.patch"),)
    remove_hotfix(path, "Python_Magic")
    assert [h.name for h in load_manifest(path).hotfixes] == ["six"]
    assert path.read_text().startswith("# ours\n")
    remove_hotfix(path, "six")
    assert load_manifest(path).hotfixes == ()
    with pytest.raises(UsageError, match="no hotfix named 'six'"):
        remove_hotfix(path, "six")


def test_releases_that_move_files(tmp_path: Path) -> None:
    """Upstream moved the package to src/: the fix is still found, and the patch follows the file."""
    from pyhotfix.lifecycle.series import (
        APPLIES_3WAY,
        CONTAINED,
        build_series,
        import_release,
        replay,
    )

    old = make_setuptools_sdist(tmp_path / "dist", "golf", "1.0", HEAD + BUGGY + OTHER)
    patches = [PatchInput("fix.patch", fix_patch("golf").encode(), "")]
    series = build_series(old, patches, tmp_path / "work", "golf 1.0")
    fixed = make_setuptools_sdist(
        tmp_path / "dist", "golf", "1.1", HEAD + FIXED + OTHER_11, src=True
    )
    outcomes, _ = replay(series, import_release(series, fixed, tmp_path / "fixed", "1.1"))
    assert [o.state for o in outcomes] == [CONTAINED]
    moved = make_setuptools_sdist(
        tmp_path / "dist", "golf", "1.2", HEAD + BUGGY + OTHER_11, src=True
    )
    outcomes, head = replay(series, import_release(series, moved, tmp_path / "moved", "1.2"))
    assert [o.state for o in outcomes] == [APPLIES_3WAY]
    carried = series.git.text("show", f"{head}:src/golf/__init__.py")
    assert "return 42  # fixed" in carried and '"other, improved"' in carried


def test_status_verdicts_match_a_committing_replay(tmp_path: Path) -> None:
    """status replays without commits (fewer git calls); the verdicts must be rebase's."""
    from pyhotfix.lifecycle.series import (
        build_series,
        import_release,
        replay,
        series_contained,
        stage_release,
    )

    seen: set[str] = set()
    for name in ("alpha", "bravo", "delta"):
        releases = RELEASES[name]
        dist = tmp_path / name / "dist"
        base = make_setuptools_sdist(dist, name, "1.0", releases["1.0"])
        patches = [
            PatchInput("fix.patch", fix_patch(name).encode(), ""),
            PatchInput("other.patch", other_patch(name).encode(), ""),
        ]
        series = build_series(base, patches, tmp_path / name / "work", f"{name} 1.0")
        for version, module in releases.items():
            if version == "1.0":
                continue
            path = make_setuptools_sdist(dist, name, version, module)
            commit = import_release(series, path, tmp_path / name / f"c-{version}", version)
            tree = import_release(
                series, path, tmp_path / name / f"t-{version}", version, commit=False
            )
            assert series.git.tree_of(commit) == tree
            staged = stage_release(series, path, tmp_path / name / f"s-{version}", version)
            committed, head = replay(series, commit)
            bare, none = replay(series, tree, commits=False)
            from_index, _ = replay(series, staged, commits=False)
            assert none is None and head is not None
            expected = [(o.state, o.conflicts) for o in committed]
            assert [(o.state, o.conflicts) for o in bare] == expected
            assert [(o.state, o.conflicts) for o in from_index] == expected
            assert staged.tree() == tree
            assert series_contained(series, staged) == series_contained(series, commit)
            staged.drop()
            seen.update(o.state for o in bare)
    assert seen == {"contained", "applies", "applies-3way", "conflicts"}, "every state compared"


_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\0"),
    min_size=1,
    max_size=12,
).filter(lambda n: n not in (".", "..") and not n.lower().startswith(".git"))


@settings(max_examples=25, deadline=None)
@given(names=st.lists(st.lists(_NAME, min_size=1, max_size=2), min_size=1, max_size=4))
def test_changed_paths_read_from_diff_headers_match_git(names: list[list[str]]) -> None:
    """status reads a patch's files from its diff headers instead of asking git; any name git
    writes unquoted parses back exactly, and a quoted one falls back to git's own answer."""
    from pyhotfix._git import Git
    from pyhotfix.lifecycle.series import _DIFF_ARGS, SeriesPatch, _diff_paths

    paths = sorted({"/".join(parts) for parts in names})
    # A path cannot also be a directory of another one.
    paths = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git = Git(root)
        git.must("init", "--quiet", "--template=", ".")
        for i, path in enumerate(paths):
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if i % 2:
                target.write_text("old\n")
        git.must("add", "--all")
        base = git.text("commit-tree", git.text("write-tree"), stdin=b"base")
        for path in paths:
            (root / path).write_text("new\n")
        git.must("add", "--all")
        tip = git.commit_tree(git.text("write-tree"), base, "tip")
        diff = git.must("diff", *_DIFF_ARGS, base, tip)
        expected = git.must("diff", "--name-only", "--no-renames", "-z", base, tip)
        got = _diff_paths(git, SeriesPatch("p", base, tip, ""), diff)
        assert got == [os.fsdecode(p) for p in expected.split(b"\0") if p]


def _sdist_with(
    dest: Path, name: str, version: str, members: list[tarfile.TarInfo], data: dict[str, bytes]
) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            info.name = f"{name}-{version}/{info.name}"
            payload = data.get(info.name.split("/", 1)[1])
            if payload is not None:
                info.size = len(payload)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _file(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def test_one_patch_status_checks_on_disk_match_a_committing_replay(tmp_path: Path) -> None:
    """A one-patch status check judges the release's files on disk (no index); wherever that
    cannot decide (a moved file, a symlink, a .git in the release, a three-way merge) it falls
    back to the index. Every verdict must equal a committing replay's."""
    from pyhotfix.lifecycle.series import build_series, import_release, replay, stage_release

    dist = tmp_path / "dist"
    base = make_setuptools_sdist(dist, "golf", "1.0", HEAD + BUGGY + OTHER)
    series = build_series(
        base, [PatchInput("fix.patch", fix_patch("golf").encode(), "")], tmp_path / "w", "golf 1.0"
    )
    pyproject = b'[project]\nname = "golf"\nversion = "1.9"\n'
    releases = {
        "fixed": make_setuptools_sdist(dist / "a", "golf", "1.1", HEAD + FIXED + OTHER_11),
        "applies": make_setuptools_sdist(dist / "b", "golf", "1.1", HEAD + BUGGY + OTHER_11),
        "3way": make_setuptools_sdist(
            dist / "c", "golf", "1.1", HEAD + BUGGY.replace("int", "int  # typed") + OTHER_11
        ),
        "conflicts": make_setuptools_sdist(
            dist / "d", "golf", "1.1", HEAD + BUGGY.replace("41", "40") + OTHER_11
        ),
        "moved": make_setuptools_sdist(dist / "e", "golf", "1.1", HEAD + FIXED + OTHER, src=True),
        "symlink": _sdist_with(
            dist / "f",
            "golf",
            "1.1",
            [_file("pyproject.toml"), _file("golf/impl.py"), _link("golf/__init__.py", "impl.py")],
            {"pyproject.toml": pyproject, "golf/impl.py": (HEAD + FIXED + OTHER).encode()},
        ),
        "own-git": _sdist_with(
            dist / "g",
            "golf",
            "1.1",
            [_file("pyproject.toml"), _file(".git/HEAD"), _file("golf/__init__.py")],
            {
                "pyproject.toml": pyproject,
                ".git/HEAD": b"ref: refs/heads/main\n",
                "golf/__init__.py": (HEAD + BUGGY + OTHER_11).encode(),
            },
        ),
    }
    states = {}
    for case, sdist in releases.items():
        commit = import_release(series, sdist, tmp_path / f"c-{case}", "1.1")
        staged = stage_release(series, sdist, tmp_path / f"s-{case}", "1.1")
        committed, _ = replay(series, commit)
        on_disk, _ = replay(series, staged, commits=False)
        staged.drop()
        assert [(o.state, o.conflicts) for o in on_disk] == [
            (o.state, o.conflicts) for o in committed
        ], case
        states[case] = on_disk[0].state
    assert states == {
        "fixed": "contained",
        "applies": "applies",
        "3way": "applies-3way",
        "conflicts": "conflicts",
        "moved": "contained",
        "symlink": "conflicts",  # git sees a link where the file was, as rebase would
        "own-git": "applies",
    }


_TEXT_LINES = st.lists(
    st.sampled_from(
        ["a", "b", " a", "a ", "\ta", "", "  ", "x\ry", "c\r", "+d", "-e", "@@ f", "+++ g"]
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(old=_TEXT_LINES, new=_TEXT_LINES, old_eol=st.booleans(), new_eol=st.booleans())
def test_line_deltas_read_from_a_diff_match_the_files(
    old: list[str], new: list[str], old_eol: bool, new_eol: bool
) -> None:
    """What a one-patch status check reads from the diff (lines added minus lines removed,
    normalized) equals what it would count in the two files."""
    import collections

    from pyhotfix.lifecycle.series import _line_deltas, _normalized

    before = "\n".join(old).encode() + (b"\n" if old_eol and old else b"")
    after = "\n".join(new).encode() + (b"\n" if new_eol and new else b"")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        (Path(tmp) / "a" / "f.py").write_bytes(before)
        (Path(tmp) / "b" / "f.py").write_bytes(after)
        diff = subprocess.run(
            ["git", "diff", "--no-index", "--no-color", "--binary", "a", "b"],
            cwd=tmp,
            capture_output=True,
            check=False,
            env={"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1", "HOME": tmp},
        ).stdout
    expected = collections.Counter(_normalized(after))
    expected.subtract(_normalized(before))
    deltas = _line_deltas(diff)
    assert deltas is not None
    found = deltas[0] if deltas else collections.Counter()
    assert {k: v for k, v in found.items() if v} == {k: v for k, v in expected.items() if v}
