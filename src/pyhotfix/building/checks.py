"""The name and version checks of the built sdist and wheel (filenames and metadata)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from packaging.metadata import Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pyhotfix.distfile import sdist_pkg_info
from pyhotfix.errors import BuildError
from pyhotfix.versioning import BackendInfo

__all__ = ["check_built"]


def check_built(name: str, version: str, backend: BackendInfo, sdist: Path, wheel: Path) -> None:
    """Every place a version shows must be the one asked for; a backend may silently ignore it."""
    want_name, want_version = canonicalize_name(name), Version(version)
    problems: list[str] = []

    def check(where: str, got_name: str | None, got_version: str | Version | None) -> None:
        if got_name is None or canonicalize_name(got_name) != want_name:
            problems.append(f"{where} names the project {got_name!r}")
        try:
            ok = got_version is not None and Version(str(got_version)) == want_version
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{where} says version {got_version}")

    try:
        s_name, s_version = parse_sdist_filename(sdist.name)
        check(f"the sdist filename {sdist.name}", s_name, s_version)
    except InvalidSdistFilename:
        problems.append(f"the sdist filename {sdist.name} cannot be parsed")
    try:
        w_name, w_version, _, _ = parse_wheel_filename(wheel.name)
        check(f"the wheel filename {wheel.name}", w_name, w_version)
    except InvalidWheelFilename:
        problems.append(f"the wheel filename {wheel.name} cannot be parsed")

    check("the sdist's PKG-INFO", *_metadata(sdist_pkg_info(sdist, sdist.name) or b""))
    with zipfile.ZipFile(wheel) as zf:
        metas = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        data = zf.read(metas[0]) if len(metas) == 1 else b""
    check("the wheel's METADATA", *_metadata(data))

    if problems:
        raise BuildError(
            f"The build of {name} {version} produced files with the wrong name or version: "
            f"{'; '.join(problems)}. The build backend {backend.backend} ({backend.distribution}) "
            "ignored the version pyhotfix set, so nothing was written; pip and uv would refuse "
            "these files. Report this as a pyhotfix bug with the package name, or set the version "
            "with a patch."
        )


def _metadata(data: bytes) -> tuple[str | None, str | None]:
    if not data:
        return None, None
    try:
        meta = Metadata.from_email(data, validate=False)
        return meta.name, str(meta.version)
    except Exception:  # packaging raises ExceptionGroup/InvalidMetadata for bad fields
        return None, None
