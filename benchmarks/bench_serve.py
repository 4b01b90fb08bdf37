"""Benchmark: `pyhotfix serve` against pypiserver on the same files (issue #3).

One project with 10 hotfix versions (a wheel and an sdist each; --versions) is published into a
temporary index; pypiserver serves the same files from a flat directory. Both are loaded on
`/simple/<name>/` with the same load generator, one server at a time, on 127.0.0.1 only: `wrk`
when it is on PATH, otherwise a bounded asyncio client (fixed connections, fixed duration, 5 s
per-request timeout). `pyhotfix serve` runs with its defaults (one worker per CPU), with uvloop
when installed and once more on the plain asyncio loop. Prints a markdown table with requests/s,
errors and the ratio to pypiserver (target: >= 4x and 0 errors).

    python benchmarks/bench_serve.py [--duration 10] [--connections 50,200] [--versions 10]
                                     [--client auto|wrk|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dists import make_sdist, make_wheel

from pyhotfix.index import LocalIndex

NAME = "My_Pkg.Extra"
PATH = "/simple/my-pkg-extra/"
MAX_DURATION = 60
MAX_CONNECTIONS = 1000
_WITHOUT_UVLOOP = "import sys; sys.modules['uvloop'] = None; from pyhotfix.cli import main; main()"


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    errors: int  # connect/read/write errors and timeouts
    non_200: int


@dataclass(frozen=True)
class Row:
    server: str
    connections: int
    load: Load


# -- servers -------------------------------------------------------------------------------------


def build_index(base: Path, versions: int) -> tuple[Path, Path]:
    """The index for pyhotfix serve and a flat copy of its dists for pypiserver."""
    dist = base / "dist"
    index = LocalIndex(base / "hotfix-index", fsync=False)
    files = []
    for n in range(1, versions + 1):
        version = f"1.0+hotfix.{n}"
        files += [make_wheel(dist, NAME, version), make_sdist(dist, NAME, version)]
    index.publish(NAME, files)
    flat = base / "packages"
    flat.mkdir()
    for f in files:
        shutil.copy2(f, flat / f.name)
    return index.root, flat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    """Poll until PATH answers 200 and lists the files; return the Server header."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before it was ready")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", PATH)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200 and b"my_pkg_extra-1.0+hotfix.1-py3-none-any.whl" in body:
                return resp.getheader("Server") or "-"
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise SystemExit(f"no server answered on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def running(cmd: Sequence[str], port: int | None, log: Path) -> Iterator[tuple[int, str]]:
    """Start a server; for port None, read the port `pyhotfix serve --port 0` prints.

    Output goes to a file, never to an unread pipe: a server blocked on a full pipe stalls.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
    try:
        if port is None:
            deadline = time.monotonic() + 30
            while not (found := re.search(rb"127\.0\.0\.1:(\d+)/simple/", log.read_bytes())):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"pyhotfix serve did not start: {log.read_text()}")
                time.sleep(0.05)
            port = int(found.group(1))
        yield port, wait_ready(port, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# -- load generators -----------------------------------------------------------------------------


def wrk_load(url: str, connections: int, duration: int, threads: int) -> Load:
    done = subprocess.run(
        ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    out = done.stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rate is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        float(rate.group(1)),
        sum(int(g) for g in errors.groups()) if errors else 0,
        int(non_2xx.group(1)) if non_2xx else 0,
    )


async def _asyncio_load(port: int, connections: int, duration: int) -> Load:
    loop = asyncio.get_running_loop()
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    ok = errors = non_200 = 0
    started = loop.time()
    deadline = started + duration

    async def client() -> None:
        nonlocal ok, errors, non_200
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while loop.time() < deadline:
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
                reader, writer = conn
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length is None:
                    raise ValueError("no Content-Length")
                await asyncio.wait_for(reader.readexactly(int(length.group(1))), 5)
                if head.startswith(b"HTTP/1.1 200 "):
                    ok += 1
                else:
                    non_200 += 1
                if re.search(rb"(?i)\r\nconnection: *close", head):
                    writer.close()
                    conn = None
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if conn is not None:
                    conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = loop.time() - started
    return Load((ok + non_200) / elapsed, errors, non_200)


def asyncio_load(port: int, connections: int, duration: int) -> Load:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_asyncio_load(port, connections, duration))
    return uvloop.run(_asyncio_load(port, connections, duration))


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (max 60)")
    parser.add_argument("--connections", default="50,200", help="comma-separated (max 1000)")
    parser.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto")
    parser.add_argument(
        "--versions",
        type=int,
        default=10,
        help="hotfix versions on the page (2 files each, max 100)",
    )
    args = parser.parse_args()
    duration = max(1, min(args.duration, MAX_DURATION))
    counts = [max(1, min(int(c), MAX_CONNECTIONS)) for c in args.connections.split(",")]
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if use_wrk and shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk); use --client asyncio")
    cpus = len(os.sched_getaffinity(0))

    def load(port: int, connections: int, seconds: int) -> Load:
        if use_wrk:
            return wrk_load(f"http://127.0.0.1:{port}{PATH}", connections, seconds, cpus)
        return asyncio_load(port, connections, seconds)

    loops = ["uvloop", "asyncio"] if importlib.util.find_spec("uvloop") else ["asyncio"]
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        versions = max(1, min(args.versions, 100))
        index_root, flat = build_index(Path(tmp), versions)
        port = free_port()
        pypiserver = [sys.executable, "-m", "pypiserver", "run", "-p", str(port), "-i", "127.0.0.1"]
        pypiserver += ["-a", ".", "-P", ".", "--disable-fallback", str(flat)]
        with running(pypiserver, port, Path(tmp) / "pypiserver.log") as (p, header):
            notes.append(
                f"pypiserver {importlib.metadata.version('pypiserver')} (Server: {header})"
            )
            load(p, 10, 1)  # warm-up
            for c in counts:
                rows.append(Row("pypiserver", c, load(p, c, duration)))
        for loop in loops:
            python = ["-c", _WITHOUT_UVLOOP] if loop == "asyncio" else ["-m", "pyhotfix"]
            cmd = [sys.executable, *python, "serve", str(index_root), "--port", "0"]
            with running(cmd, None, Path(tmp) / f"serve-{loop}.log") as (p, _):
                load(p, 10, 1)
                for c in counts:
                    rows.append(
                        Row(f"pyhotfix serve ({cpus} workers, {loop})", c, load(p, c, duration))
                    )
    client = "wrk" if use_wrk else "asyncio client (Python; the client itself limits the rates)"
    print(
        f"load generator: {client}; {duration} s per run on GET {PATH} "
        f"({2 * versions} files on the page); {cpus} CPUs"
    )
    print("; ".join(notes))
    print()
    print("| server | connections | requests/s | errors | non-200 | vs pypiserver |")
    print("|---|---:|---:|---:|---:|---:|")
    base = {r.connections: r.load.requests_per_s for r in rows if r.server == "pypiserver"}
    met = True
    for r in rows:
        ratio = r.load.requests_per_s / base[r.connections] if base[r.connections] else 0.0
        if r.server != "pypiserver":
            met = met and ratio >= 4 and r.load.errors == 0 and r.load.non_200 == 0
        print(
            f"| {r.server} | {r.connections} | {r.load.requests_per_s:,.0f} | {r.load.errors} "
            f"| {r.load.non_200} | {ratio:.1f}x |"
        )
    print()
    print(f"target (>= 4x pypiserver, 0 errors): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
