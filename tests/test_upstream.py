"""Finding and downloading upstream sdists, against a loopback fake index (never PyPI)."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from pyhotfix import upstream
from pyhotfix.building import EnvCache
from pyhotfix.errors import UpstreamError, UsageError
from pyhotfix.httpclient import make_client, redact
from pyhotfix.index import LocalIndex
from pyhotfix.lock import read_lock
from pyhotfix.simpleapi import ACCEPT, DistFile, parse_page
from pyhotfix.upstream import (
    PYPI_SIMPLE_URL,
    Cache,
    DownloadLimits,
    default_cache_dir,
    default_upstream_url,
    download,
    fetch_sdist,
    fetch_url,
    find_sdist,
    list_files,
    pipconfig,
)
from tests.conftest import Pyhotfix
from tests.support.dists import make_listing_sdist, make_listing_wheel
from tests.support.fakeindex import FakeIndex
from tests.support.hostileserver import HostileServer
from tests.support.projects import make_project, module_name
from tests.support.projects import make_sdist as build_sdist


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def blobs(cache: Cache) -> list[Path]:
    return sorted(p for p in (cache.root / "blobs").rglob("*") if p.is_file())


def no_network(url: str) -> httpx.Client:
    raise AssertionError(f"the network was used for {url}")


def closed_port_url() -> str:
    # Bind then close: nothing listens on the port afterwards, so connections are refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple/"


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    d = tmp_path / "dists"
    d.mkdir()
    return d


# ---------------------------------------------------------------------------- listing files


@pytest.mark.parametrize("formats", ["json", "html", "both"])
def test_list_files_parses_both_formats_identically(formats: str, dists: Path) -> None:
    sdist = make_listing_sdist(dists, "demo_pkg", "1.0")
    wheel = make_listing_wheel(dists, "demo_pkg", "1.0")
    old = make_listing_sdist(dists, "demo_pkg", "0.9")
    with FakeIndex(formats=formats) as index:
        index.add_file(sdist, requires_python="<4,>=3.8")
        index.add_file(wheel, sha256=None)
        index.add_file(old, yanked=True)
        with make_client(index.url) as client:
            # A non-normalized name is canonicalized before the request.
            files = list_files(client, index.url, "Demo.Pkg")
        assert index.requests == ["/simple/demo-pkg/"]

    # The same records from both formats; the PEP 700 size only a JSON page (preferred) can carry.
    def size(path: Path) -> int | None:
        return path.stat().st_size if formats != "html" else None

    assert files == [
        DistFile(
            filename="demo_pkg-1.0.tar.gz",
            url=index.files_url + "demo_pkg-1.0.tar.gz",  # resolved, no #sha256 fragment
            sha256=sha256_of(sdist),
            requires_python="<4,>=3.8",  # html-unescaped in the HTML format
            yanked=False,
            size=size(sdist),
        ),
        DistFile(
            "demo_pkg-1.0-py3-none-any.whl",
            index.files_url + wheel.name,
            None,
            None,
            False,
            size=size(wheel),
        ),
        DistFile(
            "demo_pkg-0.9.tar.gz",
            index.files_url + old.name,
            sha256_of(old),
            None,
            True,
            size=size(old),
        ),
    ]


def test_fake_index_negotiates_the_format(dists: Path) -> None:
    with FakeIndex() as index, httpx.Client() as client:
        index.add_file(make_listing_wheel(dists, "demo", "1.0"))
        preferred = client.get(index.url + "demo/", headers={"Accept": ACCEPT})
        html = client.get(index.url + "demo/", headers={"Accept": "text/html"})
    assert preferred.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert html.headers["content-type"].startswith("text/html")


def test_unknown_project_is_a_clear_error() -> None:
    with (
        FakeIndex() as index,
        make_client(index.url) as client,
        pytest.raises(UpstreamError) as err,
    ):
        list_files(client, index.url, "no-such-project")
    assert str(err.value).startswith(f"project no-such-project not found on {index.url}")


def test_unreachable_index_is_an_upstream_error() -> None:
    url = closed_port_url()
    with make_client(url, timeout=5) as client, pytest.raises(UpstreamError) as err:
        list_files(client, url, "demo")
    message = str(err.value)
    assert f"could not fetch {url}demo/" in message
    assert "[settings] upstream" in message
    assert "Traceback" not in message and "httpx" not in message


def test_unreachable_index_through_fetch_sdist(cache: Cache) -> None:
    with pytest.raises(UpstreamError, match="could not fetch"):
        fetch_sdist(closed_port_url(), "demo", "1.0", cache)
    assert blobs(cache) == []


# ---------------------------------------------------------------------------- choosing the sdist


def dist(filename: str, yanked: bool = False) -> DistFile:
    return DistFile(filename, f"https://files.example/{filename}", None, None, yanked)


def test_find_sdist_among_wheels_and_other_versions() -> None:
    files = [
        dist("Demo_Pkg-1.0-py3-none-any.whl"),
        dist("Demo_Pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        dist("demo_pkg-1.1.tar.gz"),
        dist("demo_pkg-1.0.zip"),
        dist("demo_pkg-1.0.tar.gz"),
        dist("unparsable.tar.gz"),
        dist("other-1.0.tar.gz"),
    ]
    # PEP 440 equality: "1.0.0" matches 1.0; .tar.gz preferred over .zip.
    assert find_sdist(files, "demo.pkg", "1.0.0", "https://idx/simple/").filename == (
        "demo_pkg-1.0.tar.gz"
    )


def test_find_sdist_accepts_a_yanked_release_pinned_exactly() -> None:
    files = [dist("demo-1.0.tar.gz", yanked=True), dist("demo-1.1.tar.gz")]
    assert find_sdist(files, "demo", "1.0", "https://idx/simple/").yanked


def test_no_sdist_lists_the_files_of_that_version() -> None:
    files = [
        dist("demo-1.0-py3-none-any.whl"),
        dist("demo-1.0-cp311-cp311-win_amd64.whl"),
        dist("demo-0.9.tar.gz"),
    ]
    with pytest.raises(UpstreamError) as err:
        find_sdist(files, "demo", "1.0", "https://u:secret@idx/simple/")
    message = str(err.value)
    assert message.startswith(
        "no sdist of demo 1.0 on https://u:***@idx/simple/; files for that version: "
        "demo-1.0-cp311-cp311-win_amd64.whl, demo-1.0-py3-none-any.whl."
    )
    assert "secret" not in message


def test_no_files_for_the_version_lists_nearby_versions() -> None:
    files = [dist(f"demo-1.{minor}.tar.gz") for minor in range(20)]
    with pytest.raises(UpstreamError) as err:
        find_sdist(files, "demo", "1.9.5", "https://idx/simple/")
    message = str(err.value)
    assert "no files for that version; versions available: " in message
    listed = message.split("versions available: ")[1].split(" (")[0].split(", ")
    assert listed == [f"1.{minor}" for minor in range(5, 15)]
    # Says what it lists, always names the newest, and does not blame a file that may not exist.
    assert "(the 10 nearest to 1.9.5 of 20); the newest is 1.19. " in message
    assert "Check the version you asked for" in message
    assert "Check the version in hotfixes.toml" not in message


def test_few_versions_are_all_listed_and_the_newest_is_not_repeated() -> None:
    files = [dist(f"demo-1.{minor}.tar.gz") for minor in range(4)]
    with pytest.raises(UpstreamError) as err:
        find_sdist(files, "demo", "9.9", "https://idx/simple/")
    assert "versions available: 1.0, 1.1, 1.2, 1.3 (all 4). " in str(err.value)
    many = [dist(f"demo-1.{minor}.tar.gz") for minor in range(30)]
    with pytest.raises(UpstreamError) as err:
        find_sdist(many, "demo", "1.28.5", "https://idx/simple/")
    assert str(err.value).count("1.29") == 1 and "newest is" not in str(err.value)
    assert "(the 10 nearest to 1.28.5 of 30)" in str(err.value)


def test_invalid_version_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="not a valid version"):
        find_sdist([dist("demo-1.0.tar.gz")], "demo", "latest", "https://idx/simple/")


# ---------------------------------------------------------------------------- fetching


def test_fetch_sdist_downloads_and_caches(dists: Path, cache: Cache) -> None:
    sdist = make_listing_sdist(dists, "demo", "1.0")
    with FakeIndex() as index:
        index.add_file(sdist)
        index.add_file(make_listing_wheel(dists, "demo", "1.0"))
        index.add_file(make_listing_sdist(dists, "demo", "2.0"))
        result = fetch_sdist(index.url, "Demo", "1.0", cache)
        assert index.requests == ["/simple/demo/", "/files/demo-1.0.tar.gz"]

        # The rerun is served from the cache record: no client is even created.
        again = fetch_sdist(index.url, "demo", "1.0", cache, client_factory=no_network)
        assert len(index.requests) == 2

    assert result == again
    assert result.name == "demo" and result.version == "1.0"
    assert result.filename == "demo-1.0.tar.gz"
    assert result.url == index.files_url + "demo-1.0.tar.gz"
    assert result.sha256 == sha256_of(sdist)
    assert result.path.read_bytes() == sdist.read_bytes()
    digest = result.sha256
    assert result.path == cache.root / "blobs" / "sha256" / digest[:2] / digest


def test_fetch_sdist_refetches_when_the_blob_is_gone(dists: Path, cache: Cache) -> None:
    with FakeIndex() as index:
        index.add_file(make_listing_sdist(dists, "demo", "1.0"))
        first = fetch_sdist(index.url, "demo", "1.0", cache)
        first.path.unlink()
        second = fetch_sdist(index.url, "demo", "1.0", cache)
        assert index.requests.count("/files/demo-1.0.tar.gz") == 2
    assert second.path.is_file() and second.sha256 == first.sha256


def test_fetch_sdist_without_index_hash_records_the_computed_one(dists: Path, cache: Cache) -> None:
    sdist = make_listing_sdist(dists, "demo", "1.0")
    with FakeIndex(formats="html") as index:
        index.add_file(sdist, sha256=None)
        result = fetch_sdist(index.url, "demo", "1.0", cache)
    assert result.sha256 == sha256_of(sdist)
    # The index is gone now: the record alone answers.
    assert fetch_sdist(index.url, "demo", "1.0", cache, client_factory=no_network) == result


def test_hash_mismatch_is_refused_and_nothing_is_cached(dists: Path, cache: Cache) -> None:
    sdist = make_listing_sdist(dists, "demo", "1.0")
    lie = "0" * 64
    with FakeIndex() as index:
        index.add_file(sdist, sha256=lie)
        with pytest.raises(UpstreamError) as err:
            fetch_sdist(index.url, "demo", "1.0", cache)
    message = str(err.value)
    assert index.files_url + "demo-1.0.tar.gz" in message
    assert lie in message and sha256_of(sdist) in message
    assert blobs(cache) == []
    assert not any((cache.root / "tmp").iterdir())  # the partial download was removed


def test_credentials_in_the_url_become_basic_auth(dists: Path, cache: Cache) -> None:
    sdist = make_listing_sdist(dists, "demo", "1.0")
    with FakeIndex(auth=("alice", "s3cr%t")) as index:
        index.add_file(sdist)
        authed = index.url.replace("http://", "http://alice:s3cr%25t@")
        result = fetch_sdist(authed, "demo", "1.0", cache)

        with pytest.raises(UpstreamError) as denied:
            fetch_sdist(index.url, "demo", "1.0", Cache(cache.root / "other"))
        wrong = index.url.replace("http://", "http://alice:wrong-pw@")
        with pytest.raises(UpstreamError) as wrong_err:
            fetch_sdist(wrong, "demo", "1.0", Cache(cache.root / "other"))

    assert result.sha256 == sha256_of(sdist)
    # The lock file gets a URL without any credentials.
    assert result.url == index.files_url + "demo-1.0.tar.gz"
    assert "HTTP 401" in str(denied.value) and "~/.netrc" in str(denied.value)
    assert "wrong-pw" not in str(wrong_err.value)
    assert "alice:***@" in str(wrong_err.value)


def test_index_credentials_are_not_sent_to_other_hosts() -> None:
    with make_client("https://bob:pw@index.example/simple/") as client:
        assert client.auth is not None
        auth = client.auth

        def authorization(url: str) -> str | None:
            request = next(auth.sync_auth_flow(client.build_request("GET", url)))
            header: str | None = request.headers.get("Authorization")
            return header

        assert authorization("https://index.example/files/demo-1.0.tar.gz") == "Basic Ym9iOnB3"
        assert authorization("https://cdn.example/files/demo-1.0.tar.gz") is None
        assert authorization("http://index.example/simple/") is None  # no https downgrade


def test_netrc_credentials(
    dists: Path, cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login carol password from-netrc\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with FakeIndex(auth=("carol", "from-netrc")) as index:
        index.add_file(make_listing_sdist(dists, "demo", "1.0"))
        assert fetch_sdist(index.url, "demo", "1.0", cache).filename == "demo-1.0.tar.gz"


def test_fetch_url_downloads_then_uses_the_cache(cache: Cache) -> None:
    body = b"--- a/x\n+++ b/x\n"
    digest = hashlib.sha256(body).hexdigest()
    with FakeIndex() as index:
        index.add_raw("/patches/fix.patch", body)
        url = index.base_url + "/patches/fix.patch"
        assert fetch_url(url, cache, None)[0] == digest
        got, path = fetch_url(url, cache, digest.upper(), client_factory=no_network)
        assert index.requests == ["/patches/fix.patch"]
        with pytest.raises(UpstreamError, match="expected " + "1" * 64):
            fetch_url(url, Cache(cache.root / "b"), "1" * 64)
        with pytest.raises(UpstreamError, match="HTTP 404"):
            fetch_url(index.base_url + "/patches/missing.patch", cache, None)
    assert got == digest and path.read_bytes() == body


def test_download_rejects_a_malformed_expected_hash(cache: Cache) -> None:
    with make_client("http://127.0.0.1/") as client, pytest.raises(UpstreamError, match="64"):
        download(client, "http://127.0.0.1/x", cache, "abc")


# ---------------------------------------------------------------------------- the cache


def test_cache_layout_and_records(cache: Cache, tmp_path: Path) -> None:
    digest, path = cache.put_bytes(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert path == cache.root / "blobs" / "sha256" / digest[:2] / digest
    assert cache.get(digest) == path and cache.get(digest.upper()) == path
    assert cache.get("0" * 64) is None
    assert cache.get("../../etc/passwd") is None  # never a path outside the cache

    src = tmp_path / "src.bin"
    src.write_bytes(b"hello")
    assert cache.put_file(src) == (digest, path)

    assert cache.get_record("k") is None
    cache.put_record("k", {"a": 1})
    assert cache.get_record("k") == {"a": 1}
    assert cache.get_record("other") is None


def test_cache_concurrent_writers_of_the_same_content(cache: Cache) -> None:
    data = os.urandom(1 << 20)
    results: list[tuple[str, Path]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.put_bytes(data))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert results[0][1].read_bytes() == data


def test_a_corrupt_record_is_a_miss(cache: Cache) -> None:
    cache.put_record("k", {"a": 1})
    record = next((cache.root / "records").rglob("*.json"))
    record.write_text("{not json")
    assert cache.get_record("k") is None


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYHOTFIX_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PYHOTFIX_CACHE_DIR")
    assert default_cache_dir().name == "pyhotfix"


# ---------------------------------------------------------------------------- configuration


@pytest.fixture
def no_pip_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide this machine's real pip configuration from the test."""
    for var in ("PIP_INDEX_URL", "PIP_CONFIG_FILE", "VIRTUAL_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pipconfig, "global_config_files", lambda: [])
    monkeypatch.setattr(pipconfig, "user_config_files", lambda: [])


def write_pip_conf(path: Path, url: str, key: str = "index-url") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[global]\n{key} = {url}\ntimeout = 60\n")
    return path


@pytest.mark.usefixtures("no_pip_config")
def test_default_upstream_url_falls_back_to_pypi() -> None:
    assert default_upstream_url() == PYPI_SIMPLE_URL


@pytest.mark.usefixtures("no_pip_config")
def test_default_upstream_url_from_pip_index_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = write_pip_conf(tmp_path / "pip.conf", "https://from-file/simple/")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("PIP_INDEX_URL", "https://from-env/simple/")
    assert default_upstream_url() == "https://from-env/simple/"


@pytest.mark.usefixtures("no_pip_config")
def test_default_upstream_url_from_pip_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A percent sign must survive: no interpolation.
    conf = write_pip_conf(tmp_path / "pip.conf", "https://u:p%40ss@corp/simple/", key="index_url")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert default_upstream_url() == "https://u:p%40ss@corp/simple/"


@pytest.mark.usefixtures("no_pip_config")
def test_pip_config_file_wins_over_the_virtualenv_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_pip_conf(tmp_path / "venv" / "pip.conf", "https://venv/simple/")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "venv"))
    assert default_upstream_url() == "https://venv/simple/"
    conf = write_pip_conf(tmp_path / "env.conf", "https://env-file/simple/")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert default_upstream_url() == "https://env-file/simple/"


