"""Patch sources → bytes: a file beside the manifest, a URL (downloaded by the `fetch_url` passed
in, sha256 checked) or a git commit (`git format-patch` of REPO@COMMIT), as a `PatchInput`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyhotfix._git import err_text, run_git, user_env
from pyhotfix.errors import PatchError
from pyhotfix.manifest import FilePatch, GitPatch, PatchSource, UrlPatch
from pyhotfix.patching.files import MAX_PATCH_BYTES, read_patch_file

__all__ = ["FORMAT_PATCH_ARGS", "PatchInput", "read_patch", "resolve_commit", "sha256_of"]


@dataclass(frozen=True)
class PatchInput:
    """A patch's bytes and how the user knows it (file path, URL or "repo@commit")."""

    label: str
    content: bytes
    sha256: str


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_patch(
    source: PatchSource, base_dir: Path, fetch_url: Callable[[str, str | None], bytes]
) -> PatchInput:
    """Fetch one patch named in the manifest; `base_dir` is the manifest's directory.

    `fetch_url(url, sha256)` downloads a URL (and should check the hash itself; it is re-checked
    here). A git source is turned into a patch with `git format-patch -1 --stdout COMMIT`, so the
    commit message is kept when the patch is applied.
    """
    if isinstance(source, FilePatch):
        label = source.path
        content = read_patch_file(base_dir / source.path, source.path, source.where)
    elif isinstance(source, UrlPatch):
        label = source.url
        try:
            content = fetch_url(source.url, source.sha256)
        except OSError as exc:
            raise PatchError(
                f"The patch {source.url} could not be downloaded: {exc}. Check the URL and the "
                "network, then retry."
            ) from exc
        expected = source.sha256.strip().lower().removeprefix("sha256:")
        actual = sha256_of(content)
        if actual != expected:
            raise PatchError(
                f"The patch downloaded from {source.url} has sha256 {actual}, but the manifest "
                f"pins {expected}. The file changed upstream or the pin is wrong; check the patch "
                "content and update the sha256 in the manifest only if you trust the new file."
            )
    elif isinstance(source, GitPatch):
        label = f"{source.repo}@{source.commit}"
        content = _read_git_commit(source, base_dir, label)
    else:  # pragma: no cover - exhaustive over PatchSource
        raise PatchError(f"Unsupported patch source {source!r}.")
    if len(content) > MAX_PATCH_BYTES:
        raise PatchError(
            f"The patch {label} is {len(content)} bytes, more than the limit of "
            f"{MAX_PATCH_BYTES} bytes for a patch. Check that it is the patch meant; split a "
            "genuinely larger change into several patches."
        )
    if not content.strip():
        raise PatchError(
            f"The patch {label} is empty. Point the manifest at a non-empty unified diff or "
            "git format-patch file."
        )
    return PatchInput(label=label, content=content, sha256=sha256_of(content))


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")
_NETWORK_TIMEOUT = 600.0


@contextlib.contextmanager
def _git_repo(
    source: GitPatch, base_dir: Path, label: str
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The repository of a git patch source (a blobless clone for a URL) and the env for git."""
    env = user_env()  # keep the user's credentials/proxy settings for clones
    if not _URL_LIKE.match(source.repo):
        repo = base_dir / source.repo
        if not repo.exists():
            raise PatchError(
                f"The git repository {source.repo} of patch {label} does not exist (looked for "
                f"{repo}; local paths are relative to the manifest directory {base_dir}). Fix "
                "the repo path in the manifest."
            )
        yield repo, env
        return
    with tempfile.TemporaryDirectory(prefix="pyhotfix-git-") as tmp:
        clone = Path(tmp) / "repo.git"
        # A blobless bare clone is enough: format-patch fetches the few blobs it needs lazily.
        proc = run_git(
            ["clone", "--quiet", "--bare", "--filter=blob:none", source.repo, str(clone)],
            Path(tmp),
            env,
            timeout=_NETWORK_TIMEOUT,
        )
        if proc.returncode != 0:
            raise PatchError(
                f"The git repository {source.repo} of patch {label} could not be cloned: "
                f"{err_text(proc)}. Check the URL, your access to it and the network."
            )
        if not _has_commit(clone, source.commit, env):
            # Commits only reachable from e.g. refs/pull/N/head are not cloned; ask for it.
            run_git(
                ["fetch", "--quiet", "--filter=blob:none", "origin", source.commit],
                clone,
                env,
                timeout=_NETWORK_TIMEOUT,
            )
        yield clone, env


def _read_git_commit(source: GitPatch, base_dir: Path, label: str) -> bytes:
    with _git_repo(source, base_dir, label) as (repo, env):
        return _format_patch(repo, source.commit, label, source.repo, env)


def resolve_commit(source: GitPatch, base_dir: Path) -> GitPatch:
    """`source` with its commit as the full 40-hex SHA, resolved in the repository (cloned when
    it is a URL), so a short and a full SHA of one commit are recognised as the same patch."""
    label = f"{source.repo}@{source.commit}"
    with _git_repo(source, base_dir, label) as (repo, env):
        return GitPatch(
            repo=source.repo, commit=_full_sha(repo, source.commit, label, source.repo, env)
        )


# Explicit options so the user's format.*/diff.* configuration cannot change the output.
FORMAT_PATCH_ARGS = (
    *("format-patch", "-1", "--stdout", "--full-index", "--binary", "--no-color"),
    *("--no-signature", "--no-attach", "--no-cover-letter", "--no-relative"),
    *("--src-prefix=a/", "--dst-prefix=b/"),
)


def _has_commit(repo: Path, commit: str, env: dict[str, str]) -> bool:
    proc = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo, env)
    return proc.returncode == 0


def _full_sha(repo: Path, commit: str, label: str, where: str, env: dict[str, str]) -> str:
    if commit.startswith("-"):
        raise PatchError(f"The commit {commit!r} of patch {label} is not a valid commit name.")
    proc = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo, env)
    if proc.returncode != 0:
        detail = err_text(proc)
        raise PatchError(
            f"The commit {commit} of patch {label} was not found in the git repository {where}"
            + ("" if detail == "no output" else f" (git said: {detail})")
            + ". Check the commit hash in the manifest and that the commit is in that repository."
        )
    return proc.stdout.decode().strip()


def _format_patch(repo: Path, commit: str, label: str, where: str, env: dict[str, str]) -> bytes:
    sha = _full_sha(repo, commit, label, where, env)
    proc = run_git(
        [*FORMAT_PATCH_ARGS, sha],
        repo,
        env,
        config=("diff.noprefix=false", "diff.mnemonicPrefix=false", "core.quotePath=true"),
        timeout=_NETWORK_TIMEOUT,
    )
    if proc.returncode != 0:
        raise PatchError(
            f"git format-patch failed for commit {commit} of patch {label}: {err_text(proc)}. "
            "Check that the repository is complete and reachable."
        )
    if b"\ndiff --git " not in proc.stdout:
        raise PatchError(
            f"The commit {commit} of patch {label} has no diff of its own (is it a merge or empty "
            "commit?). Name the single non-merge commit that carries the fix."
        )
    return proc.stdout
