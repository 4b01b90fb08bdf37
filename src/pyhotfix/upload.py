"""Publish hotfixes to a registry through its PyPI-compatible upload API (`uv publish`).

`UploadTarget` is the `PublishTarget` for registries that take uploads the way twine sends them
(the "legacy" upload API): devpi, pypiserver, Artifactory, Nexus, GitLab, CodeArtifact, ….

The upload itself is `uv publish` (uv is already a runtime dependency): it starts in ~0.02 s
(twine: ~0.3 s), quotes the registry's own reason when it refuses a file, and needs no extra
packages. What twine would add is reading ~/.pypirc; that is done here (below), so the same
credentials work.

Immutability, which the upload API itself does not promise (a volatile devpi index or pypiserver
with ``--overwrite`` replaces files silently), is enforced around the upload:

1. the registry's simple page for the project is read first (PEP 691 JSON or PEP 503 HTML); a
   filename already there with a different sha256 refuses the whole call before anything is sent
   (when the page gives no hash, the file is downloaded and hashed); the same sha256 is a no-op;
2. only the new files are uploaded, wheels first, one `uv publish` run each;
3. the page is read again (polled for a short while: some registries index asynchronously) and
   every uploaded file must be listed with the sha256 of the bytes sent. After a failure the same
   read tells exactly which files are on the registry and which are not.

Credentials are never taken from the manifest, never put on a command line (other users can read
it), never printed, and never written anywhere; secrets are scrubbed from any output relayed.
The first source that has a value wins, for the username and the password separately:

- ``PYHOTFIX_UPLOAD_USERNAME`` / ``PYHOTFIX_UPLOAD_PASSWORD``;
- ``UV_PUBLISH_USERNAME`` / ``UV_PUBLISH_PASSWORD`` or ``UV_PUBLISH_TOKEN`` (user ``__token__``
  unless one is given);
- ``TWINE_USERNAME`` / ``TWINE_PASSWORD``;
- ``https://user:password@host/…`` in the upload URL;
- ``~/.pypirc``: the section whose ``repository`` is the upload URL (or the section named by the
  target itself: ``UploadTarget("codeartifact")``, as ``aws codeartifact login --tool twine``
  writes it);
- keyring: ``keyring get <upload URL> <username>`` when a username is known and a ``keyring``
  command is installed (uv's and twine's convention).

They are given to `uv publish` through its environment variables, and used for reading the simple
page too when it is on the same host (private registries need them for reads as well).
"""

from __future__ import annotations

import configparser
import contextlib
import glob
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)

from pyhotfix.distfile import dist_kind, file_sha256_size, parse_dist_filename
from pyhotfix.errors import PublishError, UsageError
from pyhotfix.httpclient import make_client, redact
from pyhotfix.index import IndexEntry, PublishResult
from pyhotfix.simpleapi import ACCEPT, PAGE_ERRORS, DistFile, parse_page

__all__ = [
    "Credentials",
    "RunResult",
    "Runner",
    "UploadTarget",
    "resolve_credentials",
    "run_subprocess",
]

_READ_TIMEOUT = 30.0
_PROBE_TIMEOUT = 10.0
_UPLOAD_TIMEOUT = 1800.0  # large wheels over slow links; uv has its own per-request timeouts
_KEYRING_TIMEOUT = 30.0
_VERIFY_TIMEOUT = 15.0
_REASON_MAX = 400

_PYPI_UPLOAD = "https://upload.pypi.org/legacy/"
_TESTPYPI_UPLOAD = "https://test.pypi.org/legacy/"

_UPLOAD_URL_SHAPES = (
    "devpi https://HOST/USER/INDEX/, pypiserver https://HOST/, Artifactory "
    "https://HOST/artifactory/api/pypi/REPO, Nexus https://HOST/repository/REPO/, GitLab "
    "https://HOST/api/v4/projects/ID/packages/pypi, CodeArtifact "
    "https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPO/"
)
_CREDENTIAL_HELP = (
    "Set PYHOTFIX_UPLOAD_USERNAME and PYHOTFIX_UPLOAD_PASSWORD (or UV_PUBLISH_USERNAME / "
    "UV_PUBLISH_PASSWORD, or TWINE_USERNAME / TWINE_PASSWORD), or add a section for this "
    "repository URL to ~/.pypirc, or store the password with `keyring set URL USERNAME`; and "
    "check that the account may upload to this repository."
)


