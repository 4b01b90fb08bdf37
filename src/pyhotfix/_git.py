"""The one way pyhotfix runs git: isolated environments, a runner, and a repository wrapper.

`patching` (the throwaway repository inside an unpacked sdist, git patch sources) and `lifecycle`
(workspaces, series, replays) both drive git through this module. `run_git` is the runner; a
`Git` takes another one (`GitRunner`) where a caller or a test wants to watch or count calls.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pyhotfix.errors import PatchError

__all__ = [
    "FIXED_DATE",
    "ISOLATED_CONFIG",
    "Git",
    "GitFailure",
    "GitRunner",
    "err_text",
    "git_failure",
    "isolated_env",
    "run_git",
    "user_env",
]

# A fixed date makes the throwaway commits (kept with keep_git) reproducible.
FIXED_DATE = "@946684800 +0000"

# Settings that make the throwaway repository independent of the user's git configuration.
ISOLATED_CONFIG = (
    "user.name=pyhotfix",
    "user.email=pyhotfix@localhost",
    "commit.gpgsign=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.fileMode=true",
    "core.ignoreCase=false",
    "core.quotePath=true",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "apply.whitespace=nowarn",
    "am.keepcr=true",
    "am.threeWay=true",
    "merge.conflictStyle=merge",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
)

# Variables that would point git at another repository, index or configuration.
_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
    }
)


def user_env() -> dict[str, str]:
    """The caller's environment (credentials, proxies) minus anything redirecting git."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _LOCATION_VARS and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0")  # we parse git's English
    return env


# What git needs from the caller's environment for local work (finding its helpers, a home and
# a temp directory); nothing else, so no variable can change what it does, and each of the
# thousands of git processes `status` starts has a small environment to copy (the full one cost
# about a fifth of status's own CPU time).
_KEPT_FOR_LOCAL_GIT = ("PATH", "HOME", "TMPDIR", "GIT_EXEC_PATH", "SYSTEMROOT")


def isolated_env() -> dict[str, str]:
    """An environment in which no user or system git configuration applies, with a fixed
    identity and date (reproducible commits)."""
    env = {k: v for k in _KEPT_FOR_LOCAL_GIT if (v := os.environ.get(k)) is not None}
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="pyhotfix",
        GIT_AUTHOR_EMAIL="pyhotfix@localhost",
        GIT_COMMITTER_NAME="pyhotfix",
        GIT_COMMITTER_EMAIL="pyhotfix@localhost",
        GIT_AUTHOR_DATE=FIXED_DATE,
        GIT_COMMITTER_DATE=FIXED_DATE,
    )
    return env


@functools.lru_cache(maxsize=8)
def _git_executable(search_path: str | None) -> str:
    """git's absolute path on `search_path`, looked up once (subprocess would search PATH again
    for each of the thousands of git processes of a status run); "git" when it is not there, so
    that subprocess reports it missing."""
    return shutil.which("git", path=search_path) or "git"


def run_git(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    config: Sequence[str] = (),
    stdin: bytes | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git -c CONFIG... ARGS` in `cwd`; a missing git or a timeout is a PatchError."""
    cmd = [_git_executable(env.get("PATH"))]
    for item in config:
        cmd += ["-c", item]
    cmd += args
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise PatchError(
            "git was not found on PATH; pyhotfix uses git to apply patches. Install git and retry."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise PatchError(
            f"git {args[0]} did not finish within {timeout:.0f} seconds in {cwd}; check the "
            "network and the repository address, then retry."
        ) from exc


# The signature of `run_git`, for callers that pass another runner in.
GitRunner = Callable[..., subprocess.CompletedProcess[bytes]]
# Turns a failed `git ARGS` in a repository into the error to raise.
GitFailure = Callable[[Sequence[str], subprocess.CompletedProcess[bytes], Path], PatchError]


def err_text(proc: subprocess.CompletedProcess[bytes]) -> str:
    """git's stderr on one line ("no output" when it said nothing)."""
    text = (proc.stderr or b"").decode("utf-8", "replace").strip()
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()) or "no output"


def git_failure(
    args: Sequence[str], proc: subprocess.CompletedProcess[bytes], where: Path
) -> PatchError:
    """The default error for a git command that had to succeed."""
    said = (proc.stderr or b"").decode("utf-8", "replace").strip()
    detail = " / ".join(line.strip() for line in said.splitlines() if line.strip())
    hint = ""
    if "merge-tree" in args and ("usage" in said or "unknown option" in said):
        hint = " pyhotfix needs git 2.38 or newer for three-way checks; upgrade git."
    return PatchError(
        f"git {args[0]} failed in {where}: {detail or 'no output'}.{hint} Check that git works "
        "and that the disk is not full, then try again."
    )


class Git:
    """git in one repository, isolated from the user's configuration (`ISOLATED_CONFIG`, and
    `isolated_env()` unless another environment is given)."""

    def __init__(
        self,
        root: Path,
        env: Mapping[str, str] | None = None,
        *,
        runner: GitRunner = run_git,
        failure: GitFailure = git_failure,
    ) -> None:
        self.root = root
        self.env = dict(env if env is not None else isolated_env())
        self.runner = runner
        self.failure = failure

    def with_env(self, **extra: str) -> Git:
        """The same repository with `extra` added to the environment (e.g. GIT_INDEX_FILE)."""
        return Git(self.root, {**self.env, **extra}, runner=self.runner, failure=self.failure)

    def run(
        self, *args: str, stdin: bytes | None = None, config: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[bytes]:
        return self.runner(
            args, self.root, self.env, config=(*ISOLATED_CONFIG, *config), stdin=stdin
        )

    def must(self, *args: str, stdin: bytes | None = None, config: Sequence[str] = ()) -> bytes:
        """stdout of `git ARGS`, which must succeed (else `self.failure`'s error)."""
        proc = self.run(*args, stdin=stdin, config=config)
        if proc.returncode != 0:
            raise self.failure(args, proc, self.root)
        return proc.stdout

    def text(self, *args: str, stdin: bytes | None = None) -> str:
        return self.must(*args, stdin=stdin).decode("utf-8", "surrogateescape").strip()

    def head(self) -> str:
        return self.text("rev-parse", "HEAD")

    def tree_of(self, commit: str) -> str:
        return self.text("rev-parse", f"{commit}^{{tree}}")

    def commit_tree(self, tree: str, parent: str | None, message: str) -> str:
        """A commit of `tree` (on `parent`, or a root commit) with `message`; not checked out."""
        parents = ("-p", parent) if parent else ()
        return self.text("commit-tree", tree, *parents, stdin=message.encode())

    def tracked(self) -> set[str]:
        out = self.must("ls-files", "-z")
        return {os.fsdecode(name) for name in out.split(b"\0") if name}

    def changed(self, since: str, until: str = "HEAD") -> tuple[str, ...]:
        out = self.must("diff", "--name-only", "--no-renames", "-z", since, until)
        return tuple(os.fsdecode(p) for p in out.split(b"\0") if p)

    def scratch_index(self) -> Git:
        """A Git whose index is a private file (the real index and work tree stay untouched)."""
        path = self.root / ".git" / f"pyhotfix-index-{uuid.uuid4().hex}"
        return self.with_env(GIT_INDEX_FILE=str(path))

    def drop_index(self) -> None:
        index = self.env.get("GIT_INDEX_FILE")
        if index:
            Path(index).unlink(missing_ok=True)
