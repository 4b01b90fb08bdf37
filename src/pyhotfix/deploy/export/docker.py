"""The Dockerfile format, for the image's install step: `pip install`, `uv pip install`, or
`uv sync` of a uv project.

pip and `uv pip` read a constraints file from PIP_CONSTRAINT / UV_CONSTRAINT, so those variants
pin each hotfix by URL and sha256 there and leave the install step as it is. `uv lock` and
`uv sync` read neither (nor any constraints file): a uv project must carry the hotfix in its own
pyproject.toml and uv.lock, locked against an index URL that is the same where it is locked and
in the image (uv.lock records it, and `--locked` refuses a lock that differs).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import (
    file_url,
    header,
    shell_quote,
    text,
    url_pins,
)
from pyhotfix.deploy.export.values import DOCKER_DIR, ExportedFile, ExportOptions
from pyhotfix.errors import UsageError

__all__ = ["dockerfile"]

_INSTALL_STEP = {
    "pip": "RUN pip install --no-cache-dir -r requirements.txt",
    "uv-pip": "RUN uv pip install --system --no-cache -r requirements.txt",
}


def dockerfile(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    if opts.installer == "uv-sync":
        return (ExportedFile("Dockerfile", text(_uv_sync(deployment))),)
    target, copy = _in_image(deployment)
    pins = [p for p in url_pins(target) if not p.startswith("#")]
    lines = header(
        "dockerfile",
        "For a Dockerfile, before your own install step. pip merges indexes (best version wins)",
        "and keeps an installed release that satisfies your pin, so a constraints file names each",
        "hotfix's exact build by URL and sha256; PIP_CONSTRAINT and UV_CONSTRAINT apply it to every",
        "later `pip install` and `uv pip install` in the image. Not to `uv lock` / `uv sync`, which",
        "read no constraints file: for a uv project export with --installer uv-sync.",
    )
    lines += copy
    run = [f"RUN mkdir -p {DOCKER_DIR} && printf '%s\\n' \\"]
    run += [f"      {shell_quote(pin)} \\" for pin in pins]
    run.append(f"      > {DOCKER_DIR}/constraints.txt")
    lines += run
    lines.append(
        f"ENV PIP_CONSTRAINT={DOCKER_DIR}/constraints.txt UV_CONSTRAINT={DOCKER_DIR}/constraints.txt"
    )
    lines += ["# your install step, unchanged:", _INSTALL_STEP[opts.installer]]
    return (ExportedFile("Dockerfile", text(lines)),)


def _in_image(deployment: Deployment) -> tuple[Deployment, list[str]]:
    """The deployment as the image sees it, and the COPY lines that put a local index there: the
    host's file:// URL means nothing inside the image."""
    root = deployment.target_root
    if not _is_host_index(deployment) or root is None:
        return deployment, []
    copy: list[str] = []
    source = Path(os.path.relpath(root, deployment.directory)).as_posix()
    if source.startswith(".."):
        copy.append(
            f"# {root} is outside the directory of hotfixes.lock: make it part of the "
            "Docker build context."
        )
    copy.append(f"COPY {source}/ {DOCKER_DIR}/hotfix-index/")
    target = Deployment(
        manifest_path=deployment.manifest_path,
        index_url=f"file://{DOCKER_DIR}/hotfix-index/simple/",
        local_root=deployment.local_root,
        target_root=root,
        hotfixes=deployment.hotfixes,
    )
    return target, copy


def _is_host_index(deployment: Deployment) -> bool:
    root = deployment.target_root
    return (
        urlsplit(deployment.index_url).scheme == "file"
        and root is not None
        and deployment.index_url == file_url(root)
    )


def _uv_sync(deployment: Deployment) -> list[str]:
    if _is_host_index(deployment):
        raise UsageError(
            f"--installer uv-sync: the hotfix index is {deployment.index_url}, a path on this "
            "machine. uv.lock records the index URL and `uv sync --locked` in the image refuses "
            "a lock made against another one, so the project must be pinned and locked against "
            "a URL the image reaches too: pass --index-url https://… (the URL the image uses), "
            "and pin with the same one (`pyhotfix pin --pyproject pyproject.toml --index-url "
            "…`, then `uv lock`)."
        )
    versions = ", ".join(f"{h.name}=={h.hotfix_version}" for h in deployment.hotfixes)
    lines = header(
        "dockerfile",
        "For a Dockerfile that installs a uv project with `uv sync`. uv lock and uv sync read no",
        "constraints file (UV_CONSTRAINT is for `uv pip` only), so the project itself names the",
        f"hotfix: run `pyhotfix pin --pyproject pyproject.toml --index-url {deployment.index_url}`",
        f"and `uv lock`, and commit both files; uv.lock then has {versions} from the",
        "hotfix index with each file's sha256, and `uv sync --locked` installs exactly that, over",
        "whatever the image already has, or stops if uv.lock is not up to date with pyproject.toml.",
    )
    lines += [
        "COPY pyproject.toml uv.lock ./",
        "RUN uv sync --locked --no-dev --no-install-project --no-cache",
        "# then COPY the rest of the app and `RUN uv sync --locked --no-dev` to install it too.",
    ]
    return lines
