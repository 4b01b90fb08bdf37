"""maturin: the static [project] version (PEP 621), and the crate's version in Cargo.toml.

maturin takes a static [project] version as is; without one (no [project] table, or a dynamic
version) it converts Cargo.toml's `[package] version` (semver) to PEP 440. The crate's version
gets the hotfix label as semver build metadata (1.0.0 -> 1.0.0+hotfix.1), which cargo ignores for
comparisons and maturin carries into the PEP 440 local version, so `env!("CARGO_PKG_VERSION")`
agrees too; Cargo.lock's entry of the crate follows (a `--locked` build would fail otherwise).
The Rust SBOM is turned off: it would carry the build directory (see `_no_rust_sbom`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomlkit
from packaging.version import InvalidVersion, Version

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import (
    inside,
    load_pyproject_doc,
    read_text,
    table,
    write_pyproject,
    write_text,
)
from pyhotfix.versioning.pep621 import set_project_version

__all__ = ["cargo_version", "set_maturin_version"]

# `version = "..."` directly in Cargo.toml's [package] table (not `version.workspace = true`).
_PACKAGE_TABLE = re.compile(r"^\[package\][ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_NEXT_TABLE = re.compile(r"^\[", re.MULTILINE)
_VERSION_LINE = re.compile(r"^version[ \t]*=[ \t]*\"(?P<version>[^\"\n]*)\"", re.MULTILINE)
_NAME_LINE = re.compile(r"^name[ \t]*=[ \t]*\"(?P<name>[^\"\n]*)\"", re.MULTILINE)


def set_maturin_version(root: Path, name: str, version: str) -> None:
    doc = load_pyproject_doc(root)
    manifest_path = table(doc, "tool", "maturin").get("manifest-path", "Cargo.toml")
    cargo = inside(root, manifest_path) if isinstance(manifest_path, str) else None
    crate_set = cargo is not None and cargo.is_file() and _set_cargo_version(cargo, version)
    if not set_project_version(doc, version) and not crate_set:
        raise VersioningError(
            f"{name} has no [project] table in pyproject.toml, so maturin takes its version from "
            f"the crate ({manifest_path}), and pyhotfix could not set {version} there: the "
            "manifest is missing or outside the tree, its [package] version is not a literal "
            "(a workspace version?), or it is not the upstream version this hotfix extends. "
            "Add a [project] table with a patch."
        )
    _no_rust_sbom(doc)
    write_pyproject(root, doc)
    # maturin writes PKG-INFO into the sdist itself and refuses to build one from a tree that
    # has it ("was already added"), as an unpacked sdist does.
    (root / "PKG-INFO").unlink(missing_ok=True)


def _no_rust_sbom(doc: tomlkit.TOMLDocument) -> None:
    """Turn off maturin's Rust SBOM (.dist-info/sboms/<crate>.cyclonedx.json): it records the
    absolute build directory (cargo's `path+file://` package id), so two builds of the same
    inputs would differ. Older maturin releases ignore the setting."""
    tool: Any = doc.get("tool")
    if not hasattr(tool, "get"):
        tool = doc["tool"] = tomlkit.table(is_super_table=True)
    maturin: Any = tool.get("maturin")
    if not hasattr(maturin, "get"):
        maturin = tool["maturin"] = tomlkit.table()
    sbom: Any = maturin.get("sbom")
    if not hasattr(sbom, "get"):
        sbom = maturin["sbom"] = tomlkit.table()
    sbom["rust"] = False


def cargo_version(version: str, crate_version: str) -> str | None:
    """The crate version for the hotfix `version` (upstream crate version + build metadata), or
    None when the crate's version is not the upstream one or `version` has no local label."""
    base, _, _ = crate_version.partition("+")
    try:
        wanted, crate = Version(version), Version(base)
    except InvalidVersion:
        return None
    if wanted.local is None or Version(wanted.public) != crate:
        return None
    return f"{base}+{wanted.local}"


def _set_cargo_version(cargo: Path, version: str) -> bool:
    text = read_text(cargo)
    header = _PACKAGE_TABLE.search(text)
    if header is None:
        return False
    following = _NEXT_TABLE.search(text, header.end())
    body_end = following.start() if following else len(text)
    line = _VERSION_LINE.search(text, header.end(), body_end)
    if line is None:
        return False
    new = cargo_version(version, line["version"])
    if new is None:
        return False
    start, end = line.span("version")
    write_text(cargo, text[:start] + new + text[end:])
    crate = _NAME_LINE.search(text, header.end(), body_end)
    lock = cargo.parent / "Cargo.lock"
    if crate is not None and lock.is_file():
        _set_lock_version(lock, crate["name"], line["version"], new)
    return True


def _set_lock_version(lock: Path, crate: str, old: str, new: str) -> None:
    text = read_text(lock)
    entry = re.compile(
        rf'(\[\[package\]\]\r?\nname = "{re.escape(crate)}"\r?\nversion = ")'
        rf'{re.escape(old)}(")'
    )
    edited, n = entry.subn(rf"\g<1>{new}\g<2>", text, count=1)
    if n:
        write_text(lock, edited)
