"""A hostile file server on 127.0.0.1: huge files, lying lengths, endless streams, drips.

Each path's first segment chooses the behaviour (the rest is the file name the client sees):

- /declared-huge/NAME   Content-Length of 1 TiB, then nothing (a client that reads would stall)
- /chunked/NAME         chunked transfer, endless 64 KiB chunks
- /until-close/NAME     no Content-Length, HTTP/1.0 read-until-close, endless bytes
- /drip/NAME            Content-Length 1000, then one byte every `drip_interval` seconds
- /page/PROJECT/        a gzip-compressed HTML page that inflates to `page_bytes`
- /redirect/NAME        302 to `redirect_to` (e.g. a file:// URL a client must not follow)

Every loop is bounded (by `max_sent` bytes or `max_drips`) and stops when the client goes away,
so a client that fails to stop only makes its test fail, never hang.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from tests.support.loopback import LoopbackServer

__all__ = ["HostileServer"]


class _Server(LoopbackServer):
    daemon_threads = True
    owner: HostileServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        mode = self.path.lstrip("/").partition("/")[0]
        owner.requests.append(self.path)
        try:
            if mode == "declared-huge":
                self._head(200, {"Content-Length": str(1 << 40)})
                owner.stop.wait(owner.hold)
            elif mode == "chunked":
                self.protocol_version = "HTTP/1.1"
                self._head(200, {"Transfer-Encoding": "chunked"})
                chunk = b"x" * (1 << 16)
                self._endless(b"%x\r\n%s\r\n" % (len(chunk), chunk), len(chunk))
            elif mode == "until-close":
                self._head(200, {})
                self._endless(b"y" * (1 << 16), 1 << 16)
            elif mode == "drip":
                self._head(200, {"Content-Length": "1000"})
                for _ in range(owner.max_drips):
                    if owner.stop.wait(owner.drip_interval):
                        break
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    owner.sent += 1
            elif mode == "page":
                inner = b"<html><body>" + b" " * owner.page_bytes + b"</body></html>"
                body = gzip.compress(inner, compresslevel=9)
                self._head(
                    200,
                    {
                        "Content-Type": "text/html",
                        "Content-Encoding": "gzip",
                        "Content-Length": str(len(body)),
                    },
                )
                self.wfile.write(body)
            elif mode == "redirect":
                self._head(302, {"Location": owner.redirect_to, "Content-Length": "0"})
            else:
                self._head(404, {"Content-Length": "0"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the tests want

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.flush()

    def _endless(self, block: bytes, payload: int) -> None:
        owner = self.server.owner
        while owner.sent < owner.max_sent and not owner.stop.is_set():
            self.wfile.write(block)
            owner.sent += payload


class HostileServer:
    """Use as a context manager; `url(mode, name)` gives a file's URL; `sent` counts payload bytes."""

    def __init__(
        self,
        *,
        max_sent: int = 64 << 20,
        drip_interval: float = 0.2,
        max_drips: int = 50,
        hold: float = 10.0,
        page_bytes: int = 4 << 20,
        redirect_to: str = "file:///etc/passwd",
    ) -> None:
        self.redirect_to = redirect_to
        self.max_sent = max_sent
        self.drip_interval = drip_interval
        self.max_drips = max_drips
        self.hold = hold
        self.page_bytes = page_bytes
        self.sent = 0
        self.requests: list[str] = []
        self.stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, mode: str, name: str) -> str:
        return f"{self.base_url}/{mode}/{name}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        deadline = time.monotonic() + 5
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
