"""scikit-build-core: the static [project] version, except for the setuptools_scm provider.

A static version wins over every provider, but scikit-build-core refuses a provider for a field
that is not dynamic, so a version provider's configuration goes with it (the regex provider's
file is kept in step, best effort). The setuptools_scm provider stays: in an sdist (no .git)
setuptools-scm reads PKG-INFO, which gets the hotfix version, and then also writes its
`version_file` with it, which a static version would leave unwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import (
    inside,
    load_pyproject_doc,
    replace_version_in_file,
    set_pkg_info,
    table,
    write_pyproject,
)
from pyhotfix.versioning.pep621 import set_project_version, version_is_dynamic

__all__ = ["BUILD_SETTINGS", "set_scikit_build_core_version"]

# A build directory at a fixed place in the tree (default: a random temporary one), so the
# paths compiled into the extension (debug info, hence the build-id) are the same every time.
BUILD_SETTINGS = (("build-dir", ".pyhotfix-build/{wheel_tag}"),)

_SCM = "scikit_build_core.metadata.setuptools_scm"
_REGEX = "scikit_build_core.metadata.regex"
# scikit-build-core's default pattern of the regex provider (metadata/regex.py).
_REGEX_DEFAULT = r"(?i)^(__version__|VERSION)(?: ?\: ?str)? *= *([\'\"])v?(?P<value>.+?)\2"


def set_scikit_build_core_version(root: Path, name: str, version: str) -> None:
    doc = load_pyproject_doc(root)
    if not hasattr(doc.get("project"), "get"):
        raise VersioningError(
            f"{name}'s pyproject.toml has no [project] table, which scikit-build-core needs for "
            "its metadata; the sdist looks malformed."
        )
    providers = _version_providers(doc)
    if version_is_dynamic(doc) and [p.get("provider") for p in providers] == [_SCM]:
        set_pkg_info(root, version, required=True)
        return
    for config in providers:
        if config.get("provider") == _REGEX and config.get("result", "{value}") == "{value}":
            pattern, path = config.get("regex", _REGEX_DEFAULT), config.get("input")
            target = inside(root, path) if isinstance(path, str) else None
            if isinstance(pattern, str) and target is not None:
                replace_version_in_file(target, pattern, version, group="value")
    _drop_version_providers(doc)
    set_project_version(doc, version)
    write_pyproject(root, doc)
    set_pkg_info(root, version, required=False)


def _version_providers(doc: tomlkit.TOMLDocument) -> list[Any]:
    """The provider settings that make the version: [tool.scikit-build.metadata.version] and
    (the newer form) [[tool.dynamic-metadata]] entries for the version field."""
    found = []
    legacy = table(doc, "tool", "scikit-build", "metadata", "version")
    if legacy:
        found.append(legacy)
    entries = table(doc, "tool").get("dynamic-metadata", [])
    if isinstance(entries, list):
        found += [entry for entry in entries if _makes_version(entry)]
    return found


def _makes_version(entry: object) -> bool:
    return hasattr(entry, "get") and entry.get("field", "version") == "version"


def _drop_version_providers(doc: tomlkit.TOMLDocument) -> None:
    metadata = table(doc, "tool", "scikit-build", "metadata")
    if "version" in metadata:
        del metadata["version"]
        if not metadata:
            del doc["tool"]["scikit-build"]["metadata"]
    tool = table(doc, "tool")
    entries = tool.get("dynamic-metadata")
    if isinstance(entries, list):
        kept = [entry for entry in entries if not _makes_version(entry)]
        if kept:
            tool["dynamic-metadata"] = kept
        else:
            del tool["dynamic-metadata"]
