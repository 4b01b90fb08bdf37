"""The built wheel against what got installed: every file the wheel installs, with its hash in
the installed RECORD and on disk."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.verify.report import Installed
from pyhotfix.errors import DeployError

__all__ = ["compare_files", "wheel_hashes"]


def wheel_hashes(deployment: Deployment, build: HotfixBuild) -> dict[str, str] | None:
    """Every file the built wheel installs (dist-info excluded), as RECORD-style hashes."""
    wheel = build.wheel
    path = deployment.local_file(build, wheel) if wheel is not None else None
    if path is None or wheel is None:
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != wheel.sha256:
        raise DeployError(
            f"{path} does not match hotfixes.lock (sha256). The index was changed by hand: rebuild "
            f"with `pyhotfix build --force {build.name}`."
        )
    hashes: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = info.filename
            top = member.split("/", 1)[0]
            if top.endswith(".dist-info"):
                continue
            if top.endswith(".data"):
                parts = member.split("/", 2)
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers and data install outside site-packages
                member = parts[2]
            digest = hashlib.sha256(archive.read(info)).digest()
            hashes[member] = "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hashes


def compare_files(installed: Installed, wheel: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    for path, expected in sorted(wheel.items()):
        record, disk = installed.files.get(path, (None, None))
        if path not in installed.files:
            problems.append(f"{path} is not installed")
        elif disk != expected:
            problems.append(f"{path} on disk differs from the built wheel")
        elif record is not None and record != expected:
            problems.append(f"{path} has another hash in the installed RECORD")
    return problems
