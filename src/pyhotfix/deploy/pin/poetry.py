"""Pinning a Poetry project (Poetry 2): an explicit hotfix source, and each hotfixed package a
dependency of the project tied to it.

Poetry has no overrides: a source (`source = "hotfix"`) applies only to the project's own
dependencies, so a package a dependency pulls in comes from the default source unless the project
lists it. Pin therefore lists every hotfix the project uses (its poetry.lock says which; without a
lock, every hotfix): in the classic layout as `[tool.poetry.dependencies] NAME = {version =
"X+hotfix.N", source = "hotfix"}`; in the PEP 621 layout as `NAME==X+hotfix.N` in [project]
dependencies plus `NAME = {source = "hotfix"}` (Poetry 2 reads only the source from there).
Poetry cannot read a file:// source, so the index must be served (http or https).
"""

from __future__ import annotations

from typing import Any

import tomlkit
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyhotfix.deploy import HotfixBuild
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.export.poetry import poetry_url_problem
from pyhotfix.deploy.pin.judge import compatible, refusal
from pyhotfix.deploy.pin.tomledit import (
    PyprojectEdit,
    ensure_index,
    exact_requirement,
    shape_error,
    super_table,
)
from pyhotfix.errors import UsageError

__all__ = ["pin_poetry"]


def pin_poetry(edit: PyprojectEdit, pep621: bool, used: frozenset[str] | None) -> None:
    """`used`: the names poetry.lock lists (None without a lock: every hotfix may be used)."""
    problem = poetry_url_problem(edit.deployment.index_url)
    if problem is not None:
        raise UsageError(f"{problem} {edit.path.name} was not changed.")
    poetry = super_table(super_table(edit.doc, "tool"), "poetry", "tool")
    deps = poetry.get("dependencies")
    if deps is None:
        deps = tomlkit.table()  # attached below, once it has an entry
    if not isinstance(deps, dict):
        shape_error("[tool.poetry.dependencies]", "a table")
    tables = [("[tool.poetry.dependencies]", deps, pep621)]
    groups = poetry.get("group")
    for group, content in groups.items() if isinstance(groups, dict) else ():
        group_deps = content.get("dependencies") if isinstance(content, dict) else None
        if isinstance(group_deps, dict):  # a group's entries are never in [project]
            tables.append((f"[tool.poetry.group.{group}.dependencies]", group_deps, False))
    for table, entries, in_project in tables:
        for key in list(entries.keys()):
            build = edit.deployment.get(str(key))
            if build is not None:
                edit.named.add(build.name)  # one lock for all groups: pinned once is enough
                _pin_dependency(edit, entries, table, str(key), build, in_project)
    wanted = [
        b
        for b in edit.deployment.hotfixes
        if b.name not in edit.named and (used is None or b.name in used)
    ]
    for build in wanted:
        if pep621:
            _add_project_dependency(edit, build)
        else:
            deps[build.name] = _poetry_dependency(build, with_version=True)
            edit.change(
                build.name, "[tool.poetry.dependencies]", "", f"{build.hotfix_version} from hotfix"
            )
    if pep621:
        for build in edit.deployment.hotfixes:
            if build.name in edit.named and _find_key(deps, build.name) is None:
                deps[build.name] = _poetry_dependency(build, with_version=False)
                edit.change(build.name, "[tool.poetry.dependencies]", "", f"source {INDEX_NAME}")
    if deps and "dependencies" not in poetry:
        poetry["dependencies"] = deps
    if edit.named or wanted:
        ensure_index(edit, poetry, "source", "[[tool.poetry.source]]", {"priority": "explicit"})


def _find_key(table: Any, name: str) -> str | None:
    return next((str(k) for k in table if canonicalize_name(str(k)) == name), None)


def _poetry_dependency(build: HotfixBuild, with_version: bool) -> Any:
    table = tomlkit.inline_table()
    if with_version:
        table.add("version", build.hotfix_version)
    table.add("source", INDEX_NAME)
    return table


def _add_project_dependency(edit: PyprojectEdit, build: HotfixBuild) -> None:
    project = edit.doc["project"]
    if "dependencies" not in project:
        project["dependencies"] = tomlkit.array()
    if not isinstance(project["dependencies"], list):
        shape_error("[project] dependencies", "a list")
    project["dependencies"].append(exact_requirement(build))
    edit.named.add(build.name)
    edit.change(build.name, "[project] dependencies", "", exact_requirement(build))


def _pin_dependency(
    edit: PyprojectEdit, deps: Any, table: str, key: str, build: HotfixBuild, pep621: bool
) -> None:
    value = deps[key]
    where = f"{edit.path.name} {table} {key}"
    if isinstance(value, list):
        edit.errors.append(f"{where} has several constraints; pin does not rewrite it.")
        return
    if isinstance(value, dict) and ("git" in value or "path" in value or "url" in value):
        edit.errors.append(f"{where} is not an index dependency; pin does not rewrite it.")
        return
    version = value.get("version") if isinstance(value, dict) else value
    if isinstance(version, str) and version not in ("*", ""):
        try:
            spec: SpecifierSet | None = _poetry_specifier(version)
        except ValueError:
            spec = None
        if spec is not None and not compatible(spec, build):
            edit.errors.append(refusal(where, version, build, edit.path))
            return
    # In the PEP 621 layout the version lives in [project] dependencies; only the source here.
    keep_version = not pep621 or (isinstance(value, dict) and "version" in value)
    if isinstance(value, dict):
        if value.get("source") == INDEX_NAME and (
            not keep_version or value.get("version") == build.hotfix_version
        ):
            return
        before = tomlkit.dumps({key: value}).strip()
        if keep_version:
            value["version"] = build.hotfix_version
        value["source"] = INDEX_NAME
    else:
        before = f"{key} = {value!r}"
        deps[key] = _poetry_dependency(build, with_version=keep_version)
    after = f"{build.hotfix_version} from {INDEX_NAME}" if keep_version else f"source {INDEX_NAME}"
    edit.change(build.name, f"{table} {key}", before, after)


def _poetry_specifier(version: str) -> SpecifierSet:
    """Poetry's version constraint in PEP 440 terms, for the common forms (^, ~, exact, PEP 440)."""
    version = version.strip()
    if not version:
        return SpecifierSet()
    if version.startswith("^"):
        base = Version(version[1:])
        release = [*base.release, 0, 0]
        first = next((n for n, part in enumerate(release[:3]) if part != 0), 2)
        upper = release[: first + 1]
        upper[-1] += 1
        return SpecifierSet(f">={base},<{'.'.join(map(str, upper))}")
    if version.startswith("~") and not version.startswith("~="):
        base = Version(version[1:])
        parts = list(base.release)
        upper = [parts[0] + 1] if len(parts) == 1 else [parts[0], parts[1] + 1]
        return SpecifierSet(f">={base},<{'.'.join(map(str, upper))}")
    if version[0].isdigit():
        return SpecifierSet(f"=={version}")
    Specifier(version.split(",")[0].strip())  # raises ValueError when not PEP 440
    return SpecifierSet(version)
