"""Real package registries on loopback for the upload tests: devpi-server and pypiserver.

Each `start_*` is a context manager that runs the registry as a subprocess on 127.0.0.1 on a free
port, with its data under a directory the caller owns (a pytest tmp_path), waits (bounded) until
it answers, yields a `Registry`, and stops it (SIGTERM, then SIGKILL) on exit. Both are set up the
way a team would run them for immutable releases: devpi with a non-volatile index, pypiserver
without `--overwrite`, uploads only with a password, no fallback to pypi.org (no network here).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Registry", "start_devpi", "start_pypiserver"]

_START_TIMEOUT = 60.0  # both start in ~1 s here; generous for a loaded 2-core CI machine
_STOP_TIMEOUT = 10.0
_PORT_TRIES = 3  # a free port can be taken between probing it and the server binding it


@dataclass(frozen=True)
class Registry:
    """A running registry: where to upload, where pip reads, and the one user allowed to upload."""

    kind: str  # "devpi" | "pypiserver"
    upload_url: str
    simple_url: str
    username: str
    password: str
    data_dir: Path  # the server's storage, to check what it holds
    log: Path  # the server's combined output, for failure messages

    def stored_files(self) -> list[str]:
        """Names of the distribution files the server has stored (whatever its layout)."""
        suffixes = (".whl", ".tar.gz", ".zip")
        return sorted(
            p.name for p in self.data_dir.rglob("*") if p.is_file() and p.name.endswith(suffixes)
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    """The console script `name` installed beside this interpreter (the test environment)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL, so
    no registry outlives its test run (Linux; elsewhere the fixture's teardown must do)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # Own session (start_new_session): signal the whole group, workers included.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(_STOP_TIMEOUT)


@contextlib.contextmanager
def _serve(argv_for_port: Sequence[str], ready_url: str, log: Path) -> Iterator[int]:
    """Start `argv_for_port` (with "{port}" filled in) until `ready_url` answers 200; yield the port.

    Retries on a new port when the server dies before it is ready (the port was taken meanwhile).
    """
    last_error = ""
    for _ in range(_PORT_TRIES):
        port = _free_port()
        argv = [a.replace("{port}", str(port)) for a in argv_for_port]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            url = ready_url.replace("{port}", str(port))
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(url, timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                last_error = log.read_text(errors="replace")[-2000:]
                if proc.poll() is None:  # timed out while still running: do not retry
                    raise RuntimeError(
                        f"{argv[0]} did not start in {_START_TIMEOUT}s:\n{last_error}"
                    )
                continue
            yield port
            return
        finally:
            _stop(proc)
    raise RuntimeError(f"{argv_for_port[0]} failed to start {_PORT_TRIES} times:\n{last_error}")


def _password() -> str:
    # Distinctive, so a test can assert it never shows up in any output.
    return f"pw-{secrets.token_hex(12)}"


# pypiserver imports passlib.apache, and passlib 1.7.4 (the last release, which devpi-server
# and pypiserver depend on) crashes on that import when bcrypt 5 is installed: its bcrypt
# self-test trips over bcrypt's new 72-byte limit (with 4.1-4.3 it only prints a traceback).
# Hiding bcrypt from the server process avoids both; the htpasswd file uses a scheme without it.
_PYPISERVER = (
    "import sys; sys.modules['bcrypt'] = None; sys.argv[0] = 'pypi-server'; "
    "from pypiserver.__main__ import main; sys.exit(main())"
)


@contextlib.contextmanager
def start_pypiserver(workdir: Path, *, hashes: bool = True) -> Iterator[Registry]:
    """pypiserver with an htpasswd file (uploads need the password; reads are open).
    `hashes=False` serves links without #sha256=, like some older registries."""
    workdir.mkdir(parents=True, exist_ok=True)
    packages = workdir / "packages"
    packages.mkdir()
    username, password = "uploader", _password()
    # Apache's {SHA} format (passlib's ldap_sha1): weak, but this password guards a test server
    # for a minute, and writing it needs no passlib in the test process (see _PYPISERVER).
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode("ascii")
    (workdir / "htpasswd").write_text(f"{username}:{{SHA}}{digest}\n")
    log = workdir / "pypiserver.log"
    argv = [
        *(sys.executable, "-c", _PYPISERVER, "run", "--host", "127.0.0.1", "--port", "{port}"),
        *("--authenticate", "update", "--passwords", str(workdir / "htpasswd")),
        *("--disable-fallback", "--server", "wsgiref"),
        *(() if hashes else ("--hash-algo", "off")),
        str(packages),
    ]
    with _serve(argv, "http://127.0.0.1:{port}/health", log) as port:
        base = f"http://127.0.0.1:{port}/"
        yield Registry(
            kind="pypiserver",
            upload_url=base,
            simple_url=f"{base}simple/",
            username=username,
            password=password,
            data_dir=packages,
            log=log,
        )


@contextlib.contextmanager
def start_devpi(workdir: Path) -> Iterator[Registry]:
    """devpi-server with user `uploader` and a non-volatile index `uploader/hotfix` (no mirror
    base: nothing is fetched from pypi.org); files are immutable once uploaded."""
    workdir.mkdir(parents=True, exist_ok=True)
    server_dir = workdir / "server"
    log = workdir / "devpi.log"
    with log.open("ab") as out:
        subprocess.run(
            [_bin("devpi-init"), "--serverdir", str(server_dir), "--no-root-pypi"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=60,
        )
    argv = [
        *(_bin("devpi-server"), "--serverdir", str(server_dir), "--host", "127.0.0.1"),
        *("--port", "{port}", "--offline-mode", "--threads", "8"),
        # Hidden options (devpi's own test suite lowers them too): deriving the login-token key
        # with the production argon2 cost takes 8-10 s of CPU on every start.
        *("--argon2-memory-cost", "1024", "--argon2-time-cost", "1", "--argon2-parallelism", "1"),
    ]
    with _serve(argv, "http://127.0.0.1:{port}/+api", log) as port:
        base = f"http://127.0.0.1:{port}"
        username, password = "uploader", _password()
        with httpx.Client(base_url=base, timeout=30.0, headers={"Accept": "application/json"}) as c:
            # devpi's HTTP API, as devpi-client speaks it: create the user, log in for a token,
            # create the index with that token.
            c.put(f"/{username}", json={"password": password}).raise_for_status()
            login = c.post("/+login", json={"user": username, "password": password})
            login.raise_for_status()
            token = login.json()["result"]["password"]
            c.put(
                f"/{username}/hotfix",
                json={"type": "stage", "bases": [], "volatile": False},
                headers={"X-Devpi-Auth": _devpi_auth(username, token)},
            ).raise_for_status()
        index = f"{base}/{username}/hotfix/"
        yield Registry(
            kind="devpi",
            upload_url=index,
            simple_url=f"{index}+simple/",
            username=username,
            password=password,
            data_dir=server_dir,
            log=log,
        )


def _devpi_auth(username: str, token: str) -> str:
    return base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
