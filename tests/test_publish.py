"""Publishing: `pyhotfix publish` / `yank` / `unyank`, a directory and S3 (moto's real HTTP server
on 127.0.0.1) as targets, concurrent publishers, kill -9 at every step of a publish, and bad input."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import importlib.util
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from pyhotfix.errors import PublishError, UsageError
from pyhotfix.index import LocalIndex, StaticIndex
from pyhotfix.index.hashrecord import RECORD_NAME
from pyhotfix.manifest import Settings
from pyhotfix.publish import ObjectIndex, resolve_target
from tests.conftest import Pyhotfix, clean_pip_env
from tests.support.apps import make_app
from tests.support.dists import make_sdist, make_wheel
from tests.support.pages import Page

if importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("moto") is None:
    pytest.skip("needs s3fs and moto[server] (the test extra)", allow_module_level=True)

NAME = "My_Pkg.Extra"
CANON = "my-pkg-extra"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",  # moto's dummy credentials
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Never ask the EC2 metadata address (not on this machine) for credentials.
    "AWS_EC2_METADATA_DISABLED": "true",
}


# -- an S3 endpoint on 127.0.0.1 ------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3 server over real HTTP, one per test worker."""
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    # moto checks If-Match / If-None-Match and then stores in two steps, so two concurrent
    # conditional PUTs can both pass; S3 decides them atomically. Serialising moto's PutObject
    # gives the tests S3's guarantee, which is what pyhotfix relies on.
    put_lock = threading.Lock()
    original = S3Response.put_object

    def atomic_put(self: Any) -> Any:
        with put_lock:
            return original(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S3Response, "put_object", atomic_put)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"hotfix-{uuid.uuid4().hex[:16]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


def bucket_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys)}


