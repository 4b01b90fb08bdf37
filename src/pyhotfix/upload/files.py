"""The files to upload: each checked to be a distribution of the project, and hashed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)

from pyhotfix.distfile import dist_kind, file_sha256_size, parse_dist_filename
from pyhotfix.errors import PublishError

__all__ = ["LocalFile", "canonical_project", "inspect_file"]


@dataclass(frozen=True)
class LocalFile:
    path: Path
    filename: str
    sha256: str
    is_wheel: bool


def canonical_project(name: str) -> NormalizedName:
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName as exc:
        raise PublishError(
            f"{name!r} is not a valid project name: use letters, digits, '.', '-' and '_', "
            "starting and ending with a letter or digit."
        ) from exc


def inspect_file(path: Path, canon: NormalizedName) -> LocalFile:
    filename = path.name
    kind = dist_kind(filename)
    if kind is None:
        raise PublishError(
            f"{path} is neither a wheel (.whl) nor an sdist (.tar.gz): only distributions "
            "can be uploaded."
        )
    try:
        project = parse_dist_filename(filename).name
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise PublishError(f"{path} does not have a valid distribution filename: {exc}.") from exc
    if project != canon:
        raise PublishError(f"{filename} is a file of {project}, not of {canon}; nothing was sent.")
    try:
        sha256 = file_sha256_size(path)[0]
    except OSError as exc:
        raise PublishError(
            f"Could not read {path} ({exc.strerror or exc}); nothing was uploaded."
        ) from exc
    return LocalFile(path, filename, sha256, kind == "wheel")
