"""The one threaded HTTP server class the test servers on 127.0.0.1 build on."""

from __future__ import annotations

import socketserver
from http.server import ThreadingHTTPServer

__all__ = ["LoopbackServer"]


class LoopbackServer(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can stall on
        # sandboxed machines; loopback needs none.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
