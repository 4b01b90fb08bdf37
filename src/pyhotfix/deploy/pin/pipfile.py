"""Pinning a Pipfile: each hotfixed package becomes `{file = "<its build's URL>#sha256=…"}`.

Why not `{version = "==X+hotfix.N", index = "hotfix"}`: Pipenv (2026.10) strips the local part
in its already-satisfied check, so an environment that has upstream X keeps it although
Pipfile.lock says X+hotfix.N (`pipenv install --deploy` and `pipenv sync` alike). A `file =` URL
is handed to pip as a direct reference: pip installs exactly that file over whatever is
installed, checks the #sha256= fragment, and no index (the Pipfile's sources, a mirror) is asked
for it. Pipfile.lock records the URL, so a package a dependency pulls in is found there and
pinned too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pyhotfix.deploy import Deployment, HotfixBuild, hotfix_number
from pyhotfix.deploy.pin.judge import compatible, refusal
from pyhotfix.deploy.pin.values import PinChange, PinResult
from pyhotfix.errors import DeployError, UsageError

__all__ = [
    "PIPFILE_SECTIONS",
    "lock_names",
    "pin_pipfile",
    "pipfile_index_url",
    "read_lock_file",
]

# Pipfile categories and the Pipfile.lock sections that hold them.
PIPFILE_SECTIONS = {"packages": "default", "dev-packages": "develop"}
_KEPT_KEYS = ("markers", "extras")  # what a pinned entry keeps of the app's own entry
_MAX_LOCK_BYTES = 64 * 1024 * 1024
_FILE_URL = re.compile(r"^(?P<index>.+/)(?P<project>[^/]+)/[^/#]+(?:#.*)?$")


def pin_pipfile(
    text: str, path: Path, deployment: Deployment, lock: dict[str, Any] | None
) -> PinResult:
    """`lock`: the parsed Pipfile.lock beside it, if any (where a transitive hotfix shows up)."""
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit's ParseError family
        raise UsageError(f"{path} is not valid TOML: {exc}. Fix it and run pin again.") from exc
    errors: list[str] = []
    changes: list[PinChange] = []
    named: set[str] = set()
    for section in PIPFILE_SECTIONS:
        table = doc.get(section)
        if not isinstance(table, dict):
            continue
        for key in list(table.keys()):
            build = deployment.get(str(key))
            if build is None:
                continue
            named.add(build.name)
            where = f"{path.name} [{section}] {key}"
            entry = table[key]
            wanted = _pinned_entry(entry, build, deployment, where, path, errors)
            if wanted is None:
                continue
            table[key] = wanted
            changes.append(PinChange(build.name, where, _show(entry), _show(wanted)))
    if errors:
        raise DeployError("\n".join(errors))
    locked = lock_names(lock)
    notes: list[str] = []
    for build in deployment.hotfixes:
        if build.name in named:
            continue
        lock_section = locked.get(build.name)
        if lock_section is None:
            notes.append(
                f"{build.name} is not in {path.name}"
                + (" nor in Pipfile.lock" if lock is not None else " and there is no Pipfile.lock")
                + ": if a dependency pulls it in, run `pipenv lock`, then pin again (it is then "
                "added), or add it to [packages] yourself."
            )
            continue
        # A dependency pulls it in: naming it here is the only way to pin it in Pipenv.
        category = next(k for k, v in PIPFILE_SECTIONS.items() if v == lock_section)
        if category not in doc:
            doc[category] = tomlkit.table()
        doc[category][build.name] = _file_entry(build, deployment, {})
        changes.append(
            PinChange(
                build.name,
                f"{path.name} [{category}]",
                "(pulled in by a dependency)",
                _show(doc[category][build.name]),
            )
        )
    new_text = tomlkit.dumps(doc)
    unsafe = _stale_lock(lock, deployment) if lock is not None else ()
    return PinResult(path, new_text, new_text != text, tuple(changes), tuple(notes), unsafe)


def lock_names(lock: dict[str, Any] | None) -> dict[str, str]:
    """canonical name -> the Pipfile.lock section ("default" first) that has it."""
    found: dict[str, str] = {}
    for section in ("develop", "default"):
        packages = (lock or {}).get(section)
        if isinstance(packages, dict):
            found.update({canonicalize_name(str(name)): section for name in packages})
    return found


def read_lock_file(path: Path) -> dict[str, Any] | None:
    """Pipfile.lock beside `path`, parsed; None when there is none."""
    lock_path = path.parent / "Pipfile.lock"
    if not lock_path.is_file():
        return None
    try:
        if lock_path.stat().st_size > _MAX_LOCK_BYTES:
            raise UsageError(f"{lock_path} is larger than 64 MiB; is it really a Pipfile.lock?")
        data = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"Cannot read {lock_path} as JSON ({exc}). Regenerate it with `pipenv lock`."
        ) from exc
    return data if isinstance(data, dict) else None


def pipfile_index_url(text: str, lock: dict[str, Any] | None = None) -> str | None:
    """The hotfix index URL an earlier pin wrote (the part of a `file =` URL before the
    project's directory), in the Pipfile or else in Pipfile.lock, so pinning again without
    --index-url keeps it."""
    try:
        data = tomlkit.parse(text).unwrap()
    except Exception:  # tomlkit's ParseError family; pin itself reports bad TOML
        data = {}
    tables = [data.get(section) for section in PIPFILE_SECTIONS]
    tables += [(lock or {}).get(section) for section in PIPFILE_SECTIONS.values()]
    for table in tables:
        for name, entry in (table if isinstance(table, dict) else {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                match = _FILE_URL.match(entry["file"])
                if match and canonicalize_name(match["project"]) == canonicalize_name(name):
                    return match["index"]
    return None


def _pinned_entry(
    entry: Any,
    build: HotfixBuild,
    deployment: Deployment,
    where: str,
    path: Path,
    errors: list[str],
) -> Any | None:
    """The entry to write for `build`, or None when `entry` is it already (or is refused)."""
    url = deployment.pinned_url(build)
    table = entry if isinstance(entry, dict) else {}
    if table.get("file") == url and set(table) <= {"file", *_KEPT_KEYS}:
        return None
    earlier = _hotfix_file_version(table.get("file"), build)
    if earlier is not None:  # an earlier pin of ours: another build, or another index URL
        if Version(earlier).public != Version(build.version).public:
            errors.append(refusal(where, f"{build.name}=={earlier}", build, path))
            return None
        return _file_entry(build, deployment, table)
    for key in ("file", "path", "git", "ref", "editable"):
        if key in table and table.get("file") != url:
            errors.append(
                f"{where}: `{_show(entry)}` installs {build.name} from {key} "
                f"{table[key]!r}, which pin does not rewrite. Replace it with "
                f'`{build.name} = "=={build.version}"` and run pin again. {path.name} was not '
                "changed."
            )
            return None
    version = entry if isinstance(entry, str) else table.get("version", "*")
    spec_text = "" if str(version).strip() in ("*", "") else str(version)
    try:
        specifier = SpecifierSet(spec_text)
    except InvalidSpecifier:
        errors.append(
            f"{where}: {version!r} is not a version specifier. Write "
            f'"=={build.version}" and run pin again. {path.name} was not changed.'
        )
        return None
    if not compatible(specifier, build):
        errors.append(refusal(where, f"{build.name}{spec_text}", build, path))
        return None
    return _file_entry(build, deployment, table)


def _hotfix_file_version(url: object, build: HotfixBuild) -> str | None:
    """The version of the file a `file =` URL names when it is a hotfix build of `build`'s
    package (an earlier pin's), else None."""
    if not isinstance(url, str):
        return None
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    try:
        if filename.endswith(".whl"):
            project, version = parse_wheel_filename(filename)[:2]
        else:
            project, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    if canonicalize_name(project) != build.name:
        return None
    return str(version) if hotfix_number(str(version), build.label) is not None else None


def _file_entry(build: HotfixBuild, deployment: Deployment, kept: Any) -> Any:
    entry = tomlkit.inline_table()
    entry.add("file", deployment.pinned_url(build))
    for key in _KEPT_KEYS:
        if key in kept:
            entry.add(key, kept[key])
    return entry


def _stale_lock(lock: dict[str, Any], deployment: Deployment) -> tuple[str, ...]:
    """Hotfixes Pipfile.lock installs from anywhere but their pinned build."""
    stale: list[str] = []
    for build in deployment.hotfixes:
        url = deployment.pinned_url(build)
        for section in ("default", "develop"):
            packages = lock.get(section)
            if not isinstance(packages, dict):
                continue
            entry = next(
                (v for k, v in packages.items() if canonicalize_name(str(k)) == build.name), None
            )
            if entry is None or (isinstance(entry, dict) and entry.get("file") == url):
                continue
            shown = entry.get("version", "?") if isinstance(entry, dict) else entry
            stale.append(
                f"Pipfile.lock [{section}] installs {build.name} {shown}, not the file of the "
                f"hotfix build: Pipenv keeps an installed upstream {build.version} for a "
                "+hotfix version, and an index may serve another build. Run `pyhotfix pin "
                "--pipfile Pipfile`, then `pipenv lock`."
            )
    return tuple(stale)


def _show(entry: Any) -> str:
    if isinstance(entry, str):
        return f'"{entry}"'
    return tomlkit.dumps({"x": entry}).strip().removeprefix("x = ")
