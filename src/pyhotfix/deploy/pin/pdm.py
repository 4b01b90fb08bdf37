"""Pinning a PDM project: a hotfix source whose `include_packages` names the hotfixed packages, and
an exact `[tool.pdm.resolution.overrides]` entry per hotfix.

Why (checked with PDM 2.29): a package that some source's include_packages matches is looked up in
those sources only, so the hotfixed packages come from the hotfix index alone, whichever other
sources the project has; the override pins the exact local version for direct and transitive
requirements alike. An override of a package nothing requires installs nothing.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.judge import compatible, refusal
from pyhotfix.deploy.pin.tomledit import PyprojectEdit, ensure_index, shape_error, super_table

__all__ = ["pin_pdm"]


def pin_pdm(edit: PyprojectEdit) -> None:
    pdm = super_table(super_table(edit.doc, "tool"), "pdm", "tool")
    names = sorted(b.name for b in edit.deployment.hotfixes)
    _other_sources_claiming(edit, pdm.get("source"), names)
    included = tomlkit.array()
    included.extend(names)
    ensure_index(edit, pdm, "source", "[[tool.pdm.source]]", {"include_packages": included})
    resolution = super_table(pdm, "resolution", "tool.pdm")
    overrides = resolution.get("overrides")
    if overrides is None:
        overrides = tomlkit.table()
        resolution["overrides"] = overrides
    if not isinstance(overrides, dict):
        shape_error("[tool.pdm.resolution] overrides", "a table")
    for build in edit.deployment.hotfixes:
        wanted = f"=={build.hotfix_version}"
        key = next((str(k) for k in overrides if _normal(str(k)) == build.name), None)
        if key is None:
            overrides[build.name] = wanted
            edit.change(build.name, "[tool.pdm.resolution.overrides]", "", wanted)
            continue
        current = str(overrides[key])
        if current == wanted:
            continue
        where = f"{edit.path.name} [tool.pdm.resolution.overrides] {key}"
        try:
            spec = SpecifierSet(current)
        except InvalidSpecifier:
            edit.errors.append(
                f"{where} = {current!r} takes {build.name} from elsewhere (a URL or path). Remove "
                f"it, then run pin again. {edit.path.name} was not changed."
            )
            continue
        if not compatible(spec, build):
            edit.errors.append(refusal(where, f"{build.name}{current}", build, edit.path))
            continue
        overrides[key] = wanted
        edit.change(build.name, "[tool.pdm.resolution.overrides]", current, wanted)


def _normal(name: str) -> str:
    return canonicalize_name(name)


def _other_sources_claiming(edit: PyprojectEdit, sources: Any, names: list[str]) -> None:
    """Another source whose include_packages matches a hotfixed package would be searched for it
    too (PDM merges the sources that include a package): refuse."""
    if not isinstance(sources, list):
        return
    for source in sources:
        if not isinstance(source, dict) or source.get("name") == INDEX_NAME:
            continue
        patterns = source.get("include_packages")
        if not isinstance(patterns, list):
            continue
        for name in names:
            if any(fnmatch.fnmatch(name, _normal(str(p))) for p in patterns):
                edit.errors.append(
                    f"{edit.path.name} [[tool.pdm.source]] {source.get('name')!r} includes {name} "
                    f"(include_packages = {list(map(str, patterns))}), so PDM would look for it "
                    "there too. Remove it from that list, then run pin again: a hotfixed package "
                    f"must come from the hotfix index alone. {edit.path.name} was not changed."
                )