class BucketSite:
    """A CDN in front of the bucket, as production would have: GET /simple/x/ serves the object
    …/simple/x/index.html (an "index document"), with the object's own headers; origin requests
    are signed like a CDN's origin access. Records what was requested."""

    def __init__(self, endpoint: str, bucket: str, prefix: str) -> None:
        client = s3_client(endpoint)
        self.requested: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requested.append(self.path)
                key = prefix + unquote(self.path.split("?")[0]).lstrip("/")
                if key.endswith("/"):
                    key += "index.html"
                try:
                    obj = client.get_object(Bucket=bucket, Key=key)
                except client.exceptions.NoSuchKey:
                    self.send_error(404)
                    return
                body = obj["Body"].read()
                self.send_response(200)
                self.send_header("Content-Type", obj.get("ContentType", ""))
                self.send_header("Cache-Control", obj.get("CacheControl", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- an app with a lock and built files ------------------------------------------------------------


def listed_files(
    get: Callable[[str], bytes | None], prefix: str = "", only: Sequence[str] | None = None
) -> dict[str, str]:
    """Check one snapshot of an index (read through `get(key)`): every file that any page lists
    is stored in full with the listed sha256 (and its .metadata, with the listed hash); the HTML
    never lists more than index.json. Returns {project/filename: sha256} from index.json (of the
    projects in `only`, if given)."""
    listed: dict[str, str] = {}
    root = get(prefix + "simple/index.json")
    projects = [] if root is None else [p["name"] for p in json.loads(root)["projects"]]
    root_html = get(prefix + "simple/index.html")
    if root_html is not None:
        assert {t for _, t in Page(root_html.decode()).anchors} <= set(projects)
    for project in projects if only is None else [p for p in projects if p in only]:
        raw = get(f"{prefix}simple/{project}/index.json")
        assert raw is not None, f"root lists {project} without its page"
        doc = json.loads(raw)
        in_json = {f["filename"]: f for f in doc["files"]}
        page = get(f"{prefix}simple/{project}/index.html")
        anchors = {} if page is None else Page(page.decode()).by_text()
        assert set(anchors) <= set(in_json), "the HTML lists a file index.json does not"
        for filename, f in in_json.items():
            data = get(f"{prefix}simple/{project}/{filename}")
            assert data is not None, f"{project}/{filename} is listed but missing"
            assert hashlib.sha256(data).hexdigest() == f["hashes"]["sha256"], filename
            if filename in anchors:
                assert anchors[filename]["href"] == f"{f['url']}#sha256={f['hashes']['sha256']}"
            if f["core-metadata"]:
                meta = get(f"{prefix}simple/{project}/{filename}.metadata")
                assert meta is not None, f"{filename}.metadata is listed but missing"
                assert hashlib.sha256(meta).hexdigest() == f["core-metadata"]["sha256"]
            listed[f"{project}/{filename}"] = f["hashes"]["sha256"]
    return listed


def dir_getter(root: Path) -> Callable[[str], bytes | None]:
    def get(key: str) -> bytes | None:
        path = root / key
        return path.read_bytes() if path.is_file() else None

    return get


def s3_getter(endpoint: str, bucket: str) -> Callable[[str], bytes | None]:
    """Reads objects; a dist or .metadata object, once read, is remembered (pyhotfix never
    replaces one: it uploads with If-None-Match: *), so re-checking a growing index stays fast."""
    client = s3_client(endpoint)
    files: dict[str, bytes] = {}

    def get(key: str) -> bytes | None:
        if key in files:
            return files[key]
        try:
            data = bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            return None
        if not key.endswith(("/index.html", "/index.json")):
            files[key] = data
        return data

    return get


def pip_install(tmp_path: Path, index_url: str, spec: str) -> str:
    """Install `spec` with real pip into a fresh venv; returns the installed version."""
    venv = tmp_path / f"venv-{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=60)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-cache-dir",
         "--index-url", index_url, spec],
        env=clean_pip_env({"PIP_NO_INPUT": "1"}), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    code = "import importlib.metadata as m; print(m.version('my-pkg-extra'))"
    return subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


# -- S3 end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_publish_to_s3_then_pip_installs_from_the_bucket(
    tmp_path: Path, moto_endpoint: str, bucket: str, pyhotfix: Pyhotfix
) -> None:
    settings = f'index = "s3://{bucket}/team/hotfixes"\nendpoint_url = "{moto_endpoint}"\n'
    app = make_app(tmp_path, settings)
    run = pyhotfix("publish", "--json", cwd=app)
    assert run.code == 0, run.output
    report = json.loads(run.stdout)
    assert report["target"] == f"s3://{bucket}/team/hotfixes"
    wheel = "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl"
    sdist = "my_pkg_extra-1.0+hotfix.1.tar.gz"
    assert sorted((f["filename"], f["status"]) for f in report["files"]) == [
        (wheel, "added"),
        (sdist, "added"),
    ]

    objects = bucket_objects(moto_endpoint, bucket)
    prefix = f"team/hotfixes/simple/{CANON}/"
    local = app / "hotfix-index" / "simple" / CANON
    for filename in (wheel, sdist, f"{wheel}.metadata"):  # same bytes, same layout
        assert objects[prefix + filename] == (local / filename).read_bytes()
    assert listed_files(s3_getter(moto_endpoint, bucket), "team/hotfixes/") == {
        f"{CANON}/{wheel}": hashlib.sha256((local / wheel).read_bytes()).hexdigest(),
        f"{CANON}/{sdist}": hashlib.sha256((local / sdist).read_bytes()).hexdigest(),
    }
    doc = json.loads(objects[prefix + "index.json"])
    assert doc["meta"]["tracks"] == [f"https://pypi.org/simple/{CANON}/"]  # carried over

    client = s3_client(moto_endpoint)
    types = {
        "simple/index.html": ("text/html; charset=utf-8", "max-age=0"),
        "simple/index.json": ("application/vnd.pypi.simple.v1+json", "max-age=0"),
        f"simple/{CANON}/index.html": ("text/html; charset=utf-8", "max-age=0"),
        f"simple/{CANON}/index.json": ("application/vnd.pypi.simple.v1+json", "max-age=0"),
        f"simple/{CANON}/{wheel}": ("application/octet-stream", "immutable"),
    }
    for key, (content_type, cache) in types.items():
        head = client.head_object(Bucket=bucket, Key=f"team/hotfixes/{key}")
        assert head["ContentType"] == content_type, key
        assert cache in head["CacheControl"], key

    site = BucketSite(moto_endpoint, bucket, "team/hotfixes/")
    try:
        assert pip_install(tmp_path, site.url, f"{NAME}==1.0") == "1.0+hotfix.1"
        quoted = wheel.replace("+", "%2B")
        assert f"/simple/{CANON}/{quoted}" in site.requested
        assert f"/simple/{CANON}/{quoted}.metadata" in site.requested  # PEP 658 used
    finally:
        site.close()

    again = pyhotfix("publish", cwd=app)  # same bytes: a no-op, reported as such
    assert again.code == 0, again.output
    assert again.stdout.count("unchanged") == 2 and "added" not in again.stdout
    assert bucket_objects(moto_endpoint, bucket) == objects

    # yank on the bucket through the CLI: both pages say so.
    yanked = pyhotfix("yank", NAME, "1.0+hotfix.1", "--reason", "broken", cwd=app)
    assert yanked.code == 0, yanked.output
    page = s3_getter(moto_endpoint, bucket)(prefix + "index.html")
    assert page is not None and 'data-yanked="broken"' in page.decode()


