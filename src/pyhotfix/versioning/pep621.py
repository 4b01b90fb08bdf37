"""The general mechanism for backends that honour PEP 621: a static `[project] version`.

Checked with real builds for hatchling, flit_core >= 3.2, pdm-backend, poetry-core >= 2,
scikit-build-core, meson-python and maturin: a static version is used as is, and the backend's
own version source (a module's __version__, a regex, git, meson.build, Cargo.toml) is no longer
consulted for the metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import load_pyproject_doc, set_pkg_info, write_pyproject

__all__ = ["set_pep621_version", "set_project_version", "version_is_dynamic"]


def version_is_dynamic(doc: tomlkit.TOMLDocument) -> bool:
    """Whether [project] lists "version" in `dynamic` (the backend computes it)."""
    project: Any = doc.get("project")
    dynamic = project.get("dynamic") if hasattr(project, "get") else None
    return isinstance(dynamic, list) and "version" in dynamic


def set_project_version(doc: tomlkit.TOMLDocument, version: str) -> bool:
    """Make `version` the static [project] version (no longer in `dynamic`); False without [project]."""
    project = doc.get("project")
    if project is None or not hasattr(project, "get"):
        return False
    dynamic = project.get("dynamic")
    if isinstance(dynamic, list) and "version" in dynamic:
        dynamic.remove("version")
        if not dynamic:
            del project["dynamic"]
    project["version"] = version
    return True


def set_pep621_version(root: Path, name: str, version: str, backend: str) -> tomlkit.TOMLDocument:
    """Set the static [project] version in pyproject.toml (and PKG-INFO); the edited document."""
    doc = load_pyproject_doc(root)
    if not set_project_version(doc, version):
        raise VersioningError(
            f"{name}'s pyproject.toml has no [project] table, which {backend} needs for its "
            "metadata; the sdist looks malformed."
        )
    write_pyproject(root, doc)
    set_pkg_info(root, version, required=False)
    return doc
