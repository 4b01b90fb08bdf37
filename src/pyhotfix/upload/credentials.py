"""Upload credentials: looked up, never printed, never written anywhere.

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
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from pyhotfix.errors import PublishError
from pyhotfix.upload.registries import PYPI_UPLOAD, TESTPYPI_UPLOAD

__all__ = [
    "CREDENTIAL_HELP",
    "Credentials",
    "PypircRepo",
    "read_pypirc",
    "resolve_credentials",
    "scrub_secrets",
]

_KEYRING_TIMEOUT = 30.0

CREDENTIAL_HELP = (
    "Set PYHOTFIX_UPLOAD_USERNAME and PYHOTFIX_UPLOAD_PASSWORD (or UV_PUBLISH_USERNAME / "
    "UV_PUBLISH_PASSWORD, or TWINE_USERNAME / TWINE_PASSWORD), or add a section for this "
    "repository URL to ~/.pypirc, or store the password with `keyring set URL USERNAME`; and "
    "check that the account may upload to this repository."
)


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
class PypircRepo:
    name: str
    repository: str
    username: str | None
    password: str | None = field(repr=False)


def read_pypirc(path: Path) -> list[PypircRepo]:
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
    defaults = {"pypi": PYPI_UPLOAD, "testpypi": TESTPYPI_UPLOAD}
    repos = []
    for name in names:
        if not parser.has_section(name) and name not in defaults:
            continue
        repository = parser.get(name, "repository", fallback=defaults.get(name))
        if not repository:
            continue
        repos.append(
            PypircRepo(
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
    pypirc: Callable[[], Sequence[PypircRepo]] = lambda: (),
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


def scrub_secrets(text: str, secrets: Sequence[str]) -> str:
    """`text` with each secret (longest first) replaced by ***."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
