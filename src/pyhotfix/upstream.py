"""Find and download the exact upstream sdist from a PEP 503/691 index, through a local cache.

Side effects stay at the edges: every function that touches the network takes an `httpx.Client`
(or a factory for one) and every function that stores something takes a `Cache`, so tests can run
against a loopback index and a temp directory.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

import platformdirs
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from pyhotfix.distfile import dist_kind, parse_dist_filename
from pyhotfix.errors import UpstreamError, UsageError
from pyhotfix.httpclient import make_client, redact, scrub, strip_credentials
from pyhotfix.simpleapi import ACCEPT, PAGE_ERRORS, DistFile, parse_page

if TYPE_CHECKING:
    # httpx is imported where a request is made: a build whose sdist and patches are cached
    # makes none, and importing httpx (with ssl) costs a noticeable part of a short build.
    import httpx

__all__ = [
    "PYPI_SIMPLE_URL",
    "Cache",
    "DownloadLimits",
    "UpstreamSdist",
    "default_cache_dir",
    "default_upstream_url",
    "download",
    "fetch_sdist",
    "fetch_url",
    "find_sdist",
    "list_files",
]

log = logging.getLogger(__name__)

PYPI_SIMPLE_URL = "https://pypi.org/simple/"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 16
_CHECK_SETTINGS = (
    "Check the [settings] upstream URL in hotfixes.toml and your network connection (and proxy "
    "settings), then try again."
)
_CHECK_URL = "Check that the URL is right and reachable (network, proxy settings), then try again."
_CHECK_FILE = "Check the path in the file:// URL and that the file is readable, then try again."
# Neutral: the version may come from hotfixes.toml, `add NAME==VERSION` or `rebase --to`.
_CHECK_VERSION = "Check the version you asked for (in hotfixes.toml or on the command line)."


@dataclass(frozen=True)
class UpstreamSdist:
    """The resolved upstream sdist, stored in the cache."""

    name: str  # canonical project name
    version: str  # the version as the sdist's filename spells it (normalized)
    filename: str
    url: str  # without credentials: this goes into the lock file
    sha256: str
    path: Path  # the blob in the cache


# --------------------------------------------------------------------------------------------
# Download limits

MAX_DOWNLOAD_ENV = "PYHOTFIX_MAX_DOWNLOAD_BYTES"
DEADLINE_ENV = "PYHOTFIX_DOWNLOAD_DEADLINE"
STALL_TIMEOUT_ENV = "PYHOTFIX_DOWNLOAD_STALL_TIMEOUT"
_PAGE_MAX_BYTES = 64 << 20  # PyPI's largest project pages are a few MiB


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on every download, so a huge or hostile file cannot fill the disk or hang a build.

    `max_bytes` caps a file (sdist, wheel, patch); index pages get at most 64 MiB (and never more
    than `max_bytes`). `stall_timeout`: seconds without a byte; `deadline`: seconds for the whole
    download (checked as bytes arrive, so a download ends within deadline + stall_timeout).
    """

    max_bytes: int = 1 << 30
    stall_timeout: float = 30.0
    deadline: float = 600.0

    @property
    def page_max_bytes(self) -> int:
        return min(_PAGE_MAX_BYTES, self.max_bytes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DownloadLimits:
        """The defaults, overridden by $PYHOTFIX_MAX_DOWNLOAD_BYTES, $PYHOTFIX_DOWNLOAD_DEADLINE
        and $PYHOTFIX_DOWNLOAD_STALL_TIMEOUT (seconds)."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_bytes=int(
                _env_number(env, MAX_DOWNLOAD_ENV, default.max_bytes, "a number of bytes")
            ),
            stall_timeout=_env_number(env, STALL_TIMEOUT_ENV, default.stall_timeout, "seconds"),
            deadline=_env_number(env, DEADLINE_ENV, default.deadline, "seconds"),
        )


def _env_number(env: Mapping[str, str], name: str, default: float, unit: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if unit == "a number of bytes" else float(raw)
    except ValueError:
        value = -1
    if not value > 0 or value == float("inf"):
        raise UsageError(
            f"{name} is {raw!r}; it must be a positive number ({unit}). Fix or unset it "
            f"(the default is {default:g})."
        )
    return value


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 4)) == 0:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


def _display_name(url: str) -> str:
    """The file a URL names, for messages: its last path segment, else the (redacted) URL."""
    try:
        segment = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    except ValueError:
        segment = ""
    return segment or redact(url)


class _LimitExceeded(UpstreamError):
    """A download went over a size or time limit; nothing of it was kept."""


@contextmanager
def _bounded_get(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    limits: DownloadLimits,
    what: str,
    page: bool,
) -> Iterator[tuple[httpx.Response, Iterator[bytes]]]:
    """GET `url` as a stream of chunks that stops at `max_bytes` and at the deadline.

    The size is checked against Content-Length before a byte is read, then counted as it arrives
    (a server may lie or send no length). A file is read raw, as sent (hashes are of the file as
    published); a `page` decoded, so a small compressed page cannot inflate past its cap.
    `what` names the download in messages ("demo-1.0.tar.gz", "the project page of demo").
    """
    import httpx

    from pyhotfix.fileurl import to_request_url

    started = time.monotonic()
    max_bytes = limits.page_max_bytes if page else limits.max_bytes
    timeout = httpx.Timeout(min(limits.stall_timeout, limits.deadline))
    where = f"{what} from {redact(url)}"

    def too_big(declared: int | None) -> _LimitExceeded:
        if not page:
            raise_it = (
                f"If the file is genuine, raise the limit: set {MAX_DOWNLOAD_ENV} to a number of "
                f"bytes (now {max_bytes})."
            )
        else:
            raise_it = (
                "A simple-index page this large is not one pyhotfix can use; check [settings] "
                "upstream."
            )
        limit = _size(max_bytes)
        if declared is None:
            return _LimitExceeded(
                f"stopped downloading {where}: the server sent more than the limit of {limit} "
                f"(it had not declared a size). Nothing was kept. {raise_it}"
            )
        return _LimitExceeded(
            f"refused to download {where}: its Content-Length is {declared} bytes, over the "
            f"limit of {limit}. Nothing was kept. {raise_it}"
        )

    def chunks(response: httpx.Response) -> Iterator[bytes]:
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big(int(declared))
        total = 0
        # No chunk_size: httpx would buffer up to it, hiding a drip from the deadline check.
        stream = response.iter_bytes() if page else response.iter_raw()
        for chunk in stream:
            total += len(chunk)
            if total > max_bytes:
                raise too_big(None)
            if time.monotonic() - started > limits.deadline:
                raise _LimitExceeded(
                    f"gave up downloading {where}: it took longer than {limits.deadline:g} s "
                    f"({total} bytes received). Nothing was kept. Check the network and the "
                    f"server; for a genuinely slow download, set {DEADLINE_ENV} to more seconds."
                )
            yield chunk

    try:
        request_url = to_request_url(url)
        with client.stream("GET", request_url, headers=dict(headers), timeout=timeout) as response:
            yield response, chunks(response)
    except httpx.ReadTimeout as exc:
        raise _LimitExceeded(
            f"gave up downloading {where}: the server sent nothing for "
            f"{min(limits.stall_timeout, limits.deadline):g} s. Nothing was kept. Check the "
            f"network and the server, then try again (the wait is set by {STALL_TIMEOUT_ENV})."
        ) from exc


# --------------------------------------------------------------------------------------------
# Default locations


def default_cache_dir() -> Path:
    """$PYHOTFIX_CACHE_DIR, else the per-user cache directory of the platform."""
    env = os.environ.get("PYHOTFIX_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    # appauthor=False: otherwise Windows nests the name twice (pyhotfix\pyhotfix\Cache).
    return Path(platformdirs.user_cache_dir("pyhotfix", appauthor=False))


def default_upstream_url() -> str:
    """The index pip would use: $PIP_INDEX_URL, then `index-url` in pip's config, then PyPI."""
    env = os.environ.get("PIP_INDEX_URL", "").strip()
    if env:
        return env
    return _pip_config_index_url() or PYPI_SIMPLE_URL


def _pip_global_config_files() -> list[Path]:
    # Mirrors pip._internal.utils.appdirs.site_config_dirs.
    base = "pip.ini" if sys.platform == "win32" else "pip.conf"
    if sys.platform == "darwin":
        dirs = platformdirs.site_data_dir("pip", appauthor=False, multipath=True)
    else:
        dirs = platformdirs.site_config_dir("pip", appauthor=False, multipath=True)
    paths = [Path(d) for d in dirs.split(os.pathsep) if d]
    if sys.platform not in ("win32", "darwin"):
        paths.append(Path("/etc"))
    return [p / base for p in paths]


def _pip_user_config_files() -> list[Path]:
    # The legacy file first: pip lets the newer location override it.
    base = "pip.ini" if sys.platform == "win32" else "pip.conf"
    legacy = Path.home() / ("pip" if sys.platform == "win32" else ".pip") / base
    new_dir = Path(platformdirs.user_config_dir("pip", appauthor=False, roaming=True))
    if sys.platform == "darwin":
        app_support = Path(platformdirs.user_data_dir("pip", appauthor=False))
        new_dir = app_support if app_support.is_dir() else Path.home() / ".config" / "pip"
    return [legacy, new_dir / base]


def _pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first, as pip/_internal/configuration.py does:
    global, user (skipped when $PIP_CONFIG_FILE names an existing file), site, $PIP_CONFIG_FILE.
    """
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:  # pip's documented way to load no configuration at all
        return []
    files = _pip_global_config_files()
    if not (env_file and os.path.exists(env_file)):
        files += _pip_user_config_files()
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        # pip reads sys.prefix/pip.conf; pyhotfix often runs from its own tool environment, so
        # the user's active virtualenv is the one whose pip config matters.
        files.append(Path(venv) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def _pip_config_index_url() -> str | None:
    found: str | None = None
    for path in _pip_config_files():
        if not path.is_file():
            continue
        # Raw: URLs contain percent-encoded passwords, which interpolation would choke on.
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError) as exc:
            raise UpstreamError(
                f"pip's configuration file {path} could not be read ({exc}), so pyhotfix cannot "
                "tell which index pip uses. Fix the file, or set [settings] upstream in "
                "hotfixes.toml (or PIP_INDEX_URL)."
            ) from exc
        if not parser.has_section("global"):
            continue
        for key, value in parser.items("global"):
            # pip treats index_url and index-url alike.
            if key.replace("_", "-") == "index-url" and value.strip():
                found = value.strip()
    return found


# --------------------------------------------------------------------------------------------
# The cache


WriteFn = Callable[[BinaryIO], str]


def _write_atomically(tmp_dir: Path, dest_for: Callable[[str], Path], write: WriteFn) -> Path:
    """Write through `write` into a temp file in `tmp_dir`, then os.replace it into place.

    `write` returns a key that names the destination (the content hash for blobs). Readers never
    see a partial file and concurrent writers of the same content simply both win.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".tmp-", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            key = write(fh)
            fh.flush()
            os.fsync(fh.fileno())  # so a crash cannot leave an empty file under a valid name
        dest = dest_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, dest)
        except PermissionError:
            # Windows refuses to replace a file another process has open; same content anyway.
            if not dest.is_file():
                raise
        return dest
    finally:
        tmp.unlink(missing_ok=True)


