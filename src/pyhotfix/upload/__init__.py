"""Publish hotfixes to a registry through its PyPI-compatible upload API (`uv publish`).

- `target`: `UploadTarget`, the publish target (check the page, upload, verify);
- `reader`: the registry's simple index (where it is, the project's files and their sha256);
- `credentials`: env / URL / ~/.pypirc / keyring lookup, never printed;
- `registries`: what differs by registry kind (upload URL shapes, simple URL, yank advice);
- `failures`: `uv publish`'s output → one-paragraph errors;
- `files`: the local files to upload, checked and hashed;
- `runner`: running `uv publish` (the `Runner` passed in).
"""

from __future__ import annotations

from pyhotfix.upload.credentials import Credentials, PypircRepo, read_pypirc, resolve_credentials
from pyhotfix.upload.runner import Runner, RunResult, run_subprocess
from pyhotfix.upload.target import UploadTarget

__all__ = [
    "Credentials",
    "PypircRepo",
    "RunResult",
    "Runner",
    "UploadTarget",
    "read_pypirc",
    "resolve_credentials",
    "run_subprocess",
]
