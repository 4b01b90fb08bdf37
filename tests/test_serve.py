"""`pyhotfix serve`: the real server in a subprocess on 127.0.0.1, spoken to over real sockets."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
from uv import find_uv_bin

from pyhotfix.errors import UsageError
from pyhotfix.index import LocalIndex
from pyhotfix.serve import JSON_TYPE, Htpasswd, negotiate
from pyhotfix.serve.auth import md5_crypt
from pyhotfix.serve.limits import ConnectionLimits, connection_cap, overdue, waiting_since
from tests.conftest import Pyhotfix, Venv, clean_pip_env
from tests.support.dists import make_sdist, make_wheel

NAME = "My_Pkg.Extra"  # "+" comes from the local version: my_pkg_extra-1.0+hotfix.1-….whl
CANON = "my-pkg-extra"
WHEEL = "my_pkg_extra-1.0+hotfix.1-py3-none-any.whl"
WHEEL_URL = f"/simple/{CANON}/my_pkg_extra-1.0%2Bhotfix.1-py3-none-any.whl"
SDIST_URL = f"/simple/{CANON}/my_pkg_extra-1.0%2Bhotfix.1.tar.gz"
BIG_URL = "/simple/big/big-1.0-py3-none-any.whl"
SECRET = "top-secret-outside-the-index"
V1_HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


# -- a real index, a real server -----------------------------------------------------------------


def build_index(base: Path) -> Path:
    """My_Pkg.Extra 1.0+hotfix.1 and .2 (wheel + sdist), a project with a 0.7 MB wheel, an escape
    attempt by symlink, and a dot file left by an interrupted publish."""
    dist = base / "dist"
    index = LocalIndex(base / "hotfix-index", fsync=False)
    for n in (1, 2):
        version = f"1.0+hotfix.{n}"
        index.publish(NAME, [make_wheel(dist, NAME, version), make_sdist(dist, NAME, version)])
    # Incompressible, so that the wheel is larger than what the server keeps in memory.
    index.publish("big", [make_wheel(dist, "big", "1.0", body=f"X = {os.urandom(350_000)!r}\n")])
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "index.html").write_text(SECRET)
    simple = index.root / "simple"
    (simple / "escape").symlink_to(outside, target_is_directory=True)
    (simple / CANON / "secret.whl").symlink_to(outside / "secret.txt")
    (simple / CANON / "alias.whl").symlink_to(simple / CANON / WHEEL)  # inside: allowed
    (simple / CANON / "hop.whl").symlink_to(simple / "escape" / "secret.txt")  # in, then out
    (simple / CANON / "passwd.whl").symlink_to("/etc/passwd")
    (simple / CANON / ".partial.whl.1234.tmp").write_text(SECRET)
    return index.root


@dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int
    root: Path
    banner: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def stderr(self) -> str:
        assert self.proc.poll() is not None and self.proc.stderr is not None
        return self.proc.stderr.read()


# The server uses uvloop when it can be imported; this hides it, to test the asyncio loop too.
LOOPS = ["uvloop", "asyncio"] if importlib.util.find_spec("uvloop") else ["asyncio"]
_WITHOUT_UVLOOP = "import sys; sys.modules['uvloop'] = None; from pyhotfix.cli import main; main()"


def start_server(root: Path, *args: str, cwd: Path | None = None, loop: str = "uvloop") -> Server:
    """`python -m pyhotfix serve ROOT --port 0 …`, once it has printed its URL."""
    python = [
        sys.executable,
        *(["-c", _WITHOUT_UVLOOP] if loop == "asyncio" else ["-m", "pyhotfix"]),
    ]
    return _launch([*python, "serve", str(root), "--port", "0", *args], root, cwd)


# serve() with ConnectionLimits (no CLI options for them) and, optionally, a lower descriptor
# limit (RLIMIT_NOFILE) in the server process; one worker, so every request meets the same one.
_WITH_LIMITS = """
import json, resource, sys
from pathlib import Path
args = json.loads(sys.argv[1])
if args["nofile"]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (args["nofile"], hard))
if args["loop"] == "asyncio":
    sys.modules["uvloop"] = None
