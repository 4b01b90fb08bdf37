"""`pyhotfix export`: configuration that makes one kind of deployment install the hotfix builds.

Why each format looks the way it does (the installers' behaviour, checked with real pip and uv):

- pip has no index priority: `--extra-index-url`, `--find-links` and pip.conf merge every index and
  the best version wins, so an unpinned hotfix loses to a newer upstream release; and pip keeps an
  installed release that satisfies the requirement without looking at any index.
- `==0.4.3+hotfix.1` (a local version) can only be satisfied by that build: PyPI refuses local
  versions. A `--hash` anywhere turns on pip's hash-checking mode for *every* requirement.
- A direct reference `name @ URL#sha256=…` (as a requirement or as a constraint) makes pip and uv take
  exactly that file and check its hash, merges no index, and does not turn hash-checking mode on.
- uv takes a package from the first index that has it; `explicit = true` plus `[tool.uv.sources]`
  ties a package to one index, for the project's own requirements and overrides only (so an exact
  override catches transitive ones). Poetry: `priority = "explicit"` plus `source =` on a
  dependency the project lists. PDM: a source's `include_packages` plus an override. Pipenv:
  `index =`.

So formats that can only add indexes (pip.conf, s2i's PIP_* variables, Docker) point the installer
at a constraints file of URL pins, and the formats that must stay on an index pin exact local
versions with hashes. None emits a bare `--extra-index-url`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyhotfix._atomic import write_atomic
from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export import (
    docker,
    github_actions,
    pdm,
    pip,
    pipaudit,
    pipenv,
    poetry,
    uv,
    vex,
)
from pyhotfix.deploy.export.values import (
    CONSTRAINTS_NAME,
    DOCKER_DIR,
    INDEX_NAME,
    Export,
    ExportedFile,
    ExportOptions,
)
from pyhotfix.deploy.formats import FORMATS
from pyhotfix.errors import UsageError

__all__ = [
    "CONSTRAINTS_NAME",
    "DOCKER_DIR",
    "INDEX_NAME",
    "Export",
    "ExportOptions",
    "ExportedFile",
    "export",
    "write_export",
]

Writer = Callable[[Deployment, ExportOptions], tuple[ExportedFile, ...]]

WRITERS: dict[str, Writer] = {
    "requirements": pip.requirements,
    "constraints": pip.constraints,
    "pip-conf": pip.pip_conf,
    "uv": uv.uv,
    "poetry": poetry.poetry,
    "pdm": pdm.pdm,
    "pipenv": pipenv.pipenv,
    "s2i": pip.s2i,
    "heroku": pip.heroku,
    "dockerfile": docker.dockerfile,
    "direct": pip.direct,
    "github-actions": github_actions.github_actions,
    "vex": vex.vex,
    "pip-audit": pipaudit.pip_audit,
}


def export(deployment: Deployment, fmt: str, options: ExportOptions | None = None) -> Export:
    opts = options or ExportOptions()
    if fmt not in WRITERS:
        raise UsageError(f"Unknown export format {fmt!r}; choose from {', '.join(FORMATS)}.")
    return Export(format=fmt, files=WRITERS[fmt](deployment, opts))


def write_export(result: Export, out: Path) -> list[Path]:
    """Write the main file to `out` and any companion next to it; returns the paths written."""
    written: list[Path] = []
    for n, file in enumerate(result.files):
        path = out if n == 0 else out.parent / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, file.content.encode("utf-8"))
        written.append(path)
    return written
