"""Requires-Dist edits in an unpacked sdist, through the build backend's own declaration.

The backend writes Requires-Dist from one place, found in this order: `[project] dependencies`
in pyproject.toml (static; its `optional-dependencies` too), Poetry's `[tool.poetry.dependencies]`
(and `[tool.poetry.extras]`; Poetry 2 reads it when [project] declares no dependencies),
setuptools' setup.cfg `[options] install_requires` (when pyproject.toml leaves `dependencies`
dynamic, or has no [project]; `[options.extras_require]` too). A setup.py that computes its
requirements cannot be edited safely, so it is refused with a clear error. PKG-INFO's
Requires-Dist is edited as well: some backends copy it.

Extras' lists only lose requirements on an edited name (the replacement goes in the main list),
so the built METADATA is what `edit_metadata` would make of the upstream wheel's.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from pyhotfix._atomic import write_atomic
from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import BuildError
from pyhotfix.manifest import RequiresDistEdit
from pyhotfix.requiresdist.metadata import edit_metadata, edit_requirement_list, requirement_name

__all__ = ["edit_sdist_requirements"]

_MAX_DECLARATION_BYTES = 4 << 20
_FIX = (
    "Change the requirement with a patch to that file instead, or open an issue with the "
    "project's layout."
)


def edit_sdist_requirements(root: Path, edits: Sequence[RequiresDistEdit], label: str) -> str:
    """Apply `edits` to the declaration of the unpacked sdist at `root`; returns the file edited
    (relative to root). `label` ("requests 2.31.0") names the sdist in errors. BuildError when
    no declaration can be edited, or a removal names a dependency the project does not have."""
    if not edits:
        return ""
    pyproject = _read_toml(root, "pyproject.toml", label)
    project = pyproject.get("project")
    poetry = (
        pyproject.get("tool", {}).get("poetry") if isinstance(pyproject.get("tool"), dict) else None
    )
    _check_shapes(project, poetry, label)
    poetry_dependencies = poetry.get("dependencies") if isinstance(poetry, dict) else None
    # Poetry 2 reads [tool.poetry.dependencies] when [project] declares none.
    uses_poetry = isinstance(poetry_dependencies, dict) and any(
        key != "python" for key in poetry_dependencies
    )
    if isinstance(project, dict) and (
        "dependencies" in project or ("dependencies" not in _dynamic(project) and not uses_poetry)
    ):
        found, edited = _edit_pep621(root, edits, label)
    elif isinstance(poetry, dict):
        found, edited = _edit_poetry(root, edits, label)
    else:
        found, edited = _edit_setup_cfg(root, edits, label, dynamic=isinstance(project, dict))
    missing = [e.name for e in edits if e.requirement is None and e.name not in found]
    if missing:
        raise BuildError(
            f"[hotfix.*.requires-dist] removes {', '.join(missing)}, but {edited} of {label} "
            f"declares no requirement on {'it' if len(missing) == 1 else 'them'}. Check the "
            "name against the upstream release's Requires-Dist, and remove the key if it does "
            "not apply to this version."
        )
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file() and not pkg_info.is_symlink():
        text = _read_text(pkg_info, "PKG-INFO", label)
        write_atomic(pkg_info, edit_metadata(text, edits).encode("utf-8"), durable=False)
    return edited


def _check_shapes(project: Any, poetry: Any, label: str) -> None:
    """BuildError when a declaration pyhotfix would edit has another type than the backends
    accept (upstream content is hostile until checked)."""

    def str_lists(table: Any) -> bool:
        return isinstance(table, dict) and all(_is_str_list(v) for v in table.values())

    problems: list[str] = []
    if isinstance(project, dict):
        if not _is_str_list(project.get("dependencies", [])):
            problems.append("[project] dependencies is not a list of strings")
        if not str_lists(project.get("optional-dependencies", {})):
            problems.append("[project] optional-dependencies is not a table of string lists")
    if isinstance(poetry, dict):
        if not isinstance(poetry.get("dependencies", {}), dict):
            problems.append("[tool.poetry] dependencies is not a table")
        if not str_lists(poetry.get("extras", {})):
            problems.append("[tool.poetry] extras is not a table of string lists")
    if problems:
        raise BuildError(
            f"{label}: pyproject.toml is malformed ({'; '.join(problems)}), so "
            "[hotfix.*.requires-dist] cannot be applied; the build backend would refuse it too."
        )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# --- pyproject.toml [project] -----------------------------------------------------------------


def _dynamic(project: dict[str, Any]) -> list[str]:
    dynamic = project.get("dynamic", [])
    return [d for d in dynamic if isinstance(d, str)] if isinstance(dynamic, list) else []


def _edit_pep621(root: Path, edits: Sequence[RequiresDistEdit], label: str) -> tuple[set[str], str]:
    import tomlkit

    path = root / "pyproject.toml"
    document = tomlkit.parse(_read_text(path, "pyproject.toml", label))
    project = document["project"]
    found: set[str] = set()
    current = project.get("dependencies", [])
    main = edit_requirement_list([str(x) for x in current], edits)
    found |= main.found
    if main.found or any(e.requirement is not None for e in edits):
        project["dependencies"] = _toml_array(main.items)
    extras = project.get("optional-dependencies", {})
    for extra in list(extras):
        edited = edit_requirement_list([str(x) for x in extras[extra]], edits, add=False)
        if edited.found:
            extras[extra] = _toml_array(edited.items)
            found |= edited.found
    write_atomic(path, tomlkit.dumps(document).encode("utf-8"), durable=False)
    return found, "pyproject.toml [project] dependencies"


def _toml_array(items: Sequence[str]) -> Any:
    import tomlkit

    array = tomlkit.array()
    array.extend(items)
    array.multiline(len(items) > 1)
    return array


# --- setup.cfg (setuptools) -------------------------------------------------------------------


def _edit_setup_cfg(
    root: Path, edits: Sequence[RequiresDistEdit], label: str, *, dynamic: bool
) -> tuple[set[str], str]:
    path = root / "setup.cfg"
    where = "pyproject.toml lists dependencies in [project] dynamic, and " if dynamic else ""
    setup_py = root / "setup.py"
    text = _read_text(path, "setup.cfg", label) if path.is_file() else ""
    if setup_py.is_file() and "install_requires" in _read_text(setup_py, "setup.py", label):
        raise BuildError(
            f"{label}: {where}setup.py passes install_requires in code (which overrides "
            "setup.cfg), so [hotfix.*.requires-dist] cannot be applied: pyhotfix edits only "
            f"declarations. {_FIX}"
        )
    declarative = re.search(r"^\[\s*(metadata|options)\s*\]", text, re.MULTILINE)
    if declarative is None:
        raise BuildError(
            f"{label}: {where}neither pyproject.toml [project] nor [tool.poetry] nor setup.cfg "
            "declares its requirements (setup.py only), so [hotfix.*.requires-dist] cannot be "
            f"applied. {_FIX}"
        )
    lines = text.split("\n")
    if not re.search(r"^install_requires\s*[=:]", text, re.MULTILINE):
        # No requirements yet: declare the (empty) key the edits add to.
        header = next(
            (i for i, line in enumerate(lines) if re.match(r"\[\s*options\s*\]", line)), None
        )
        if header is None:
            lines[len(lines) - (lines[-1] == "") :] = ["", "[options]", "install_requires =", ""]
        else:
            lines.insert(header + 1, "install_requires =")
    found: set[str] = set()
    lines, matched = _edit_cfg_values(lines, "options", "install_requires", edits, add=True)
    found |= matched
    lines, matched = _edit_cfg_values(lines, "options.extras_require", None, edits, add=False)
    found |= matched
    if any(e.requirement is not None and e.name not in found for e in edits):
        raise BuildError(
            f"{label}: setup.cfg has no [options] install_requires entry pyhotfix can add to, so "
            f"[hotfix.*.requires-dist] cannot be applied. {_FIX}"
        )
    write_atomic(path, "\n".join(lines).encode("utf-8"), durable=False)
    return found, "setup.cfg [options] install_requires"


_SECTION = re.compile(r"\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"([A-Za-z0-9_.-]+)\s*[=:](.*)")


def _edit_cfg_values(
    lines: list[str],
    section: str,
    key: str | None,
    edits: Sequence[RequiresDistEdit],
    *,
    add: bool,
) -> tuple[list[str], set[str]]:
    """Edit the requirement lines of `key` (every key when None) of `[section]`: configparser's
    multi-line values, one requirement per line, comments and blank lines kept as they are."""
    by_name = {e.name: e for e in edits}
    out: list[str] = []
    found: set[str] = set()
    in_section = in_value = False
    indent = "    "
    last_value_line = -1

    def requirement_line(content: str, prefix: str) -> str | None:
        """The line to write for a value line (None: drop it)."""
        name = requirement_name(content) if content and content[0] not in "#;" else None
        edit = by_name.get(name) if name is not None else None
        if edit is None:
            return prefix + content
        first = edit.name not in found
        found.add(edit.name)
        if add and edit.requirement is not None and first:
            return prefix + edit.requirement
        return None

    for line in lines:
        header = _SECTION.fullmatch(line.strip()) if line[:1] == "[" else None
        if header is not None:
            if in_section and add and last_value_line >= 0:
                _insert_missing(out, last_value_line, indent, edits, found)
            in_section = header.group(1) == section
            in_value = False
            out.append(line)
            continue
        if not in_section:
            out.append(line)
            continue
        entry = _KEY.fullmatch(line) if line[:1] not in (" ", "\t", "#", ";", "") else None
        if entry is not None:
            in_value = key is None or entry.group(1) == key
            if in_value:
                inline = entry.group(2).strip()
                if inline.startswith(("file:", "attr:")):
                    raise BuildError(
                        f"setup.cfg [{section}] {entry.group(1)} is read from {inline!r}, which "
                        f"pyhotfix does not edit, so [hotfix.*.requires-dist] cannot be applied. "
                        f"{_FIX}"
                    )
                # setuptools splits a one-line value at ";" (list-semi): one item per line
                # keeps its meaning and lets each item be edited on its own.
                items = [item.strip() for item in inline.split(";") if item.strip()]
                if len(items) == 1 and requirement_name(items[0]) not in by_name:
                    out.append(line)  # nothing to change on the key's line
                else:
                    out.append(line[: entry.start(2)].rstrip())
                    written_items = (requirement_line(item, indent) for item in items)
                    out.extend(w for w in written_items if w is not None)
                last_value_line = len(out) - 1
            else:
                out.append(line)
            continue
        if in_value and line[:1] in (" ", "\t") and line.strip():
            stripped = line.lstrip()
            indent = line[: len(line) - len(stripped)]
            written = requirement_line(stripped.rstrip(), indent)
            if written is not None:
                out.append(written)
                last_value_line = len(out) - 1
            continue
        if line.strip():
            in_value = False
        out.append(line)
    if in_section and add and last_value_line >= 0:
        _insert_missing(out, last_value_line, indent, edits, found)
    return out, found


def _insert_missing(
    out: list[str], after: int, indent: str, edits: Sequence[RequiresDistEdit], found: set[str]
) -> None:
    added = [
        indent + e.requirement for e in edits if e.requirement is not None and e.name not in found
    ]
    found.update(e.name for e in edits if e.requirement is not None)
    out[after + 1 : after + 1] = added


# --- Poetry -----------------------------------------------------------------------------------


def _edit_poetry(root: Path, edits: Sequence[RequiresDistEdit], label: str) -> tuple[set[str], str]:
    import tomlkit
    from packaging.utils import canonicalize_name

    path = root / "pyproject.toml"
    document = tomlkit.parse(_read_text(path, "pyproject.toml", label))
    poetry = document["tool"]["poetry"]
    dependencies = poetry.setdefault("dependencies", tomlkit.table())
    found: set[str] = set()
    for edit in edits:
        keys = [k for k in dependencies if k != "python" and canonicalize_name(k) == edit.name]
        for written in keys:
            del dependencies[written]
        if keys:
            found.add(edit.name)
        if edit.requirement is not None:
            dependencies[edit.name] = _poetry_constraint(edit.requirement, label)
    edited_names = {e.name for e in edits}
    extras = poetry.get("extras", {})
    for extra in list(extras):  # an extra lists names of optional dependencies
        names = [str(n) for n in extras[extra]]
        kept = [n for n in names if requirement_name(n) not in edited_names]
        if kept != names:
            found |= {requirement_name(n) or "" for n in names} & edited_names
            extras[extra] = _toml_array(kept)
    write_atomic(path, tomlkit.dumps(document).encode("utf-8"), durable=False)
    return found, "pyproject.toml [tool.poetry.dependencies]"


def _poetry_constraint(text: str, label: str) -> Any:
    """A PEP 508 requirement as Poetry writes it: "SPEC" or { version, extras, markers }."""
    import tomlkit

    requirement = Requirement(text)
    if requirement.url is not None:
        raise BuildError(
            f"{label} declares its requirements in [tool.poetry.dependencies], where pyhotfix "
            f"cannot write the direct reference {text!r}. Give a version range instead, or "
            "change the requirement with a patch."
        )
    version = str(requirement.specifier) or "*"
    if not requirement.extras and requirement.marker is None:
        return version
    table = tomlkit.inline_table()
    table["version"] = version
    if requirement.extras:
        table["extras"] = sorted(requirement.extras)
    if requirement.marker is not None:
        table["markers"] = str(requirement.marker)
    return table


# --- reading the sdist's files (upstream content: bounded, regular files only) ----------------


def _read_text(path: Path, shown: str, label: str) -> str:
    def failure(problem: ReadProblem) -> Exception:
        return BuildError(
            f"{label}: {shown} cannot be read to apply [hotfix.*.requires-dist] ({problem.kind}"
            f"{': ' + str(problem.error) if problem.error else ''}); the sdist is malformed."
        )

    if path.is_symlink():
        raise BuildError(
            f"{label}: {shown} is a symbolic link; pyhotfix does not edit through one."
        )
    data = read_regular_file(path, _MAX_DECLARATION_BYTES, failure)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{label}: {shown} is not UTF-8 text; the sdist is malformed.") from None


def _read_toml(root: Path, name: str, label: str) -> dict[str, Any]:
    path = root / name
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        return tomllib.loads(_read_text(path, name, label))
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{label}: {name} is not valid TOML ({exc}).") from None
