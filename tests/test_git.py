"""The git runner: isolation from the user's configuration, the runner passed in, errors."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pyhotfix._git import Git, isolated_env, run_git, user_env
from pyhotfix.errors import PatchError


def test_user_env_drops_variables_that_redirect_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.pager")
    monkeypatch.setenv("GIT_ASKPASS", "/bin/true")  # a credential helper stays
    env = user_env()
    assert "GIT_DIR" not in env and "GIT_CONFIG_KEY_0" not in env
    assert env["GIT_ASKPASS"] == "/bin/true"
    assert env["LC_ALL"] == "C" and env["GIT_TERMINAL_PROMPT"] == "0"


def test_isolated_repository_ignores_hostile_global_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A global config that would sign commits with a missing key and rewrite line endings.
    (home / ".gitconfig").write_text(
        "[commit]\n\tgpgsign = true\n[user]\n\tsigningkey = nothere\n[core]\n\tautocrlf = true\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.txt").write_bytes(b"one\r\n")
    git = Git(root)
    assert "GIT_DIR" not in git.env and git.env == {**isolated_env(), **git.env}
    git.must("init", "--quiet", "--template=", ".")
    git.must("add", "--all")
    tree = git.text("write-tree")
    first = git.commit_tree(tree, None, "first")
    second = git.commit_tree(tree, first, "second")
    assert git.tree_of(second) == tree
    assert git.text("cat-file", "blob", f"{second}:a.txt") == "one"  # CRLF kept byte for byte
    assert git.must("cat-file", "blob", f"{second}:a.txt") == b"one\r\n"
    assert git.text("log", "--format=%an %ad", "--date=unix", second).splitlines() == [
        "pyhotfix 946684800",
        "pyhotfix 946684800",
    ]
    assert not (tmp_path / "elsewhere").exists()


def test_scratch_index_leaves_the_real_index_alone(tmp_path: Path) -> None:
    git = Git(tmp_path)
    git.must("init", "--quiet", "--template=", ".")
    (tmp_path / "a").write_text("a\n")
    scratch = git.scratch_index()
    scratch.must("add", "a")
    assert scratch.tracked() == {"a"}
    assert git.tracked() == set()
    index = Path(scratch.env["GIT_INDEX_FILE"])
    assert index.parent == tmp_path / ".git" and index.exists()
    scratch.drop_index()
    assert not index.exists()


def test_must_raises_the_repository_s_failure(tmp_path: Path) -> None:
    git = Git(tmp_path)
    git.must("init", "--quiet", "--template=", ".")
    with pytest.raises(PatchError, match=r"git rev-parse failed in .*Check that git works"):
        git.must("rev-parse", "--verify", "no-such-ref")

    def failure(args: Sequence[str], proc: Any, where: Path) -> PatchError:
        return PatchError(f"custom {args[0]} {proc.returncode} {where.name}")

    with pytest.raises(PatchError, match=rf"^custom rev-parse 128 {tmp_path.name}$"):
        Git(tmp_path, failure=failure).with_env(X="1").must("rev-parse", "no-such-ref")


def test_the_runner_passed_in_runs_every_command(tmp_path: Path) -> None:
    calls: list[tuple[str, ...]] = []

    def counting(args: Sequence[str], cwd: Path, env: Any, **kw: Any) -> Any:
        calls.append(tuple(args))
        return run_git(args, cwd, env, **kw)

    git = Git(tmp_path, runner=counting).with_env(GIT_INDEX_FILE=str(tmp_path / "idx"))
    git.must("init", "--quiet", "--template=", ".")
    assert git.text("write-tree") == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # empty tree
    assert calls == [("init", "--quiet", "--template=", "."), ("write-tree",)]


def test_missing_git_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="git was not found on PATH"):
        run_git(["version"], tmp_path, {"PATH": str(tmp_path)})


def test_timeout_is_a_clear_error(tmp_path: Path) -> None:
    # A "git" on PATH that hangs (exec: the process killed on timeout is the one holding the pipes).
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec /bin/sleep 30\n")
    fake.chmod(0o755)
    env = {**user_env(), "PATH": str(fake.parent)}
    with pytest.raises(PatchError, match=r"git clone did not finish within 0 seconds in "):
        run_git(["clone", "x"], tmp_path, env, timeout=0.3)


def test_run_returns_failures_without_raising(tmp_path: Path) -> None:
    proc = Git(tmp_path).run("rev-parse", "HEAD")
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode != 0 and proc.stderr
