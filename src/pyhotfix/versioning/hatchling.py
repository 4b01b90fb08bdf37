"""hatchling (incl. hatch-vcs): the static [project] version; the version file kept in step."""

from __future__ import annotations

from pathlib import Path

from pyhotfix.versioning._common import inside, replace_version_in_file, table
from pyhotfix.versioning.pep621 import set_pep621_version

__all__ = ["set_hatchling_version"]

# hatchling's default pattern for [tool.hatch.version] path = ... (hatchling/version/source/regex).
_HATCH_DEFAULT_PATTERN = r"(?i)^(__version__|VERSION) *= *([\'\"])v?(?P<version>.+?)\2"


def set_hatchling_version(root: Path, name: str, version: str) -> None:
    doc = set_pep621_version(root, name, version, "hatchling")
    # hatchling no longer reads the version file (regex/code source) once the version is static;
    # patch it anyway (best effort, hatchling's pattern) so the package's __version__ agrees.
    # hatch-vcs's build hook writes its version file from the (now static) metadata version.
    config = table(doc, "tool", "hatch", "version")
    path = config.get("path")
    target = inside(root, path) if isinstance(path, str) else None  # never a file outside
    if config.get("source", "regex") in ("regex", "code") and target is not None:
        pattern = config.get("pattern")
        pattern = pattern if isinstance(pattern, str) else _HATCH_DEFAULT_PATTERN
        replace_version_in_file(target, pattern, version)
