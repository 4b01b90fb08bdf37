"""Publish targets: where built hotfixes go, and `publish`/`yank` on whichever one is configured.

A target is anything with the `PublishTarget` methods:

- `LocalIndex` (index/static.py): a directory, or a ``file://`` URL, holding a static simple
  repository;
- `ObjectIndex` (index/s3.py): the same layout in object storage, ``s3://bucket/prefix`` on AWS or
  any S3-compatible endpoint, with conditional writes so concurrent publishers never lose each
  other's entries;
- `pyhotfix.upload.UploadTarget`: a registry's upload endpoint (devpi, pypiserver, Artifactory,
  Nexus, GitLab, CodeArtifact), for ``https://…`` with ``upload = true`` or ``--upload URL``.

Credentials never come from the manifest: object storage uses the usual AWS environment
variables, profiles and config files (boto's chain); upload targets use their own sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from pyhotfix.distfile import file_sha256_size
from pyhotfix.errors import PublishError, UsageError
from pyhotfix.index import IndexEntry, LocalIndex, PublishResult
from pyhotfix.index.s3 import ObjectIndex, S3Storage
from pyhotfix.lock import lock_path, read_lock
from pyhotfix.manifest import DEFAULT_INDEX, Manifest, Settings

if TYPE_CHECKING:
    from pyhotfix.provenance.signing import SigningIdentity


def _redact(url: str) -> str:
    # Imported here: pyhotfix.upstream pulls in httpx, which commands with nothing to publish skip.
    from pyhotfix.httpclient import redact

    return redact(url)


__all__ = [
    "ObjectIndex",
    "PublishStatus",
    "PublishTarget",
    "PublishedFile",
    "S3Storage",
    "publish_built",
    "resolve_target",
    "source_index",
]


class PublishTarget(Protocol):
    """Where hotfixes are published. Every method raises a PyhotfixError the user can act on."""

    description: str  # for messages; credentials redacted

    def project_entries(self, name: str) -> list[IndexEntry]: ...

    def has_files(
        self, name: str, filenames: Iterable[str], sha256s: Mapping[str, str] | None = None
    ) -> bool: ...

    def publish(
        self,
        name: str,
        files: Sequence[Path],
        *,
        tracks: str | None = None,
        statements: Mapping[str, bytes] | None = None,
        signed: Mapping[str, bytes] | None = None,
    ) -> PublishResult: ...

    def yank(self, name: str, version: str, reason: str | None) -> list[str]: ...

    def unyank(self, name: str, version: str) -> list[str]: ...


# -- choosing the target ------------------------------------------------------------------------


def resolve_target(
    settings: Settings,
    manifest_dir: Path,
    override: str | None = None,
    upload_url: str | None = None,
) -> PublishTarget:
    """The target named by `upload_url` (--upload), else `override` (--to; a relative path is
    relative to the current directory), else `[settings] index` (relative to the manifest)."""
    if upload_url is not None:
        if override is not None:
            raise UsageError("--to and --upload each name a target: give only one of them.")
        return _upload_target(upload_url)
    target = settings.index if override is None else override
    where = "[settings] index" if override is None else "--to"
    if "://" not in target:
        path = Path(target).expanduser()
        return LocalIndex(manifest_dir / path if override is None else path.absolute())
    scheme = urlsplit(target).scheme.lower()
    if scheme == "file":
        return LocalIndex(Path(unquote(urlsplit(target).path)))
    if scheme == "s3":
        return ObjectIndex(target, endpoint_url=settings.endpoint_url)
    if scheme in ("gs", "gcs", "az", "abfs", "abfss"):
        raise _not_yet(target, scheme)
    if scheme in ("http", "https"):
        if override is None and settings.upload:
            return _upload_target(target)
        how = (
            "set `upload = true` in [settings]"
            if override is None
            else f"use `--upload {_redact(target)}` instead of --to"
        )
        raise UsageError(
            f"{where} {_redact(target)!r} is an http(s) URL, and pyhotfix cannot write a static index "
            f"through HTTP. If it is a registry's upload endpoint (devpi, pypiserver, "
            f"Artifactory, Nexus, GitLab, CodeArtifact: the URL twine uploads to), {how}. "
            "Otherwise publish to a directory, file:// or s3:// URL and serve that at this URL "
            "(see the README)."
        )
    raise UsageError(
        f"{where} {_redact(target)!r}: unsupported scheme {scheme!r}. Use a directory, a file:// "
        "URL, s3://BUCKET/PREFIX, or an upload endpoint (https://… with upload = true)."
    )


def _upload_target(url: str) -> PublishTarget:
    from pyhotfix.upload import UploadTarget  # httpx/twine machinery only when it is used

    target: PublishTarget = UploadTarget(url)
    return target


def _not_yet(target: str, scheme: str) -> UsageError:
    package = "gcsfs" if scheme in ("gs", "gcs") else "adlfs"
    return UsageError(
        f"{_redact(target)}: publishing to {scheme}:// is not supported yet. A safe publish needs "
        f"conditional writes (If-Match), which pyhotfix uses on S3 only so far; {package} would "
        "give access but not that guarantee. Publish to a directory and sync it to the bucket "
        "with one writer at a time (e.g. `gsutil rsync` / `azcopy sync`, files before pages), or "
        "use the bucket's S3-compatible endpoint with s3:// and [settings] endpoint_url."
    )


# -- publishing what the lock records -----------------------------------------------------------


PublishStatus = Literal["added", "unchanged"]


@dataclass(frozen=True)
class PublishedFile:
    name: str
    filename: str
    status: PublishStatus


def source_index(manifest: Manifest, source: Path | None = None) -> LocalIndex:
    """Where `build` put the files: `source`, else the manifest's index if it is a directory,
    else the default `hotfix-index/` beside the manifest."""
    if source is not None:
        return LocalIndex(source)
    default = resolve_target(manifest.settings, manifest.directory)
    return (
        default
        if isinstance(default, LocalIndex)
        else LocalIndex(manifest.directory / DEFAULT_INDEX)
    )


def publish_built(
    manifest: Manifest,
    target: PublishTarget,
    names: Sequence[str],
    source: LocalIndex,
    on_project: Callable[[str], None] = lambda name: None,
    signing: SigningIdentity | None = None,
) -> list[PublishedFile]:
    """Publish the files the lock records for `names` (default: every hotfix in the manifest)
    from `source` to `target`. Every file is found and checked against the lock's sha256 and
    size before anything is published; any problem stops the whole command. Each file's
    provenance statement is regenerated from the lock and published with it; with `signing`,
    a signed PEP 740 provenance object too."""
    from pyhotfix.provenance.statement import statements_for  # only when publishing
    lock = read_lock(lock_path(manifest.path))
    specs = [manifest.get(n) for n in names] if names else list(manifest.hotfixes)
    if not specs:
        raise UsageError(f"{manifest.path} has no hotfixes to publish.")
    problems: list[str] = []
    plan: list[tuple[str, list[Path], str | None, dict[str, bytes]]] = []
    for spec in specs:
        locked = lock.get(spec.name)
        if locked is None or locked.version != spec.version:
            problems.append(f"{spec.name} {spec.version} has not been built (no lock entry)")
            continue
        paths = []
        for f in locked.files:
            path = _find_built(source, spec.name, f.filename)
            if path is None:
                problems.append(f"{f.filename} is not in {source.root}")
                continue
            digest, size = file_sha256_size(path)
            if digest != f.sha256 or size != f.size:
                problems.append(
                    f"{path} does not match the lock (sha256 {digest[:12]}…, lock "
                    f"{f.sha256[:12]}…): it was changed after it was built, so it is neither "
                    f"published nor overwritten; delete it and run `pyhotfix build {spec.name}`, "
                    "which rebuilds the byte-identical file and restores it"
                )
                continue
            paths.append(path)
        tracks = source.project_tracks(spec.name) if not problems else ()
        plan.append((spec.name, paths, tracks[0] if tracks else None, statements_for(locked)))
    if problems:
        raise PublishError(
            "Nothing was published: " + "; ".join(problems) + ". Run `pyhotfix build` (it "
            "writes the files to the manifest's index and records them in hotfixes.lock), or "
            "point --from at the index directory that holds the built files."
        )
    published: list[PublishedFile] = []
    for name, paths, tracks_url, statements in plan:
        on_project(name)
        signed = None
        if signing is not None:
            from pyhotfix.provenance.signing import sign_files

            signed = sign_files(paths, signing)
        result = target.publish(
            name, paths, tracks=tracks_url, statements=statements, signed=signed
        )
        published.extend(PublishedFile(name, f, "added") for f in result.added)
        published.extend(PublishedFile(name, f, "unchanged") for f in result.unchanged)
    return published


def _find_built(source: LocalIndex, name: str, filename: str) -> Path | None:
    for path in (source.simple / canonicalize_name(name) / filename, source.root / filename):
        if path.is_file():
            return path
    return None
