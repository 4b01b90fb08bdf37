"""Publish hotfixes to a registry through its PyPI-compatible upload API (`uv publish`).

`UploadTarget` is the `PublishTarget` for registries that take uploads the way twine sends them
(the "legacy" upload API): devpi, pypiserver, Artifactory, Nexus, GitLab, CodeArtifact, ….

The upload itself is `uv publish` (uv is already a runtime dependency): it starts in ~0.02 s
(twine: ~0.3 s), quotes the registry's own reason when it refuses a file, and needs no extra
packages. What twine would add is reading ~/.pypirc; `pyhotfix.upload.credentials` does that,
so the same credentials work.

Immutability, which the upload API itself does not promise (a volatile devpi index or pypiserver
with ``--overwrite`` replaces files silently), is enforced around the upload:

1. the registry's simple page for the project is read first (PEP 691 JSON or PEP 503 HTML); a
   filename already there with a different sha256 refuses the whole call before anything is sent
   (when the page gives no hash, the file is downloaded and hashed); the same sha256 is a no-op;
2. only the new files are uploaded, wheels first, one `uv publish` run each;
3. the page is read again (polled for a short while: some registries index asynchronously) and
   every uploaded file must be listed with the sha256 of the bytes sent. After a failure the same
   read tells exactly which files are on the registry and which are not.

Credentials (see `pyhotfix.upload.credentials`) are given to `uv publish` through its
environment variables, and used for reading the simple page too when it is on the same host
(private registries need them for reads as well).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from packaging.utils import NormalizedName

from pyhotfix.distfile import canonical_project
from pyhotfix.errors import PublishError, UsageError
from pyhotfix.httpclient import redact
from pyhotfix.index import IndexEntry, PublishResult
from pyhotfix.upload.credentials import (
    Credentials,
    PypircRepo,
    read_pypirc,
    resolve_credentials,
    scrub_secrets,
)
from pyhotfix.upload.failures import describe_state, refusal_error, told
from pyhotfix.upload.files import LocalFile, local_files
from pyhotfix.upload.reader import RegistryReader
from pyhotfix.upload.registries import UPLOAD_URL_SHAPES, RegistryKind, registry_kind, yank_message
from pyhotfix.upload.runner import Runner, RunResult, run_subprocess, uv_publish_call

__all__ = ["UploadTarget"]

_VERIFY_TIMEOUT = 15.0


class UploadTarget:
    """A registry's upload endpoint as a publish target.

    `upload_url` is the URL twine uploads to (see the README for each registry), or the name of
    a repository section in ~/.pypirc. `simple_url` is where pip reads; when not given it is:

    - ``https://pypi.org/simple/`` / ``https://test.pypi.org/simple/`` for PyPI and TestPyPI;
    - devpi: what the index's own ``+api`` says (``https://HOST/USER/INDEX/+simple/``), asked
      on first use;
    - everyone else: ``<upload_url>/simple/`` (pypiserver, Artifactory, Nexus, GitLab,
      CodeArtifact, Gitea all serve the simple index right below the upload endpoint).

    `runner` runs `uv publish` (tests inject one); `environ` and `pypirc` default to the process
    environment and ~/.pypirc.
    """

    def __init__(
        self,
        upload_url: str,
        *,
        simple_url: str | None = None,
        runner: Runner = run_subprocess,
        environ: Mapping[str, str] | None = None,
        pypirc: Path | None = None,
        verify_timeout: float = _VERIFY_TIMEOUT,
    ) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._pypirc_path = Path.home() / ".pypirc" if pypirc is None else pypirc
        self._pypirc: list[PypircRepo] | None = None
        if "://" not in upload_url:
            upload_url = self._pypirc_repository(upload_url)
        self.upload_url, url_credentials = _split_upload_url(upload_url)
        self.description = redact(upload_url)  # "Published to <description>"
        self._url_credentials = url_credentials
        self._reader = RegistryReader(
            self.upload_url, simple_url, self._resolve_credentials, self._scrub
        )
        self._runner = runner
        self._verify_timeout = verify_timeout
        self._credentials: Credentials | None = None

    def _pypirc_repository(self, name: str) -> str:
        """The upload URL of the ~/.pypirc section `name`."""
        repo = next((r for r in self._pypirc_repos() if r.name == name), None)
        if repo is None:
            raise UsageError(
                f"{name!r} is neither an upload URL (https://…) nor the name of a "
                f"repository in {self._pypirc_path}. Give the registry's upload URL ("
                f"{UPLOAD_URL_SHAPES})."
            )
        return repo.repository

    # -- PublishTarget ----------------------------------------------------------------------

    def project_entries(self, name: str) -> list[IndexEntry]:
        """The files the registry lists for `name`, sorted by filename; [] when it has none.

        A file whose page gives no sha256 is downloaded and hashed. `size` is -1 and
        `upload_time` "" when the registry's page does not give them (they are optional).
        """
        canon = canonical_project(name)
        with self._reader.client() as client:
            listing = self._reader.listing(client, canon) or {}
            entries = []
            for filename in sorted(listing):
                remote = listing[filename]
                sha256, size = self._reader.sha256(client, remote)
                entries.append(
                    IndexEntry(
                        filename=filename,
                        sha256=sha256,
                        size=size if size is not None else -1,
                        requires_python=remote.requires_python or None,  # devpi: ""
                        core_metadata_sha256=remote.core_metadata_sha256,
                        upload_time=remote.upload_time or "",
                        yanked=remote.yanked
                        if remote.yanked_reason is None
                        else remote.yanked_reason,
                    )
                )
        return entries

    def has_files(
        self, name: str, filenames: Iterable[str], sha256s: Mapping[str, str] | None = None
    ) -> bool:
        """True if the registry lists every filename for `name` (with the given sha256 where
        `sha256s` has one)."""
        canon = canonical_project(name)
        with self._reader.client() as client:
            listing = self._reader.listing(client, canon) or {}
            for filename in filenames:
                remote = listing.get(filename)
                if remote is None:
                    return False
                wanted = (sha256s or {}).get(filename)
                if wanted is not None and self._reader.sha256(client, remote)[0] != wanted.lower():
                    return False
        return True

    def publish(
        self,
        name: str,
        files: Sequence[Path],
        *,
        tracks: str | None = None,
        statements: Mapping[str, bytes] | None = None,
        signed: Mapping[str, bytes] | None = None,
    ) -> PublishResult:
        """Upload the files of project `name` that the registry does not have yet.

        All files are checked before any is sent: a filename the registry lists with other
        bytes refuses the whole call (PublishError, nothing uploaded). `tracks` (PEP 708) is
        ignored: the upload API has no way to set it, nor `statements` (in-toto statements: the
        upload API takes only PEP 740 attestations, which must be signed), nor `signed` (not
        sent by `uv publish` yet).
        """
        del tracks, statements, signed
        canon = canonical_project(name)
        local = local_files(files, canon)
        credentials = self._resolve_credentials()
        with self._reader.client() as client:
            new, unchanged = self._precheck(client, canon, local)
            if not new:
                return PublishResult(canon, (), tuple(unchanged))
            there = self._upload_all(client, canon, new, credentials, unchanged)
            return PublishResult(canon, tuple(sorted(there)), tuple(unchanged))

    def _precheck(
        self, client: httpx.Client, canon: NormalizedName, local: Mapping[str, LocalFile]
    ) -> tuple[list[LocalFile], list[str]]:
        """(files to upload, filenames already there with the same bytes), read from the page
        before anything is sent; a file there with other bytes refuses the whole call."""
        unchanged: list[str] = []
        conflicts: list[str] = []
        new: list[LocalFile] = []
        with told("Nothing was uploaded."):
            before = self._reader.listing(client, canon) or {}
            registry_sha = {
                f: self._reader.sha256(client, before[f])[0] for f in local if f in before
            }
        for filename in sorted(local):
            if filename not in registry_sha:
                new.append(local[filename])
            elif registry_sha[filename] == local[filename].sha256:
                unchanged.append(filename)
            else:
                conflicts.append(
                    f"{filename} (registry sha256 {registry_sha[filename][:12]}…, "
                    f"new {local[filename].sha256[:12]}…)"
                )
        if conflicts:
            raise PublishError(
                f"Refused to publish to {self._where()}: the registry already has a file with "
                f"the same name but different content: {'; '.join(conflicts)}. Published "
                "files are never overwritten, because installers and lock files have already "
                "recorded their hashes. Nothing was uploaded. Bump the hotfix number "
                "(+hotfix.N+1) and publish the rebuilt files under their new names."
            )
        return new, unchanged

    def _upload_all(
        self,
        client: httpx.Client,
        canon: NormalizedName,
        new: list[LocalFile],
        credentials: Credentials,
        unchanged: Sequence[str],
    ) -> list[str]:
        """Upload `new`, then read the page until each is listed with its sha256: the files
        uploaded and verified, or PublishError saying which file is where."""
        # Wheels first (uv's order too): should a later file fail, a wheel alone installs
        # without a build, an sdist alone needs one at every install.
        new.sort(key=lambda f: (not f.is_wheel, f.filename))
        # One `uv publish` per file (~20 ms each): uv stops at the first refusal, and a
        # refusal can be harmless (below), after which the other files must still go up.
        unverified = (
            "The upload may have gone through: run the publish again to check (files "
            "already there with the same bytes are skipped)."
        )
        for item in new:
            run = self._upload(item, credentials)
            if run.returncode != 0:
                with told(unverified):
                    there, other, missing = self._verify(client, canon, new, poll=False)
                if item.filename in there:
                    # Another publish of these very bytes got there first (the registry
                    # said "exists"): verified all the same.
                    continue
                raise self._upload_error(run, credentials, there, other, missing, unchanged)
        with told(unverified):
            there, other, missing = self._verify(client, canon, new, poll=True)
        if other or missing:
            raise self._upload_error(
                RunResult(0, ""), credentials, there, other, missing, unchanged
            )
        return there

    def yank(self, name: str, version: str, reason: str | None) -> list[str]:
        """Registries do not offer PEP 592 yanking through the upload API: raises PublishError
        saying how to do it (or its nearest equivalent) in this registry."""
        raise PublishError(self._yank_message(canonical_project(name), version, reason, undo=False))

    def unyank(self, name: str, version: str) -> list[str]:
        """See `yank`."""
        raise PublishError(self._yank_message(canonical_project(name), version, None, undo=True))

    # -- reading ------------------------------------------------------------------------------

    def simple_url(self) -> str:
        """The registry's simple index URL (without credentials), derived on first use."""
        return self._reader.simple_url()

    def _where(self) -> str:
        return redact(self.upload_url)

    # -- uploading ----------------------------------------------------------------------------

    def _pypirc_repos(self) -> list[PypircRepo]:
        if self._pypirc is None:
            self._pypirc = read_pypirc(self._pypirc_path)
        return self._pypirc

    def _resolve_credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = resolve_credentials(
                self.upload_url, self._environ, self._pypirc_repos, self._url_credentials
            )
        return self._credentials

    def _upload(self, item: LocalFile, credentials: Credentials) -> RunResult:
        argv, env = uv_publish_call(
            self.upload_url, item.path, credentials.username, credentials.password, self._environ
        )
        run = self._runner(argv, env)
        return RunResult(run.returncode, self._scrub(run.output))

    def _verify(
        self, client: httpx.Client, canon: NormalizedName, sent: Sequence[LocalFile], *, poll: bool
    ) -> tuple[list[str], list[str], list[str]]:
        """(listed with our sha256, listed with another, not listed) after the upload; polled
        while files are missing if `poll` (registries that index asynchronously)."""
        deadline = time.monotonic() + self._verify_timeout
        delay = 0.25
        while True:
            listing = self._reader.listing(client, canon) or {}
            there, other, missing = [], [], []
            for f in sent:
                remote = listing.get(f.filename)
                if remote is None:
                    missing.append(f.filename)
                elif self._reader.sha256(client, remote)[0] == f.sha256:
                    there.append(f.filename)
                else:
                    other.append(f.filename)
            if not poll or not missing or time.monotonic() + delay > deadline:
                return there, other, missing
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _upload_error(
        self,
        run: RunResult,
        credentials: Credentials,
        there: Sequence[str],
        other: Sequence[str],
        missing: Sequence[str],
        unchanged: Sequence[str],
    ) -> PublishError:
        state = describe_state(there, other, missing, unchanged)
        if run.returncode == 0:
            return PublishError(
                f"The registry at {self._where()} accepted the upload, but its simple index "
                f"{redact(self.simple_url())} does not list the files as sent after "
                f"{self._verify_timeout:.0f} s. {state} If the registry serves its simple index "
                "at another URL, give that URL; if it indexes uploads with a delay, run the "
                "publish again later (files already there with the same bytes are skipped)."
            )
        return refusal_error(
            run.output, credentials, self._where(), state, other_content=bool(other)
        )

    def _scrub(self, text: str) -> str:
        secrets = list(self._credentials.secrets()) if self._credentials else []
        if self._url_credentials and self._url_credentials[1]:
            secrets.append(self._url_credentials[1])
        return scrub_secrets(text, secrets)

    # -- yanking ------------------------------------------------------------------------------

    def _kind(self) -> RegistryKind:
        kind = registry_kind(self.upload_url)
        if kind is not None:
            return kind
        with contextlib.suppress(PublishError):
            self.simple_url()  # asks devpi's +api; an unreachable registry is just "generic"
        return "devpi" if self._reader.is_devpi else "generic"

    def _yank_message(
        self, canon: NormalizedName, version: str, reason: str | None, *, undo: bool
    ) -> str:
        return yank_message(
            self._kind(), canon, version, self.upload_url, self._where(), reason, undo=undo
        )


def _split_upload_url(upload_url: str) -> tuple[str, tuple[str, str] | None]:
    """(the http(s) upload URL without userinfo, (username, password) from its userinfo)."""
    parts = urlsplit(upload_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{redact(upload_url)!r} is not an http(s) upload URL. Give the registry's "
            f"upload URL ({UPLOAD_URL_SHAPES})."
        )
    url_credentials: tuple[str, str] | None = None
    if parts.username or parts.password:
        url_credentials = (unquote(parts.username or ""), unquote(parts.password or ""))
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(parts), url_credentials
