"""The files to upload: each checked to be a distribution of the project, and hashed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, NormalizedName

from pyhotfix.distfile import dist_kind, file_sha256_size, parse_dist_filename
from pyhotfix.errors import PublishError

__all__ = ["LocalFile", "inspect_file", "local_files"]


@dataclass(frozen=True)
class LocalFile:
    path: Path
    filename: str
    sha256: str
    is_wheel: bool


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


def local_files(files: Sequence[Path], canon: NormalizedName) -> dict[str, LocalFile]:
    """The files to publish by filename, each checked; the same filename twice must be the
    same bytes, and there must be at least one."""
    local: dict[str, LocalFile] = {}
    for path in files:
        item = inspect_file(Path(path), canon)
        seen = local.get(item.filename)
        if seen is not None and seen.sha256 != item.sha256:
            raise PublishError(
                f"Two different files named {item.filename} were given ({seen.path} and "
                f"{item.path}); publish only one of them. Nothing was uploaded."
            )
        local[item.filename] = item
    if not local:
        raise PublishError(f"Nothing to publish for {canon}: no files were given.")
    return local
