"""The Dockerfile format."""

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

__all__ = ["dockerfile"]


def dockerfile(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    target = deployment
    copy: list[str] = []
    scheme = urlsplit(deployment.index_url).scheme
    root = deployment.target_root
    if scheme == "file" and root is not None and deployment.index_url == file_url(root):
        # The host's file:// URL means nothing inside the image: copy the index into it.
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
    pins = [p for p in url_pins(target) if not p.startswith("#")]
    lines = header(
        "dockerfile",
        "For a Dockerfile, before your own `pip install`. pip merges indexes (best version wins)",
        "and keeps an installed release that satisfies your pin, so a constraints file names each",
        "hotfix's exact build by URL and sha256, and PIP_CONSTRAINT / UV_CONSTRAINT apply it to",
        "every later pip or uv install in the image.",
    )
    lines += copy
    run = [f"RUN mkdir -p {DOCKER_DIR} && printf '%s\\n' \\"]
    run += [f"      {shell_quote(pin)} \\" for pin in pins]
    run.append(f"      > {DOCKER_DIR}/constraints.txt")
    lines += run
    lines.append(
        f"ENV PIP_CONSTRAINT={DOCKER_DIR}/constraints.txt UV_CONSTRAINT={DOCKER_DIR}/constraints.txt"
    )
    lines += [
        "# your install step, unchanged:",
        "RUN pip install --no-cache-dir -r requirements.txt",
    ]
    return (ExportedFile("Dockerfile", text(lines)),)
