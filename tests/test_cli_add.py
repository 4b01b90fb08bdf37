"""`pyhotfix add`: URL patches stored with DEP-3 provenance, commits by full SHA, patch path checks,
and hostile patches (symlinks to the builder's secrets) refused before anything is built.

The CLI runs in a subprocess against a fake upstream index on 127.0.0.1, as in test_cli_build."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache
from tests.conftest import Pyhotfix
from tests.support.apps import app_dir, index_files
from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_project, make_sdist, module_name

NAME = "demo-add"
MOD = module_name(NAME)
BUG = "    return 41  # bug: should be 42\n"
FIX = "    return 42  # fixed\n"
GIT = [
    *("git", "-c", "user.name=Upstream Dev", "-c", "user.email=dev@example.org"),
    *("-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"),
]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    """A fake PyPI with the buggy demo-add 1.0 sdist (setuptools, setup.py)."""
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        project = make_project(root / NAME, NAME, "1.0", "setuptools-setup.py")
        index.add_file(make_sdist(project, root / "dist", envs))
        yield index


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The upstream repository at 1.0 with one more commit that fixes answer()."""
    root = make_project(tmp_path / "upstream-repo", NAME, "1.0", "setuptools-setup.py")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "1.0")
    init = root / MOD / "__init__.py"
    init.write_text(init.read_text().replace(BUG, FIX))
    git(root, "commit", "-qam", "Fix the answer")
    return root