def test_pip_config_file_devnull_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert default_upstream_url() == PYPI_SIMPLE_URL


@pytest.mark.usefixtures("no_pip_config")
def test_broken_pip_config_is_an_upstream_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("index-url = no section header\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    with pytest.raises(UpstreamError, match=str(conf)):
        default_upstream_url()


# ---------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host/simple/", "https://user:***@host/simple/"),
        ("https://user:p%40ss@host:8443/s/", "https://user:***@host:8443/s/"),
        ("https://TOKEN@host/simple/", "https://***@host/simple/"),
        ("https://TOKEN:@host/simple/", "https://***@host/simple/"),
        ("https://host/simple/", "https://host/simple/"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


# ---------------------------------------------------------------------------- download limits

MiB = 1 << 20


def cache_files(cache: Cache) -> list[Path]:
    """Every file in the cache: blobs, records and anything left in its temp directory."""
    return sorted(p for p in cache.root.rglob("*") if p.is_file())


def refused(call: object, *args: object, **kwargs: object) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(UpstreamError) as err:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(err.value), time.monotonic() - started


def test_an_oversize_content_length_is_refused_before_reading(cache: Cache) -> None:
    # The server declares 1 TiB, then sends nothing for 10 s: reading would stall past the test.
    with HostileServer() as server:
        url = server.url("declared-huge", "big-1.0.tar.gz").replace("//", "//user:hunter2@", 1)
        message, took = refused(fetch_url, url, cache, None)
    assert took < 3
    assert message.startswith("refused to download big-1.0.tar.gz from http://user:***@127.0.0.1")
    assert f"its Content-Length is {1 << 40} bytes, over the limit of 1 GiB" in message
    assert "set PYHOTFIX_MAX_DOWNLOAD_BYTES to a number of bytes" in message
    assert "hunter2" not in message
    assert cache_files(cache) == []


@pytest.mark.parametrize("mode", ["chunked", "until-close"])
def test_a_stream_without_an_honest_length_stops_at_the_cap(cache: Cache, mode: str) -> None:
    limits = DownloadLimits(max_bytes=1 * MiB, stall_timeout=5, deadline=10)
    with HostileServer(max_sent=256 * MiB) as server:
        url = server.url(mode, "endless-1.0.tar.gz")
        message, took = refused(fetch_url, url, cache, None, limits=limits)
        server.stop.set()
        sent = server.sent
    assert took < 5
    assert message.startswith("stopped downloading endless-1.0.tar.gz from http://127.0.0.1")
    assert "sent more than the limit of 1 MiB" in message and "Nothing was kept" in message
    # Stopped near the cap, not at the server's bound (socket buffers hold a few MiB at most).
    assert sent < 64 * MiB
    assert cache_files(cache) == []


def test_the_cap_comes_from_the_environment(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYHOTFIX_MAX_DOWNLOAD_BYTES", str(2 * MiB))
    with HostileServer() as server:
        message, _ = refused(fetch_url, server.url("chunked", "x-1.0.tar.gz"), cache, None)
    assert "the limit of 2 MiB" in message and "(now 2097152)" in message
    assert cache_files(cache) == []


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1e3x", "inf", "nan"])
def test_a_bad_limit_in_the_environment_is_a_usage_error(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PYHOTFIX_DOWNLOAD_DEADLINE", value)
    with pytest.raises(UsageError, match=r"PYHOTFIX_DOWNLOAD_DEADLINE is .* positive number"):
        fetch_url("http://127.0.0.1:9/x.patch", cache, None, no_network)
    assert DownloadLimits.from_env({"PYHOTFIX_DOWNLOAD_DEADLINE": " 2.5 "}).deadline == 2.5


def test_a_dripping_server_is_stopped_by_the_stall_timeout(cache: Cache) -> None:
    limits = DownloadLimits(stall_timeout=0.3, deadline=10)
    with HostileServer(drip_interval=1.0, max_drips=5) as server:
        url = server.url("drip", "slow-1.0.tar.gz")
        message, took = refused(fetch_url, url, cache, None, limits=limits)
    assert took < 2
    assert message.startswith("gave up downloading slow-1.0.tar.gz from http://127.0.0.1")
    assert "the server sent nothing for 0.3 s" in message
    assert "PYHOTFIX_DOWNLOAD_STALL_TIMEOUT" in message
    assert cache_files(cache) == []


def test_a_dripping_server_is_stopped_by_the_deadline(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A byte every 0.1 s never stalls; the 1 s deadline (from the environment) ends it.
    monkeypatch.setenv("PYHOTFIX_DOWNLOAD_DEADLINE", "1")
    with HostileServer(drip_interval=0.1, max_drips=100) as server:
        url = server.url("drip", "slow-1.0.tar.gz")
        message, took = refused(fetch_url, url, cache, None)
    assert 1 <= took < 3
    assert message.startswith("gave up downloading slow-1.0.tar.gz from http://127.0.0.1")
    assert "it took longer than 1 s" in message and "PYHOTFIX_DOWNLOAD_DEADLINE" in message
    assert cache_files(cache) == []


def test_an_index_page_that_inflates_past_its_cap_is_refused(cache: Cache) -> None:
    # 4 MiB of HTML, gzip-compressed to a few KiB: the decoded size is what is counted.
    limits = DownloadLimits(max_bytes=1 * MiB)
    assert limits.page_max_bytes == 1 * MiB and DownloadLimits().page_max_bytes == 64 * MiB
    with HostileServer(page_bytes=4 * MiB) as server, make_client(server.base_url) as client:
        message, _ = refused(list_files, client, f"{server.base_url}/page/", "demo", limits)
        listing, _ = refused(
            upstream.list_files_cached, client, f"{server.base_url}/page/", "demo", cache, limits
        )
    assert message.startswith("stopped downloading the project page of demo from http://")
    assert "the limit of 1 MiB" in message and "check [settings] upstream" in message
    assert listing == message
    assert cache_files(cache) == []


# ---------------------------------------------------------------------------- file:// upstreams


@pytest.fixture
def file_index(tmp_path: Path) -> LocalIndex:
    """A static index on disk, as `pyhotfix build` publishes one (index.json and index.html)."""
    index = LocalIndex(tmp_path / "local-index", fsync=False)
    dist_dir = tmp_path / "local-dists"
    dist_dir.mkdir()
    index.publish(
        "demo",
        [make_listing_sdist(dist_dir, "demo", "1.0"), make_listing_sdist(dist_dir, "demo", "1.1")],
    )
    return index


@pytest.mark.parametrize("page", ["index.json", "index.html"])
def test_a_file_index_serves_pages_and_files(
    file_index: LocalIndex, cache: Cache, page: str
) -> None:
    url = file_index.simple_url()
    assert url.startswith("file:///")
    if page == "index.html":  # pip's reading: the HTML page when there is no JSON one
        (file_index.simple / "demo" / "index.json").unlink()
    sdist = fetch_sdist(url, "demo", "1.0", cache)
    assert sdist.url == url + "demo/demo-1.0.tar.gz", "recorded as given, file:///"
    assert sdist.path.read_bytes() == (file_index.simple / "demo" / "demo-1.0.tar.gz").read_bytes()
    with pytest.raises(UpstreamError, match="project nothing not found on file:///"):
        fetch_sdist(url, "nothing", "1.0", cache)


def test_a_file_index_with_relative_links_and_hashes(tmp_path: Path, cache: Cache) -> None:
    # Laid out like /opt/pypi: pages under simple/, files in a sibling directory.
    files = tmp_path / "mirror" / "files"
    files.mkdir(parents=True)
    sdist = make_listing_sdist(files, "demo", "2.0")
    good, bad = sha256_of(sdist), "0" * 64
    page = tmp_path / "mirror" / "simple" / "demo" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<a href="../../files/demo-2.0.tar.gz#sha256={good}">demo-2.0.tar.gz</a>')
    url = (tmp_path / "mirror" / "simple").as_uri() + "/"
    with make_client(url) as client:
        (listed,) = list_files(client, url, "demo")
    assert listed.url == sdist.as_uri() and listed.sha256 == good
    assert fetch_sdist(url, "demo", "2.0", cache).sha256 == good

    page.write_text(f'<a href="../../files/demo-2.0.tar.gz#sha256={bad}">demo-2.0.tar.gz</a>')
    other = Cache(tmp_path / "other-cache")
    with pytest.raises(UpstreamError, match="does not have the expected content"):
        fetch_sdist(url, "demo", "2.0", other)
    assert cache_files(other) == []


def test_file_url_patches_are_fetched_and_cached(tmp_path: Path, cache: Cache) -> None:
    patch = tmp_path / "fix.patch"
    patch.write_bytes(b"--- a/x\n+++ b/x\n")
    digest = sha256_of(patch)
    assert fetch_url(patch.as_uri(), cache, digest)[1].read_bytes() == patch.read_bytes()
    assert fetch_url(patch.as_uri(), cache, digest, no_network)[0] == digest
    message, _ = refused(fetch_url, (tmp_path / "missing.patch").as_uri(), cache, None)
    assert message.startswith(f"{(tmp_path / 'missing.patch').as_uri()} does not exist")
    assert "Check the path in the file:// URL" in message and "proxy" not in message


def test_file_urls_read_only_local_regular_files(tmp_path: Path, cache: Cache) -> None:
    fifo = tmp_path / "pipe.patch"
    os.mkfifo(fifo)  # opening it for reading would block forever without a writer
    started = time.monotonic()
    message, _ = refused(fetch_url, fifo.as_uri(), cache, None)
    assert time.monotonic() - started < 3 and "is not a regular file" in message
    assert "pipe.patch" in message
    message, _ = refused(fetch_url, "file:///dev/zero", cache, None)
    assert "is not a regular file" in message
    message, _ = refused(fetch_url, "file://elsewhere.example/etc/hostname", cache, None)
    assert "names another machine" in message
    assert cache_files(cache) == []


def test_a_remote_page_never_leads_to_local_files(tmp_path: Path, cache: Cache) -> None:
    secret = tmp_path / "secret-1.0.tar.gz"
    secret.write_bytes(b"local only")
    page = f'<a href="{secret.as_uri()}">secret-1.0.tar.gz</a><a href="/x/demo-1.0.tar.gz">d</a>'
    remote = parse_page(page.encode(), "text/html", "https://idx.example/simple/demo/")
    assert [f.filename for f in remote] == ["demo-1.0.tar.gz"]
    local = parse_page(page.encode(), "text/html", "file:///srv/simple/demo/")
    assert [f.filename for f in local] == ["secret-1.0.tar.gz", "demo-1.0.tar.gz"]

    # Nor can a redirect take a download there.
    for target in (secret.as_uri(), "file://localhost" + str(secret)):
        with HostileServer(redirect_to=target) as server:
            message, _ = refused(fetch_url, server.url("redirect", "demo-1.0.tar.gz"), cache, None)
        assert "redirects to a file: URL, which pyhotfix does not follow" in message
    assert cache_files(cache) == []


def test_build_from_a_file_upstream_with_a_file_patch(
    tmp_path: Path, envs: EnvCache, pyhotfix: Pyhotfix
) -> None:
    """`[settings] upstream = "file://…"` and a `file://` URL patch, through a real build."""
    name = "demo-file-upstream"
    project = make_project(tmp_path / "up", name, "1.0", "hatchling")
    upstream_index = LocalIndex(tmp_path / "upstream", fsync=False)
    upstream_index.publish(name, [build_sdist(project, tmp_path / "dist", envs)])
    mod = module_name(name)
    patch = tmp_path / "patches" / "fix.patch"
    patch.parent.mkdir()
    patch.write_text(
        f"--- a/{mod}/__init__.py\n+++ b/{mod}/__init__.py\n@@ -1,3 +1,3 @@\n"
        ' def answer() -> int:\n     """Return the answer."""\n'
        "-    return 41  # bug: should be 42\n+    return 42  # fixed\n"
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "hotfixes.toml").write_text(
        f'[settings]\nupstream = "{upstream_index.simple_url()}"\n\n'
        f'[hotfix.{name}]\nversion = "1.0"\n'
        f'patches = [{{ url = "{patch.as_uri()}", sha256 = "{sha256_of(patch)}" }}]\n'
    )
    run = pyhotfix("build", cwd=app)
    assert run.code == 0, run.output
    locked = read_lock(app / "hotfixes.lock").hotfixes[name]
    assert locked.hotfix_version == "1.0+hotfix.1"
    assert locked.upstream_url.startswith(upstream_index.simple_url())
    built = sorted(p.name for p in (app / "hotfix-index" / "simple" / name).iterdir())
    assert f"{mod}-1.0+hotfix.1-py3-none-any.whl" in built