# -- running uv -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """What a command did: its exit status and its output (stdout and stderr, interleaved)."""

    returncode: int
    output: str


Runner = Callable[[Sequence[str], Mapping[str, str]], RunResult]


def run_subprocess(argv: Sequence[str], env: Mapping[str, str]) -> RunResult:
    """Run `argv` without a terminal (so nothing can prompt for a password) and capture it."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=_UPLOAD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RunResult(-1, f"error: the upload did not finish within {_UPLOAD_TIMEOUT:.0f} s")
    except OSError as exc:
        return RunResult(-1, f"error: could not run {argv[0]}: {exc.strerror or exc}")
    return RunResult(done.returncode, done.stdout or "")


def _uv_bin() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


# -- credentials --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Upload credentials and where each part came from (for messages; never the values)."""

    username: str | None
    password: str | None = field(repr=False)
    username_from: str | None = None
    password_from: str | None = None

    def describe(self) -> str:
        if self.username is None and self.password is None:
            return "no credentials were found"
        parts = []
        if self.username is not None:
            parts.append(f"username from {self.username_from}")
        parts.append(
            f"password from {self.password_from}" if self.password is not None else "no password"
        )
        return ", ".join(parts)

    def secrets(self) -> list[str]:
        """The strings to scrub from any output, in the spellings they may appear in."""
        if not self.password:
            return []
        p = self.password
        return sorted({p, quote(p, safe=""), quote(p)}, key=len, reverse=True)


@dataclass(frozen=True)
class _PypircRepo:
    name: str
    repository: str
    username: str | None
    password: str | None = field(repr=False)


def _pypirc(path: Path) -> list[_PypircRepo]:
    """Repositories in a .pypirc (https://packaging.python.org/specifications/pypirc/), as twine
    reads them: the sections in [distutils] index-servers (all sections when that is absent)."""
    if not path.is_file():
        return []
    # Raw: passwords may contain "%", which interpolation would reject.
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise PublishError(
            f"{path} could not be read ({exc}). Fix it, or give the upload credentials in "
            "PYHOTFIX_UPLOAD_USERNAME and PYHOTFIX_UPLOAD_PASSWORD instead."
        ) from exc
    listed = parser.get("distutils", "index-servers", fallback=None)
    names = listed.split() if listed else [s for s in parser.sections() if s != "distutils"]
    defaults = {"pypi": _PYPI_UPLOAD, "testpypi": _TESTPYPI_UPLOAD}
    repos = []
    for name in names:
        if not parser.has_section(name) and name not in defaults:
            continue
        repository = parser.get(name, "repository", fallback=defaults.get(name))
        if not repository:
            continue
        repos.append(
            _PypircRepo(
                name=name,
                repository=repository.strip(),
                username=parser.get(name, "username", fallback=None) or None,
                password=parser.get(name, "password", fallback=None) or None,
            )
        )
    return repos


def _same_url(a: str, b: str) -> bool:
    """Equal up to case of scheme and host, userinfo, default port and a trailing slash."""

    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port or {"http": 80, "https": 443}.get(scheme)
        except ValueError:
            port = None
        return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")

    return key(a) == key(b)


def _keyring_command(environ: Mapping[str, str]) -> str | None:
    beside = Path(sys.executable).parent / "keyring"  # keyring installed with pyhotfix
    found = shutil.which("keyring", path=environ.get("PATH"))
    return found or (str(beside) if beside.is_file() else None)