class Cache:
    """A content-addressed store of downloads plus small JSON records, safe for concurrent use.

    Blobs live at root/blobs/sha256/<hex[:2]>/<hex>; records at root/records/<h[:2]>/<h>.json
    where h hashes the record key. Every write is a temp file plus os.replace.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def _record_path(self, key: str) -> Path:
        h = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "records" / h[:2] / f"{h}.json"

    def get(self, sha256: str) -> Path | None:
        """The cached blob with this sha256, or None (also for anything that is not a sha256)."""
        sha256 = sha256.lower()
        if not _HEX64.fullmatch(sha256):
            return None
        path = self._blob_path(sha256)
        return path if path.is_file() else None

    def put_bytes(self, data: bytes) -> tuple[str, Path]:
        digest = hashlib.sha256(data).hexdigest()
        existing = self.get(digest)
        if existing is not None:
            return digest, existing

        def write(fh: BinaryIO) -> str:
            fh.write(data)
            return digest

        return digest, self._store(write)

    def put_file(self, src: Path) -> tuple[str, Path]:
        with src.open("rb") as source:

            def write(fh: BinaryIO) -> str:
                h = hashlib.sha256()
                while chunk := source.read(_CHUNK):
                    h.update(chunk)
                    fh.write(chunk)
                return h.hexdigest()

            path = self._store(write)
        return path.name, path

    def _store(self, write: WriteFn) -> Path:
        """Store what `write` writes under the sha256 it returns; it may raise to store nothing."""
        try:
            return _write_atomically(self.root / "tmp", self._blob_path, write)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def get_record(self, key: str) -> dict[str, Any] | None:
        try:
            raw = json.loads(self._record_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: a cache miss, never an error
        if isinstance(raw, dict) and raw.get("key") == key and isinstance(raw.get("value"), dict):
            value: dict[str, Any] = raw["value"]
            return value
        return None

    def put_record(self, key: str, value: dict[str, Any]) -> None:
        path = self._record_path(key)
        data = json.dumps({"key": key, "value": value}, indent=2, sort_keys=True).encode()

        def write(fh: BinaryIO) -> str:
            fh.write(data)
            return key

        try:
            _write_atomically(path.parent, lambda _key: path, write)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: OSError) -> UpstreamError:
        return UpstreamError(
            f"could not write to the pyhotfix cache at {self.root} ({exc.strerror or exc}). "
            "Check free disk space and permissions, or set PYHOTFIX_CACHE_DIR to a writable "
            "directory."
        )


# --------------------------------------------------------------------------------------------
# Reading the index


def _project_url(index_url: str, project: str) -> str:
    return f"{index_url.rstrip('/')}/{project}/"


def _transport_error(
    url: str, exc: Exception, advice: str, name: str | None = None
) -> UpstreamError:
    detail = scrub(str(exc), url).rstrip(".") or type(exc).__name__
    what = f"{name} from {redact(url)}" if name else redact(url)
    return UpstreamError(f"could not fetch {what}: {detail}. {_advice_for(url, advice)}")


def _advice_for(url: str, advice: str) -> str:
    # A file:// URL has no network or proxy to check.
    return _CHECK_FILE if url[:7].lower() == "file://" else advice


def _status_error(response: httpx.Response, url: str, advice: str) -> UpstreamError:
    code = response.status_code
    if code in (401, 403):
        return UpstreamError(
            f"{redact(url)} refused access (HTTP {code}). If the index needs a login, put the "
            "credentials in the [settings] upstream URL (https://user:password@host/...) or in "
            "~/.netrc, and check that they are still valid."
        )
    if code == 404 and url[:7].lower() == "file://":
        return UpstreamError(
            f"{redact(url)} does not exist (no such file, or a directory without index.html). "
            f"{_CHECK_FILE}"
        )
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return UpstreamError(f"{redact(url)} answered HTTP {code}{reason}. {advice}")


def _get_page(
    client: httpx.Client,
    page_url: str,
    headers: Mapping[str, str],
    project: str,
    limits: DownloadLimits | None,
) -> tuple[httpx.Response, bytes, str]:
    """The response, for a 2xx its (size- and time-bounded) body (b"" otherwise), and the URL
    that was finally served (after redirects), which relative links resolve against."""
    from pyhotfix.fileurl import from_request_url

    limits = DownloadLimits.from_env() if limits is None else limits
    what = f"the project page of {project}"
    with _bounded_get(client, page_url, headers, limits, what, page=True) as (response, chunks):
        body = b"".join(chunks) if response.is_success else b""
    return response, body, from_request_url(str(response.url))


def list_files(
    client: httpx.Client, index_url: str, name: str, limits: DownloadLimits | None = None
) -> list[DistFile]:
    """All files on the project's page of a PEP 691 (JSON) or PEP 503 (HTML) simple index."""
    import httpx

    project = canonicalize_name(name)
    page_url = _project_url(index_url, project)
    try:
        response, body, base = _get_page(client, page_url, {"Accept": ACCEPT}, project, limits)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _transport_error(page_url, exc, _CHECK_SETTINGS) from exc
    if response.status_code == 404:
        raise UpstreamError(
            f"project {project} not found on {redact(index_url)}. Check the project name in "
            "hotfixes.toml and that [settings] upstream points at the index that hosts it."
        )
    if not response.is_success:
        raise _status_error(response, page_url, _CHECK_SETTINGS)
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    # Relative file URLs resolve against the page that was finally served (after redirects).
    return _parse_page(body, content_type, base, page_url)


