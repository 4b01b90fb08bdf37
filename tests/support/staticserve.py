"""A static index directory served on 127.0.0.1 as a plain file server would serve it: files as
they are, a directory URL as its index.json (PEP 691 JSON) or its index.html."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import LoopbackServer

__all__ = ["serve_directory"]

_JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class _Handler(SimpleHTTPRequestHandler):
    page = "index.html"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.endswith("/") and self.page == "index.json":
            self.path = self.path.split("?", 1)[0] + "index.json"
        return super().send_head()

    def guess_type(self, path: Any) -> str:
        if str(path).endswith("index.json"):
            return _JSON_TYPE
        return super().guess_type(path)


@contextmanager
def serve_directory(root: Path, *, page: str = "index.html") -> Iterator[str]:
    """Serve `root` on loopback; yields its base URL (``http://127.0.0.1:PORT/``). `page` is
    what a directory URL returns: "index.html" or "index.json"."""
    handler = type("Handler", (_Handler,), {"page": page})
    server = LoopbackServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