def test_s3_refuses_other_bytes_under_a_published_or_leftover_name(
    tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    index = ObjectIndex(f"s3://{bucket}/idx", endpoint_url=moto_endpoint)
    wheel = make_wheel(tmp_path / "a", NAME, "1.0+hotfix.1")
    index.publish(NAME, [wheel])
    before = bucket_objects(moto_endpoint, bucket)
    rebuilt = make_wheel(tmp_path / "b", NAME, "1.0+hotfix.1", body="CHANGED = 1\n")
    with pytest.raises(PublishError, match=r"never overwritten.*Nothing was written"):
        index.publish(NAME, [rebuilt])
    assert bucket_objects(moto_endpoint, bucket) == before

    # An unlisted object (an interrupted publish, or one running right now) with other bytes
    # is not replaced: it may be another publisher's upload in flight.
    other = make_wheel(tmp_path / "c", NAME, "1.0+hotfix.2")
    stray = make_wheel(tmp_path / "d", NAME, "1.0+hotfix.2", body="STRAY = 1\n")
    key = f"idx/simple/{CANON}/{other.name}"
    s3_client(moto_endpoint).put_object(Bucket=bucket, Key=key, Body=stray.read_bytes())
    with pytest.raises(PublishError, match=r"already exists with other content.*aws s3 rm"):
        index.publish(NAME, [other])
    assert [e.filename for e in index.project_entries(NAME)] == [wheel.name]
    # Its sha256 metadata is not believed: the bytes are what count.
    s3_client(moto_endpoint).put_object(
        Bucket=bucket,
        Key=key,
        Body=stray.read_bytes(),
        Metadata={"sha256": sha256_hex(other.read_bytes())},
    )
    with pytest.raises(PublishError, match=r"already exists with other content"):
        index.publish(NAME, [other])
    assert [e.filename for e in index.project_entries(NAME)] == [wheel.name]
    # The same bytes left by an interrupted publish are simply listed.
    s3_client(moto_endpoint).put_object(Bucket=bucket, Key=key, Body=other.read_bytes())
    assert index.publish(NAME, [other]).added == (other.name,)
    assert set(listed_files(s3_getter(moto_endpoint, bucket), "idx/")) == {
        f"{CANON}/{wheel.name}",
        f"{CANON}/{other.name}",
    }


def test_s3_bad_input_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    wheel = make_wheel(tmp_path / "d", NAME, "1.0+hotfix.1")

    with pytest.raises(PublishError, match=r"bucket 'no-such-bucket-x' does not exist.*mb"):
        ObjectIndex("s3://no-such-bucket-x/p", endpoint_url=moto_endpoint).publish(NAME, [wheel])

    # A closed port: fails within seconds (bounded retries and timeouts), says what to check.
    with socket_closed() as port:
        started = time.monotonic()
        with pytest.raises(
            PublishError, match=r"Could not reach http://127\.0\.0\.1:\d+.*endpoint_url"
        ):
            ObjectIndex(f"s3://{bucket}/p", endpoint_url=f"http://127.0.0.1:{port}").publish(
                NAME, [wheel]
            )
        assert time.monotonic() - started < 30

    # Wrong credentials: moto checks them once its auth is switched on.
    httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"0", timeout=10)
    try:
        with pytest.raises(
            PublishError, match=r"refused access.*InvalidAccessKeyId.*AWS_ACCESS_KEY_ID"
        ):
            ObjectIndex(f"s3://{bucket}/p", endpoint_url=moto_endpoint).publish(NAME, [wheel])
    finally:
        httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"inf", timeout=10)
    assert bucket_objects(moto_endpoint, bucket) == {}

    # A corrupted index page is reported, never replaced.
    index = ObjectIndex(f"s3://{bucket}/p", endpoint_url=moto_endpoint)
    index.publish(NAME, [wheel])
    client = s3_client(moto_endpoint)
    client.put_object(Bucket=bucket, Key=f"p/simple/{CANON}/index.json", Body=b'{"name": 1')
    before = bucket_objects(moto_endpoint, bucket)
    sdist = make_sdist(tmp_path / "d", NAME, "1.0+hotfix.1")
    with pytest.raises(PublishError, match=r"index\.json is corrupt.*list-object-versions"):
        index.publish(NAME, [sdist])
    assert bucket_objects(moto_endpoint, bucket) == before