# --------------------------------------------------------------------------------------------
# Choosing the sdist


def _parse_version(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion as exc:
        raise UpstreamError(
            f"{version!r} is not a valid version (PEP 440), so no upstream sdist can match it. "
            f"{_CHECK_VERSION}"
        ) from exc


def _parse_filename(filename: str) -> tuple[NormalizedName, Version, bool] | None:
    """(project, version, is_sdist) from an sdist or wheel filename; None if it is neither."""
    if dist_kind(filename) is None:
        return None
    try:
        parsed = parse_dist_filename(filename)
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        return None
    return parsed.name, parsed.version, parsed.kind == "sdist"


def _nearest(versions: Sequence[Version], wanted: Version, count: int = 10) -> list[Version]:
    ordered = sorted(set(versions))
    i = bisect_left(ordered, wanted)
    start = max(0, min(i - count // 2, len(ordered) - count))
    return ordered[start : start + count]


def _available(versions: Sequence[Version], wanted: Version, count: int = 10) -> str:
    """The versions to show for a version the index lacks: all when few, else the `count`
    nearest to `wanted`, and always the newest (the usual answer to "which one did you mean")."""
    total = len(set(versions))
    nearest = _nearest(versions, wanted, count)
    if len(nearest) == total:
        return f"versions available: {', '.join(map(str, nearest))} (all {total})"
    newest = max(versions)
    shown = ", ".join(map(str, nearest))
    if newest not in nearest:
        return (
            f"versions available: {shown} (the {len(nearest)} nearest to {wanted} of {total}); "
            f"the newest is {newest}"
        )
    return f"versions available: {shown} (the {len(nearest)} nearest to {wanted} of {total})"


def find_sdist(files: Sequence[DistFile], name: str, version: str, index_url: str) -> DistFile:
    """The sdist of exactly `version` (PEP 440 equality). A yanked one is fine: pinned exactly,
    it stays installable (PEP 592), and a hotfix of a yanked release is a legitimate need."""
    project = canonicalize_name(name)
    wanted = _parse_version(version)
    sdists: list[DistFile] = []
    same_version: list[str] = []
    seen_versions: list[Version] = []
    for f in files:
        parsed = _parse_filename(f.filename)
        if parsed is None or parsed[0] != project:
            continue
        seen_versions.append(parsed[1])
        if parsed[1] == wanted:
            same_version.append(f.filename)
            if parsed[2]:
                sdists.append(f)
    if sdists:
        # Prefer a file that is not yanked, then .tar.gz (the PEP 625 format) over .zip.
        return min(sdists, key=lambda f: (f.yanked, not f.filename.endswith(".tar.gz")))
    where = f"no sdist of {project} {version} on {redact(index_url)}"
    if same_version:
        raise UpstreamError(
            f"{where}; files for that version: {', '.join(sorted(same_version))}. pyhotfix "
            "rebuilds from source, so it needs the sdist: pick a version that publishes one, or "
            "point [settings] upstream at an index that has it."
        )
    if seen_versions:
        raise UpstreamError(
            f"{where}; no files for that version; {_available(seen_versions, wanted)}. "
            f"{_CHECK_VERSION}"
        )
    raise UpstreamError(
        f"{where}; the index lists no sdists or wheels for {project} at all. Check the project "
        "name in hotfixes.toml and [settings] upstream."
    )


# --------------------------------------------------------------------------------------------
# Downloading


def _expected_sha256(value: str | None, url: str) -> str | None:
    if value is None:
        return None
    digest = value.strip().lower()
    if not _HEX64.fullmatch(digest):
        raise UpstreamError(
            f"the sha256 given for {redact(url)} ({value!r}) is not 64 hexadecimal digits. "
            "Copy the full sha256 of the file."
        )
    return digest


def download(
    client: httpx.Client,
    url: str,
    cache: Cache,
    expected_sha256: str | None,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path]:
    """Stream `url` into the cache and return (sha256, path); nothing is stored on a mismatch
    or when the download breaks a limit (default: `DownloadLimits.from_env()`)."""
    import httpx

    expected = _expected_sha256(expected_sha256, url)
    limits = DownloadLimits.from_env() if limits is None else limits
    name = _display_name(url)

    def write(fh: BinaryIO) -> str:
        h = hashlib.sha256()
        # identity + raw bytes: hashes are of the file as published, and some servers label a
        # .tar.gz as Content-Encoding: gzip, which a decoding client would wrongly unpack.
        headers = {"Accept-Encoding": "identity"}
        with _bounded_get(client, url, headers, limits, name, page=False) as (
            response,
            chunks,
        ):
            if not response.is_success:
                raise _status_error(response, url, _CHECK_URL)
            for chunk in chunks:
                h.update(chunk)
                fh.write(chunk)
        actual = h.hexdigest()
        if expected is not None and actual != expected:
            raise UpstreamError(
                f"{name} from {redact(url)} does not have the expected content: its sha256 is "
                f"{actual}, expected {expected}. It was not used or cached. The file may have been "
                "replaced upstream or corrupted in transit; if you trust the new file, update "
                "the expected sha256."
            )
        return actual

    try:
        path = cache._store(write)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _transport_error(url, exc, _CHECK_URL, name) from exc
    return path.name, path


def _record_key(index_url: str, project: str, version: Version) -> str:
    index = strip_credentials(index_url).rstrip("/") + "/"
    return json.dumps(
        {"kind": "upstream-sdist", "index": index, "name": project, "version": str(version)},
        sort_keys=True,
    )


def _from_record(record: dict[str, Any] | None, cache: Cache) -> UpstreamSdist | None:
    if record is None:
        return None
    fields = ("name", "version", "filename", "url", "sha256")
    if not all(isinstance(record.get(k), str) for k in fields):
        return None
    path = cache.get(record["sha256"])
    if path is None:
        return None
    return UpstreamSdist(path=path, **{k: record[k] for k in fields})


def fetch_sdist(
    index_url: str,
    name: str,
    version: str,
    cache: Cache,
    client_factory: Callable[[str], httpx.Client] = make_client,
    limits: DownloadLimits | None = None,
) -> UpstreamSdist:
    """Resolve and download the upstream sdist; a rerun with a warm cache needs no network."""
    project = canonicalize_name(name)
    key = _record_key(index_url, project, _parse_version(version))
    cached = _from_record(cache.get_record(key), cache)
    if cached is not None:
        return cached
    limits = DownloadLimits.from_env() if limits is None else limits  # checked before connecting
    with client_factory(index_url) as client:
        files = list_files(client, index_url, project, limits)
        dist = find_sdist(files, project, version, index_url)
        # Without a hash on the index we still download; the computed hash is recorded, so the
        # lock file pins it from now on.
        sha256, path = download(client, dist.url, cache, dist.sha256, limits)
    sdist = UpstreamSdist(
        name=project,
        version=str(parse_sdist_filename(dist.filename)[1]),
        filename=dist.filename,
        url=strip_credentials(dist.url),
        sha256=sha256,
        path=path,
    )
    cache.put_record(
        key,
        {
            "name": sdist.name,
            "version": sdist.version,
            "filename": sdist.filename,
            "url": sdist.url,
            "sha256": sdist.sha256,
        },
    )
    return sdist


def fetch_url(
    url: str,
    cache: Cache,
    expected_sha256: str | None,
    client_factory: Callable[[str], httpx.Client] = make_client,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path]:
    """Download a pinned URL (e.g. a patch); with a known sha256 already cached, no network."""
    expected = _expected_sha256(expected_sha256, url)
    if expected is not None:
        hit = cache.get(expected)
        if hit is not None:
            return expected, hit
    limits = DownloadLimits.from_env() if limits is None else limits  # checked before connecting
    with client_factory(url) as client:
        return download(client, url, cache, expected, limits)


# --------------------------------------------------------------------------------------------
# Conditional requests for repeated checks (`pyhotfix status`)


@dataclass(frozen=True)
class CachedListing:
    """A project page's files, from the network or, when it cannot be reached, from the cache."""

    files: tuple[DistFile, ...]
    stale: bool  # True: the index could not be reached; these are the last files seen
    fetched_at: float  # when the page body was last downloaded (seconds since the epoch)
    error: str | None  # why the answer is stale


def _page_record_key(index_url: str, project: str) -> str:
    index = strip_credentials(index_url).rstrip("/") + "/"
    return json.dumps({"kind": "project-page", "index": index, "name": project}, sort_keys=True)


def _parse_page(body: bytes, content_type: str, base: str, page_url: str) -> list[DistFile]:
    try:
        return parse_page(body, content_type, base)
    except PAGE_ERRORS as exc:
        raise UpstreamError(
            f"{redact(page_url)} is not a valid simple-index project page ({exc}). Check that "
            "[settings] upstream is the URL of a PEP 503 simple index (like "
            f"{PYPI_SIMPLE_URL})."
        ) from exc


def _listing_from_record(record: dict[str, Any] | None, page_url: str) -> CachedListing | None:
    if record is None or not all(
        isinstance(record.get(k), str) for k in ("body", "content_type", "url")
    ):
        return None
    try:
        files = _parse_page(
            base64.b64decode(record["body"]), record["content_type"], record["url"], page_url
        )
    except (UpstreamError, ValueError):
        return None  # a damaged record is a cache miss
    fetched_at = record.get("fetched_at")
    return CachedListing(
        files=tuple(files),
        stale=False,
        fetched_at=float(fetched_at) if isinstance(fetched_at, int | float) else 0.0,
        error=None,
    )


def list_files_cached(
    client: httpx.Client,
    index_url: str,
    name: str,
    cache: Cache,
    limits: DownloadLimits | None = None,
) -> CachedListing:
    """`list_files` with HTTP caching: the page body and its ETag / Last-Modified are kept in the
    cache's record store and revalidated with If-None-Match / If-Modified-Since (a 304 reuses the
    body). When the index cannot be reached or fails (5xx), the cached files are returned marked
    stale; without a cached page that is an UpstreamError. A 404 is never answered from the cache.
    """
    import httpx

    project = canonicalize_name(name)
    page_url = _project_url(index_url, project)
    key = _page_record_key(index_url, project)
    record = cache.get_record(key)
    cached = _listing_from_record(record, page_url)
    headers = {"Accept": ACCEPT}
    if cached is not None and record is not None:
        if isinstance(record.get("etag"), str):
            headers["If-None-Match"] = record["etag"]
        if isinstance(record.get("last_modified"), str):
            headers["If-Modified-Since"] = record["last_modified"]
    try:
        response, body, base = _get_page(client, page_url, headers, project, limits)
    except _LimitExceeded as exc:
        if cached is None:
            raise
        return CachedListing(cached.files, True, cached.fetched_at, str(exc))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = _transport_error(page_url, exc, _CHECK_SETTINGS)
        if cached is None:
            raise error from exc
        return CachedListing(cached.files, True, cached.fetched_at, str(error))
    if response.status_code == 304 and cached is not None:
        return cached
    if response.status_code == 404:
        raise UpstreamError(
            f"project {project} not found on {redact(index_url)}. Check the project name in "
            "hotfixes.toml and that [settings] upstream points at the index that hosts it."
        )
    if not response.is_success:
        error = _status_error(response, page_url, _CHECK_SETTINGS)
        if cached is None or response.status_code < 500:
            raise error
        return CachedListing(cached.files, True, cached.fetched_at, str(error))
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    files = _parse_page(body, content_type, base, page_url)
    now = time.time()
    value: dict[str, Any] = {
        "body": base64.b64encode(body).decode("ascii"),
        "content_type": content_type,
        "url": strip_credentials(base),
        "fetched_at": now,
    }
    for header, field_name in (("etag", "etag"), ("last-modified", "last_modified")):
        if response.headers.get(header):
            value[field_name] = response.headers[header]
    cache.put_record(key, value)
    return CachedListing(files=tuple(files), stale=False, fetched_at=now, error=None)


def cached_download(
    client: httpx.Client | None,
    dist: DistFile,
    cache: Cache,
    limits: DownloadLimits | None = None,
) -> tuple[str, Path] | None:
    """The file `dist` from the cache, downloading it once if `client` is given.

    Found by the sha256 the index lists, else by a record of its URL (indexes without hashes);
    returns None when it is not cached and `client` is None (offline).
    """
    url_key = json.dumps({"kind": "file-by-url", "url": strip_credentials(dist.url)})
    if dist.sha256 is not None:
        hit = cache.get(dist.sha256)
        if hit is not None:
            return dist.sha256, hit
    else:
        record = cache.get_record(url_key)
        if record is not None and isinstance(record.get("sha256"), str):
            hit = cache.get(record["sha256"])
            if hit is not None:
                return record["sha256"], hit
    if client is None:
        return None
    sha256, path = download(client, dist.url, cache, dist.sha256, limits)
    if dist.sha256 is None:
        cache.put_record(url_key, {"sha256": sha256})
    return sha256, path
