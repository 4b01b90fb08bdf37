"""Pinning a pyproject.toml: each hotfixed dependency pinned to its build and taken from the
hotfix index, through [tool.uv] (index + sources) or [tool.poetry] (source + dependencies)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.judge import compatible, is_exact_pin, refusal
from pyhotfix.deploy.pin.values import PinChange, PinResult
from pyhotfix.deploy.reqfile import dependency_requirements
from pyhotfix.errors import DeployError, UsageError

__all__ = ["pin_pyproject"]


def pin_pyproject(text: str, path: Path, deployment: Deployment) -> PinResult:
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises its own ParseError subclasses
        raise UsageError(f"{path} is not valid TOML: {exc}. Fix it and run pin again.") from exc
    errors: list[str] = []
    changes: list[PinChange] = []
    named: set[str] = set()

    def pin_array(array: Any, where: str) -> None:
        if not isinstance(array, list):
            return
        for n, item, req in dependency_requirements(array):
            build = deployment.get(req.name)
            if build is None:
                continue
            named.add(build.name)
            if req.url:
                errors.append(
                    f"{path.name} {where}: `{item}` installs {build.name} from a URL, which pin "
                    f"does not rewrite. Replace it with `{build.name}=={build.version}`."
                )
                continue
            if not compatible(req.specifier, build):
                errors.append(refusal(f"{path.name} {where}", item, build, path))
                continue
            if is_exact_pin(req, build):
                continue
            new = (
                build.name
                if not item.lower().startswith(req.name.lower())
                else item[: len(req.name)]
            )
            if req.extras:
                new += "[" + ",".join(sorted(req.extras)) + "]"
            new += f"=={build.hotfix_version}"
            if req.marker is not None:
                new += f"; {req.marker}"
            array[n] = new
            changes.append(PinChange(build.name, f"{path.name} {where}", item, new))

    project = doc.get("project")
    if isinstance(project, dict):
        pin_array(project.get("dependencies"), "[project] dependencies")
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for extra, deps in optional.items():
                pin_array(deps, f"[project.optional-dependencies] {extra}")
    groups = doc.get("dependency-groups")
    if isinstance(groups, dict):
        for group, deps in groups.items():
            pin_array(deps, f"[dependency-groups] {group}")

    tool = doc.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry_deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(poetry_deps, dict):
        _pin_poetry(_PyprojectEdit(doc, deployment, path, named, changes, errors), poetry_deps)
    if errors:
        raise DeployError("\n".join(errors))
    if named and not isinstance(poetry_deps, dict):
        _pin_uv(_PyprojectEdit(doc, deployment, path, named, changes, errors))
    if errors:
        raise DeployError("\n".join(errors))
    notes = [
        f"{b.name} is not a dependency in {path.name}: if a dependency pulls it in, it comes from "
        f"the default index. Add `{b.name}=={b.version}` to the dependencies and run pin again."
        for b in deployment.hotfixes
        if b.name not in named
    ]
    new_text = tomlkit.dumps(doc)
    return PinResult(path, new_text, new_text != text, tuple(changes), tuple(notes))


def _find_or_add_index(parent: Any, key: str, url: str, setting: tuple[str, object]) -> Any:
    """The entry named INDEX_NAME in the array of tables parent[key], or None after adding one
    with `url` and `setting` (uv's explicit = true, Poetry's priority = "explicit")."""
    tables = parent.get(key)
    if tables is None:
        tables = tomlkit.aot()
        parent[key] = tables
    entry = next((t for t in tables if t.get("name") == INDEX_NAME), None)
    if entry is None:
        table = tomlkit.table()
        table.add("name", INDEX_NAME)
        table.add("url", url)
        table.add(*setting)
        tables.append(table)
    return entry


def _super_table(parent: Any, key: str) -> Any:
    if key not in parent:
        parent[key] = tomlkit.table(is_super_table=True)
    return parent[key]


@dataclass(frozen=True)
class _PyprojectEdit:
    """What pinning a pyproject.toml works on: the document, and what it gathers as it goes
    (the hotfixed names it saw, the changes it made, the errors that stop it)."""

    doc: tomlkit.TOMLDocument
    deployment: Deployment
    path: Path
    named: set[str]
    changes: list[PinChange]
    errors: list[str]


def _pin_uv(edit: _PyprojectEdit) -> None:
    """[[tool.uv.index]] "hotfix" (explicit) and [tool.uv.sources] NAME = {index = "hotfix"}."""
    doc, deployment, path, named = edit.doc, edit.deployment, edit.path, edit.named
    changes, errors = edit.changes, edit.errors
    uv = _super_table(_super_table(doc, "tool"), "uv")
    entry = _find_or_add_index(uv, "index", deployment.index_url, ("explicit", True))
    if entry is None:
        changes.append(PinChange("(index)", f"{path.name} [[tool.uv.index]]", "", INDEX_NAME))
    else:
        if entry.get("url") != deployment.index_url:
            changes.append(
                PinChange(
                    "(index)",
                    f"{path.name} [[tool.uv.index]]",
                    str(entry.get("url")),
                    deployment.index_url,
                )
            )
            entry["url"] = deployment.index_url
        if entry.get("explicit") is not True:
            entry["explicit"] = True
    sources = uv.get("sources")
    if sources is None:
        sources = tomlkit.table()
        uv["sources"] = sources
    for name in sorted(named):
        existing = next((v for k, v in sources.items() if canonicalize_name(k) == name), None)
        if (
            isinstance(existing, dict)
            and existing.get("index") == INDEX_NAME
            and len(existing) == 1
        ):
            continue
        if existing is not None:
            errors.append(
                f"{path.name} [tool.uv.sources] already takes {name} from elsewhere "
                f"({tomlkit.dumps({name: existing}).strip()}). Remove that source, then run pin "
                f"again: a hotfixed package must come from the hotfix index. {path.name} was not "
                "changed."
            )
            continue
        source = tomlkit.inline_table()
        source.add("index", INDEX_NAME)
        sources[name] = source
        changes.append(PinChange(name, f"{path.name} [tool.uv.sources]", "", '{index = "hotfix"}'))


def _pin_poetry(edit: _PyprojectEdit, deps: Any) -> None:
    """[[tool.poetry.source]] "hotfix" (priority explicit) and each dependency's version/source."""
    doc, deployment, path, named = edit.doc, edit.deployment, edit.path, edit.named
    changes, errors = edit.changes, edit.errors
    from_project = frozenset(named)  # in [project] dependencies (Poetry 2 reads those too)
    in_project = set(named)
    found = False
    for key in list(deps.keys()):
        build = deployment.get(key)
        if build is None:
            continue
        found = True
        named.add(build.name)
        in_project.discard(build.name)
        value = deps[key]
        where = f"{path.name} [tool.poetry.dependencies] {key}"
        version = value.get("version") if isinstance(value, dict) else value
        if isinstance(value, dict) and ("git" in value or "path" in value or "url" in value):
            errors.append(f"{where} is not an index dependency; pin does not rewrite it.")
            continue
        if isinstance(version, str) and version not in ("*", ""):
            try:
                spec = _poetry_specifier(version)
            except ValueError:
                spec = None
            if spec is not None and not compatible(spec, build):
                errors.append(refusal(where, version, build, path))
                continue
        if isinstance(value, dict):
            if value.get("source") == INDEX_NAME and (
                value.get("version") == build.hotfix_version
                or ("version" not in value and build.name in from_project)
            ):
                continue
            before = tomlkit.dumps({key: value}).strip()
            value["version"] = build.hotfix_version
            value["source"] = INDEX_NAME
        else:
            before = f"{key} = {value!r}"
            table = tomlkit.inline_table()
            table.add("version", build.hotfix_version)
            table.add("source", INDEX_NAME)
            deps[key] = table
        changes.append(
            PinChange(build.name, where, before, f"{build.hotfix_version} from {INDEX_NAME}")
        )
    for name in sorted(in_project):
        # Poetry 2: [tool.poetry.dependencies] only adds the source to a [project] dependency.
        only_source = tomlkit.inline_table()
        only_source.add("source", INDEX_NAME)
        deps[name] = only_source
        found = True
        changes.append(
            PinChange(name, f"{path.name} [tool.poetry.dependencies] {name}", "", INDEX_NAME)
        )
    if not found:
        return
    poetry: Any = doc["tool"]["poetry"]
    entry = _find_or_add_index(poetry, "source", deployment.index_url, ("priority", "explicit"))
    if entry is None:
        changes.append(PinChange("(index)", f"{path.name} [[tool.poetry.source]]", "", INDEX_NAME))
    else:
        if entry.get("url") != deployment.index_url:
            entry["url"] = deployment.index_url
        if entry.get("priority") != "explicit":
            entry["priority"] = "explicit"


def _poetry_specifier(version: str) -> SpecifierSet:
    """Poetry's version constraint in PEP 440 terms, for the common forms (^, ~, exact, PEP 440)."""
    version = version.strip()
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
