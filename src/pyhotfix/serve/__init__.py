"""`pyhotfix serve`: a fast, read-only HTTP/1.1 server for the static index directory.

It serves ``<root>/simple/`` (see `pyhotfix.index` for the layout) the way PyPI serves its simple
API, for development and CI:

- ``/simple/`` and ``/simple/<project>/`` negotiate (PEP 691) between ``index.json``
  (``application/vnd.pypi.simple.v1+json``) and ``index.html`` (``text/html`` or
  ``application/vnd.pypi.simple.v1+html``) from the Accept header (q-values honoured; ties go to
  HTML, as on PyPI) or a ``?format=`` parameter; 406 when nothing offered is acceptable. A project
  name that is not normalised, or a page URL without its trailing slash, is redirected (301).
- Files: wheels and zip sdists ``application/zip``, ``.tar.gz`` ``application/gzip``,
  ``.metadata`` ``text/plain``; never a Content-Encoding. Strong ETags (a hash of the bytes for
  pages, inode-size-mtime for files), Last-Modified, If-None-Match / If-Modified-Since → 304,
  HEAD, a single byte Range → 206 (unsatisfiable → 416), persistent HTTP/1.1 connections.
- Nothing outside ``<root>/simple/``: the target is percent-decoded once; ``.``/``..`` or any
  segment starting with a dot (temp files of a publish in progress), encoded slashes, backslashes,
  NUL, empty segments and symlinks resolving elsewhere are 404. Malformed requests are 400 (431
  for oversized headers, 405 with Allow for methods other than GET and HEAD), never a traceback.
  Only regular files are opened, without blocking (a FIFO is a 404, not a hung worker), one path
  component at a time without following links once the path is resolved inside ``simple/``.
- Slow or hostile clients are bounded by `limits.ConnectionLimits`: a deadline for the
  request head, an idle timeout between requests, a write-stall timeout, and a per-worker
  connection cap that fits the descriptor limit (the longest-waiting connection makes room).
- Optional HTTP Basic auth from an htpasswd file (`Htpasswd`).

Speed: an asyncio Protocol (uvloop when installed), responses of pages and small files kept in
memory and revalidated by one stat() per request, so a publish is visible on the next request; N
worker processes, each with its own SO_REUSEPORT listening socket so the kernel spreads
connections evenly (one shared socket elsewhere).

Modules, one concept each: `http` (request-head parser, Range, response heads), `auth`
(htpasswd, Basic auth), `negotiation` (PEP 691 Accept), `files` (opening regular files inside
simple/), `site` (what each path answers, the cache), `connection` (the asyncio protocol),
`limits` (timeouts, connection cap, accept loop), `workers` (sockets, processes, signals).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyhotfix.errors import UsageError
from pyhotfix.serve.auth import Htpasswd
from pyhotfix.serve.limits import ConnectionLimits
from pyhotfix.serve.negotiation import negotiate
from pyhotfix.serve.site import SiteConfig
from pyhotfix.serve.workers import listen, run_worker, supervise
from pyhotfix.simpleapi import HTML_TYPE, JSON_TYPE

__all__ = [
    "HTML_TYPE",
    "JSON_TYPE",
    "ConnectionLimits",
    "Htpasswd",
    "ServeOptions",
    "default_workers",
    "index_root",
    "negotiate",
    "serve",
]


@dataclass(frozen=True)
class ServeOptions:
    root: Path  # the index directory, the one that contains simple/
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port (printed)
    workers: int = 1
    auth: Htpasswd | None = None
    access_log: bool = False
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def index_root(directory: Path) -> Path:
    """The index directory to serve: `directory`, or its parent when given the simple/ dir itself."""
    if not directory.is_dir():
        raise UsageError(
            f"{directory} is not a directory. Give the hotfix index directory (the one containing "
            "simple/), e.g. `pyhotfix serve hotfix-index`."
        )
    if (directory / "simple").is_dir():
        return directory.absolute()
    if directory.name == "simple" and (directory / "index.html").is_file():
        return directory.absolute().parent
    raise UsageError(
        f"{directory} has no simple/ directory, so it is not a package index (yet). Publish "
        "something into it first (`pyhotfix build`), or give the right directory."
    )


def serve(options: ServeOptions, announce: Callable[[str], None]) -> int:
    """Serve until SIGINT or SIGTERM, then return 0. `announce` gets the lines telling users the URL.

    Raises PyhotfixError when the address cannot be bound or a worker dies.
    """
    simple = os.path.realpath(options.root / "simple")
    sockets = listen(options.host, options.port, options.workers)
    host, port = sockets[0].getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/simple/"
    lines = [
        f"Serving {options.root} at {url} with {options.workers} worker"
        f"{'s' if options.workers > 1 else ''} (Ctrl-C to stop)",
        f"Install from it with: pip install --index-url {url} NAME",
    ]
    if host in ("0.0.0.0", "::"):
        lines.append(f"Listening on all interfaces (port {port}).")
        if options.auth is None:
            lines.append(
                "warning: no --auth: anyone who can reach this machine can read the index."
            )
    config = SiteConfig(simple, options.auth, options.access_log, options.limits)
    if options.workers == 1:
        run_worker(sockets[0], config, None, lambda: announce("\n".join(lines)))
        return 0
    return supervise(sockets, config, options.workers, lambda: announce("\n".join(lines)))