from pyhotfix.serve import ConnectionLimits, ServeOptions, serve
options = ServeOptions(Path(args["root"]), port=0, limits=ConnectionLimits(**args["limits"]))
sys.exit(serve(options, lambda text: print(text, flush=True)))
"""


def start_limited_server(
    root: Path, loop: str = "uvloop", nofile: int | None = None, **limits: float
) -> Server:
    """A one-worker server with the given `ConnectionLimits` fields (and RLIMIT_NOFILE)."""
    args = {"root": str(root), "loop": loop, "nofile": nofile, "limits": limits}
    return _launch([sys.executable, "-c", _WITH_LIMITS, json.dumps(args)], root, None)


def _launch(command: list[str], root: Path, cwd: Path | None) -> Server:
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=clean_pip_env(),
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()  # read unbuffered: select() cannot see what a reader buffered
    banner = ""
    deadline = time.monotonic() + 30
    while not re.search(r"Install from it.*\n", banner):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        data = os.read(fd, 4096).decode() if ready else ""
        if not data:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"the server did not start:\n{banner}{err}")
        banner += data
    found = re.search(r"http://127\.0\.0\.1:(\d+)/simple/", banner)
    assert found, banner
    return Server(proc, int(found.group(1)), root, banner)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module", params=LOOPS)
def server(root: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = start_server(root, "--workers", "2", loop=request.param)
    yield srv
    assert srv.stop() == 0


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def fetch(
    port: int,
    path: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    timeout: float = 10.0,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


# -- content negotiation (PEP 691) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, ["text/html", "application/vnd.pypi.simple.v1+html", JSON_TYPE]),
        ("", ["text/html", "application/vnd.pypi.simple.v1+html", JSON_TYPE]),
        ("*/*", ["text/html", "application/vnd.pypi.simple.v1+html", JSON_TYPE]),
        (PIP_ACCEPT, [JSON_TYPE, "application/vnd.pypi.simple.v1+html", "text/html"]),
        (f"{JSON_TYPE};q=0.5, text/html", ["text/html", JSON_TYPE]),
        (f"application/*;q=0.2, {JSON_TYPE}", [JSON_TYPE, "application/vnd.pypi.simple.v1+html"]),
        ("application/vnd.pypi.simple.latest+json", [JSON_TYPE]),
        ("text/*, */*;q=0", ["text/html"]),
        (f"{JSON_TYPE};q=0", []),
        ("image/png, text/plain", []),
        ("text/html;q=nonsense", []),
    ],
)  # fmt: skip
def test_negotiate_orders_the_types_by_quality(accept: str | None, expected: list[str]) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    ("path", "accept", "status", "ctype", "page"),
    [
        (f"/simple/{CANON}/", None, 200, "text/html; charset=utf-8", "index.html"),
        (f"/simple/{CANON}/", PIP_ACCEPT, 200, JSON_TYPE, "index.json"),
        (f"/simple/{CANON}/", V1_HTML, 200, V1_HTML, "index.html"),
        (f"/simple/{CANON}/", f"{JSON_TYPE};q=0.5, text/html;q=0.9", 200, "text/html; charset=utf-8", "index.html"),
        (f"/simple/{CANON}/", "image/png", 406, "text/plain; charset=utf-8", None),
        (f"/simple/{CANON}/?format={JSON_TYPE}", "text/html", 200, JSON_TYPE, "index.json"),
        (f"/simple/{CANON}/?format=text/plain", None, 406, "text/plain; charset=utf-8", None),
        ("/simple/", JSON_TYPE, 200, JSON_TYPE, "index.json"),
        ("/simple/", "text/html", 200, "text/html; charset=utf-8", "index.html"),
    ],
)  # fmt: skip
def test_pages_are_negotiated(
    server: Server,
    path: str,
    accept: str | None,
    status: int,
    ctype: str,
    page: str | None,
) -> None:
    resp = fetch(server.port, path, {"Accept": accept} if accept is not None else None)
    assert (resp.status, resp.headers["content-type"]) == (status, ctype)
    assert resp.headers["vary"] == "Accept"
    if page is not None:
        directory = server.root / "simple" / path.split("/")[2]
        assert resp.body == (directory / page).read_bytes()
    else:
        assert b"application/vnd.pypi.simple.v1+json" in resp.body  # says what it offers


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (f"/simple/{NAME}/", f"/simple/{CANON}/"),
        ("/simple/MY-PKG-EXTRA/", f"/simple/{CANON}/"),
        (f"/simple/{CANON}", f"/simple/{CANON}/"),
        (f"/simple/{NAME}?format={JSON_TYPE}", f"/simple/{CANON}/?format={JSON_TYPE}"),
        ("/simple", "/simple/"),
        ("/", "/simple/"),
    ],
)
def test_names_and_slashes_are_redirected_like_pypi(
    server: Server, path: str, location: str
) -> None:
    resp = fetch(server.port, path)
    assert (resp.status, resp.headers["location"]) == (301, location)


def test_pip_can_follow_a_redirect_to_the_json_page(server: Server) -> None:
    # What pip does for `pip install My_Pkg.Extra`: request the raw name, follow the redirect.
    resp = fetch(server.port, f"/simple/{NAME}/", {"Accept": PIP_ACCEPT})
    assert resp.status == 301
    resp = fetch(server.port, resp.headers["location"], {"Accept": PIP_ACCEPT})
    assert resp.status == 200 and resp.headers["content-type"] == JSON_TYPE
    assert WHEEL in resp.body.decode()


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "filename", "ctype"),
    [
        (WHEEL_URL, WHEEL, "application/zip"),
        (SDIST_URL, "my_pkg_extra-1.0+hotfix.1.tar.gz", "application/gzip"),
        (f"{WHEEL_URL}.metadata", f"{WHEEL}.metadata", "text/plain; charset=utf-8"),
        (BIG_URL, None, "application/zip"),
        (f"/simple/{CANON}/index.json", "index.json", JSON_TYPE),
        (f"/simple/{CANON}/alias.whl", WHEEL, "application/zip"),  # a symlink inside the index
    ],
)
def test_files_have_their_bytes_type_and_validators(
    server: Server, url: str, filename: str | None, ctype: str
) -> None:
    resp = fetch(server.port, url)
    project = "big" if filename is None else CANON
    path = server.root / "simple" / project / (filename or BIG_URL.rsplit("/", 1)[1])
    assert resp.status == 200
    assert resp.body == path.read_bytes()
    assert resp.headers["content-type"] == ctype
    assert resp.headers["content-length"] == str(path.stat().st_size)
    assert "content-encoding" not in resp.headers  # pip must get the .tar.gz as it is
    assert resp.headers["etag"].startswith('"') and resp.headers["last-modified"]
    assert resp.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("url", [f"/simple/{CANON}/", WHEEL_URL, BIG_URL])
def test_etag_and_last_modified_give_304(server: Server, url: str) -> None:
    first = fetch(server.port, url)
    etag = first.headers["etag"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},  # weak comparison
        {"If-None-Match": "*"},
        {"If-Modified-Since": first.headers["last-modified"]},
    ):
        resp = fetch(server.port, url, headers)
        assert (resp.status, resp.body, resp.headers["etag"]) == (304, b"", etag), headers
    assert fetch(server.port, url, {"If-None-Match": '"other"'}).body == first.body
    old = formatdate(time.time() - 10 * 365 * 86400, usegmt=True)
    assert fetch(server.port, url, {"If-Modified-Since": old}).status == 200


def test_json_and_html_pages_have_different_etags(server: Server) -> None:
    url = f"/simple/{CANON}/"
    html_tag = fetch(server.port, url).headers["etag"]
    json_tag = fetch(server.port, url, {"Accept": JSON_TYPE}).headers["etag"]
    assert html_tag != json_tag
    assert fetch(server.port, url, {"Accept": JSON_TYPE, "If-None-Match": html_tag}).status == 200


@pytest.mark.parametrize("url", [f"/simple/{CANON}/", WHEEL_URL, BIG_URL, "/nowhere"])
def test_head_has_the_headers_of_get_and_no_body(server: Server, url: str) -> None:
    get, head = fetch(server.port, url), fetch(server.port, url, method="HEAD")
    assert head.status == get.status and head.body == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers.get(name) == get.headers.get(name)


def test_a_connection_is_kept_alive_and_pipelined_requests_are_answered_in_order(
    server: Server,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for url in (WHEEL_URL, f"/simple/{CANON}/", "/missing", BIG_URL, WHEEL_URL):
            conn.request("HEAD" if url == BIG_URL else "GET", url)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404) and not resp.will_close
    finally:
        conn.close()
    two = b"GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    replies = raw(server.port, two)
    assert replies.startswith(b"HTTP/1.1 200 ") and replies.count(b"HTTP/1.1 ") == 2
    assert b"</html>\nHTTP/1.1 404 " in replies
    # HTTP/1.0 closes unless asked to keep the connection open
    assert b"200 OK" in raw(server.port, b"GET /simple/ HTTP/1.0\r\n\r\n")


def _big(server: Server) -> bytes:
    return (server.root / "simple" / "big" / BIG_URL.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize("url", [WHEEL_URL, BIG_URL])
@pytest.mark.parametrize(
    ("spec", "start", "stop"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=-5", -5, None),
        ("bytes=100-", 100, None),
        ("bytes=3-3", 3, 4),
        ("bytes=200-999999999", 200, None),
    ],
)
def test_a_single_range_gives_206(
    server: Server, url: str, spec: str, start: int, stop: int | None
) -> None:
    data = _big(server) if url == BIG_URL else (server.root / "simple" / CANON / WHEEL).read_bytes()
    resp = fetch(server.port, url, {"Range": spec})
    expected = data[start:stop]
    first = start if start >= 0 else len(data) + start
    assert resp.status == 206 and resp.body == expected
    assert resp.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"


@pytest.mark.parametrize("url", [WHEEL_URL, BIG_URL])
def test_unsatisfiable_and_ignored_ranges(server: Server, url: str) -> None:
    full = fetch(server.port, url)
    size = len(full.body)
    resp = fetch(server.port, url, {"Range": f"bytes={size}-"})
    assert (resp.status, resp.headers["content-range"]) == (416, f"bytes */{size}")
    assert fetch(server.port, url, {"Range": "bytes=-0"}).status == 416
    for ignored in ({"Range": "bytes=0-1,5-6"}, {"Range": "pages=1"}, {"Range": "bytes=9-3"}):
        assert fetch(server.port, url, ignored).body == full.body, ignored
    # If-Range with another validator: the file changed, so the whole of it is sent
    stale = {"Range": "bytes=0-9", "If-Range": '"stale"'}
    assert fetch(server.port, url, stale).body == full.body
    fresh = {"Range": "bytes=0-9", "If-Range": full.headers["etag"]}
    assert fetch(server.port, url, fresh).body == full.body[:10]


def test_pages_are_never_ranged(server: Server) -> None:
    resp = fetch(server.port, f"/simple/{CANON}/", {"Range": "bytes=0-9"})
    assert resp.status == 200 and len(resp.body) > 10


def test_a_publish_is_visible_on_the_next_request(tmp_path: Path) -> None:
    root = build_index(tmp_path)
    srv = start_server(root, "--workers", "2")
    try:
        before = fetch(srv.port, f"/simple/{CANON}/", {"Accept": JSON_TYPE})
        etag = before.headers["etag"]
        wheel = make_wheel(tmp_path / "new", NAME, "1.0+hotfix.3")
        LocalIndex(root, fsync=False).publish(NAME, [wheel])
        # every worker: one stat() per request notices the new page
        for _ in range(8):
            after = fetch(srv.port, f"/simple/{CANON}/", {"Accept": JSON_TYPE})
            assert wheel.name in after.body.decode() and after.headers["etag"] != etag
            assert fetch(srv.port, f"/simple/{CANON}/", {"If-None-Match": etag}).status == 200
            assert fetch(srv.port, "/simple/").status == 200
    finally:
        assert srv.stop() == 0


# -- nothing outside the index -------------------------------------------------------------------


TRAVERSALS = [
    "/simple/../../../../etc/passwd",
    "/simple/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/simple/%2E%2E/outside/secret.txt",
    f"/simple/{CANON}/..%2f..%2f..%2foutside%2fsecret.txt",
    f"/simple/{CANON}%2f..%2f..%2f/",
    "/simple/..%5c..%5coutside%5csecret.txt",
    f"/simple/{CANON}/..\\..\\..\\outside\\secret.txt",
    "//etc/passwd",
    "/simple//etc/passwd",
    "/etc/passwd",
    "/.pyhotfix.lock",
    "/simple/../.pyhotfix.lock",
    f"/simple/{CANON}/.partial.whl.1234.tmp",
    f"/simple/{CANON}/%00",
    f"/simple/{CANON}/{WHEEL}%00.txt",
    f"/simple/{CANON}/secret.whl",  # symlink to a file outside
    f"/simple/{CANON}/hop.whl",  # symlink through a symlinked directory leading outside
    f"/simple/{CANON}/passwd.whl",  # absolute symlink
    "/simple/escape/",  # symlink to a directory outside
    "/simple/escape/secret.txt",
    "/simple/escape/index.html",
    f"/simple/{CANON}/{WHEEL}/",
    f"/simple/{CANON}/sub/{WHEEL}",
    "http://127.0.0.1/simple/../../etc/passwd",  # absolute-form target
    "http://evil.example/../outside/secret.txt",
    "/simple/%ff%fe/",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_path_leads_outside_the_index(server: Server, target: str) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    reply = raw(server.port, request)
    assert status_of(reply) == 404, reply[:200]
    assert SECRET.encode() not in reply and b"root:" not in reply


def test_an_absolute_form_target_inside_the_index_is_served(server: Server) -> None:
    request = b"GET http://127.0.0.1/simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert status_of(raw(server.port, request)) == 200


# -- malformed requests --------------------------------------------------------------------------


MALFORMED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    (b"GET  /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET simple/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /simple/%zz/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /simple/%4/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /simple/\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost x\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n", 400),
    (b"GET /simple/ HTTP/9.9\r\nHost: x\r\n\r\n", 505),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    (b"GET /simple/ HTTP/1.1\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n", 431),
    (b"\x16\x03\x01\x02\x00" + b"\x00" * 20_000, 431),  # a TLS hello: no header end in sight
]


@pytest.mark.parametrize(("request_bytes", "status"), MALFORMED)
def test_malformed_requests_get_4xx_and_the_connection_is_closed(
    server: Server, request_bytes: bytes, status: int
) -> None:
    reply = raw(server.port, request_bytes)  # returns only once the server has closed
    assert status_of(reply) == status, reply[:200]
    assert b"Traceback" not in reply and b"Connection: close" in reply
    assert fetch(server.port, "/simple/").status == 200  # and the server is fine


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PROPFIND"])
def test_methods_other_than_get_and_head_get_405(server: Server, method: str) -> None:
    body = b"name=x"
    request = (
        f"{method} /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    reply = raw(server.port, request + body)  # a request with a body: the connection is closed
    assert status_of(reply) == 405 and b"\r\nAllow: GET, HEAD\r\n" in reply


# -- connection limits: the policy ----------------------------------------------------------------


@dataclass
class FakeConnection:
    """The fields `serve.limits` reads; a plain value, to test the policy without sockets."""

    closed: bool = False
    busy: bool = False
    paused: bool = False
    stalled_since: float = 0.0
    head_since: float | None = None
    last_active: float = 0.0
    aborted: bool = False

    def abort(self) -> None:
        self.aborted = self.closed = True


LIMITS = ConnectionLimits(head_timeout=10, idle_timeout=30, write_timeout=20)


@pytest.mark.parametrize(
    ("conn", "now", "expected"),
    [
        (FakeConnection(head_since=100.0), 109.0, False),
        (FakeConnection(head_since=100.0, last_active=109.5), 110.5, True),  # bytes do not extend it
        (FakeConnection(last_active=100.0), 129.0, False),
        (FakeConnection(last_active=100.0), 131.0, True),
        (FakeConnection(busy=True, last_active=0.0), 1000.0, False),  # streaming, progressing
        (FakeConnection(busy=True, paused=True, stalled_since=100.0), 119.0, False),
        (FakeConnection(busy=True, paused=True, stalled_since=100.0), 121.0, True),
        (FakeConnection(paused=True, stalled_since=100.0, head_since=0.0), 119.0, False),
    ],
)  # fmt: skip
def test_each_state_has_its_timeout(conn: FakeConnection, now: float, expected: bool) -> None:
    assert overdue(conn, LIMITS, now) is expected


def test_only_connections_waiting_for_a_request_can_be_dropped_for_room() -> None:
    assert waiting_since(FakeConnection(head_since=5.0, last_active=7.0)) == 5.0
    assert waiting_since(FakeConnection(last_active=7.0)) == 7.0
    for busy in ({"busy": True}, {"paused": True}, {"closed": True}):
        assert waiting_since(FakeConnection(**busy)) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"head_timeout": 0},
        {"idle_timeout": -1.0},
        {"write_timeout": float("nan")},
        {"head_timeout": float("inf")},
        {"max_connections": 0},
        {"max_connections": 1.5},
    ],
)
def test_limits_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(UsageError, match=next(iter(bad))):
        ConnectionLimits(**bad)  # type: ignore[arg-type]


def test_the_cap_fits_the_descriptor_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_cap(512) == 512 or soft < 600
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    try:
        cap = connection_cap(512)
        in_use = len(os.listdir("/proc/self/fd"))
        assert 1 <= cap <= 200 - in_use - 16
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert connection_cap(3) == 3
    assert (
        LIMITS.sweep_interval == 1.0 and ConnectionLimits(head_timeout=0.1).sweep_interval == 0.05
    )


# -- resources: special files, slow and stalled clients, running out of descriptors --------------


HUGE_URL = "/simple/big/huge-1.0-py3-none-any.whl"


def add_huge_file(root: Path, size: int = 64 << 20) -> None:
    """A 64 MiB file (sparse: no disk) far larger than socket buffers and the server's chunks."""
    with (root / "simple" / "big" / "huge-1.0-py3-none-any.whl").open("wb") as f:
        f.truncate(size)


