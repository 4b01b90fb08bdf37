"""Pinning a uv project: an explicit hotfix index, [tool.uv.sources] tying each hotfixed package
to it, and an exact `override-dependencies` entry per hotfix.

Why all three (checked with uv 0.13, `uv lock && uv sync --locked`): a source applies only to the
project's own requirements and to its overrides, not to a package a dependency pulls in, so the
override is what catches the transitive case; the explicit index keeps the hotfix index from
serving anything else; the exact local version keeps a same-named build on the default index, or a
higher one, out. An override of a package nothing requires installs nothing.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.judge import compatible, refusal
from pyhotfix.deploy.pin.tomledit import (
    PyprojectEdit,
    ensure_index,
    exact_requirement,
    shape_error,
    super_table,
)

__all__ = ["pin_uv"]


def pin_uv(edit: PyprojectEdit) -> None:
    uv = super_table(super_table(edit.doc, "tool"), "uv", "tool")
    ensure_index(edit, uv, "index", "[[tool.uv.index]]", {"explicit": True})
    _sources(edit, uv)
    _overrides(edit, uv)


def _sources(edit: PyprojectEdit, uv: Any) -> None:
    sources = uv.get("sources")
    if sources is None:
        sources = tomlkit.table()
        uv["sources"] = sources
    if not isinstance(sources, dict):
        shape_error("[tool.uv.sources]", "a table")
    for build in edit.deployment.hotfixes:
        name = build.name
        existing = next((v for k, v in sources.items() if canonicalize_name(k) == name), None)
        if (
            isinstance(existing, dict)
            and existing.get("index") == INDEX_NAME
            and len(existing) == 1
        ):
            continue
        if existing is not None:
            edit.errors.append(
                f"{edit.path.name} [tool.uv.sources] already takes {name} from elsewhere "
                f"({tomlkit.dumps({name: existing}).strip()}). Remove that source, then run pin "
                f"again: a hotfixed package must come from the hotfix index. {edit.path.name} was "
                "not changed."
            )
            continue
        source = tomlkit.inline_table()
        source.add("index", INDEX_NAME)
        sources[name] = source
        edit.change(name, "[tool.uv.sources]", "", f'{{index = "{INDEX_NAME}"}}')


def _overrides(edit: PyprojectEdit, uv: Any) -> None:
    overrides = uv.get("override-dependencies")
    if overrides is None:
        overrides = tomlkit.array()
        uv["override-dependencies"] = overrides
    if not isinstance(overrides, list):
        shape_error("[tool.uv] override-dependencies", "a list")
    for build in edit.deployment.hotfixes:
        wanted = exact_requirement(build)
        found = False
        for n, item in enumerate(list(overrides)):
            try:
                req = Requirement(str(item))
            except InvalidRequirement:
                continue
            if canonicalize_name(req.name) != build.name:
                continue
            found = True
            if str(item) == wanted:
                continue
            where = f"{edit.path.name} [tool.uv] override-dependencies"
            if req.url:
                edit.errors.append(
                    f"{where}: `{item}` installs {build.name} from a URL, which pin does not "
                    f"rewrite. Remove it, then run pin again. {edit.path.name} was not changed."
                )
                continue
            if not compatible(req.specifier, build):
                edit.errors.append(refusal(where, str(item), build, edit.path))
                continue
            overrides[n] = wanted
            edit.change(build.name, "[tool.uv] override-dependencies", str(item), wanted)
        if not found:
            overrides.append(wanted)
            edit.change(build.name, "[tool.uv] override-dependencies", "", wanted)
