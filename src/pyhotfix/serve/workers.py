"""Worker processes of `pyhotfix serve`: the listening sockets (one per worker with SO_REUSEPORT
on Linux), the supervisor that forks the workers and stops them on SIGINT/SIGTERM, and each
worker's event loop (accepting, sweeping overdue connections, a graceful stop)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Final

from pyhotfix.errors import ServeError, UsageError
from pyhotfix.serve.connection import Connection
from pyhotfix.serve.limits import Acceptor, ConnectionLimits, connection_cap, overdue
from pyhotfix.serve.site import Site, SiteConfig

__all__ = ["listen", "run_worker", "supervise"]

_GRACE: Final = 2.0  # seconds a stopping worker lets responses in flight finish


def listen(host: str, port: int, workers: int) -> list[socket.socket]:
    """Bound, listening sockets: one per worker with SO_REUSEPORT (Linux), else one shared."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r} is not an address this machine has ({exc}).") from exc
    family, _, _, _, address = infos[0]
    reuseport = workers > 1 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")

    def bind(addr: Any, share: bool) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if share:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    try:
        # Bound without SO_REUSEPORT first: fails if anything (even another pyhotfix serve, which
        # could otherwise silently share the port) listens there, and picks the port for --port 0.
        first = bind(address, share=False)
        if not reuseport:
            return [first]
        address = (*address[:1], first.getsockname()[1], *address[2:])
        first.close()
        sockets: list[socket.socket] = []
        try:
            for _ in range(workers):
                sockets.append(bind(address, share=True))
        except OSError:
            for s in sockets:
                s.close()
            raise
        return sockets
    except OSError as exc:
        raise ServeError(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}. Choose another port "
            "with --port (--port 0 picks a free one), or stop what is using it."
        ) from exc


def supervise(
    sockets: list[socket.socket], config: SiteConfig, workers: int, ready: Callable[[], None]
) -> int:
    ctx = multiprocessing.get_context("fork")
    parent = os.getpid()
    procs = []
    for i in range(workers):
        own = sockets[i] if len(sockets) > 1 else sockets[0]
        others = [s for s in sockets if s is not own]
        proc = ctx.Process(
            target=_worker_main, args=(own, others, config, parent), name=f"pyhotfix-serve-{i}"
        )
        proc.start()
        procs.append(proc)
    # The workers own the sockets now: when one exits, its socket closes and the kernel stops
    # sending it connections.
    for s in sockets:
        s.close()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    died = None
    try:
        ready()
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.25)
            died = next((p for p in procs if not p.is_alive()), None)
            if died is not None:
                # A worker exits 0 only when told to stop (e.g. Ctrl-C reached the whole group).
                stopping = stopping or died.exitcode == 0
                break
    finally:
        _reap(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if died is not None and not stopping:
        raise ServeError(
            f"Server worker {died.name} exited unexpectedly (exit code {died.exitcode}); the "
            "server was stopped. The log above says why."
        )
    return 0


def _reap(procs: Sequence[Any]) -> None:
    for p in procs:
        if p.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE + 3.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(2.0)


def _worker_main(
    sock: socket.socket, others: list[socket.socket], config: SiteConfig, parent: int
) -> None:
    for s in others:
        s.close()
    run_worker(sock, config, parent)


def run_worker(
    sock: socket.socket,
    config: SiteConfig,
    parent: int | None,
    ready: Callable[[], None] = lambda: None,
) -> None:
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve_socket(sock, Site(config), config.limits, parent, ready))
    finally:
        loop.close()
        sock.close()


async def _serve_socket(
    sock: socket.socket,
    site: Site,
    limits: ConnectionLimits,
    parent: int | None,
    ready: Callable[[], None],
) -> None:
    loop = asyncio.get_running_loop()
    conns: set[Connection] = set()
    acceptor = Acceptor(
        loop, sock, lambda: Connection(site, conns), conns, connection_cap(limits.max_connections)
    )
    acceptor.start()
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    sweeper = loop.create_task(_sweep(conns, limits, parent, request_stop))
    ready()
    try:
        await stop
    finally:
        sweeper.cancel()
        acceptor.stop()
        for conn in list(conns):
            conn.finish()
        deadline = loop.time() + _GRACE
        while conns and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(conns):
            conn.abort()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _sweep(
    conns: set[Connection], limits: ConnectionLimits, parent: int | None, stop: Callable[[], None]
) -> None:
    """Drop connections past their timeout; stop when the supervisor is gone (SIGKILL)."""
    while True:
        await asyncio.sleep(limits.sweep_interval)
        if parent is not None and os.getppid() != parent:
            stop()
            return
        now = time.monotonic()
        for conn in [c for c in conns if overdue(c, limits, now)]:
            conn.abort()