def seconds_until_closed(sock: socket.socket, limit: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes `sock` (EOF or reset), reading what it sends; None if it
    is still open after `limit`. With `trickle`, one byte of it is sent every 0.2 s meanwhile."""
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < limit:
        readable, _, _ = select.select([sock], [], [], 0.2)
        try:
            if readable and not sock.recv(65536):
                return elapsed
            if trickle and not readable:
                sock.send(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
        except OSError:  # reset by the server
            return time.monotonic() - started
    return None


def seconds_until_reset(sock: socket.socket, limit: float) -> float | None:
    """Seconds until `sock` is reset, without reading from it (SO_ERROR); None if not by `limit`."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < limit:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return elapsed
        time.sleep(0.05)
    return None


def non_reading_client(port: int, path: str) -> socket.socket:
    """A client with a tiny receive window that asks for `path` and never reads the reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("loop", LOOPS)
def test_a_fifo_in_the_index_is_404_and_never_blocks_the_worker(tmp_path: Path, loop: str) -> None:
    root = build_index(tmp_path)
    simple = root / "simple"
    os.mkfifo(simple / CANON / "pipe.whl")
    (simple / CANON / "to-pipe.whl").symlink_to(simple / CANON / "pipe.whl")
    (simple / "fifo-project").mkdir()
    os.mkfifo(simple / "fifo-project" / "index.html")
    srv = start_limited_server(root, loop=loop)  # one worker: a blocked open would stop it all
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        paths = [
            f"/simple/{CANON}/pipe.whl",
            f"/simple/{CANON}/to-pipe.whl",
            "/simple/fifo-project/",
        ]
        for path in [*paths, WHEEL_URL]:  # one keep-alive connection, then a real file on it
            started = time.monotonic()
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == (200 if path == WHEEL_URL else 404), path
            assert time.monotonic() - started < 2
        conn.close()
        # A cached page replaced by a FIFO: the stat() revalidation notices, nothing blocks.
        page = f"/simple/{CANON}/"
        assert fetch(srv.port, page, {"Accept": "text/html"}).status == 200
        os.mkfifo(tmp_path / "fifo")
        os.replace(tmp_path / "fifo", simple / CANON / "index.html")
        assert fetch(srv.port, page, {"Accept": "text/html"}, timeout=5).status == 404
        assert fetch(srv.port, "/simple/", timeout=5).status == 200
    finally:
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


@pytest.mark.parametrize("loop", LOOPS)
def test_slow_and_idle_clients_are_dropped_at_their_deadlines(root: Path, loop: str) -> None:
    srv = start_limited_server(root, loop=loop, head_timeout=1.0, idle_timeout=1.5)
    try:
        # slowloris: a request head trickling in, a byte every 0.2 s, is dropped at the deadline
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as slow:
            slow.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\n")
            closed = seconds_until_closed(slow, 8.0, trickle=b"X-Slow: y\r\n")
            assert closed is not None and 0.8 <= closed <= 3.0, closed
        # a connection that never sends a request has the same deadline
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as silent:
            closed = seconds_until_closed(silent, 8.0)
            assert closed is not None and 0.8 <= closed <= 3.0, closed
        # keep-alive: a pause shorter than the idle timeout is fine, then it is closed
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        try:
            for _ in range(2):
                conn.request("GET", "/simple/")
                assert conn.getresponse().read().startswith(b"<!DOCTYPE html>")
                time.sleep(0.7)
            assert conn.sock is not None
            closed = seconds_until_closed(conn.sock, 8.0)
            assert closed is not None and closed <= 3.0, closed
        finally:
            conn.close()
        assert fetch(srv.port, "/simple/").status == 200
    finally:
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_client_that_stops_reading_is_dropped_by_the_write_timeout(
    tmp_path: Path, loop: str
) -> None:
    root = build_index(tmp_path)
    add_huge_file(root)
    srv = start_limited_server(root, loop=loop, write_timeout=1.0)
    try:
        assert fetch(srv.port, "/simple/").status == 200
        before = rss_bytes(srv.proc.pid)
        with non_reading_client(srv.port, HUGE_URL) as stalled:
            reset = seconds_until_reset(stalled, 10.0)
            assert reset is not None and 0.8 <= reset <= 4.0, reset
        assert rss_bytes(srv.proc.pid) - before < 16 << 20  # chunks, never the 64 MiB file
        assert fetch(srv.port, "/simple/").status == 200
        # a client that reads gets the whole file
        got = fetch(srv.port, HUGE_URL, timeout=30)
        assert got.status == 200 and len(got.body) == 64 << 20
    finally:
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


@pytest.mark.parametrize("loop", LOOPS)
def test_at_the_connection_cap_the_longest_waiting_connection_makes_room(
    tmp_path: Path, loop: str
) -> None:
    root = build_index(tmp_path)
    add_huge_file(root)
    srv = start_limited_server(root, loop=loop, max_connections=4)
    idle: list[http.client.HTTPConnection] = []
    try:
        for _ in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            conn.request("GET", "/simple/")
            assert conn.getresponse().read().startswith(b"<!DOCTYPE html>")
            idle.append(conn)
            time.sleep(0.05)  # distinct ages
        assert fetch(srv.port, "/simple/").status == 200  # a fifth client is served…
        socks = [c.sock for c in idle]
        assert all(s is not None for s in socks)
        oldest = socks[0]
        assert oldest is not None and seconds_until_closed(oldest, 3.0) is not None  # …instead
        for sock in socks[1:]:
            assert sock is not None and not select.select([sock], [], [], 0.1)[0]  # still open
    finally:
        for conn in idle:
            conn.close()
    try:
        # Every slot busy answering (downloads that do not progress): a newcomer gets a 503.
        stalled = [non_reading_client(srv.port, HUGE_URL) for _ in range(4)]
        try:
            time.sleep(0.5)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as extra:
                reply = b""
                with contextlib.suppress(ConnectionResetError):
                    while chunk := extra.recv(4096):
                        reply += chunk
                assert status_of(reply) == 503 and b"Retry-After: 1\r\n" in reply
        finally:
            for sock in stalled:
                sock.close()
        # the slots are free again once the server has seen the resets
        statuses: list[int] = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and statuses[-1:] != [200]:
            statuses.append(fetch(srv.port, "/simple/").status)
            time.sleep(0.02 if statuses[-1] == 503 else 0)
        assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
    finally:
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


@pytest.mark.parametrize("loop", LOOPS)
def test_running_out_of_descriptors_does_not_starve_normal_clients(root: Path, loop: str) -> None:
    # 128 descriptors, 200 slow or silent connections, timeouts far away: only the cap and
    # dropping the longest-waiting connections can let the 30 normal requests through.
    srv = start_limited_server(root, loop=loop, nofile=128, head_timeout=60.0, idle_timeout=60.0)
    slow: list[socket.socket] = []
    try:
        for i in range(200):
            try:
                sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            except OSError:
                continue
            slow.append(sock)
            if i % 2:
                with contextlib.suppress(OSError):
                    sock.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
        started = time.monotonic()
        served = 0
        for _ in range(30):
            with contextlib.suppress(OSError, http.client.HTTPException):
                served += fetch(srv.port, "/simple/", timeout=3).status == 200
        elapsed = time.monotonic() - started
        assert served >= 27 and elapsed < 10, (served, elapsed)
        assert srv.proc.poll() is None
        # the limit was really reached: the server dropped connections to make room
        dropped = len(select.select(slow, [], [], 0)[0])
        assert dropped >= len(slow) - 128, dropped
    finally:
        for sock in slow:
            sock.close()
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


def test_the_limits_can_be_set_on_the_command_line(
    root: Path, pyhotfix: Pyhotfix, tmp_path: Path
) -> None:
    srv = start_server(root, "--workers", "1", "--head-timeout", "0.5", "--max-connections", "8")
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as silent:
            closed = seconds_until_closed(silent, 8.0)
            assert closed is not None and closed <= 2.0, closed
    finally:
        assert srv.stop() == 0
    shown = " ".join(pyhotfix("serve", "--help", cwd=tmp_path).output.split())
    defaults = ConnectionLimits()
    for option, value in [
        ("--head-timeout", defaults.head_timeout),
        ("--idle-timeout", defaults.idle_timeout),
        ("--write-timeout", defaults.write_timeout),
        ("--max-connections", defaults.max_connections),
    ]:  # the CLI's defaults are the library's
        assert re.search(rf"{option} .*?\[default: {value};", shown), option
    bad = pyhotfix("serve", str(root), "--idle-timeout", "0", cwd=tmp_path)
    assert bad.code == 2 and "--idle-timeout" in bad.stderr


# -- authentication ------------------------------------------------------------------------------


# Made with `openssl passwd -apr1 -salt abcdefgh 'sécret pw'` and `openssl passwd -1 -salt xyz pw`.
APR1 = "$apr1$abcdefgh$aABrVYmNq8izsCvTjlvwI1"
MD5 = "$1$xyz$h7QbM9DpbC0kXrwYTqevl1"


def test_md5_crypt_matches_openssl() -> None:
    assert md5_crypt("sécret pw".encode(), b"abcdefgh", "$apr1$") == APR1
    assert md5_crypt(b"pw", b"xyz", "$1$") == MD5


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    """user -> password, one user per supported hash format."""
    found = {"sha": "s3cret:with:colons", "apr": "sécret pw", "md5": "pw"}
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        pass
    else:
        found["bcrypt"] = "b-pass"
    return found


@pytest.fixture(scope="module")
def auth_server(
    root: Path, users: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    sha = base64.b64encode(hashlib.sha1(users["sha"].encode()).digest()).decode()
    lines = ["# pyhotfix serve users", f"sha:{{SHA}}{sha}", f"apr:{APR1}", f"md5:{MD5}", ""]
    if "bcrypt" in users:
        import bcrypt

        hashed = bcrypt.hashpw(users["bcrypt"].encode(), bcrypt.gensalt(4)).decode()
        lines.append(f"bcrypt:$2y${hashed[4:]}")  # as `htpasswd -B` writes it
    htpasswd = tmp_path_factory.mktemp("auth") / "htpasswd"
    htpasswd.write_text("\n".join(lines) + "\n")
    srv = start_server(root, "--auth", str(htpasswd), "--workers", "1")
    yield srv
    assert srv.stop() == 0


@pytest.mark.parametrize("url", ["/simple/", WHEEL_URL, "/simple/../etc/passwd", "/nowhere"])
def test_auth_is_required_for_everything(auth_server: Server, url: str) -> None:
    resp = fetch(auth_server.port, url)
    assert resp.status == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="pyhotfix"'
    assert SECRET.encode() not in resp.body


def test_each_hash_format_accepts_its_password_and_nothing_else(
    auth_server: Server, users: dict[str, str]
) -> None:
    for user, password in users.items():
        for _ in range(2):  # the second time from the verification cache
            resp = fetch(auth_server.port, f"/simple/{CANON}/", basic(user, password))
            assert resp.status == 200, user
            assert fetch(auth_server.port, WHEEL_URL, basic(user, password + "x")).status == 401
    assert fetch(auth_server.port, "/simple/", basic("nobody", "pw")).status == 401
    assert fetch(auth_server.port, "/simple/", basic("sha", "")).status == 401
    assert fetch(auth_server.port, "/simple/", {"Authorization": "Basic !!!"}).status == 401
    assert fetch(auth_server.port, "/simple/", {"Authorization": "Bearer abc"}).status == 401


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice:plaintext\n", "line 1 (user 'alice'): unsupported password hash"),
        ("# only a comment\n", "lists no users"),
        ("justaname\n", "line 1: expected `user:hash`"),
        ("bob:{SHA}not-base64!\n", "{SHA} hash is not base64"),
        ("carol:$5$salt$abc\n", "Supported: bcrypt"),
    ],
)
def test_a_bad_htpasswd_file_is_refused_with_its_line(
    pyhotfix: Pyhotfix, root: Path, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "htpasswd").write_text(content)
    run = pyhotfix("serve", root, "--auth", tmp_path / "htpasswd", "--port", "0", cwd=tmp_path)
    assert run.code == 2 and message in run.stderr, run.output
    assert "Traceback" not in run.output and "Serving" not in run.stdout


def test_htpasswd_load_reads_users(tmp_path: Path) -> None:
    (tmp_path / "h").write_text(f"\n# c\nmd5:{MD5}\napr:{APR1}\n")
    loaded = Htpasswd.load(tmp_path / "h")
    assert loaded.users == {"md5": MD5, "apr": APR1}
    assert loaded.check(basic("md5", "pw")["Authorization"])
    assert not loaded.check(basic("md5", "PW")["Authorization"]) and not loaded.check(None)


# -- start-up and shutdown -----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ")[1].startswith("Z"))


@pytest.mark.parametrize(
    ("sig", "workers"), [(signal.SIGTERM, "2"), (signal.SIGINT, "1"), (signal.SIGINT, "2")]
)
def test_a_signal_stops_the_server_cleanly(root: Path, sig: int, workers: str) -> None:
    srv = start_server(root, "--workers", workers)
    workers_pids = _children(srv.proc.pid)
    assert len(workers_pids) == (int(workers) if workers != "1" else 0)
    # an idle keep-alive connection and one with half a request must not hold the server up
    idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    idle.request("GET", "/simple/")
    assert idle.getresponse().read().startswith(b"<!DOCTYPE html>")
    assert idle.sock is not None
    half = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    half.sendall(b"GET /simple/ HTTP/1.1\r\n")
    try:
        started = time.monotonic()
        assert srv.stop(sig) == 0
        assert time.monotonic() - started < 5
        assert idle.sock.recv(100) == b""  # closed by the server
    finally:
        idle.close()
        half.close()
    assert not any(_alive(pid) for pid in workers_pids)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    assert "Traceback" not in srv.stderr()


def test_the_banner_tells_how_to_install(server: Server) -> None:
    assert f"Serving {server.root} at {server.url} with 2 workers" in server.banner
    assert f"pip install --index-url {server.url} NAME" in server.banner


def test_a_busy_port_is_reported(pyhotfix: Pyhotfix, server: Server, tmp_path: Path) -> None:
    run = pyhotfix("serve", server.root, "--port", str(server.port), cwd=tmp_path)
    assert run.code == 1 and f"Cannot listen on 127.0.0.1 port {server.port}" in run.stderr
    assert "--port 0" in run.stderr and "Traceback" not in run.output


def test_a_directory_that_is_not_an_index_is_refused(pyhotfix: Pyhotfix, tmp_path: Path) -> None:
    run = pyhotfix("serve", tmp_path / "missing", cwd=tmp_path)
    assert run.code == 2 and "is not a directory" in run.stderr
    run = pyhotfix("serve", tmp_path, cwd=tmp_path)
    assert run.code == 2 and "has no simple/ directory" in run.stderr
    run = pyhotfix("serve", cwd=tmp_path)  # no manifest, no ./hotfix-index
    assert run.code == 2 and "hotfix-index is not a directory" in run.stderr


def test_the_default_directory_is_the_manifests_index(root: Path, tmp_path: Path) -> None:
    (tmp_path / "hotfixes.toml").write_text(f'[settings]\nindex = "{root}"\n')
    (tmp_path / "sub").mkdir()
    srv = start_server(root, cwd=tmp_path / "sub")  # DIR given: sanity check of the helper
    assert srv.stop() == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyhotfix", "serve", "--port", "0", "--workers", "1"],
        cwd=tmp_path / "sub",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_pip_env(),
    )
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout.readline().startswith(f"Serving {root} at http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


# -- real installers -----------------------------------------------------------------------------


def test_pip_and_uv_install_the_hotfix_from_pyhotfix_serve(
    root: Path, venv: Venv, tmp_path: Path
) -> None:
    srv = start_server(root, "--access-log")
    try:
        done = venv.pip("install", "--index-url", srv.url, f"{NAME}==1.0")  # matches +hotfix.2
        assert done.returncode == 0, done.stdout + done.stderr
        code = "import importlib.metadata as m; print(m.version('My_Pkg.Extra'))"
        assert venv.run(code) == "1.0+hotfix.2"

        uv_venv = tmp_path / "uv-venv"
        env = clean_pip_env({"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"})
        uv = find_uv_bin()
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, uv_venv],
            check=True, env=env, timeout=120,
        )  # fmt: skip
        done = subprocess.run(
            [uv, "pip", "install", "--python", uv_venv / "bin" / "python", "--no-cache",
             "--index-url", srv.url, f"{NAME}==1.0+hotfix.1"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        installed = subprocess.run(
            [uv_venv / "bin" / "python", "-c", code], capture_output=True, text=True, timeout=60
        )
        assert installed.stdout.strip() == "1.0+hotfix.1"
    finally:
        assert srv.stop() == 0
    log = srv.stderr()
    # pip resolved from the PEP 658 metadata file, then fetched the wheel it chose
    assert f'"GET /simple/{CANON}/" 200' in log
    assert f'"GET /simple/{CANON}/my_pkg_extra-1.0%2Bhotfix.2-py3-none-any.whl.metadata" 200' in log
    assert '"GET /simple/my-pkg-extra/my_pkg_extra-1.0%2Bhotfix.1-py3-none-any.whl" 200' in log


# -- the nginx configuration the README shows ---------------------------------------------------


# Keep in sync with the README ("Serving the index in production"): this test proves it works.
NGINX_SITE = r"""
# Serve a pyhotfix index: PEP 503 HTML for everyone, PEP 691 JSON for clients that ask for it.
map $http_accept $pypi_negotiated {
    default index.html;
    # JSON when the client lists it without q=0 (pip and uv do); nginx cannot weigh q-values.
    "~*application/vnd\.pypi\.simple\.(v1|latest)\+json(?!\s*;\s*q=0(\.0*)?\s*(,|$))" index.json;
}
map $arg_format $pypi_page {
    default $pypi_negotiated;
    "~*^application/vnd\.pypi\.simple\.(v1|latest)(\+|%2B)json$" index.json;
    "~*^(text/html|application/vnd\.pypi\.simple\.(v1|latest)(\+|%2B)html)$" index.html;
}

server {
    listen 127.0.0.1:8080;
    root /srv/hotfix-index;                   # the directory that contains simple/
    absolute_redirect off;                    # /simple/name -> 301 /simple/name/
    disable_symlinks on from=$document_root;  # no symlink may lead out of the index

    types {
        text/html                            html;
        application/vnd.pypi.simple.v1+json  json;
        text/plain                           metadata;
        application/zip                      whl zip;
        application/gzip                     gz tgz;
    }
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/plain;                 # text/html always gets it
    gzip off;                                 # never a Content-Encoding on a .tar.gz

    location = / { return 301 /simple/; }
    location ~ /\. { return 404; }            # .pyhotfix.lock, temp files of a publish
    location /simple/ {
        index $pypi_page;
        add_header Vary Accept;
        add_header Cache-Control "max-age=0, must-revalidate";
        location ~ "\.(whl|gz|zip|metadata)$" {
            add_header Cache-Control "max-age=31536000, immutable";
        }
    }
}
"""


@pytest.fixture
def nginx(root: Path, tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = NGINX_SITE.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    (tmp_path / "site.conf").write_text(site.replace("/srv/hotfix-index", str(root)))
    temp = tmp_path / "temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # the index is in a private tmp dir
        + f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        + "events {}\nhttp {\n    access_log off;\n"
        + "".join(f"    {k}_temp_path {temp}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"    include {tmp_path}/site.conf;\n}}\n"
    )  # fmt: skip
    proc = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"nginx did not start: {proc.stderr and proc.stderr.read()}"
                    ) from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_readme_nginx_config_serves_the_index(nginx: int, root: Path) -> None:
    page = root / "simple" / CANON
    for accept, expected in [
        (None, "index.html"),
        (PIP_ACCEPT, "index.json"),
        (f"{JSON_TYPE};q=0, text/html", "index.html"),
        ("text/html", "index.html"),
    ]:
        resp = fetch(nginx, f"/simple/{CANON}/", {"Accept": accept} if accept else None)
        assert resp.status == 200 and resp.body == (page / expected).read_bytes(), accept
        assert resp.headers["vary"] == "Accept"
    resp = fetch(nginx, f"/simple/?format={JSON_TYPE}")
    assert resp.headers["content-type"] == JSON_TYPE
    assert resp.body == (root / "simple" / "index.json").read_bytes()
    assert fetch(nginx, f"/simple/{CANON}").headers["location"] == f"/simple/{CANON}/"
    for url, ctype in [
        (WHEEL_URL, "application/zip"),
        (SDIST_URL, "application/gzip"),
        (f"{WHEEL_URL}.metadata", "text/plain; charset=utf-8"),
    ]:
        resp = fetch(nginx, url, {"Accept-Encoding": "gzip"})
        assert resp.status == 200 and resp.headers["content-type"] == ctype
        assert "content-encoding" not in resp.headers
    assert fetch(nginx, WHEEL_URL, {"Range": "bytes=0-9"}).status == 206
    for target in ("/.pyhotfix.lock", f"/simple/{CANON}/secret.whl", "/simple/escape/secret.txt"):
        resp = fetch(nginx, target)
        assert resp.status in (403, 404) and SECRET.encode() not in resp.body, target
