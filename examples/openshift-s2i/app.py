"""A minimal app for OpenShift's s2i Python builder (its run step starts `python app.py`).

It describes a dangling symbolic link with python-magic: 0.4.3 raises IOError for it, the hotfix
(0.4.3+hotfix.1) describes it, so the page shows which build the deployment got.
"""

import importlib.metadata
import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

import magic


def describe_dangling_link() -> str:
    directory = tempfile.mkdtemp()
    link = os.path.join(directory, "dangling")
    os.symlink(os.path.join(directory, "missing"), link)
    try:
        return magic.from_file(link)
    except OSError as exc:
        return f"error: {exc}"


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    version = importlib.metadata.version("python-magic")
    body = f"python-magic {version}: {describe_dangling_link()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    make_server("0.0.0.0", 8080, application).serve_forever()