@contextlib.contextmanager
def socket_closed() -> Iterator[int]:
    """A port on 127.0.0.1 that nothing listens on (bound, never listening, so not reused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# -- the CLI on a directory ------------------------------------------------------------------------


def test_publish_command_checks_the_lock_and_reports(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path)
    target = tmp_path / "published"
    run = pyhotfix("publish", "--to", target, cwd=app)
    assert run.code == 0, run.output
    assert f"Published to {target}:" in run.stdout
    assert run.stdout.count("added") == 2
    assert LocalIndex(target).has_files(NAME, ["my_pkg_extra-1.0+hotfix.1.tar.gz"])
    snap = listed_files(dir_getter(target))
    assert pyhotfix("publish", "--to", target, cwd=app).stdout.count("unchanged") == 2

    # A built file that no longer matches the lock: nothing is published, and the user is told.
    built = app / "hotfix-index" / "simple" / CANON / "my_pkg_extra-1.0+hotfix.1.tar.gz"
    good = built.read_bytes()
    built.write_bytes(good + b"tampered")
    other = tmp_path / "other"
    bad = pyhotfix("publish", "--to", other, cwd=app)
    assert bad.code == 1 and "Traceback" not in bad.output
    assert "does not match the lock" in bad.stderr and "pyhotfix build" in bad.stderr
    assert not other.exists()
    built.unlink()
    missing = pyhotfix("publish", "--to", other, cwd=app)
    assert missing.code == 1 and "is not in" in missing.stderr and not other.exists()
    built.write_bytes(good)

    # --from: the files can come from another index directory.
    moved = pyhotfix("publish", "--to", other, "--from", target, cwd=app)
    assert moved.code == 0, moved.output
    assert listed_files(dir_getter(other)).keys() == snap.keys()

    # Targets that cannot take a static index, and not-yet-supported buckets: usage errors.
    https = pyhotfix("publish", "--to", "https://user:secret@example.invalid/simple/", cwd=app)
    assert https.code == 2 and "--upload" in https.stderr and "secret" not in https.output
    gcs = pyhotfix("publish", "--to", "gs://bucket/prefix", cwd=app)
    assert gcs.code == 2 and "gcsfs" in gcs.stderr and "not supported yet" in gcs.stderr
    both = pyhotfix("publish", "--to", target, "--upload", "https://x.invalid/", cwd=app)
    assert both.code == 2 and "only one" in both.stderr

    unbuilt = app / "hotfixes.toml"
    unbuilt.write_text(
        unbuilt.read_text() + '\n[hotfix.other]\nversion = "2.0"\npatches = ["fix.patch"]\n'
    )
    none = pyhotfix("publish", "--to", tmp_path / "third", cwd=app)
    assert none.code == 1 and "other 2.0 has not been built" in none.stderr
    assert not (tmp_path / "third").exists()


def test_publish_to_an_unwritable_or_corrupt_directory(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path)
    # Running as root, permissions do not stop writes; a path below a regular file does.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run = pyhotfix("publish", "--to", blocker / "index", cwd=app)
    assert run.code == 1 and "Could not write to the package index" in run.stderr
    assert blocker.read_text() == "not a directory"

    target = tmp_path / "idx"
    assert pyhotfix("publish", "--to", target, cwd=app).code == 0
    page = target / "simple" / CANON / "index.json"
    page.write_text("{ not json")
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    corrupt = pyhotfix("publish", "--to", target, cwd=app)
    assert corrupt.code == 1 and "is corrupt" in corrupt.stderr and "git checkout" in corrupt.stderr
    assert {p: p.read_bytes() for p in target.rglob("*") if p.is_file()} == before


def flip_a_byte(path: Path, *, keep_mtime: bool = False) -> bytes:
    """Flip one bit in the middle of `path` (same size); returns the good bytes."""
    good = path.read_bytes()
    st = path.stat()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    path.write_bytes(bytes(bad))
    if keep_mtime:  # a careful hand: the mtime says nothing changed (the ctime still does)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return good


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of an index but its hash record (a cache of hashes, updated by reads too)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and RECORD_NAME not in p.parts
    }


def test_a_flipped_byte_in_the_index_is_noticed_by_every_command(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path)
    index = app / "hotfix-index"
    wheel = index / "simple" / CANON / "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl"

    # Happy paths first: all agree, exit 0.
    build = pyhotfix("build", "--json", cwd=app)
    assert build.code == 0 and json.loads(build.stdout)[0]["status"] == "up-to-date", build.output
    listed = pyhotfix("list", "--json", cwd=app)
    assert json.loads(listed.stdout)[0] | {"reason": None} == json.loads(listed.stdout)[0]
    assert json.loads(listed.stdout)[0]["published"] is True
    assert json.loads(listed.stdout)[0]["index"] == "yes"
    checked = pyhotfix("check", cwd=app)
    results = [line.split()[-1] for line in checked.stdout.splitlines()[2:]]  # piped: plain lines
    assert checked.code == 0 and results == ["ok", "ok"], checked.output
    target = tmp_path / "published"
    assert pyhotfix("publish", "--to", target, cwd=app).stdout.count("added") == 2
    assert pyhotfix("publish", "--to", target, cwd=app).stdout.count("unchanged") == 2

    # A flipped byte in a file published to another target: refused, never "unchanged".
    copy = target / "simple" / CANON / wheel.name
    good = flip_a_byte(copy)
    before = files_of(target)
    refused = pyhotfix("publish", "--to", target, cwd=app)
    assert refused.code == 1 and "Traceback" not in refused.output, refused.output
    assert "unchanged" not in refused.stdout and str(copy) in refused.stderr
    assert "has other bytes than the index lists" in refused.stderr
    assert "delete the changed file" in refused.stderr
    assert files_of(target) == before, "nothing written or overwritten"
    copy.write_bytes(good)

    # The same in the manifest's own index, the mtime put back: every command notices.
    flip_a_byte(wheel, keep_mtime=True)
    before = files_of(index)
    row = json.loads(pyhotfix("list", "--json", cwd=app).stdout)[0]
    assert row["published"] is False and row["index"] == "mismatch"
    assert [p["filename"] for p in row["problems"]] == [wheel.name]
    table = pyhotfix("list", cwd=app)
    assert table.code == 0 and "mismatch" in table.stdout and wheel.name in table.stderr
    nop = pyhotfix("build", cwd=app)
    assert nop.code == 1 and "up-to-date" not in nop.stdout, nop.output
    assert wheel.name in nop.stderr and f"pyhotfix build {CANON}" in nop.stderr
    checked = pyhotfix("check", "--json", cwd=app)
    assert checked.code == 1
    report = json.loads(checked.stdout)
    assert report["ok"] is False
    assert {f["filename"]: f["status"] for f in report["files"]} == {
        wheel.name: "mismatch",
        "my_pkg_extra-1.0+hotfix.1.tar.gz": "ok",
    }
    assert "delete it" in report["advice"]
    table = pyhotfix("check", cwd=app)
    assert table.code == 1 and wheel.name in table.stderr and "cache" not in table.output
    own = pyhotfix("publish", cwd=app)
    assert own.code == 1 and wheel.name in own.stderr and "does not match the lock" in own.stderr
    assert files_of(index) == before, "no command changed the index"

    # The advice works: delete it, restore it from the good copy, and all is well again.
    wheel.unlink()
    missing = pyhotfix("check", cwd=app)
    assert missing.code == 1 and "missing" in missing.stdout and "pyhotfix build" in missing.stderr
    restored = pyhotfix("publish", "--to", index, "--from", target, cwd=app)
    assert restored.code == 0, restored.output
    assert wheel.read_bytes() == good
    assert pyhotfix("check", cwd=app).code == 0
    assert json.loads(pyhotfix("build", "--json", cwd=app).stdout)[0]["status"] == "up-to-date"

    # A page that lists another hash than the lock and the file: check names it.
    page = index / "simple" / CANON / "index.html"
    page.write_text(page.read_text().replace(sha256_hex(good), "0" * 64))
    stale = pyhotfix("check", "--json", cwd=app)
    assert stale.code == 1
    (bad,) = [f for f in json.loads(stale.stdout)["files"] if f["status"] != "ok"]
    assert bad["filename"] == wheel.name and bad["status"] == "page-mismatch"
    assert pyhotfix("publish", cwd=app).code == 0  # rewrites the stale page from index.json
    assert pyhotfix("check", cwd=app).code == 0

    unknown = pyhotfix("check", "nope", cwd=app)
    assert unknown.code == 2 and "not in" in unknown.stderr


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_stray_unlisted_file_with_a_hotfix_filename_is_not_overwritten(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path)
    target = tmp_path / "published"
    stray = target / "simple" / CANON / "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not ours")
    run = pyhotfix("publish", "--to", target, cwd=app)
    assert run.code == 1 and "Traceback" not in run.output, run.output
    assert str(stray) in run.stderr and "no page lists it" in run.stderr
    assert stray.read_bytes() == b"not ours"
    assert not (target / "simple" / CANON / "index.json").exists(), "nothing listed"
    stray.unlink()  # as the message advises
    assert pyhotfix("publish", "--to", target, cwd=app).code == 0


def test_check_and_publish_notice_a_changed_object_on_s3(
    tmp_path: Path, moto_endpoint: str, bucket: str, pyhotfix: Pyhotfix
) -> None:
    settings = f'index = "s3://{bucket}/hf"\nendpoint_url = "{moto_endpoint}"\n'
    app = make_app(tmp_path, settings)
    env = dict(AWS_ENV)
    assert pyhotfix("publish", cwd=app, env=env).code == 0
    ok = pyhotfix("check", cwd=app, env=env)
    assert ok.code == 0, ok.output
    key = f"hf/simple/{CANON}/my_pkg_extra-1.0+hotfix.1.tar.gz"
    client = s3_client(moto_endpoint)
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    before = bucket_objects(moto_endpoint, bucket)
    bad = pyhotfix("check", cwd=app, env=env)
    assert bad.code == 1 and "my_pkg_extra-1.0+hotfix.1.tar.gz" in bad.stderr, bad.output
    refused = pyhotfix("publish", cwd=app, env=env)
    assert refused.code == 1 and f"s3://{bucket}/{key}" in refused.stderr, refused.output
    assert "unchanged" not in refused.stdout
    assert bucket_objects(moto_endpoint, bucket) == before


def test_check_notices_a_stray_object_on_s3(
    tmp_path: Path, moto_endpoint: str, bucket: str, pyhotfix: Pyhotfix
) -> None:
    settings = f'index = "s3://{bucket}/hf"\nendpoint_url = "{moto_endpoint}"\n'
    app = make_app(tmp_path, settings)
    env = dict(AWS_ENV)
    assert pyhotfix("publish", cwd=app, env=env).code == 0
    client = s3_client(moto_endpoint)
    client.put_object(Bucket=bucket, Key=f"hf/simple/{CANON}/{EVIL}", Body=b"not ours")
    client.put_object(Bucket=bucket, Key=f"hf/simple/{CANON}/deeper/{EVIL}", Body=b"not served")
    run = pyhotfix("check", "--json", cwd=app, env=env)
    assert run.code == 1, run.output
    found = {f["filename"]: f["status"] for f in json.loads(run.stdout)["files"]}
    assert found == {
        "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl": "ok",
        "my_pkg_extra-1.0+hotfix.1.tar.gz": "ok",
        EVIL: "unexpected",
        "deeper": "unexpected",
    }


def test_resolve_target_dispatch(tmp_path: Path) -> None:
    s = Settings(upstream=None, index="hotfix-index", label="hotfix")
    local = resolve_target(s, tmp_path)
    assert isinstance(local, LocalIndex) and local.root == tmp_path / "hotfix-index"
    url = resolve_target(s, tmp_path, (tmp_path / "x").as_uri())
    assert isinstance(url, LocalIndex) and url.root == tmp_path / "x"
    s3 = resolve_target(
        Settings(None, "s3://bkt/a/b/", "hotfix", endpoint_url="http://e"), tmp_path
    )
    assert isinstance(s3, ObjectIndex) and s3.description == "s3://bkt/a/b"
    with pytest.raises(UsageError, match=r"upload = true"):
        resolve_target(Settings(None, "https://example.invalid/", "hotfix"), tmp_path)
    with pytest.raises(UsageError, match="Credentials never go in the URL"):
        resolve_target(s, tmp_path, "s3://key:secret@bkt/p")
    with pytest.raises(UsageError, match="unsupported scheme 'ftp'"):
        resolve_target(s, tmp_path, "ftp://host/x")


# -- yank / unyank ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_yank_and_unyank_through_the_cli_and_pip(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, versions=("1.0+hotfix.1", "1.0+hotfix.2"))
    index = LocalIndex(app / "hotfix-index")
    url = index.simple_url()

    run = pyhotfix("yank", CANON, "1.0+hotfix.2", "--reason", "crashes at import", cwd=app)
    assert run.code == 0, run.output
    assert "Yanked my-pkg-extra 1.0+hotfix.2" in run.stdout
    assert "my_pkg_extra-1.0+hotfix.2-py3-none-any.whl" in run.stdout
    anchors = Page((index.simple / CANON / "index.html").read_text()).by_text()
    assert anchors["my_pkg_extra-1.0+hotfix.2.tar.gz"]["data-yanked"] == "crashes at import"
    assert "data-yanked" not in anchors["my_pkg_extra-1.0+hotfix.1.tar.gz"]
    assert pip_install(tmp_path, url, "my-pkg-extra>=1.0") == "1.0+hotfix.1"
    # PEP 592: an exact pin still gets the yanked file.
    assert pip_install(tmp_path, url, "my-pkg-extra==1.0+hotfix.2") == "1.0+hotfix.2"

    run = pyhotfix("unyank", NAME, "1.0+hotfix.2", "--json", cwd=app)
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["yanked"] is False
    assert pip_install(tmp_path, url, "my-pkg-extra>=1.0") == "1.0+hotfix.2"

    wrong = pyhotfix("yank", NAME, "1.0", cwd=app)
    assert wrong.code == 1 and "Give the full version" in wrong.stderr
    # --to works without a manifest.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = pyhotfix("yank", NAME, "1.0+hotfix.1", "--to", app / "hotfix-index", cwd=elsewhere)
    assert run.code == 0, run.output


# -- concurrent publishers -------------------------------------------------------------------------


def _publish_worker(
    target: str, endpoint: str, i: int, own: list[str], shared: str, barrier: Any
) -> None:
    index = resolve_target(Settings(None, target, "hotfix", endpoint_url=endpoint), Path("/"))
    barrier.wait(timeout=60)  # all start together
    for path in own:  # one call per file: many short, interleaved page updates
        index.publish(f"proj-{i}", [Path(path)])
    index.publish("shared", [Path(shared)])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_eight_concurrent_publishers_lose_nothing(
    kind: str, tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    n = 8
    d = tmp_path / "d"
    own = {
        i: [str(make_wheel(d, f"proj-{i}", f"1.0+hotfix.{k}")) for k in range(1, 4)]
        for i in range(n)
    }
    shared = {i: str(make_wheel(d, "shared", f"1.0+hotfix.{i + 1}")) for i in range(n)}
    target = str(tmp_path / "idx") if kind == "directory" else f"s3://{bucket}/concurrent"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    procs = [
        ctx.Process(
            target=_publish_worker, args=(target, moto_endpoint, i, own[i], shared[i], barrier)
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * n

    get = dir_getter(tmp_path / "idx") if kind == "directory" else s3_getter(moto_endpoint, bucket)
    prefix = "" if kind == "directory" else "concurrent/"
    listed = listed_files(get, prefix)
    expected = {f"proj-{i}/{Path(p).name}" for i in range(n) for p in own[i]}
    expected |= {f"shared/{Path(p).name}" for p in shared.values()}
    assert set(listed) == expected
    root_html = get(prefix + "simple/index.html")
    assert root_html is not None
    names = sorted([*(f"proj-{i}" for i in range(n)), "shared"])
    assert [t for _, t in Page(root_html.decode()).anchors] == names
    for project in names:  # the HTML caught up with index.json everywhere
        page = get(f"{prefix}simple/{project}/index.html")
        assert page is not None
        in_html = {f"{project}/{t}" for _, t in Page(page.decode()).anchors}
        assert in_html == {k for k in expected if k.startswith(project + "/")}


# -- kill -9 at every step of a publish --------------------------------------------------------------


def _crash_worker(
    target: str,
    endpoint: str,
    batch: list[tuple[str, list[str]]],
    crash_at: int | None,
    writes: Any,
) -> None:
    """Publish `batch`, SIGKILLing this very process just before its `crash_at`-th write (a
    rename into the index directory, or a PUT to the bucket); counts the writes in `writes`."""
    if target.startswith("s3://"):
        from tests.support.s3warm import s3_storage  # preloaded by the forkserver

        index: StaticIndex = ObjectIndex(target, endpoint_url=endpoint)
        index.storage = s3_storage(target, endpoint)
    else:
        index = LocalIndex(Path(target))

    def step() -> None:
        writes.value += 1
        if writes.value == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    if isinstance(index, ObjectIndex):
        storage = index.storage
        call = storage._call  # type: ignore[attr-defined]

        async def counted(method: str, key: str | None, **kwargs: Any) -> Any:
            if method == "put_object":
                step()
            return await call(method, key, **kwargs)

        storage._call = counted  # type: ignore[attr-defined]
    else:
        replace = os.replace

        def counted_replace(src: Any, dst: Any) -> None:
            step()  # the temporary file is written and flushed; the rename is not done
            replace(src, dst)

        os.replace = counted_replace  # type: ignore[assignment]
    index.publish_many([(name, [Path(p) for p in files]) for name, files in batch])


@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_kill_9_at_every_step_never_lists_a_missing_file(
    kind: str, tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    """A publisher killed just before any one of its writes (every one, in turn) leaves an index
    whose pages list only files stored in full, and the next publish of the same batch heals it.
    Each batch adds files to a project the index has and starts a new one, so the crash points
    cover the files, .metadata, both project pages of both and both root pages."""
    d = tmp_path / "d"

    def batch(k: int) -> list[tuple[str, list[str]]]:
        return [
            (
                p,
                [
                    str(make_wheel(d, p, f"1.0+hotfix.{k}")),
                    str(make_sdist(d, p, f"1.0+hotfix.{k}")),
                ],
            )
            for p in ("crash-a", f"new-{k}")
        ]

    if kind == "directory":
        target, get, prefix = str(tmp_path / "idx"), dir_getter(tmp_path / "idx"), ""
    else:
        target, prefix = f"s3://{bucket}/crash", "crash/"
        get = s3_getter(moto_endpoint, bucket)
    index = resolve_target(Settings(None, target, "hotfix", endpoint_url=moto_endpoint), Path("/"))
    assert isinstance(index, StaticIndex)
    # forkserver: children start in milliseconds from a clean, preloaded process.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.test_publish", "tests.support.s3warm"])

    def run(files: list[tuple[str, list[str]]], crash_at: int | None) -> tuple[int | None, int]:
        writes = ctx.Value("i", 0)
        proc = ctx.Process(
            target=_crash_worker, args=(target, moto_endpoint, files, crash_at, writes)
        )
        proc.start()
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
        return proc.exitcode, writes.value

    index.publish_many([(p, [Path(f) for f in fs]) for p, fs in batch(0)])
    code, steps = run(batch(1), None)  # how many writes a whole publish makes
    assert code == 0 and steps >= 12, steps
    started = time.monotonic()
    for k in range(1, steps + 1):
        files = batch(k + 1)
        code, reached = run(files, k)
        assert (code, reached) == (-signal.SIGKILL, k), "killed exactly before write k"
        projects = [p for p, _ in files]
        listed = listed_files(get, prefix, projects)  # asserts: nothing listed is missing/partial
        wanted = {f"{p}/{Path(f).name}" for p, fs in files for f in fs}
        if k <= steps - 2:  # killed before root index.json lists new-<k>: not listed in full
            assert not wanted <= set(listed), k
        # The next publish of the same batch completes it, pages and all.
        index.publish_many([(p, [Path(f) for f in fs]) for p, fs in files])
        healed = listed_files(get, prefix, projects)
        assert wanted <= set(healed)
        for project, _ in files:
            page = get(f"{prefix}simple/{project}/index.html")
            assert page is not None
            in_html = {f"{project}/{t}" for _, t in Page(page.decode()).anchors}
            assert in_html == {f for f in healed if f.startswith(f"{project}/")}
        root = get(f"{prefix}simple/index.html")
        assert root is not None and f"new-{k + 1}" in {t for _, t in Page(root.decode()).anchors}
    assert time.monotonic() - started < 60


# -- tampering: what the lock does not record ----------------------------------------------------

EVIL = "my_pkg_extra-1.0+hotfix.9-py3-none-any.whl"


def add_page_entry(project: Path, filename: str, url: str, sha256: str) -> None:
    """Add `filename` to both pages of `project` by hand, linking `url`."""
    doc = json.loads((project / "index.json").read_text())
    doc["files"].append(
        {
            "filename": filename,
            "url": url,
            "hashes": {"sha256": sha256},
            "size": 8,
            "upload-time": "2026-01-01T00:00:00.000000Z",
            "yanked": False,
        }
    )
    (project / "index.json").write_text(json.dumps(doc))
    html = (project / "index.html").read_text()
    link = f'<a href="{url}#sha256={sha256}">{filename}</a><br>\n  </body>'
    (project / "index.html").write_text(html.replace("</body>", link))


def statuses(pyhotfix: Pyhotfix, app: Path) -> tuple[int, dict[str, str]]:
    run = pyhotfix("check", "--json", cwd=app)
    assert "Traceback" not in run.output, run.output
    return run.code, {f["filename"]: f["status"] for f in json.loads(run.stdout)["files"]}


def test_files_of_earlier_hotfix_numbers_are_legitimate(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path, versions=("1.0+hotfix.1", "1.0+hotfix.2"))
    code, found = statuses(pyhotfix, app)
    assert code == 0 and set(found.values()) == {"ok"} and len(found) == 2, found
    assert all("hotfix.2" in f for f in found)
    assert json.loads(pyhotfix("list", "--json", cwd=app).stdout)[0]["index"] == "yes"
    assert json.loads(pyhotfix("build", "--json", cwd=app).stdout)[0]["status"] == "up-to-date"

    # ... but an earlier file whose bytes changed is named.
    older = app / "hotfix-index" / "simple" / CANON / "my_pkg_extra-1.0+hotfix.1.tar.gz"
    flip_a_byte(older)
    code, found = statuses(pyhotfix, app)
    assert code == 1 and found[older.name] == "mismatch", found


def test_an_entry_linking_outside_the_index_and_a_stray_file_are_noticed(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    """The red-team finding: an extra entry on both pages linking elsewhere, its file stored."""
    app = make_app(tmp_path)
    project = app / "hotfix-index" / "simple" / CANON
    add_page_entry(project, EVIL, f"https://evil.example/{EVIL}", "ab" * 32)
    (project / EVIL).write_bytes(b"not ours")
    before = files_of(app / "hotfix-index")

    code, found = statuses(pyhotfix, app)
    assert code == 1 and found[EVIL] == "unexpected", found
    table = pyhotfix("check", cwd=app)
    assert "evil.example" in table.stderr and "by hand" in table.stderr, table.output
    row = json.loads(pyhotfix("list", "--json", cwd=app).stdout)[0]
    assert row["index"] == "mismatch" and row["published"] is False
    assert [p["status"] for p in row["problems"]] == ["unexpected"]
    nop = pyhotfix("build", cwd=app)
    assert nop.code == 1 and "up-to-date" not in nop.stdout and EVIL in nop.stderr, nop.output
    assert files_of(app / "hotfix-index") == before, "no command changed the index"


def test_a_page_entry_without_its_file_is_noticed(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = make_app(tmp_path)
    project = app / "hotfix-index" / "simple" / CANON
    add_page_entry(project, EVIL, EVIL.replace("+", "%2B"), "ab" * 32)
    code, found = statuses(pyhotfix, app)
    assert code == 1 and found == {
        "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl": "ok",
        "my_pkg_extra-1.0+hotfix.1.tar.gz": "ok",
        EVIL: "unexpected",
    }
    assert json.loads(pyhotfix("list", "--json", cwd=app).stdout)[0]["index"] == "mismatch"
    assert pyhotfix("build", cwd=app).code == 1


def test_stored_files_and_html_links_no_page_lists_are_noticed(
    tmp_path: Path, pyhotfix: Pyhotfix
) -> None:
    app = make_app(tmp_path)
    project = app / "hotfix-index" / "simple" / CANON
    (project / EVIL).write_bytes(b"not ours")
    (project / f"{EVIL}.metadata").write_bytes(b"Name: x\n")
    (project / ".index.json.0123456789ab.tmp").write_bytes(b"{")  # an interrupted write: fine
    code, found = statuses(pyhotfix, app)
    assert code == 1, found
    assert found[EVIL] == "unexpected" and found[f"{EVIL}.metadata"] == "unexpected"
    assert ".index.json.0123456789ab.tmp" not in found
    for stray in (project / EVIL, project / f"{EVIL}.metadata"):
        stray.unlink()
    assert statuses(pyhotfix, app)[0] == 0

    # A link on index.html only (index.json, the record, does not list it).
    html = (project / "index.html").read_text()
    link = f'<a href="{EVIL.replace("+", "%2B")}#sha256={"cd" * 32}">{EVIL}</a>'
    (project / "index.html").write_text(html.replace("</body>", f"{link}</body>"))
    code, found = statuses(pyhotfix, app)
    assert code == 1 and found[EVIL] == "unexpected", found


@pytest.mark.parametrize("page", ["index.html", "index.json"])
def test_a_locked_file_linked_outside_the_index_is_a_page_mismatch(
    tmp_path: Path, pyhotfix: Pyhotfix, page: str
) -> None:
    app = make_app(tmp_path)
    project = app / "hotfix-index" / "simple" / CANON
    wheel = "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl"
    quoted = wheel.replace("+", "%2B")
    path = project / page
    text = path.read_text()
    href = f'"{quoted}#sha256=' if page == "index.html" else f'"url": "{quoted}"'
    evil = (
        f'"https://evil.example/{quoted}#sha256='
        if page == "index.html"
        else f'"url": "https://evil.example/{quoted}"'
    )
    assert href in text
    path.write_text(text.replace(href, evil))
    code, found = statuses(pyhotfix, app)
    assert code == 1 and found[wheel] == "page-mismatch", found
    detail = json.loads(pyhotfix("check", "--json", cwd=app).stdout)["files"]
    assert any(page in f["detail"] and "evil.example" in f["detail"] for f in detail)
    if page == "index.json":  # the cheap check reads index.json anyway
        row = json.loads(pyhotfix("list", "--json", cwd=app).stdout)[0]
        assert row["index"] == "mismatch", row
        # A rebuild would publish the same bytes and leave the entry as it is: build fails.
        nop = pyhotfix("build", cwd=app)
        assert nop.code == 1 and "up-to-date" not in nop.stdout, nop.output
        assert "evil.example" in nop.stderr and "index.json" in nop.stderr