def _keyring_password(
    command: str, url: str, username: str, environ: Mapping[str, str]
) -> str | None:
    """`keyring get URL USERNAME`, the lookup uv and twine make; None when it has nothing."""
    try:
        done = subprocess.run(
            [command, "get", url, username],
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_KEYRING_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # like uv: a broken keyring is "no password", and the registry says 401
    password = done.stdout.rstrip("\r\n")
    return password if done.returncode == 0 and password else None


def resolve_credentials(
    upload_url: str,
    environ: Mapping[str, str],
    pypirc: Callable[[], Sequence[_PypircRepo]] = lambda: (),
    url_credentials: tuple[str, str] | None = None,
) -> Credentials:
    """The upload credentials for `upload_url` (credential-free) from the sources in the
    module docstring, in that order. ~/.pypirc is read (`pypirc()`) and keyring asked only
    when the sources before them leave something missing."""
    users: list[tuple[str | None, str]] = [
        (environ.get(var) or None, var)
        for var in ("PYHOTFIX_UPLOAD_USERNAME", "UV_PUBLISH_USERNAME", "TWINE_USERNAME")
    ]
    passwords: list[tuple[str | None, str]] = [
        (environ.get(var) or None, var)
        for var in (
            "PYHOTFIX_UPLOAD_PASSWORD",
            "UV_PUBLISH_PASSWORD",
            "UV_PUBLISH_TOKEN",
            "TWINE_PASSWORD",
        )
    ]
    if url_credentials is not None:
        users.append((url_credentials[0] or None, "the upload URL"))
        passwords.append((url_credentials[1] or None, "the upload URL"))

    def first(candidates: list[tuple[str | None, str]]) -> tuple[str | None, str | None]:
        return next(((v, s) for v, s in candidates if v), (None, None))

    (username, username_from), (password, password_from) = first(users), first(passwords)
    if username is None or password is None:
        repo = next((r for r in pypirc() if _same_url(r.repository, upload_url)), None)
        if repo is not None:
            where = f"~/.pypirc (section {repo.name!r})"
            users.append((repo.username, where))
            passwords.append((repo.password, where))
            (username, username_from), (password, password_from) = first(users), first(passwords)
    if password_from == "UV_PUBLISH_TOKEN" and username is None:
        username, username_from = "__token__", "UV_PUBLISH_TOKEN"  # what uv's --token means
    if password is None and username is not None:
        command = _keyring_command(environ)
        if command is not None:
            password = _keyring_password(command, upload_url, username, environ)
            password_from = "keyring" if password is not None else None
    return Credentials(username, password, username_from, password_from)


# -- local files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Local:
    path: Path
    filename: str
    sha256: str
    is_wheel: bool


def _canonical(name: str) -> NormalizedName:
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName as exc:
        raise PublishError(
            f"{name!r} is not a valid project name: use letters, digits, '.', '-' and '_', "
            "starting and ending with a letter or digit."
        ) from exc


def _inspect(path: Path, canon: NormalizedName) -> _Local:
    filename = path.name
    kind = dist_kind(filename)
    if kind is None:
        raise PublishError(
            f"{path} is neither a wheel (.whl) nor an sdist (.tar.gz): only distributions "
            "can be uploaded."
        )
    try:
        project = parse_dist_filename(filename).name
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise PublishError(f"{path} does not have a valid distribution filename: {exc}.") from exc
    if project != canon:
        raise PublishError(f"{filename} is a file of {project}, not of {canon}; nothing was sent.")
    try:
        sha256 = file_sha256_size(path)[0]
    except OSError as exc:
        raise PublishError(
            f"Could not read {path} ({exc.strerror or exc}); nothing was uploaded."
        ) from exc
    return _Local(path, filename, sha256, kind == "wheel")


# -- the target -----------------------------------------------------------------------------------


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
        self._pypirc: list[_PypircRepo] | None = None
        url_credentials: tuple[str, str] | None = None
        if "://" not in upload_url:
            repo = next((r for r in self._pypirc_repos() if r.name == upload_url), None)
            if repo is None:
                raise UsageError(
                    f"{upload_url!r} is neither an upload URL (https://…) nor the name of a "
                    f"repository in {self._pypirc_path}. Give the registry's upload URL ("
                    f"{_UPLOAD_URL_SHAPES})."
                )
            upload_url = repo.repository
        parts = urlsplit(upload_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"{redact(upload_url)!r} is not an http(s) upload URL. Give the registry's "
                f"upload URL ({_UPLOAD_URL_SHAPES})."
            )
        if parts.username or parts.password:
            url_credentials = (unquote(parts.username or ""), unquote(parts.password or ""))
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.upload_url = urlunsplit(parts)
        self.description = redact(upload_url)  # "Published to <description>"
        self._url_credentials = url_credentials
        self._given_simple_url = simple_url
        self._simple_url: str | None = None
        self._devpi = False
        self._runner = runner
        self._verify_timeout = verify_timeout
        self._credentials: Credentials | None = None

    # -- PublishTarget ----------------------------------------------------------------------

    def project_entries(self, name: str) -> list[IndexEntry]:
        """The files the registry lists for `name`, sorted by filename; [] when it has none.

        A file whose page gives no sha256 is downloaded and hashed. `size` is -1 and
        `upload_time` "" when the registry's page does not give them (they are optional).
        """
        canon = _canonical(name)
        with self._client() as client:
            listing = self._listing(client, canon) or {}
            entries = []
            for filename in sorted(listing):
                remote = listing[filename]
                sha256, size = self._sha256(client, remote)
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
        canon = _canonical(name)
        with self._client() as client:
            listing = self._listing(client, canon) or {}
            for filename in filenames:
                remote = listing.get(filename)
                if remote is None:
                    return False
                wanted = (sha256s or {}).get(filename)
                if wanted is not None and self._sha256(client, remote)[0] != wanted.lower():
                    return False
        return True

    def publish(
        self, name: str, files: Sequence[Path], *, tracks: str | None = None
    ) -> PublishResult:
        """Upload the files of project `name` that the registry does not have yet.

        All files are checked before any is sent: a filename the registry lists with other
        bytes refuses the whole call (PublishError, nothing uploaded). `tracks` (PEP 708) is
        ignored: the upload API has no way to set it.
        """
        del tracks
        canon = _canonical(name)
        local: dict[str, _Local] = {}
        for path in files:
            item = _inspect(Path(path), canon)
            seen = local.get(item.filename)
            if seen is not None and seen.sha256 != item.sha256:
                raise PublishError(
                    f"Two different files named {item.filename} were given ({seen.path} and "
                    f"{item.path}); publish only one of them. Nothing was uploaded."
                )
            local[item.filename] = item
        if not local:
            raise PublishError(f"Nothing to publish for {canon}: no files were given.")
        credentials = self._resolve_credentials()
        with self._client() as client:
            unchanged: list[str] = []
            conflicts: list[str] = []
            new: list[_Local] = []
            with _told("Nothing was uploaded."):
                before = self._listing(client, canon) or {}
                registry_sha = {f: self._sha256(client, before[f])[0] for f in local if f in before}
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
            if not new:
                return PublishResult(canon, (), tuple(unchanged))
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
                    with _told(unverified):
                        there, other, missing = self._verify(client, canon, new, poll=False)
                    if item.filename in there:
                        # Another publish of these very bytes got there first (the registry
                        # said "exists"): verified all the same.
                        continue
                    raise self._upload_error(run, credentials, there, other, missing, unchanged)
            with _told(unverified):
                there, other, missing = self._verify(client, canon, new, poll=True)
            if other or missing:
                raise self._upload_error(
                    RunResult(0, ""), credentials, there, other, missing, unchanged
                )
            return PublishResult(canon, tuple(sorted(there)), tuple(unchanged))

    def yank(self, name: str, version: str, reason: str | None) -> list[str]:
        """Registries do not offer PEP 592 yanking through the upload API: raises PublishError
        saying how to do it (or its nearest equivalent) in this registry."""
        raise PublishError(self._yank_message(_canonical(name), version, reason, undo=False))

    def unyank(self, name: str, version: str) -> list[str]:
        """See `yank`."""
        raise PublishError(self._yank_message(_canonical(name), version, None, undo=True))

    # -- reading ------------------------------------------------------------------------------

    def simple_url(self) -> str:
        """The registry's simple index URL (without credentials), derived on first use."""
        if self._simple_url is None:
            self._simple_url = self._derive_simple_url()
        return self._simple_url

    def _derive_simple_url(self) -> str:
        if self._given_simple_url is not None:
            return self._given_simple_url.rstrip("/") + "/"
        parts = urlsplit(self.upload_url)
        host = (parts.hostname or "").lower()
        if host == "upload.pypi.org":
            return "https://pypi.org/simple/"
        if host == "test.pypi.org" and parts.path.rstrip("/") == "/legacy":
            return "https://test.pypi.org/simple/"
        devpi = self._devpi_simple_url()
        if devpi is not None:
            self._devpi = True
            return devpi
        return self.upload_url.rstrip("/") + "/simple/"

    def _devpi_simple_url(self) -> str | None:
        """devpi describes each index at <index>/+api (what devpi-client reads)."""
        url = self.upload_url.rstrip("/") + "/+api"
        try:
            with self._client(timeout=_PROBE_TIMEOUT) as client:
                # devpi answers here directly; others may redirect anywhere (pypiserver: in a loop).
                response = client.get(
                    url, headers={"Accept": "application/json"}, follow_redirects=False
                )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise self._unreachable(url, exc) from exc
        except httpx.HTTPError:
            return None
        if not response.is_success:
            return None
        try:
            data = response.json()
            simple = data["result"]["simpleindex"] if data.get("type") == "apiconfig" else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return simple.rstrip("/") + "/" if isinstance(simple, str) and simple else None

    def _client(self, timeout: float = _READ_TIMEOUT) -> httpx.Client:
        """A client for the simple index: the upload credentials are sent to the upload host
        only (scoped by make_client), unless the simple URL carries its own."""
        base = self._given_simple_url or self.upload_url
        parts = urlsplit(base)
        creds = self._resolve_credentials()
        if (
            not (parts.username or parts.password)
            and creds.username
            and creds.password
            and urlsplit(self.upload_url).netloc == parts.netloc
        ):
            userinfo = f"{quote(creds.username, safe='')}:{quote(creds.password, safe='')}"
            base = urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))
        return make_client(base, timeout=timeout)

    def _listing(self, client: httpx.Client, canon: NormalizedName) -> dict[str, DistFile] | None:
        """The project's files on the registry, by filename; None when the project page is 404."""
        simple = self.simple_url()
        page_url = f"{simple}{canon}/"
        try:
            # no-cache: a registry or proxy must not answer from a cache right after an upload.
            response = client.get(page_url, headers={"Accept": ACCEPT, "Cache-Control": "no-cache"})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._unreachable(page_url, exc) from exc
        if response.status_code == 404:
            self._check_root(client, simple)
            return None
        if response.status_code in (401, 403):
            raise PublishError(
                f"{redact(page_url)} refused read access (HTTP {response.status_code}; "
                f"{self._resolve_credentials().describe()}). pyhotfix reads the registry's "
                "simple page before and after uploading, with the upload credentials (or those "
                f"in ~/.netrc, or in the simple URL). {_CREDENTIAL_HELP}"
            )
        if not response.is_success:
            raise PublishError(
                f"{redact(page_url)} answered HTTP {response.status_code} "
                f"{response.reason_phrase}. Check the registry's state and the simple URL "
                "(pass it explicitly if it is not the default)."
            )
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        base = str(response.url)
        try:
            # one parser (simpleapi's) for every index pyhotfix reads
            dists = parse_page(response.content, content_type, base)
        except PAGE_ERRORS as exc:
            raise PublishError(
                f"{redact(page_url)} is not a valid simple-index project page ({exc}). Check the "
                "simple URL of the registry (pass it explicitly if it is not the default)."
            ) from exc
        return {d.filename: d for d in dists}

    def _check_root(self, client: httpx.Client, simple: str) -> None:
        """A 404 for the project is "no files yet", unless the whole simple URL is wrong."""
        try:
            response = client.get(simple, headers={"Accept": ACCEPT})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._unreachable(simple, exc) from exc
        if response.status_code == 404:
            raise PublishError(
                f"The registry's simple index was not found at {redact(simple)} (HTTP 404), so "
                "pyhotfix cannot check what is already published. Check the upload URL "
                f"({_UPLOAD_URL_SHAPES}) and, if the registry serves its simple index "
                "elsewhere, give that URL."
            )

    def _sha256(self, client: httpx.Client, remote: DistFile) -> tuple[str, int | None]:
        """(sha256, size) of a listed file: from the page, else by downloading it."""
        if remote.sha256:
            return remote.sha256, remote.size
        h = hashlib.sha256()
        size = 0
        url = remote.url
        try:
            # identity: the hash of the file as stored, not of a transfer encoding of it.
            with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                if not response.is_success:
                    raise PublishError(
                        f"The registry lists {remote.filename} without a hash, and "
                        f"downloading it to compare failed: {redact(url)} answered HTTP "
                        f"{response.status_code}."
                    )
                for chunk in response.iter_raw(1 << 16):
                    h.update(chunk)
                    size += len(chunk)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._unreachable(url, exc) from exc
        return h.hexdigest(), size

    def _where(self) -> str:
        return redact(self.upload_url)

    def _unreachable(self, url: str, exc: Exception) -> PublishError:
        detail = self._scrub(str(exc)).rstrip(".") or type(exc).__name__
        return PublishError(
            f"Could not reach the registry at {redact(url)}: {detail}. Check the URL, the network "
            "and proxy settings, and that the registry is running."
        )

    # -- uploading ----------------------------------------------------------------------------

    def _pypirc_repos(self) -> list[_PypircRepo]:
        if self._pypirc is None:
            self._pypirc = _pypirc(self._pypirc_path)
        return self._pypirc

    def _resolve_credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = resolve_credentials(
                self.upload_url, self._environ, self._pypirc_repos, self._url_credentials
            )
        return self._credentials

    def _upload(self, item: _Local, credentials: Credentials) -> RunResult:
        env = {
            k: v
            for k, v in self._environ.items()
            # Ours, resolved above, replace these; the others would redirect or change the run.
            if not k.startswith(("UV_PUBLISH_", "TWINE_", "PYHOTFIX_UPLOAD_"))
        }
        env.update({"UV_NO_PROGRESS": "1", "NO_COLOR": "1"})
        if credentials.username is not None:
            env["UV_PUBLISH_USERNAME"] = credentials.username
        if credentials.password is not None:
            env["UV_PUBLISH_PASSWORD"] = credentials.password
        argv = [
            _uv_bin(),
            "publish",
            "--no-config",  # a uv.toml / pyproject.toml nearby must not change the target
            # Trusted publishing is PyPI's, which refuses local versions anyway; uv's attempt
            # at it without credentials costs ~12 s of retries and a confusing message.
            *("--trusted-publishing", "never"),
            *("--publish-url", self.upload_url),
            glob.escape(str(item.path.absolute())),  # uv reads its file arguments as globs
        ]
        run = self._runner(argv, env)
        return RunResult(run.returncode, self._scrub(run.output))

    def _verify(
        self, client: httpx.Client, canon: NormalizedName, sent: Sequence[_Local], *, poll: bool
    ) -> tuple[list[str], list[str], list[str]]:
        """(listed with our sha256, listed with another, not listed) after the upload; polled
        while files are missing if `poll` (registries that index asynchronously)."""
        deadline = time.monotonic() + self._verify_timeout
        delay = 0.25
        while True:
            listing = self._listing(client, canon) or {}
            there, other, missing = [], [], []
            for f in sent:
                remote = listing.get(f.filename)
                if remote is None:
                    missing.append(f.filename)
                elif self._sha256(client, remote)[0] == f.sha256:
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
        state = _state(there, other, missing, unchanged)
        if run.returncode == 0:
            return PublishError(
                f"The registry at {self._where()} accepted the upload, but its simple index "
                f"{redact(self.simple_url())} does not list the files as sent after "
                f"{self._verify_timeout:.0f} s. {state} If the registry serves its simple index "
                "at another URL, give that URL; if it indexes uploads with a delay, run the "
                "publish again later (files already there with the same bytes are skipped)."
            )
        status, reason = _summarize(run.output)
        lowered = reason.lower()
        if status in (401, 403) or "missing credentials" in lowered:
            advice = (
                f"The registry refused the credentials ({credentials.describe()}). "
                f"{_CREDENTIAL_HELP}"
            )
        elif status == 409 or other or "exist" in lowered:
            advice = (
                "The registry refused a file because one with that name is already there: "
                "another publish uploaded it after pyhotfix checked, or the registry keeps files "
                "it does not list (deleted or hidden ones). Published files are never "
                "overwritten: bump the hotfix number (+hotfix.N+1) and publish the rebuilt files."
            )
        elif status in (404, 405):
            advice = f"Check the upload URL: it is the registry's upload endpoint ({_UPLOAD_URL_SHAPES})."
        elif status is None and _TRANSPORT.search(reason):
            advice = (
                "Could not reach the upload endpoint: check the URL, the network and proxy "
                "settings, and that the registry is running."
            )
        else:
            advice = "Fix what the registry reports, then publish again."
        http = f" (HTTP {status})" if status is not None else ""
        return PublishError(f"Uploading to {self._where()} failed{http}: {reason} {advice} {state}")

    def _scrub(self, text: str) -> str:
        secrets = list(self._credentials.secrets()) if self._credentials else []
        if self._url_credentials and self._url_credentials[1]:
            secrets.append(self._url_credentials[1])
        for secret in sorted(set(secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # -- yanking ------------------------------------------------------------------------------

    def _kind(self) -> str:
        parts = urlsplit(self.upload_url)
        host, path = (parts.hostname or "").lower(), parts.path
        if host in ("upload.pypi.org", "pypi.org", "test.pypi.org"):
            return "pypi"
        if ".codeartifact." in host:
            return "codeartifact"
        if "/api/v4/projects/" in path or "/api/v4/groups/" in path:
            return "gitlab"
        if "/artifactory/" in path or "/api/pypi/" in path:
            return "artifactory"
        if path.startswith("/repository/"):
            return "nexus"
        with contextlib.suppress(PublishError):
            self.simple_url()  # asks devpi's +api; an unreachable registry is just "generic"
        return "devpi" if self._devpi else "generic"

    def _yank_message(
        self, canon: NormalizedName, version: str, reason: str | None, *, undo: bool
    ) -> str:
        verb = "unyank" if undo else "yank"
        kind = self._kind()
        how = _YANK_HOWTO[kind](canon, version, self.upload_url, undo)
        note = f" (the reason {reason!r} cannot be recorded there)" if reason else ""
        later = (
            ""
            if undo
            else " Alternatively, publish a fixed build as the next hotfix number (+hotfix.N+1): "
            "installers pick the highest hotfix of a version, so it replaces this one for every "
            "new install."
        )
        return (
            f"Cannot {verb} {canon} {version} on {self._where()}{note}: the upload API has no "
            f"yanking (PEP 592), so it must be done in the registry itself. {how}{later}"
        )


@contextlib.contextmanager
def _told(suffix: str) -> Iterator[None]:
    """Add what happened to the upload (`suffix`) to a PublishError raised inside."""
    try:
        yield
    except PublishError as exc:
        raise PublishError(f"{exc} {suffix}") from exc


_TRANSPORT = re.compile(
    r"connect|dns|resolve|timed? ?out|unreachable|refused|certificate|tls|ssl", re.IGNORECASE
)


def _yank_devpi(canon: str, version: str, url: str, undo: bool) -> str:
    if undo:
        return (
            "devpi has no yanking for private indexes; if the release was removed, publish its "
            "files again (`pyhotfix publish --upload URL NAME`)."
        )
    index = urlsplit(url).path.strip("/")
    return (
        "devpi has no yanking for private indexes (only for mirrored PyPI projects). Remove the "
        f"release with devpi-client: `devpi use {url}`, `devpi login USER`, `devpi remove "
        f"{canon}=={version}` (a non-volatile index refuses removals: `devpi index {index} "
        "volatile=True` first, then back to False), or delete it in devpi-web."
    )


def _yank_pypi(canon: str, version: str, url: str, undo: bool) -> str:
    action = "Un-yank" if undo else "Yank"
    return f"On PyPI: project {canon}, Manage, Releases, {version}, Options, {action}."


def _yank_gitlab(canon: str, version: str, url: str, undo: bool) -> str:
    if undo:
        return "GitLab has no yanking: publish the files again if the package was deleted."
    return (
        f"GitLab has no yanking: delete package {canon} {version} under Deploy, Package "
        "registry, or with the API (DELETE /api/v4/projects/ID/packages/PACKAGE_ID)."
    )


def _yank_artifactory(canon: str, version: str, url: str, undo: bool) -> str:
    if undo:
        return "Artifactory has no yanking: publish the files again if they were deleted."
    return (
        f"Artifactory has no yanking: delete the files of {canon} {version} in the repository "
        "browser (Artifacts) or with its REST API (DELETE on each file's path)."
    )


def _yank_nexus(canon: str, version: str, url: str, undo: bool) -> str:
    if undo:
        return "Nexus has no yanking: publish the files again if the component was deleted."
    return (
        f"Nexus has no yanking: Browse, the repository, {canon}, {version}, Delete component "
        "(or DELETE /service/rest/v1/components/ID)."
    )


def _yank_codeartifact(canon: str, version: str, url: str, undo: bool) -> str:
    parts = urlsplit(url)
    domain_owner = (parts.hostname or "").split(".", 1)[0]
    repo = parts.path.strip("/").split("/")[-1] or "REPO"
    status = "Published" if undo else "Unlisted"
    return (
        "CodeArtifact's nearest equivalent is the version status: `aws codeartifact "
        f"update-package-versions-status --domain {domain_owner.rpartition('-')[0] or 'DOMAIN'} "
        f"--repository {repo} --format pypi --package {canon} --versions {version} "
        f"--target-status {status}`."
    )


def _yank_generic(canon: str, version: str, url: str, undo: bool) -> str:
    if undo:
        return (
            "Most simple registries have no yanking: publish the files again if they were removed."
        )
    return (
        "pypiserver and most simple registries have no yanking: delete the files of "
        f"{canon} {version} from the registry (for pypiserver, from its package directory), or "
        "use the registry's own interface (on PyPI-like services: project settings)."
    )


_YANK_HOWTO: dict[str, Callable[[str, str, str, bool], str]] = {
    "devpi": _yank_devpi,
    "pypi": _yank_pypi,
    "gitlab": _yank_gitlab,
    "artifactory": _yank_artifactory,
    "nexus": _yank_nexus,
    "codeartifact": _yank_codeartifact,
    "generic": _yank_generic,
}


def _state(
    there: Sequence[str], other: Sequence[str], missing: Sequence[str], unchanged: Sequence[str]
) -> str:
    """Which file is on the registry and which is not, after a failed or unverified upload."""
    parts = []
    if there:
        parts.append(f"Uploaded and verified: {', '.join(there)}.")
    if other:
        parts.append(f"On the registry with different content (not ours): {', '.join(other)}.")
    if missing:
        parts.append(f"Not on the registry: {', '.join(missing)}.")
    if unchanged:
        parts.append(f"Already there before, unchanged: {', '.join(unchanged)}.")
    if not there:
        parts.insert(0, "Nothing was uploaded.")
    return " ".join(parts)


# uv's own wording, then an HTML error page's title (pypiserver: "Error: 405 Method Not Allowed").
_STATUS = re.compile(r"status code (\d{3})|<title>(?:Error:\s*)?(\d{3})\b")
_NOT_UPLOAD = "not supported by the endpoint"  # uv's hint for a 405 on POST
_FAILED_FILE = re.compile(r"Failed to publish `([^`]*)`")
_PRE = re.compile(r"<pre>(.*?)</pre>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _summarize(output: str) -> tuple[int | None, str]:
    """(HTTP status, one-paragraph reason) from `uv publish`'s output: its error line and causes,
    with an HTML error page reduced to its message."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        text = " ".join(line.strip() for line in lines[-5:] if line.strip())
        return None, _clip(text or "uv publish failed without saying why.")
    text = "\n".join(lines[start:])
    match = _STATUS.search(text)
    status = int(match.group(1) or match.group(2)) if match else None
    if status is None and _NOT_UPLOAD in text:
        status = 405
    # The file's name says which; its full local path adds nothing.
    text = _FAILED_FILE.sub(lambda m: f"Failed to publish {Path(m.group(1)).name}", text)
    head, says, body = text.partition("Server says:")
    if says:
        pre = _PRE.search(body)
        body = html.unescape(pre.group(1) if pre else _TAG.sub(" ", body)).strip()
        # pypiserver's 403 page says "None": no news.
        text = f"{head} Server says: {body}" if body not in ("", "None") else head
    text = re.sub(r"\s*\n\s*cause:\s*", "; ", text)
    text = re.sub(r"\s+", " ", text.removeprefix("error:")).strip()
    return status, _clip(text)


def _clip(text: str) -> str:
    text = text.rstrip(". ") + "."
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
