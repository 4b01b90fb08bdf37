"""What pinning a pyproject.toml works on, whichever tool reads it: the tomlkit document, the
changes and errors gathered as it goes, and the edits every tool shares ([project] dependency
arrays, a named index entry in an array of tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.judge import compatible, is_exact_pin, refusal
from pyhotfix.deploy.pin.values import PinChange
from pyhotfix.deploy.reqfile import dependency_requirements
from pyhotfix.errors import UsageError

__all__ = [
    "PyprojectEdit",
    "ensure_index",
    "exact_requirement",
    "pin_project_arrays",
    "shape_error",
    "super_table",
]


@dataclass(frozen=True)
class PyprojectEdit:
    doc: tomlkit.TOMLDocument
    deployment: Deployment
    path: Path
    named: set[str]  # the hotfixed names the project's own dependency arrays/tables list
    changes: list[PinChange]
    errors: list[str]

    def change(self, name: str, where: str, before: str, after: str) -> None:
        self.changes.append(PinChange(name, f"{self.path.name} {where}", before, after))


def exact_requirement(build: HotfixBuild) -> str:
    return f"{build.name}=={build.hotfix_version}"


def _pin_array(edit: PyprojectEdit, array: Any, where: str) -> None:
    if not isinstance(array, list):
        return
    for n, item, req in dependency_requirements(array):
        build = edit.deployment.get(req.name)
        if build is None:
            continue
        edit.named.add(build.name)
        if req.url:
            edit.errors.append(
                f"{edit.path.name} {where}: `{item}` installs {build.name} from a URL, which pin "
                f"does not rewrite. Replace it with `{build.name}=={build.version}`."
            )
            continue
        if not compatible(req.specifier, build):
            edit.errors.append(refusal(f"{edit.path.name} {where}", item, build, edit.path))
            continue
        if is_exact_pin(req, build):
            continue
        new = build.name if not item.lower().startswith(req.name.lower()) else item[: len(req.name)]
        if req.extras:
            new += "[" + ",".join(sorted(req.extras)) + "]"
        new += f"=={build.hotfix_version}"
        if req.marker is not None:
            new += f"; {req.marker}"
        array[n] = new
        edit.change(build.name, where, item, new)


def pin_project_arrays(edit: PyprojectEdit) -> None:
    """Each hotfixed requirement in [project] dependencies, optional-dependencies and
    [dependency-groups] becomes `name==X+hotfix.N` (extras and markers kept)."""
    project = edit.doc.get("project")
    if isinstance(project, dict):
        _pin_array(edit, project.get("dependencies"), "[project] dependencies")
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for extra, deps in optional.items():
                _pin_array(edit, deps, f"[project.optional-dependencies] {extra}")
    groups = edit.doc.get("dependency-groups")
    if isinstance(groups, dict):
        for group, deps in groups.items():
            _pin_array(edit, deps, f"[dependency-groups] {group}")


def super_table(parent: Any, key: str, where: str = "") -> Any:
    """parent[key], a table (added when missing); a value of another type is refused."""
    if key not in parent:
        parent[key] = tomlkit.table(is_super_table=True)
    value = parent[key]
    if not isinstance(value, dict):
        shape_error(f"{where}.{key}".strip(".") if where else key, "a table")
    return value


def shape_error(where: str, expected: str) -> None:
    raise UsageError(
        f"pyproject.toml: {where} is not {expected}, as its tool requires. Fix it, then run pin "
        "again; pyproject.toml was not changed."
    )


def ensure_index(
    edit: PyprojectEdit, parent: Any, key: str, where: str, settings: dict[str, object]
) -> Any:
    """The entry named INDEX_NAME in the array of tables parent[key] (added when missing), with
    the deployment's URL and `settings` (uv's explicit = true, Poetry's priority, PDM's
    include_packages) set; returns the entry."""
    url = edit.deployment.index_url
    tables = parent.get(key)
    if tables is None:
        tables = tomlkit.aot()
        parent[key] = tables
    if not isinstance(tables, list):
        shape_error(where, "an array of tables")
    entry = next((t for t in tables if isinstance(t, dict) and t.get("name") == INDEX_NAME), None)
    if entry is None:
        entry = tomlkit.table()
        entry.add("name", INDEX_NAME)
        entry.add("url", url)
        for setting, value in settings.items():
            entry.add(setting, value)
        tables.append(entry)
        edit.change("(index)", where, "", f"{INDEX_NAME}: {url}")
        return entry
    if entry.get("url") != url:
        edit.change("(index)", where, str(entry.get("url")), url)
        entry["url"] = url
    for setting, value in settings.items():
        if entry.get(setting) != value:
            entry[setting] = value
    return entry
