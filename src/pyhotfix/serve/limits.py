"""Connection limits of `pyhotfix serve`: timeouts, a connection cap, and an accept loop that
survives running out of file descriptors.

Why not ``loop.create_server``: on EMFILE/ENFILE asyncio stops accepting for a second while every
slot stays held, and uvloop (libuv) accepts and drops the pending connections, or reports the
error to the server, which then stops listening. Here the worker accepts itself,
keeps the number of open connections under a cap derived from RLIMIT_NOFILE, and makes room for a
new client by dropping the connection that has waited longest for a request (an idle keep-alive
connection or a slow request head); when every connection is busy answering, the newcomer gets a
503 and is closed.

The policy (`overdue`, `waiting_since`) is pure, over the few fields a connection exposes
(`Watched`); the server's `connection.Connection` provides them.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import socket
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Protocol

from pyhotfix.errors import UsageError

__all__ = ["Acceptor", "ConnectionLimits", "Watched", "connection_cap", "overdue", "waiting_since"]

_ACCEPT_BATCH: Final = 16  # accepts per readiness callback: other connections get their turn
# Descriptors kept free beyond the cap: the event loop, files being streamed or opened, and
# connections dropped to make room whose descriptors close on the next loop iteration.
_FD_RESERVE: Final = 32
_RETRY_AFTER_EVICTION: Final = 0.02  # seconds: dropped connections' descriptors are closed by then
_RETRY_WHEN_FULL: Final = 0.25  # seconds: nothing could be dropped; wait for a connection to end
_OUT_OF_RESOURCES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_SERVICE_UNAVAILABLE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 24\r\nRetry-After: 1\r\nConnection: close\r\n\r\n503 Service Unavailable\n"
)


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-worker limits. Timeouts are in seconds."""

    # A request head (request line and header fields) must be complete this long after the
    # connection opened or its first byte arrived: a client trickling bytes is dropped.
    head_timeout: float = 10.0
    # A keep-alive connection waiting for its next request is closed after this long.
    idle_timeout: float = 30.0
    # A client that takes none of its pending reply for this long (the server's send buffer full,
    # no progress) is dropped.
    write_timeout: float = 30.0
    # Open connections per worker; fewer when RLIMIT_NOFILE would not allow as many.
    max_connections: int = 512

    def __post_init__(self) -> None:
        for name in ("head_timeout", "idle_timeout", "write_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise UsageError(
                    f"The serve {name} must be a positive number of seconds, not {value!r}."
                )
        if not (isinstance(self.max_connections, int) and self.max_connections >= 1):
            raise UsageError(
                f"The serve max_connections must be a positive whole number, not "
                f"{self.max_connections!r}."
            )

    @property
    def sweep_interval(self) -> float:
        """How often connections are checked: a quarter of the shortest timeout, 50 ms to 1 s."""
        shortest = min(self.head_timeout, self.idle_timeout, self.write_timeout)
        return min(1.0, max(0.05, shortest / 4))


class Watched(Protocol):
    """What the limits need to know about a connection."""

    closed: bool
    busy: bool  # a reply is being produced or streamed
    paused: bool  # the transport's send buffer is over its high-water mark
    stalled_since: float  # when it last became paused
    head_since: float | None  # when the unfinished request head began (or the connection opened)
    last_active: float  # when bytes last arrived (or a streamed reply ended)

    def abort(self) -> None: ...


def overdue(conn: Watched, limits: ConnectionLimits, now: float) -> bool:
    """Whether `conn` has exceeded the timeout that applies to what it is doing now."""
    if conn.paused:
        return now - conn.stalled_since > limits.write_timeout
    if conn.busy:
        return False  # streaming with progress, or an auth check in flight
    if conn.head_since is not None:
        return now - conn.head_since > limits.head_timeout
    return now - conn.last_active > limits.idle_timeout


def waiting_since(conn: Watched) -> float | None:
    """Since when `conn` has been waiting for a request; None when it is answering one."""
    if conn.closed or conn.busy or conn.paused:
        return None
    return conn.head_since if conn.head_since is not None else conn.last_active


def connection_cap(requested: int) -> int:
    """`requested`, lowered so that the connections fit in this process's descriptor limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return requested
    if soft == resource.RLIM_INFINITY:
        return requested
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32  # not Linux: a guess at the loop's, stdio's and the listening socket's
    return max(1, min(requested, soft - in_use - _FD_RESERVE))


def _drop_oldest_waiting(conns: Collection[Watched], count: int) -> int:
    """Abort up to `count` connections that waited longest for a request; how many were."""
    waiting = [
        (since, i, c) for i, c in enumerate(conns) if (since := waiting_since(c)) is not None
    ]
    waiting.sort(key=lambda item: (item[0], item[1]))
    for _, _, conn in waiting[:count]:
        conn.abort()
    return min(count, len(waiting))


class Acceptor:
    """Accepts connections on a listening socket within the cap (see the module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        conns: Collection[Watched],
        cap: int,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.conns = conns
        self.cap = cap
        self.pending = 0  # accepted, transport not made yet
        self.reading = False
        self.stopped = False
        self.retry: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        if not self.stopped and not self.reading:
            self.loop.add_reader(self.sock.fileno(), self._on_readable)
            self.reading = True

    def stop(self) -> None:
        self.stopped = True
        self._pause()

    def _pause(self, seconds: float | None = None) -> None:
        if self.reading:
            self.loop.remove_reader(self.sock.fileno())
            self.reading = False
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        if seconds is not None and not self.stopped:
            self.retry = self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self.retry = None
        self.start()

    def _on_readable(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                client, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ECONNABORTED:
                    continue  # the client gave up while queued
                if exc.errno in _OUT_OF_RESOURCES:
                    # Room for new clients: drop a few connections that only wait, and try again
                    # once their descriptors are closed; never spin on a readable socket.
                    dropped = _drop_oldest_waiting(self.conns, max(1, len(self.conns) // 16))
                    self._pause(_RETRY_AFTER_EVICTION if dropped else _RETRY_WHEN_FULL)
                    return
                print(f"pyhotfix serve: accept() failed: {exc}", file=sys.stderr, flush=True)
                self._pause(_RETRY_WHEN_FULL)
                return
            self._admit(client)

    def _admit(self, client: socket.socket) -> None:
        if len(self.conns) + self.pending >= self.cap:
            live = sum(1 for c in self.conns if not c.closed)
            if live + self.pending >= self.cap and not _drop_oldest_waiting(self.conns, 1):
                _refuse(client)
                return
        try:
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            client.close()  # e.g. reset by the peer already
            return
        self.pending += 1
        task: asyncio.Task[object] = self.loop.create_task(
            self.loop.connect_accepted_socket(self.protocol_factory, client)
        )
        self.tasks.add(task)
        task.add_done_callback(lambda t: self._connected(t, client))

    def _connected(self, task: asyncio.Task[object], client: socket.socket) -> None:
        self.pending -= 1
        self.tasks.discard(task)
        if task.cancelled() or task.exception() is not None:
            client.close()


def _refuse(client: socket.socket) -> None:
    """Best effort: a 503 if the socket takes it at once, then close (never blocks)."""
    try:
        client.setblocking(False)
        client.send(_SERVICE_UNAVAILABLE)
    except OSError:
        pass
    finally:
        client.close()
