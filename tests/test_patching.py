"""Tests for pyhotfix.patching: realistic patches made with git and diff against small trees."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyhotfix._git import run_git
from pyhotfix.errors import PatchError
from pyhotfix.manifest import FilePatch, GitPatch, UrlPatch
from pyhotfix.patching import PatchInput, apply_patches, read_patch, sha256_of
from tests.conftest import Pyhotfix
from tests.support.apps import app_dir, index_files
from tests.support.archives import file, write_tar
from tests.support.fakeindex import FakeIndex

INIT_V1 = '''\
"""magic: detect file types."""

__version__ = "1.0"


def detect(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "pdf"
    return "unknown"


def answer() -> int:
    return 41  # bug: should be 42
'''

TEST_V1 = """\
from magic import detect


def test_detect() -> None:
    assert detect(b"%PDF-1.4") == "pdf"
"""

SETUP_PY = (
    'from setuptools import setup\n\nsetup(name="magic", version="1.0", packages=["magic"])\n'
)

# Keep the user's git configuration out of the fixtures' git commands too.
GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Upstream Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Upstream Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
    "LC_ALL": "C",
}


def git(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=GIT_ENV,
        capture_output=True,
        check=True,
    )
    return proc.stdout


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_upstream(tmp_path: Path, *, src_layout: bool = True) -> Path:
    """The upstream repository at the 1.0 release: package, tests and CI config."""
    repo = tmp_path / "upstream"
    pkg = "src/magic" if src_layout else "magic"
    write(
        repo,
        {
            f"{pkg}/__init__.py": INIT_V1,
            "tests/test_magic.py": TEST_V1,
            ".github/workflows/ci.yml": "on: push\n",
            "setup.py": SETUP_PY,
        },
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Release 1.0")
    return repo


def make_sdist(tmp_path: Path, *, src_layout: bool = False, name: str = "magic-1.0") -> Path:
    """The unpacked sdist: the package and setup.py, no tests or CI config."""
    root = tmp_path / "sdist" / name
    pkg = "src/magic" if src_layout else "magic"
    write(
        root,
        {f"{pkg}/__init__.py": INIT_V1, "setup.py": SETUP_PY, "PKG-INFO": "Name: magic\n"},
    )
    return root


def commit_change(repo: Path, files: dict[str, str], message: str) -> None:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def fix_answer(text: str) -> str:
    return text.replace("return 41  # bug: should be 42", "return 42")


def patch(label: str, content: bytes) -> PatchInput:
    return PatchInput(label=label, content=content, sha256=sha256_of(content))


def diff_u(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(["diff", "-u", *args], cwd=cwd, capture_output=True, check=False)
    assert proc.returncode == 1, proc.stderr  # 1: differences found
    return proc.stdout


# --------------------------------------------------------------------------------------------
# apply_patches: path handling
# --------------------------------------------------------------------------------------------


def test_git_diff_maps_src_layout_and_skips_tests(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(
        repo,
        {
            "src/magic/__init__.py": fix_answer(INIT_V1),
            "tests/test_magic.py": TEST_V1 + "\n\ndef test_answer() -> None:\n    pass\n",
            ".github/workflows/ci.yml": "on: [push, pull_request]\n",
        },
    )
    diff = git(repo, "diff")
    root = make_sdist(tmp_path)

    result = apply_patches(root, [patch("fix-answer.patch", diff)])

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert not (root / "tests").exists()
    assert not (root / ".github").exists()
    assert not (root / ".git").exists()
    [applied] = result.applied
    assert applied.label == "fix-answer.patch"
    assert applied.files == ("magic/__init__.py",)
    assert set(applied.skipped) == {"tests/test_magic.py", ".github/workflows/ci.yml"}
    assert applied.mapped == (("src/magic/__init__.py", "magic/__init__.py"),)
    assert result.root == root


def test_strict_refuses_to_skip(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1), "tests/test_magic.py": TEST_V1 * 2})
    root = make_sdist(tmp_path)

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("fix.patch", git(repo, "diff"))], strict=True)

    message = str(exc.value)
    assert "fix.patch" in message
    assert "tests/test_magic.py" in message
    assert "strict" in message.lower()


def test_patch_touching_only_absent_files_is_an_error(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"tests/test_magic.py": TEST_V1 * 2})
    root = make_sdist(tmp_path)

    with pytest.raises(PatchError, match=r"tests-only\.patch.*would change nothing"):
        apply_patches(root, [patch("tests-only.patch", git(repo, "diff"))])


def test_flat_repo_onto_src_layout_sdist_with_new_module(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path, src_layout=False)
    write(
        repo,
        {
            "magic/__init__.py": fix_answer(INIT_V1),
            "magic/_compat.py": "PY311 = True\n",
            "magic/backends/__init__.py": "",
            "tests/test_compat.py": "def test_it() -> None:\n    pass\n",
        },
    )
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached")
    root = make_sdist(tmp_path, src_layout=True)

    [applied] = apply_patches(root, [patch("compat.patch", diff)]).applied

    assert "return 42" in (root / "src/magic/__init__.py").read_text()
    assert (root / "src/magic/_compat.py").read_text() == "PY311 = True\n"
    assert (root / "src/magic/backends/__init__.py").exists()
    assert not (root / "tests").exists() and not (root / "src/tests").exists()
    assert set(applied.files) == {
        "src/magic/__init__.py",
        "src/magic/_compat.py",
        "src/magic/backends/__init__.py",
    }
    assert applied.skipped == ("tests/test_compat.py",)
    assert ("magic/_compat.py", "src/magic/_compat.py") in applied.mapped


def test_new_file_only_patch_lands_in_the_package(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/py.typed": "partial\n"})
    git(repo, "add", "-A")
    root = make_sdist(tmp_path)

    [applied] = apply_patches(root, [patch("typed.patch", git(repo, "diff", "--cached"))]).applied

    assert (root / "magic/py.typed").read_text() == "partial\n"
    assert applied.mapped == (("src/magic/py.typed", "magic/py.typed"),)


def test_plain_diff_p0(tmp_path: Path) -> None:
    root = make_sdist(tmp_path)
    work = tmp_path / "work"
    shutil.copytree(root, work)
    (work / "magic/__init__.py.orig").write_text(INIT_V1)
    (work / "magic/__init__.py").write_text(fix_answer(INIT_V1))
    diff = diff_u(work, "magic/__init__.py.orig", "magic/__init__.py")
    assert diff.startswith(b"--- magic/__init__.py.orig")

    [applied] = apply_patches(root, [patch("p0.diff", diff)]).applied

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert applied.files == ("magic/__init__.py",)
    assert applied.mapped == ()


def test_plain_diff_p1_between_directories_with_new_file(tmp_path: Path) -> None:
    root = make_sdist(tmp_path)
    old, new = tmp_path / "a", tmp_path / "b"
    shutil.copytree(root, old)
    shutil.copytree(root, new)
    (new / "magic/__init__.py").write_text(fix_answer(INIT_V1))
    (new / "magic/extra.py").write_text("X = 1\n")
    diff = diff_u(tmp_path, "-rN", "a", "b")
    assert b"--- a/magic/extra.py\t1970-01-01" in diff

    [applied] = apply_patches(root, [patch("p1.diff", diff)]).applied

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert (root / "magic/extra.py").read_text() == "X = 1\n"
    assert set(applied.files) == {"magic/__init__.py", "magic/extra.py"}


def test_plain_diff_with_repo_paths_is_mapped(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    (tmp_path / "fixed").mkdir()
    (tmp_path / "fixed/__init__.py").write_text(fix_answer(INIT_V1))
    diff = diff_u(tmp_path, "upstream/src/magic/__init__.py", "fixed/__init__.py")
    diff = diff.replace(b"--- upstream/src/", b"--- a/src/").replace(
        b"+++ fixed/__init__.py", b"+++ b/src/magic/__init__.py"
    )
    assert repo.exists()
    root = make_sdist(tmp_path)

    [applied] = apply_patches(root, [patch("repo.diff", diff)]).applied

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert applied.mapped == (("src/magic/__init__.py", "magic/__init__.py"),)


def test_git_diff_without_prefixes_is_p0(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path, src_layout=False)
    write(repo, {"magic/__init__.py": fix_answer(INIT_V1)})
    diff = git(repo, "diff", "--no-prefix")
    assert b"--- magic/__init__.py" in diff
    root = make_sdist(tmp_path)

    [applied] = apply_patches(root, [patch("noprefix.patch", diff)]).applied

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert applied.mapped == ()


def test_rename_follows_the_prefix_mapping(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/util.py": "a\nb\nc\nd\ne\nf\n"}, "Add util")
    git(repo, "mv", "src/magic/util.py", "src/magic/helpers.py")
    write(repo, {"src/magic/helpers.py": "a\nb\nc\nd\ne\nF\n"})
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached", "-M")
    assert b"rename from src/magic/util.py" in diff
    root = make_sdist(tmp_path)
    write(root, {"magic/util.py": "a\nb\nc\nd\ne\nf\n"})

    [applied] = apply_patches(root, [patch("rename.patch", diff)]).applied

    assert not (root / "magic/util.py").exists()
    assert (root / "magic/helpers.py").read_text() == "a\nb\nc\nd\ne\nF\n"
    assert set(applied.files) == {"magic/util.py", "magic/helpers.py"}


def test_ambiguous_mapping_is_an_error(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path, src_layout=False)
    write(repo, {"magic/__init__.py": fix_answer(INIT_V1)})
    root = make_sdist(tmp_path, src_layout=True)
    write(root, {"vendor/magic/__init__.py": INIT_V1})

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("fix.patch", git(repo, "diff"))])
    assert "src/magic/__init__.py, vendor/magic/__init__.py" in str(exc.value)


def test_lf_patch_applies_to_crlf_file(tmp_path: Path) -> None:
    # The repository stores LF (text=auto) but the sdist was built on Windows.
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    root = make_sdist(tmp_path)
    (root / "magic/__init__.py").write_bytes(INIT_V1.replace("\n", "\r\n").encode())

    apply_patches(root, [patch("fix.patch", git(repo, "diff"))])

    expected = fix_answer(INIT_V1).replace("\n", "\r\n").encode()
    assert (root / "magic/__init__.py").read_bytes() == expected


def test_crlf_patch_file_applies_to_lf_tree(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    diff = git(repo, "diff").replace(b"\n", b"\r\n")
    root = make_sdist(tmp_path)

    apply_patches(root, [patch("crlf.patch", diff)])

    text = (root / "magic/__init__.py").read_bytes()
    assert b"return 42" in text
    assert b"\r" not in text


def test_index_lines_with_unknown_blobs_fall_back_to_plain_apply(tmp_path: Path) -> None:
    # The repository moved on after the release: the patch's preimage blob is not in the sdist,
    # and the hunk lands at an offset.
    repo = make_upstream(tmp_path)
    header = '"""magic: detect file types."""\n'
    commit_change(
        repo,
        {"src/magic/__init__.py": INIT_V1.replace(header, header + "\nimport os\n")},
        "Import os",
    )
    write(
        repo,
        {"src/magic/__init__.py": fix_answer(INIT_V1.replace(header, header + "\nimport os\n"))},
    )
    diff = git(repo, "diff", "--full-index")
    root = make_sdist(tmp_path)

    apply_patches(root, [patch("moved-on.patch", diff)])

    assert "return 42" in (root / "magic/__init__.py").read_text()


def test_gitignore_and_gitattributes_in_the_sdist_do_not_interfere(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    root = make_sdist(tmp_path)
    (root / ".gitignore").write_text("magic/\n")
    (root / ".gitattributes").write_text("* text=auto eol=crlf\n")

    apply_patches(root, [patch("fix.patch", git(repo, "diff"))])

    assert (root / "magic/__init__.py").read_bytes() == fix_answer(INIT_V1).encode()


# --------------------------------------------------------------------------------------------
# apply_patches: mbox / git am
# --------------------------------------------------------------------------------------------


def test_multi_commit_mbox_is_applied_with_git_am(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(
        repo,
        {
            "src/magic/__init__.py": fix_answer(INIT_V1),
            "tests/test_magic.py": TEST_V1 + "\n# more\n",
        },
        "Fix answer()\n\nThe answer is 42, not 41.",
    )
    commit_change(repo, {"src/magic/extra.py": "EXTRA = True\n"}, "Add extra module")
    commit_change(repo, {"tests/test_magic.py": TEST_V1 + "\n# even more\n"}, "More tests")
    mbox = git(repo, "format-patch", "--stdout", "HEAD~3")
    assert mbox.count(b"\nFrom ") == 2  # three mails
    root = make_sdist(tmp_path)

    result = apply_patches(root, [patch("pr-17.patch", mbox)], keep_git=True)

    assert "return 42" in (root / "magic/__init__.py").read_text()
    assert (root / "magic/extra.py").read_text() == "EXTRA = True\n"
    log = git(root, "log", "--format=%s%n%b%x00").decode()
    # The tests-only commit had nothing left and was dropped; the others kept their messages.
    assert "Fix answer()" in log and "The answer is 42, not 41." in log
    assert "Add extra module" in log
    assert "More tests" not in log
    [applied] = result.applied
    assert set(applied.files) == {"magic/__init__.py", "magic/extra.py"}
    assert applied.skipped == ("tests/test_magic.py",)
    assert ("src/magic/extra.py", "magic/extra.py") in applied.mapped


def test_mbox_where_a_later_commit_changes_a_file_an_earlier_one_created(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/extra.py": "EXTRA = 1\n"}, "Add extra")
    commit_change(repo, {"src/magic/extra.py": "EXTRA = 2\n"}, "Bump extra")
    mbox = git(repo, "format-patch", "--stdout", "HEAD~2")
    root = make_sdist(tmp_path)

    apply_patches(root, [patch("series.patch", mbox)])

    assert (root / "magic/extra.py").read_text() == "EXTRA = 2\n"


def test_binary_files(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    (repo / "src/magic/data.bin").write_bytes(bytes(range(256)))
    (repo / "tests/fixture.bin").write_bytes(b"\0\1\2\3" * 10)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Add data")
    mbox = git(repo, "format-patch", "--stdout", "HEAD~1")
    assert b"GIT binary patch" in mbox
    root = make_sdist(tmp_path)

    [applied] = apply_patches(root, [patch("data.patch", mbox)]).applied

    assert (root / "magic/data.bin").read_bytes() == bytes(range(256))
    assert applied.skipped == ("tests/fixture.bin",)


def test_binary_change_without_data_is_an_error(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    (repo / "src/magic/data.bin").write_bytes(bytes(range(256)))
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached")  # no --binary: "Binary files ... differ"
    assert b"Binary files" in diff
    root = make_sdist(tmp_path)

    with pytest.raises(PatchError, match=r"magic/data\.bin.*--binary"):
        apply_patches(root, [patch("bin.patch", diff)])


# --------------------------------------------------------------------------------------------
# apply_patches: order, failures, .git handling
# --------------------------------------------------------------------------------------------


def test_patches_apply_in_order(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    first = git(repo, "diff")
    git(repo, "commit", "-q", "-am", "first")
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1).replace("return 42", "return 43")})
    second = git(repo, "diff")
    root = make_sdist(tmp_path)

    result = apply_patches(root, [patch("first.patch", first), patch("second.patch", second)])

    assert "return 43" in (root / "magic/__init__.py").read_text()
    assert [a.label for a in result.applied] == ["first.patch", "second.patch"]

    # The other way round the second patch's context is not there.
    other = make_sdist(tmp_path, name="again-1.0")
    with pytest.raises(PatchError, match=r"second\.patch"):
        apply_patches(other, [patch("second.patch", second), patch("first.patch", first)])


def test_later_patches_see_files_earlier_ones_created_removed_or_turned_into_dirs(
    tmp_path: Path,
) -> None:
    """The file list a patch is mapped against follows every earlier patch: a new module, a
    deleted one, and a file replaced by a directory of the same name."""
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/util": "plain file\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "util file")
    steps: list[bytes] = []
    for removed, added in (
        (None, {"src/magic/extra.py": "X = 1\n"}),
        (None, {"src/magic/extra.py": "X = 2\n"}),
        ("src/magic/util", {"src/magic/util/a.py": "A\n"}),
        (None, {"src/magic/util/a.py": "B\n"}),
    ):
        base = git(repo, "rev-parse", "HEAD").decode().strip()
        if removed:
            (repo / removed).unlink()
        write(repo, added)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "step")
        steps.append(git(repo, "diff", base, "HEAD"))
    root = make_sdist(tmp_path)
    write(root, {"magic/util": "plain file\n"})

    result = apply_patches(
        root, [patch(f"{i}.patch", d) for i, d in enumerate(steps, 1)], keep_git=True
    )

    assert [a.files for a in result.applied] == [
        ("magic/extra.py",),
        ("magic/extra.py",),
        ("magic/util", "magic/util/a.py"),
        ("magic/util/a.py",),
    ]
    assert all(a.skipped == () for a in result.applied)
    assert (root / "magic/extra.py").read_text() == "X = 2\n"
    assert (root / "magic/util/a.py").read_text() == "B\n"
    tracked = git(root, "ls-files").decode().split()
    assert "magic/util" not in tracked and "magic/util/a.py" in tracked
    assert git(root, "rev-list", "--count", "HEAD").strip() == b"5"  # pristine + one per patch


def test_git_commands_run_to_apply_patches(tmp_path: Path) -> None:
    """What `status` pays per hotfix: init, add, commit and one listing, then three commands per
    patch (apply, commit, diff of its changed files)."""
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    first = git(repo, "diff")
    git(repo, "commit", "-q", "-am", "first")
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1).replace("return 42", "return 43")})
    second = git(repo, "diff")
    root = make_sdist(tmp_path)
    commands: list[str] = []

    def counting(args: Sequence[str], cwd: Path, env: Any, **kw: Any) -> Any:
        commands.append(args[0])
        return run_git(args, cwd, env, **kw)

    result = apply_patches(
        root, [patch("first.patch", first), patch("second.patch", second)], runner=counting
    )

    # the tracked files and each patch's changed files come from the tree and the plan, not git
    assert commands == [*("init", "add", "commit"), *("apply", "commit", "apply", "commit")]
    assert [a.files for a in result.applied] == [("magic/__init__.py",), ("magic/__init__.py",)]
    assert "return 43" in (root / "magic/__init__.py").read_text()


def test_patch_that_does_not_apply_names_patch_file_and_hunk(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    diff = git(repo, "diff")
    root = make_sdist(tmp_path)
    (root / "magic/__init__.py").write_text(INIT_V1.replace("return 41", "return 40"))

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("fix-answer.patch", diff)], target="magic 1.0")

    message = str(exc.value)
    hunk_header = (
        next(line for line in diff.decode().splitlines() if line.startswith("@@ ")).split(" @@")[0]
        + " @@"
    )
    assert "fix-answer.patch" in message
    assert "magic/__init__.py" in message
    assert hunk_header in message
    assert "patch does not apply" in message  # git's own error line
    assert "does not apply to magic 1.0" in message
    assert "rebase the patch onto magic 1.0" in message.lower()


def test_mbox_that_does_not_apply_names_commit_and_hunk(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/extra.py": "A = 1\n"}, "Add extra")
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    mbox = git(repo, "format-patch", "--stdout", "HEAD~2")
    root = make_sdist(tmp_path)
    (root / "magic/__init__.py").write_text(INIT_V1.replace("return 41", "return 40"))

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("pr.patch", mbox)], keep_git=True)

    message = str(exc.value)
    assert "pr.patch (commit 2/2 'Fix answer')" in message
    assert "hunk @@ -" in message and "of magic/__init__.py" in message
    # git am was aborted: no am session is left behind.
    assert not (root / ".git/rebase-apply").exists()


def test_keep_git(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    diff = git(repo, "diff")
    root = make_sdist(tmp_path)

    apply_patches(root, [patch("fix.patch", diff)], keep_git=True)

    assert (root / ".git").is_dir()
    subjects = git(root, "log", "--format=%s").decode().splitlines()
    assert subjects == ["Apply fix.patch", "pristine sdist"]
    assert git(root, "status", "--porcelain") == b""


def test_commits_are_deterministic(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    diff = git(repo, "diff")
    heads = []
    for name in ("one-1.0", "two-1.0"):
        root = make_sdist(tmp_path, name=name)
        apply_patches(root, [patch("fix.patch", diff)], keep_git=True)
        heads.append(git(root, "rev-parse", "HEAD"))
    assert heads[0] == heads[1]


@pytest.mark.parametrize("kind", ["directory", "gitdir file", "dangling symlink"])
def test_sdist_shipping_its_own_git_is_refused_before_git_runs(tmp_path: Path, kind: str) -> None:
    """An sdist whose .git sets core.fsmonitor and a hooks path must not get git run in it."""
    root = make_sdist(tmp_path)
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil-git"
    write(
        evil,
        {
            "HEAD": "ref: refs/heads/main\n",
            "config": f'[core]\n\tfsmonitor = "touch {marker}; false"\n\thooksPath = hooks\n',
            "objects/.keep": "",
            "refs/heads/.keep": "",
            "hooks/pre-commit": f"#!/bin/sh\ntouch {marker}\n",
        },
    )
    if kind == "directory":
        shutil.copytree(evil, root / ".git")
    elif kind == "gitdir file":
        (root / ".git").write_text(f"gitdir: {evil}\n")
    else:
        os.symlink(tmp_path / "missing", root / ".git")
    content = b"--- a/magic/__init__.py\n+++ b/magic/__init__.py\n@@ -1 +1 @@\n-x\n+y\n"
    with pytest.raises(PatchError) as info:
        apply_patches(root, [patch("fix.patch", content)], target="magic 1.0")
    message = str(info.value)
    assert "The sdist of magic 1.0 itself contains a .git entry" in message
    assert "refuses to patch it" in message
    assert "nothing was built or published" in message
    assert "publish an sdist without .git" in message
    assert "Unpack the sdist into a fresh directory" not in message
    assert not marker.exists()
    assert os.path.lexists(root / ".git")  # left as found; the caller discards the tree


def test_build_of_an_sdist_shipping_its_own_git_fails_closed(
    tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix
) -> None:
    """End to end (the red-team fixture): `pyhotfix build` refuses, runs nothing of the sdist's
    .git (core.fsmonitor, hooks) and publishes nothing."""
    marker = tmp_path / "PWNED"
    top = "gitty-1.0"
    (tmp_path / "dist").mkdir()
    sdist = write_tar(
        tmp_path / "dist" / f"{top}.tar.gz",
        [
            file(f"{top}/PKG-INFO", b"Metadata-Version: 2.1\nName: gitty\nVersion: 1.0\n"),
            file(f"{top}/pyproject.toml", b'[project]\nname = "gitty"\nversion = "1.0"\n'),
            file(f"{top}/gitty/__init__.py", b"x = 1\n"),
            file(f"{top}/.git/HEAD", b"ref: refs/heads/main\n"),
            file(
                f"{top}/.git/config",
                f'[core]\n\tfsmonitor = "touch {marker}; false"\n\thooksPath = .githooks\n'.encode(),
            ),
            file(f"{top}/.githooks/pre-commit", f"#!/bin/sh\ntouch {marker}\n".encode(), 0o755),
        ],
    )
    with FakeIndex() as upstream:
        upstream.add_file(sdist)
        body = '[hotfix.gitty]\nversion = "1.0"\npatches = ["fix.patch"]\n'
        app = app_dir(tmp_path, upstream, body)
        diff = "--- a/gitty/__init__.py\n+++ b/gitty/__init__.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
        (app / "fix.patch").write_text(diff)
        run = fresh_cache_pyhotfix("build", cwd=app)
    assert run.code == 1, run.output
    assert "The sdist of gitty 1.0 itself contains a .git entry" in run.stderr
    assert "publish an sdist without .git" in run.stderr
    assert "Traceback" not in run.output
    assert index_files(app) == []
    assert not marker.exists()


def test_not_a_patch(tmp_path: Path) -> None:
    root = make_sdist(tmp_path)
    with pytest.raises(PatchError, match=r"notes\.txt contains no diff"):
        apply_patches(root, [patch("notes.txt", b"just some text\n")])


# --------------------------------------------------------------------------------------------
# read_patch
# --------------------------------------------------------------------------------------------


def no_fetch(url: str, sha256: str | None) -> bytes:
    raise AssertionError(f"unexpected download of {url}")


def test_read_patch_file(tmp_path: Path) -> None:
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches/fix.patch").write_bytes(b"--- a/x\n+++ b/x\n")

    result = read_patch(FilePatch("patches/fix.patch"), tmp_path, no_fetch)

    assert result.label == "patches/fix.patch"
    assert result.content == b"--- a/x\n+++ b/x\n"
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()


def test_read_patch_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PatchError) as exc:
        read_patch(FilePatch("patches/missing.patch"), tmp_path, no_fetch)
    assert "patches/missing.patch" in str(exc.value)
    assert str(tmp_path) in str(exc.value)


def test_read_patch_url(tmp_path: Path) -> None:
    content = b"diff --git a/x b/x\n"
    seen: list[tuple[str, str | None]] = []

    def fetch(url: str, sha256: str | None) -> bytes:
        seen.append((url, sha256))
        return content

    source = UrlPatch("https://example.org/fix.patch", sha256_of(content))
    result = read_patch(source, tmp_path, fetch)

    assert result.label == "https://example.org/fix.patch"
    assert result.content == content
    assert seen == [("https://example.org/fix.patch", sha256_of(content))]


def test_read_patch_url_hash_mismatch(tmp_path: Path) -> None:
    def fetch(url: str, sha256: str | None) -> bytes:
        return b"tampered\n"

    with pytest.raises(PatchError) as exc:
        read_patch(UrlPatch("https://example.org/fix.patch", "0" * 64), tmp_path, fetch)
    message = str(exc.value)
    assert "https://example.org/fix.patch" in message
    assert sha256_of(b"tampered\n") in message and "0" * 64 in message


def test_read_patch_git_commit_local_repo(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    sha = git(repo, "rev-parse", "HEAD").decode().strip()

    result = read_patch(GitPatch("upstream", sha), tmp_path, no_fetch)

    assert result.label == f"upstream@{sha}"
    assert result.content.startswith(f"From {sha} ".encode())
    assert b"Subject: [PATCH] Fix answer" in result.content
    root = make_sdist(tmp_path)
    apply_patches(root, [result])
    assert "return 42" in (root / "magic/__init__.py").read_text()


def test_read_patch_git_commit_from_url(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    sha = git(repo, "rev-parse", "HEAD").decode().strip()
    url = repo.as_uri()  # file:// goes through the clone path

    result = read_patch(GitPatch(url, sha), tmp_path / "elsewhere", no_fetch)

    assert result.label == f"{url}@{sha}"
    assert b"Subject: [PATCH] Fix answer" in result.content


def test_read_patch_git_unknown_commit(tmp_path: Path) -> None:
    make_upstream(tmp_path)
    with pytest.raises(PatchError) as exc:
        read_patch(GitPatch("upstream", "deadbeef" * 5), tmp_path, no_fetch)
    message = str(exc.value)
    assert "deadbeef" * 5 in message and "upstream" in message


def test_read_patch_git_missing_repo(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="does not exist"):
        read_patch(GitPatch("nowhere", "HEAD"), tmp_path, no_fetch)


# --------------------------------------------------------------------------------------------
# Hostile patches: symlinks out of the tree, hard links, FIFOs, inflating binary data
# --------------------------------------------------------------------------------------------


def symlink_patch(tmp_path: Path, links: dict[str, str], *, plain: bool = False) -> bytes:
    """A git format-patch (or `git diff`) of a commit that adds symlinks `links` (path -> target)
    to the upstream repository, as a hostile contributor would send it."""
    repo = make_upstream(tmp_path)
    for rel, target in links.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, repo / rel)
    git(repo, "add", "-A")
    if plain:
        return git(repo, "diff", "--cached")
    git(repo, "commit", "-q", "-m", "Add links")
    return git(repo, "format-patch", "--stdout", "-1")


@pytest.mark.parametrize(
    "target",
    ["/etc/passwd", "../../../secret", "../../.ssh/id_rsa", "sub/../../../x", "../.git/config"],
)
def test_patch_adding_symlink_out_of_the_tree_is_refused(tmp_path: Path, target: str) -> None:
    mbox = symlink_patch(tmp_path, {"src/magic/leak.txt": target})
    assert b"new file mode 120000" in mbox
    root = make_sdist(tmp_path)

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("patches/0001-leak.patch", mbox)])

    message = str(exc.value)
    assert "patches/0001-leak.patch" in message
    assert "magic/leak.txt" in message
    assert "symlink" in message
    assert not (root / "magic/leak.txt").is_symlink()  # refused before git wrote anything


def test_symlink_inside_the_tree_is_kept(tmp_path: Path) -> None:
    mbox = symlink_patch(
        tmp_path, {"src/magic/alias.py": "__init__.py", "src/magic/up": "../setup.py"}
    )
    root = make_sdist(tmp_path)

    [applied] = apply_patches(root, [patch("alias.patch", mbox)]).applied

    assert os.readlink(root / "magic/alias.py") == "__init__.py"
    assert os.readlink(root / "magic/up") == "../setup.py"
    assert set(applied.files) == {"magic/alias.py", "magic/up"}


def test_symlink_chain_leaving_the_tree_is_caught_by_the_tree_check(tmp_path: Path) -> None:
    # Each link looks harmless on its own ("here/../.." is textually the tree's root), but
    # "here" is a link to ".", so the kernel resolves magic/up to the tree's parent.
    mbox = symlink_patch(tmp_path, {"src/magic/here": ".", "src/magic/up": "here/../.."})
    root = make_sdist(tmp_path)

    with pytest.raises(PatchError) as exc:
        apply_patches(root, [patch("chain.patch", mbox)])

    message = str(exc.value)
    assert "chain.patch" in message and "magic/up" in message and "outside the tree" in message
    assert (root / ".git").exists()  # left for the caller to discard; never built


def test_symlink_named_git_is_refused(tmp_path: Path) -> None:
    diff = (
        b"diff --git a/magic/.git b/magic/.git\n"
        b"new file mode 120000\n"
        b"index 0000000..1111111\n"
        b"--- /dev/null\n"
        b"+++ b/magic/.git\n"
        b"@@ -0,0 +1 @@\n"
        b"+..\n"
        b"\\ No newline at end of file\n"
    )
    root = make_sdist(tmp_path)
    with pytest.raises(PatchError, match=r"git\.patch.*magic/\.git.*named \.git"):
        apply_patches(root, [patch("git.patch", diff)])


def test_tree_check_finds_hard_links_out_fifos_and_link_loops(tmp_path: Path) -> None:
    from pyhotfix.patching.treecheck import check_tree

    root = make_sdist(tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("password\n")
    os.link(secret, root / "magic/secret.txt")  # a link to a file outside
    os.link(root / "setup.py", root / "setup2.py")  # both names inside: harmless
    os.mkfifo(root / "magic/pipe")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("magic/../setup.py", root / "ok-link")
    (root / ".git").mkdir()  # pyhotfix's own repository is not walked
    os.symlink("/etc/passwd", root / ".git" / "ignored")

    problems = {p.path: p.problem for p in check_tree(root)}

    assert set(problems) == {"magic/secret.txt", "magic/pipe", "loop-a", "loop-b"}
    assert "hard link" in problems["magic/secret.txt"]
    assert "FIFO" in problems["magic/pipe"]
    assert "loops" in problems["loop-a"]


def test_sdist_with_a_link_out_is_refused_after_patching(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    write(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)})
    root = make_sdist(tmp_path)
    os.symlink("/etc/hostname", root / "magic/host.txt")

    with pytest.raises(PatchError, match=r"The sdist of magic 1\.0.*magic/host\.txt.*absolute"):
        apply_patches(root, [patch("fix.patch", git(repo, "diff"))], target="magic 1.0")


def git_base85(data: bytes) -> bytes:
    """Data lines of a `GIT binary patch` block, encoded as git writes them."""
    import base64

    out = b""
    for i in range(0, len(data), 52):
        chunk = data[i : i + 52]
        length = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[len(chunk) - 1]
        out += bytes([length]) + base64.b85encode(chunk, pad=True) + b"\n"
    return out


def binary_section(kind: str, declared: int, data: bytes) -> bytes:
    return (
        b"diff --git a/magic/data.bin b/magic/data.bin\n"
        b"index " + b"1" * 40 + b".." + b"2" * 40 + b" 100644\n"
        b"GIT binary patch\n" + f"{kind} {declared}\n".encode() + git_base85(data) + b"\n"
    )


def test_binary_literal_declaring_a_huge_file_is_refused(tmp_path: Path) -> None:
    import zlib

    root = make_sdist(tmp_path)
    (root / "magic/data.bin").write_bytes(b"\0" * 64)
    section = binary_section("literal", 10**12, zlib.compress(b"\0" * 64))
    with pytest.raises(
        PatchError, match=r"bomb\.patch.*magic/data\.bin.*1000000000000 bytes.*limit"
    ):
        apply_patches(root, [patch("bomb.patch", section)])


def test_binary_delta_declaring_a_huge_result_is_refused(tmp_path: Path) -> None:
    import zlib

    # A 30-byte delta: base size 64, result size 2**40, one copy instruction of the base.
    delta = bytes([64]) + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]) + b"\x90\x40"
    root = make_sdist(tmp_path)
    (root / "magic/data.bin").write_bytes(b"\0" * 64)
    section = binary_section("delta", len(delta), zlib.compress(delta))
    with pytest.raises(PatchError, match=r"bomb\.patch.*magic/data\.bin.*1099511627776 bytes"):
        apply_patches(root, [patch("bomb.patch", section)])


def test_real_binary_delta_still_applies(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    data = bytes((i * 7919) % 251 for i in range(20000))
    (repo / "src/magic/data.bin").write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    changed = data[:10000] + b"CHANGED" + data[10007:]
    (repo / "src/magic/data.bin").write_bytes(changed)
    git(repo, "commit", "-q", "-am", "Change data")
    mbox = git(repo, "format-patch", "--stdout", "-1")
    assert b"\ndelta " in mbox
    root = make_sdist(tmp_path)
    (root / "magic/data.bin").write_bytes(data)

    apply_patches(root, [patch("delta.patch", mbox)])

    assert (root / "magic/data.bin").read_bytes() == changed


# --------------------------------------------------------------------------------------------
# Patch files: only regular files of sane size; exit code 2 with the manifest's place
# --------------------------------------------------------------------------------------------


def test_read_patch_refuses_dev_zero_fifo_directory_and_huge_files(tmp_path: Path) -> None:
    from pyhotfix.errors import PatchFileError
    from pyhotfix.patching.files import MAX_PATCH_BYTES

    os.mkfifo(tmp_path / "fifo.patch")  # nobody writes: a blocking open would hang
    (tmp_path / "dir.patch").mkdir()
    with open(tmp_path / "huge.patch", "wb") as f:
        f.truncate(MAX_PATCH_BYTES + 1)  # sparse: costs no disk
    cases = {
        "/dev/zero": "not a regular file",
        "fifo.patch": "not a regular file",
        "dir.patch": "is a directory",
        "huge.patch": f"limit of {MAX_PATCH_BYTES} bytes (20 MiB)",
    }
    for path, problem in cases.items():
        with pytest.raises(PatchFileError) as exc:
            read_patch(FilePatch(path), tmp_path, no_fetch)
        assert exc.value.exit_code == 2
        assert path in str(exc.value) and problem in str(exc.value)


def test_missing_patch_file_error_names_manifest_line_and_key(tmp_path: Path) -> None:
    from pyhotfix.errors import PatchFileError
    from pyhotfix.manifest import parse_manifest

    manifest_path = tmp_path / "hotfixes.toml"
    manifest = parse_manifest(
        '[hotfix.magic]\nversion = "1.0"\npatches = [\n  "patches/ok.patch",\n'
        '  "patches/missing.patch",\n]\n',
        manifest_path,
    )
    source = manifest.get("magic").patches[1]
    assert source == FilePatch("patches/missing.patch")  # the place is not part of identity

    with pytest.raises(PatchFileError) as exc:
        read_patch(source, tmp_path, no_fetch)

    assert str(exc.value).startswith(
        f"{manifest_path}, line 5: hotfix.magic.patches[1] names the patch file "
        "patches/missing.patch, which does not exist"
    )
    assert exc.value.exit_code == 2


def test_url_patch_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    from pyhotfix.patching.files import MAX_PATCH_BYTES

    big = b"x" * (MAX_PATCH_BYTES + 1)
    with pytest.raises(PatchError, match="more than the limit"):
        read_patch(
            UrlPatch("https://example.org/big.patch", sha256_of(big)), tmp_path, lambda u, s: big
        )


# --------------------------------------------------------------------------------------------
# DEP-3 headers and full commit ids
# --------------------------------------------------------------------------------------------


def test_dep3_header_before_a_mail_or_a_diff_is_skipped(tmp_path: Path) -> None:
    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    mbox = git(repo, "format-patch", "--stdout", "-1")
    diff = git(repo, "diff", "HEAD~1")
    header = b"Origin: https://example.org/pull/1.patch\nBug: https://example.org/1\n\n"
    for name, content in {"mail": header + mbox, "diff": header + diff}.items():
        root = make_sdist(tmp_path, name=name)
        apply_patches(root, [patch(f"{name}.patch", content)], keep_git=True)
        assert "return 42" in (root / "magic/__init__.py").read_text()
        subject = git(root, "log", "-1", "--format=%s %an").decode().strip()
        # The mail is applied with git am (author and subject kept), the diff with git apply.
        assert subject == (
            "Fix answer Upstream Dev" if name == "mail" else "Apply diff.patch pyhotfix"
        )


def test_resolve_commit_gives_the_full_sha(tmp_path: Path) -> None:
    from pyhotfix.patching import resolve_commit

    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    sha = git(repo, "rev-parse", "HEAD").decode().strip()

    assert resolve_commit(GitPatch("upstream", sha[:7]), tmp_path) == GitPatch("upstream", sha)
    url = repo.as_uri()
    assert resolve_commit(GitPatch(url, sha[:10]), tmp_path / "x") == GitPatch(url, sha)
    with pytest.raises(PatchError, match="was not found"):
        resolve_commit(GitPatch("upstream", "0123456"), tmp_path)


# A tree with a few directories and up to five symlinks with targets made of "..", ".", names of
# the tree's entries and ".git": whatever check_tree accepts, the kernel resolves inside the tree.
_COMPONENTS = st.sampled_from(["..", ".", "a", "b", "c", "l0", "l1", "l2", "f.txt", ".git"])
_LINK_DIRS = st.sampled_from(["", "a", "a/b", "c"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    links=st.lists(
        st.tuples(_LINK_DIRS, st.lists(_COMPONENTS, min_size=1, max_size=6)),
        min_size=1,
        max_size=5,
    )
)
def test_tree_check_never_accepts_a_link_the_kernel_resolves_outside(
    tmp_path_factory: pytest.TempPathFactory, links: list[tuple[str, list[str]]]
) -> None:
    from pyhotfix.patching.treecheck import check_tree

    base = tmp_path_factory.mktemp("tree")
    root = base / "root"
    for d in ("a/b", "c"):
        (root / d).mkdir(parents=True)
    (root / "a/b/f.txt").write_text("inside\n")
    (base / "f.txt").write_text("outside\n")
    for i, (directory, parts) in enumerate(links):
        os.symlink("/".join(parts), root / directory / f"l{i}")

    flagged = {p.path for p in check_tree(root)}

    real_root = os.path.realpath(root)
    for i, (directory, _parts) in enumerate(links):
        rel = f"{directory}/l{i}" if directory else f"l{i}"
        if rel in flagged:
            continue
        resolved = os.path.realpath(root / rel)
        assert resolved == real_root or resolved.startswith(real_root + os.sep), (rel, resolved)
        assert ".git" not in Path(resolved).relative_to(real_root).parts


def test_dep3_origin_keeps_mails_and_diffs_readable(tmp_path: Path) -> None:
    from pyhotfix.patching.dep3 import origin_of, subject_of, with_origin
    from pyhotfix.patching.diff import parse_patch

    repo = make_upstream(tmp_path)
    commit_change(repo, {"src/magic/__init__.py": fix_answer(INIT_V1)}, "Fix answer")
    mbox = git(repo, "format-patch", "--stdout", "-1")
    diff = git(repo, "diff", "HEAD~1")
    crlf = mbox.replace(b"\n", b"\r\n")
    url = "https://example.org/pull/1.patch"
    for content in (mbox, diff, crlf):
        stored = with_origin(content, url)
        assert origin_of(stored) == url
        assert with_origin(stored, url) == stored  # idempotent
        is_mbox, messages = parse_patch("p", content)
        stored_mbox, stored_messages = parse_patch("p", stored)
        assert stored_mbox == is_mbox
        assert [len(m.sections) for m in stored_messages] == [len(m.sections) for m in messages]
        assert [m.subject for m in stored_messages] == [m.subject for m in messages]
    assert subject_of(mbox) == "Fix answer" and subject_of(diff) is None
    assert with_origin(crlf, url).split(b"\r\n")[1] == b"Origin: " + url.encode()
    with pytest.raises(ValueError):
        with_origin(diff, "https://x/\nFrom: evil")


@pytest.mark.parametrize("keep_git", [False, True])  # True: how `edit` and `rebase` apply
def test_patch_retargeting_an_existing_symlink_out_of_the_tree_is_refused(
    tmp_path: Path, keep_git: bool
) -> None:
    repo = make_upstream(tmp_path)
    os.symlink("__init__.py", repo / "src/magic/alias.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "alias")
    (repo / "src/magic/alias.py").unlink()
    os.symlink("/root/.ssh/id_rsa", repo / "src/magic/alias.py")
    git(repo, "commit", "-q", "-am", "retarget")
    mbox = git(repo, "format-patch", "--stdout", "-1")
    assert b" 120000\n" in mbox and b"new file mode" not in mbox
    root = make_sdist(tmp_path)
    os.symlink("__init__.py", root / "magic/alias.py")

    with pytest.raises(PatchError, match=r"retarget\.patch.*magic/alias\.py.*/root/\.ssh/id_rsa"):
        apply_patches(root, [patch("retarget.patch", mbox)], keep_git=keep_git)
    assert os.readlink(root / "magic/alias.py") == "__init__.py"


# --------------------------------------------------------------------------------------------
# The package's public names
# --------------------------------------------------------------------------------------------


def test_public_names_import_from_the_package_lazily() -> None:
    """`from pyhotfix.patching import X` works for every name of __all__, but importing
    `patching.files` (as a `build` with nothing to do does) loads no git or email code."""
    code = (
        "import sys, pyhotfix.pipeline, pyhotfix.patching.files\n"
        "print(sorted(m for m in sys.modules if m.startswith('pyhotfix.patching')))\n"
        "print('email.policy' in sys.modules)\n"
        "import pyhotfix.patching as p\n"
        "print([getattr(p, n).__module__ for n in p.__all__ if hasattr(getattr(p, n), '__module__')])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded, email_loaded, homes = proc.stdout.splitlines()
    assert loaded == "['pyhotfix.patching', 'pyhotfix.patching.files']"
    assert email_loaded == "False"
    assert "pyhotfix.patching.apply" in homes and "pyhotfix.patching.sources" in homes


def test_unknown_package_name_is_an_attribute_error() -> None:
    import pyhotfix.patching

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pyhotfix.patching.nope  # noqa: B018
    assert set(pyhotfix.patching.__all__) <= set(dir(pyhotfix.patching))