def git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(
        [*GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def patches_of(app: Path) -> list[object]:
    data = tomllib.loads((app / "hotfixes.toml").read_text())
    return list(data["hotfix"][NAME]["patches"])


# --- URL patches are stored beside the manifest ----------------------------------------------


def test_url_mbox_is_stored_with_origin_and_survives_a_regenerated_download(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    mbox = git(repo, "format-patch", "-1", "--stdout", "--abbrev=7", "--no-signature").encode()
    upstream.add_raw("/pull/7.patch", mbox)
    url = upstream.base_url + "/pull/7.patch"
    app = app_dir(tmp_path, upstream)

    first = pyhotfix("add", f"{NAME}==1.0", "--patch", url, cwd=app)

    assert first.code == 0, first.output
    rel = "patches/demo-add/0001-fix-the-answer.patch"
    assert patches_of(app) == [rel]
    stored = (app / rel).read_bytes()
    first_line, rest = mbox.split(b"\n", 1)
    assert stored == first_line + b"\nOrigin: " + url.encode() + b"\n" + rest
    assert len(index_files(app)) == 2
    # git am takes the stored file as it is (the Origin field is an ordinary mail header).
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    git(repo, "am", "-q", str(app / rel))
    assert git(repo, "log", "-1", "--format=%s|%an").strip() == "Fix the answer|Upstream Dev"

    # The forge regenerates the .patch with longer abbreviated hashes in its index lines: the
    # hotfix is unchanged (no new number, no download at all).
    regenerated = git(repo, "format-patch", "-1", "--stdout", "--abbrev=12", "--no-signature")
    assert regenerated.encode() != mbox
    upstream.add_raw("/pull/7.patch", regenerated.encode())
    requests_before = len(upstream.requests)
    again = pyhotfix("build", cwd=app)
    assert again.code == 0, again.output
    assert "up-to-date" in again.stdout
    assert len(upstream.requests) == requests_before

    # Adding the same URL again neither downloads it, stores a second file nor lists it twice.
    third = pyhotfix("add", f"{NAME}==1.0", "--patch", url, cwd=app)
    assert third.code == 0, third.output
    assert len(upstream.requests) == requests_before
    assert patches_of(app) == [rel]
    assert sorted(p.name for p in (app / "patches/demo-add").iterdir()) == [Path(rel).name]


def test_file_url_plain_diff_is_stored_and_wrong_sha256_leaves_nothing(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    diff = git(repo, "diff", "HEAD~1", "HEAD").encode()
    source = tmp_path / "downloads" / "fix answer.diff"
    source.parent.mkdir()
    source.write_bytes(diff)
    url = source.as_uri()  # file:///…/fix%20answer.diff
    app = app_dir(tmp_path, upstream)
    manifest_before = (app / "hotfixes.toml").read_bytes()

    wrong = pyhotfix("add", f"{NAME}==1.0", "--patch", url, "--sha256", "0" * 64, cwd=app)

    assert wrong.code == 1, wrong.output
    assert "sha256" in wrong.stderr and "Traceback" not in wrong.output
    assert (app / "hotfixes.toml").read_bytes() == manifest_before
    assert not (app / "patches").exists()

    sha = hashlib.sha256(diff).hexdigest()
    good = pyhotfix("add", f"{NAME}==1.0", "--patch", url, "--sha256", sha, cwd=app)

    assert good.code == 0, good.output
    [rel] = patches_of(app)
    assert isinstance(rel, str) and rel.startswith("patches/demo-add/0001-fix-answer")
    stored = (app / rel).read_bytes()
    assert stored == b"Origin: " + url.encode() + b"\n\n" + diff
    # git apply ignores the header block in front of the diff.
    subprocess.run(
        ["git", "apply", "--check", "-R", str(app / rel)], cwd=repo, check=True, timeout=60
    )


def test_url_patch_whose_build_fails_leaves_no_stored_file(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    upstream.add_raw(
        "/bad.patch",
        b"--- a/demo_add/__init__.py\n+++ b/demo_add/__init__.py\n@@ -1,1 +1,1 @@\n"
        b"-this line is not there\n+neither is this\n",
    )
    app = app_dir(tmp_path, upstream)
    manifest_before = (app / "hotfixes.toml").read_bytes()

    run = pyhotfix("add", f"{NAME}==1.0", "--patch", upstream.base_url + "/bad.patch", cwd=app)

    assert run.code == 1, run.output
    assert "does not apply" in run.stderr
    assert (app / "hotfixes.toml").read_bytes() == manifest_before
    assert not (app / "patches").exists()
    assert index_files(app) == []


def test_pinned_url_entry_in_an_existing_manifest_still_builds(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    diff = git(repo, "diff", "HEAD~1", "HEAD").encode()
    upstream.add_raw("/pinned.diff", diff)
    url = upstream.base_url + "/pinned.diff"
    sha = hashlib.sha256(diff).hexdigest()
    app = app_dir(
        tmp_path,
        upstream,
        f'[hotfix.{NAME}]\nversion = "1.0"\npatches = [{{ url = "{url}", sha256 = "{sha}" }}]\n',
    )

    run = pyhotfix("build", cwd=app)

    assert run.code == 0, run.output
    assert len(index_files(app)) == 2


# --- git commits by full SHA -------------------------------------------------------------------


def test_git_commit_is_stored_by_full_sha_and_listed_once(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    app = app_dir(tmp_path, upstream)

    short = pyhotfix("add", f"{NAME}==1.0", "--patch", f"git+{repo}@{sha[:8]}", cwd=app)
    assert short.code == 0, short.output
    expected = {"git": os.path.relpath(repo, app), "commit": sha}
    assert patches_of(app) == [expected]

    full = pyhotfix("add", f"{NAME}==1.0", "--patch", f"git+{repo}@{sha.upper()}", cwd=app)
    assert full.code == 0, full.output
    assert patches_of(app) == [expected]


def test_existing_short_sha_entry_is_recognised(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    rel_repo = "../upstream-repo"
    app = app_dir(
        tmp_path,
        upstream,
        f'[hotfix.{NAME}]\nversion = "1.0"\npatches = [\n'
        f'  {{ git = "{rel_repo}", commit = "{sha[:7]}" }},\n]\n',
    )
    # The same commit, named through another spelling of the repository: resolved there too.
    run = pyhotfix("add", f"{NAME}==1.0", "--patch", f"git+{repo.as_uri()}@{sha}", cwd=app)

    assert run.code == 0, run.output
    assert patches_of(app) == [{"git": rel_repo, "commit": sha[:7]}]


# --- patch path inputs --------------------------------------------------------------------------


def test_missing_patch_file_in_manifest_exits_2_with_file_line_and_key(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_dir(
        tmp_path,
        upstream,
        f'[hotfix.{NAME}]\nversion = "1.0"\npatches = [\n  "patches/missing.patch",\n]\n',
    )
    manifest = app / "hotfixes.toml"

    for args in (["build"], ["build", "--force"], ["build", "--no-publish", "--out", "out"]):
        run = pyhotfix(*args, cwd=app)

        assert run.code == 2, run.output
        assert (
            f"error: {manifest}, line 7: hotfix.{NAME}.patches[0] names the patch file "
            "patches/missing.patch, which does not exist"
        ) in " ".join(run.stderr.split())
        assert "Traceback" not in run.output


def test_add_refuses_dev_zero_fifo_and_directory_quickly(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_dir(tmp_path, upstream)
    manifest_before = (app / "hotfixes.toml").read_bytes()
    fifo = tmp_path / "fifo.patch"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        run = pyhotfix("add", f"{NAME}==1.0", "--patch", path, cwd=app)
        assert run.code == 2, run.output
        text = " ".join(run.stderr.split())
        assert path in text and ("not a regular file" in text or "is a directory" in text)
        assert "Traceback" not in run.output
        assert (app / "hotfixes.toml").read_bytes() == manifest_before


def test_patch_outside_the_manifest_directory_is_recorded_relative(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix
) -> None:
    outside = tmp_path / "shared-patches" / "fix.diff"
    outside.parent.mkdir()
    outside.write_text(git(repo, "diff", "HEAD~1", "HEAD"))
    app = app_dir(tmp_path, upstream)

    run = pyhotfix("add", f"{NAME}==1.0", "--patch", str(outside), cwd=app)

    assert run.code == 0, run.output
    assert patches_of(app) == ["../shared-patches/fix.diff"]


# --- a patch must not publish the builder's files -----------------------------------------------


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_symlink_to_a_secret_is_refused_and_nothing_published(
    tmp_path: Path, upstream: FakeIndex, repo: Path, pyhotfix: Pyhotfix, kind: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    app = app_dir(tmp_path, upstream)
    target = str(secret) if kind == "absolute" else os.path.relpath(secret, app / "src" / MOD)
    os.symlink(target, repo / MOD / "data.txt")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "Add data")
    (app / "leak.patch").write_text(git(repo, "format-patch", "-1", "--stdout"))

    run = pyhotfix("add", f"{NAME}==1.0", "--patch", "leak.patch", cwd=app)

    assert run.code == 1, run.output
    text = " ".join(run.stderr.split())
    assert "leak.patch" in text and f"{MOD}/data.txt" in text and "symlink" in text
    assert index_files(app) == []
    assert "[hotfix" not in (app / "hotfixes.toml").read_text()


def test_url_with_a_line_break_is_refused_before_any_download(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    app = app_dir(tmp_path, upstream)
    url = upstream.base_url + "/x.patch\nFrom: evil"
    requests_before = len(upstream.requests)

    run = pyhotfix("add", f"{NAME}==1.0", "--patch", url, cwd=app)

    assert run.code == 2, run.output
    assert "control characters" in run.stderr and "Traceback" not in run.output
    assert len(upstream.requests) == requests_before
    assert not (app / "patches").exists()
