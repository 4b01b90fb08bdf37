"""pdm-backend: the static [project] version; the version file kept in step."""

from __future__ import annotations

from pathlib import Path

from pyhotfix.versioning._common import inside, replace_version_in_file, table
from pyhotfix.versioning.pep621 import set_pep621_version

__all__ = ["set_pdm_version"]

# pdm-backend's default pattern for [tool.pdm.version] source = "file".
_PDM_DEFAULT_PATTERN = r"^(?:__version__|VERSION)\s*=\s*[\"'](.+?)[\"']\s*(?:#.*)?$"


def set_pdm_version(root: Path, name: str, version: str) -> None:
    doc = set_pep621_version(root, name, version, "pdm-backend")
    # pdm no longer reads the version file once the version is static; patch it anyway (best
    # effort, with pdm's own pattern) so the package's __version__ agrees with its metadata.
    config = table(doc, "tool", "pdm", "version")
    path = config.get("path")
    target = inside(root, path) if isinstance(path, str) else None  # never a file outside
    if config.get("source", "file") == "file" and target is not None:
        pattern = config.get("pattern")
        replace_version_in_file(
            target, pattern if isinstance(pattern, str) else _PDM_DEFAULT_PATTERN, version
        )
