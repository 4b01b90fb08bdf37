"""poetry-core: [project] version (poetry-core >= 2 reads it first) and `[tool.poetry] version`."""

from __future__ import annotations

from pathlib import Path

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import (
    load_pyproject_doc,
    set_pkg_info,
    table,
    write_pyproject,
)
from pyhotfix.versioning.pep621 import set_project_version

__all__ = ["set_poetry_version"]


def set_poetry_version(root: Path, name: str, version: str) -> None:
    # poetry-core >= 2 reads [project] (PEP 621) first; 1.x and classic projects [tool.poetry].
    doc = load_pyproject_doc(root)
    found = set_project_version(doc, version)
    poetry = table(doc, "tool", "poetry")
    if "version" in poetry:
        doc["tool"]["poetry"]["version"] = version
        found = True
    if not found:
        raise VersioningError(
            f"{name}'s pyproject.toml has neither [project] nor [tool.poetry].version (a version "
            "plugin computes it?), which is not supported yet for poetry-core."
        )
    write_pyproject(root, doc)
    set_pkg_info(root, version, required=False)
