"""`pyhotfix add --patch VALUE…` → manifest patch entries, minus those the hotfix already has.

- a path: must be a regular file of sane size (`files`); recorded relative to the manifest;
- an http(s):// or file:// URL: downloaded once and stored as `patches/<name>/NNNN-<slug>.patch`
  with a DEP-3 `Origin:` (`dep3`), listed as that file, so a forge regenerating its `.patch`
  output cannot break a rebuild; a URL already stored for the hotfix is not downloaded again;
- `git+REPO@COMMIT`: the commit resolved to its full SHA, so short and full SHAs are one patch.

The download is passed in (`download(url, expected_sha256) -> path of the checked file`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from pyhotfix.errors import PatchError, PyhotfixError, UsageError
from pyhotfix.manifest import (
    FilePatch,
    GitPatch,
    Manifest,
    PatchSource,
    Settings,
    load_manifest,
)
from pyhotfix.patching.dep3 import origin_of, subject_of, with_origin
from pyhotfix.patching.files import read_patch_file
from pyhotfix.patching.sources import resolve_commit

__all__ = ["URL_PREFIXES", "patch_sources", "relative"]

Download = Callable[[str, str | None], Path]

URL_PREFIXES = ("http://", "https://", "file://")


def patch_sources(
    values: Sequence[str],
    hashes: list[str],
    manifest_path: Path,
    name: str,
    created: list[Path],
    download: Download,
) -> list[PatchSource]:
    """The manifest entries for `add --patch VALUE…`, minus patches the hotfix already has.

    A URL patch is downloaded once and stored as `patches/<name>/NNNN-<slug>.patch` with a DEP-3
    `Origin:` (see `dep3`), so a forge regenerating its `.patch` output cannot break a rebuild;
    files stored here (and directories made for them) are appended to `created`, for the caller
    to remove if the build fails. A git commit is resolved to its full SHA.
    """
    base_dir = manifest_path.parent
    url_count = sum(v.startswith(URL_PREFIXES) for v in values)
    if hashes and len(hashes) != url_count:
        raise UsageError(
            f"--sha256 was given {len(hashes)} time(s) for {url_count} URL patch(es); give one per URL, in order."
        )
    existing = _existing_patches(manifest_path, name)
    sources: list[PatchSource] = []
    for value in values:
        if value.startswith(URL_PREFIXES):
            expected = hashes.pop(0).lower() if hashes else None
            if _stored_from(value, [*existing, *sources], base_dir):
                continue  # stored by an earlier add: a regenerated download is the same patch
            content = _download_patch(value, expected, download)
            position = len(existing) + len(sources) + 1
            sources.append(_store_url_patch(value, content, manifest_path, name, position, created))
        elif value.startswith("git+"):
            repo, sep, commit = value[4:].rpartition("@")
            if not sep or not repo or not commit:
                raise UsageError(f"{value!r} is not git+REPO@COMMIT.")
            if "://" not in repo and Path(repo).exists():
                repo = relative(Path(repo), base_dir)
            source = resolve_commit(GitPatch(repo=repo, commit=commit.lower()), base_dir)
            if not _listed_commit(source, [*existing, *sources], base_dir):
                sources.append(source)
        else:
            path = Path(value)
            read_patch_file(path, value)  # a regular file of sane size, or a clear error
            sources.append(FilePatch(path=relative(path, base_dir)))
    return sources


def _existing_patches(manifest_path: Path, name: str) -> tuple[PatchSource, ...]:
    if not manifest_path.exists():
        return ()
    manifest = load_manifest(manifest_path)
    wanted = canonicalize_name(name)
    return next((s.patches for s in manifest.hotfixes if s.name == wanted), ())


def _stored_from(url: str, listed: Sequence[PatchSource], base_dir: Path) -> bool:
    """Whether one of the `listed` patch files was stored from `url` (its DEP-3 Origin)."""
    from pyhotfix.httpclient import redact

    for source in listed:
        if isinstance(source, FilePatch):
            with contextlib.suppress(PyhotfixError):  # an unreadable file is reported by build
                if origin_of(read_patch_file(base_dir / source.path, source.path)) == redact(url):
                    return True
    return False


def _download_patch(url: str, expected: str | None, download: Download) -> bytes:
    """The bytes of a URL patch, bounded like a patch file; checked against `expected`."""
    from pyhotfix.httpclient import redact

    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(
            f"The URL {redact(url)!r} contains control characters (a line break?). Give the "
            "patch's URL as one line."
        )

    # file:// URLs too: upstream's client reads them (regular files only, same limits).
    return read_patch_file(download(url, expected), redact(url))


def _store_url_patch(
    url: str, content: bytes, manifest_path: Path, name: str, position: int, created: list[Path]
) -> FilePatch:
    """Store a downloaded patch beside the manifest (an identical stored file is reused)."""
    from pyhotfix.httpclient import redact
    from pyhotfix.lifecycle.common import next_patch_path

    if not content.strip():
        raise PatchError(f"{redact(url)} is empty; it is not a patch. Check the URL.")
    stored = with_origin(content, redact(url))
    directory = manifest_path.parent / "patches" / canonicalize_name(name)
    for old in sorted(directory.glob("*.patch")) if directory.is_dir() else ():
        same_size = old.is_file() and old.lstat().st_size == len(stored)
        if same_size and not old.is_symlink() and old.read_bytes() == stored:
            return FilePatch(path=relative(old, manifest_path.parent))
    stem = subject_of(content) or _url_stem(url)
    holder = Manifest(manifest_path, Settings(None, "", "hotfix"), ())  # only its directory is read
    rel = next_patch_path(holder, canonicalize_name(name), stem, position)
    target = manifest_path.parent / rel
    created.extend(d for d in (target.parent.parent, target.parent) if not d.exists())
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as f:  # never overwrite a file the user has
        created.append(target)
        f.write(stored)
    return FilePatch(path=rel)


def _url_stem(url: str) -> str:
    """The name of a stored plain diff: "fix answer" for .../fix%20answer.diff."""
    last = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return last.removesuffix(".patch").removesuffix(".diff")


def _listed_commit(source: GitPatch, listed: Sequence[PatchSource], base_dir: Path) -> bool:
    """Whether the (full-SHA) commit is already among `listed`, given there by a full or short
    SHA. A short SHA is compared by prefix in the same repository, resolved in another one."""
    for other in listed:
        if not isinstance(other, GitPatch) or not source.commit.startswith(other.commit):
            continue
        if len(other.commit) == 40 or other.repo == source.repo:
            return True
        with contextlib.suppress(PyhotfixError):  # "when possible": an unreachable repo differs
            if resolve_commit(other, base_dir).commit == source.commit:
                return True
    return False


def relative(path: Path, base_dir: Path) -> str:
    """`path` as the manifest records it: relative to its directory (`..` where needed)."""
    return Path(os.path.relpath(path.absolute(), base_dir)).as_posix()
