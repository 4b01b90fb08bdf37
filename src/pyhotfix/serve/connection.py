"""One client connection of `pyhotfix serve`: an asyncio Protocol that frames pipelined requests,
hands them to the `Site` in order, writes or streams the replies with back-pressure, and exposes
the fields the timeout policy of `pyhotfix.serve.limits` reads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import sys
import time
import traceback
from typing import Final, cast

from pyhotfix.serve.http import MAX_HEAD, Request, parse_head
from pyhotfix.serve.site import NeedsAuth, Reply, Site, Stream

__all__ = ["Connection"]

_MAX_PENDING: Final = 1 << 20  # unprocessed pipelined bytes; more and the client is not reading
_CHUNK: Final = 256 * 1024
_LINGER_RESET: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


class Connection(asyncio.Protocol):
    """One client connection: parses pipelined requests in order and writes their replies."""

    def __init__(self, site: Site, conns: set[Connection]) -> None:
        self.site = site
        self.conns = conns
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False  # a reply is being produced or streamed: later requests wait
        self.closed = False
        self.finishing = False  # the worker is stopping: close after the current reply
        self.paused = False
        self.stalled_since = 0.0  # when writing was last paused (see limits.overdue)
        self.drained: asyncio.Future[None] | None = None
        self.last_active = time.monotonic()
        # When the unfinished request head began; a new connection must send its first head
        # within the head timeout too. None: waiting for the next request (idle timeout).
        self.head_since: float | None = self.last_active
        self.peer = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.conns.add(self)
        if self.site.access_log:
            peer = transport.get_extra_info("peername")
            self.peer = str(peer[0]) if peer else "-"
        if self.finishing:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.conns.discard(self)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True
        self.stalled_since = time.monotonic()

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if not self.busy:
            self._process()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.buffer = self.buffer + data if self.buffer else data
        if self.busy or self.paused:
            if len(self.buffer) > _MAX_PENDING:
                self.abort()  # pipelining without reading the replies
            return
        self._process()

    def finish(self) -> None:
        self.finishing = True
        if not self.busy and self.transport is not None:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection with a reset: what is queued for the client is discarded now
        rather than kept by the kernel for a client that may never read it."""
        self.closed = True
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()

    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        while not (self.busy or self.paused or self.closed):
            buffer = self.buffer
            if buffer[:2] == b"\r\n":  # RFC 9112 2.2: ignore empty lines before a request
                buffer = self.buffer = buffer.lstrip(b"\r\n")
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self._fail(431)
                elif buffer and self.head_since is None:
                    self.head_since = self.last_active  # when the bytes of this head arrived
                return
            self.head_since = None
            head = buffer[:end]
            self.buffer = buffer[end + 4 :]
            req = parse_head(head)
            if isinstance(req, int):
                self._fail(req)
                return
            try:
                reply = self.site.handle(req)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                self._fail(500)
                return
            if isinstance(reply, NeedsAuth):
                self.busy = True
                asyncio.get_running_loop().create_task(self._check_auth(req, reply.header))
                return
            self._send(req, reply)

    def _send(self, req: Request, reply: Reply) -> None:
        data, stream, close = reply
        transport = self.transport
        assert transport is not None
        if self.site.access_log:
            status = data[9:12].decode()
            print(f'{self.peer} "{req.method} {req.target}" {status}', file=sys.stderr, flush=True)
        transport.write(data)
        if stream is not None:
            self.busy = True
            asyncio.get_running_loop().create_task(self._stream(stream, close))
        elif close or self.finishing:
            self.closed = True
            transport.close()

    def _fail(self, status: int) -> None:
        assert self.transport is not None
        self.transport.write(self.site.bad_request(status))
        self.closed = True
        self.transport.close()

    async def _check_auth(self, req: Request, header: str) -> None:
        auth = self.site.auth
        assert auth is not None
        loop = asyncio.get_running_loop()
        try:
            ok = await loop.run_in_executor(None, auth.check, header)
            self.site.remember_auth(header, ok)
            reply = self.site.handle(req)
            assert not isinstance(reply, NeedsAuth)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.busy = False
            self._fail(500)
            return
        self.busy = False
        if not self.closed:
            self._send(req, reply)
            self._resume()

    async def _stream(self, stream: Stream, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        offset, left = stream.offset, stream.length
        try:
            while left > 0 and not self.closed:
                chunk = os.pread(stream.fd, min(_CHUNK, left), offset)
                if not chunk:
                    break  # the file shrank: the promised length cannot be kept
                transport.write(chunk)
                offset += len(chunk)
                left -= len(chunk)
                if self.paused:
                    self.drained = asyncio.get_running_loop().create_future()
                    await self.drained
        except OSError:
            traceback.print_exc(file=sys.stderr)
        finally:
            os.close(stream.fd)
        self.busy = False
        self.last_active = time.monotonic()  # the idle timeout starts when the reply is sent
        if left > 0:
            self.abort()
        elif close or self.finishing:
            self.closed = True
            transport.close()
        else:
            self._resume()

    def _resume(self) -> None:
        if self.finishing and self.transport is not None:
            self.closed = True
            self.transport.close()
        elif not self.closed and self.buffer:
            self._process()
