"""Strict validation of a parsed manifest into its typed values: known keys only, names,
versions, labels, patch sources, no control characters; errors name file, line and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix.advisories import MAX_FIXES, advisory_problem
from pyhotfix.errors import ManifestError
from pyhotfix.manifest.locate import Locator
from pyhotfix.manifest.names import project_name_problem, shown_name
from pyhotfix.manifest.read import parse_toml, read_manifest_text
from pyhotfix.manifest.values import (
    DEFAULT_INDEX,
    DEFAULT_LABEL,
    FilePatch,
    GitPatch,
    HotfixSpec,
    Manifest,
    PatchSource,
    RequiresDistEdit,
    Settings,
    SourceMode,
    UrlPatch,
)

__all__ = ["check_exact_version", "load_manifest", "parse_manifest"]

_SETTINGS_KEYS = {"upstream", "index", "label", "upload", "endpoint_url"}
_STRING_SETTINGS = {"upstream", "index", "label", "endpoint_url"}
_HOTFIX_KEYS = {"version", "patches", "reason", "requires-dist", "fixes"}
_HOTFIX_KEYS |= {"from", "platforms"}  # wheel mode (see `_parse_source`)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_LABEL = re.compile(r"^[a-z][a-z0-9]*$")
# Control characters in a name, version, path, URL, hash or label are a mistake or an attack
# (a NUL cannot even reach the system); free text (reason) may hold tabs and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def load_manifest(path: Path) -> Manifest:
    return parse_manifest(read_manifest_text(path), path)


def parse_manifest(text: str, path: Path) -> Manifest:
    data = parse_toml(text, path)
    where = Locator(text, path)
    _refuse_control_characters(data, where)
    for key in data:
        if key not in ("settings", "hotfix"):
            raise where.error(
                None, key, "is not a known table (expected [settings] and [hotfix.NAME])"
            )
    settings = _parse_settings(data.get("settings", {}), where)
    hotfix_tables = data.get("hotfix", {})
    if not isinstance(hotfix_tables, dict):
        raise where.error(None, "hotfix", "must be a table of [hotfix.NAME] tables")
    hotfixes: list[HotfixSpec] = []
    seen: dict[str, str] = {}
    for written_name, table in hotfix_tables.items():
        problem = project_name_problem(written_name)
        if problem is not None:
            line = where.line_of(f"hotfix.{written_name}", None)
            raise ManifestError(
                f"{path}" + (f", line {line}" if line else "") + f": the hotfix name "
                f"{shown_name(written_name)} {problem}. Name the project as it is on its index."
            )
        name = canonicalize_name(written_name)
        if name in seen:
            raise where.error(
                f"hotfix.{written_name}",
                None,
                f"names the same project as [hotfix.{seen[name]}] ({name}); keep one of them",
            )
        seen[name] = written_name
        hotfixes.append(_parse_hotfix(written_name, table, where))
    return Manifest(path=path, settings=settings, hotfixes=tuple(hotfixes))


def _refuse_control_characters(data: dict[str, Any], where: Locator) -> None:
    """Refuse a control character in any string of the manifest, table names and keys included.

    Runs before the other checks, so nothing later meets a NUL (Python's `embedded null byte`).
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, path, where, is_key=True)
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_string(value, path, where, free_text=path[-1:] == ("reason",))


def _check_string(
    text: str,
    path: tuple[str | int, ...],
    where: Locator,
    *,
    free_text: bool = False,
    is_key: bool = False,
) -> None:
    """`path` leads to the string (for a key: to the table holding it); names are clean there,
    as a table's keys are checked before its values."""
    found = (_CONTROL_IN_TEXT if free_text else _CONTROL).search(text)
    if found is None:
        return
    # The locator knows [section], its keys and their list items; deeper parts are named.
    split = 2 if path[:1] == ("hotfix",) and len(path) > 1 else 1
    section = ".".join(map(str, path[:split])) or None
    rest = path[split:]
    key = str(rest[0]) if rest else None
    if len(rest) > 1 and isinstance(rest[1], int):
        key, rest = f"{key}[{rest[1]}]", rest[1:]
    inner = ".".join(map(str, rest[1:]))
    what = (
        f"has the key or table name {shown_name(text)}"
        if is_key
        else (f"{'(' + inner + ') ' if inner else ''}is {shown_name(text)}")
    )
    allowed = (
        "only tabs and line breaks are allowed in free text"
        if free_text
        else "a name, version, path, URL or label cannot hold one"
    )
    raise where.error(
        section,
        key,
        f"{what}, with the control character {found.group()!r} at position {found.start()}; "
        f"{allowed}. Remove it (a TOML escape such as \\u0000 writes one)",
    )


def _parse_settings(table: Any, where: Locator) -> Settings:
    if not isinstance(table, dict):
        raise where.error(None, "settings", "must be a table")
    for key in table:
        if key not in _SETTINGS_KEYS:
            raise where.error(
                "settings", key, f"is not a known key (known: {', '.join(sorted(_SETTINGS_KEYS))})"
            )
    for key in _STRING_SETTINGS & table.keys():
        if not isinstance(table[key], str) or not table[key]:
            raise where.error("settings", key, "must be a non-empty string")
    if not isinstance(table.get("upload", False), bool):
        raise where.error("settings", "upload", "must be true or false")
    label = table.get("label", DEFAULT_LABEL)
    if not _LABEL.match(label):
        raise where.error(
            "settings",
            "label",
            f"is {label!r}; it must be lowercase letters and digits, starting with a letter",
        )
    upstream = table.get("upstream")
    if upstream is not None and not upstream.startswith(("http://", "https://", "file://")):
        raise where.error(
            "settings", "upstream", f"is {upstream!r}; it must be an http(s):// or file:// URL"
        )
    index = table.get("index", DEFAULT_INDEX)
    upload = table.get("upload", False)
    if upload and not index.startswith(("http://", "https://")):
        raise where.error(
            "settings", "upload", "is true, so index must be the registry's https:// upload URL"
        )
    return Settings(
        upstream=upstream,
        index=index,
        label=label,
        upload=upload,
        endpoint_url=table.get("endpoint_url"),
    )


def _parse_hotfix(written_name: str, table: Any, where: Locator) -> HotfixSpec:
    section = f"hotfix.{written_name}"
    if not isinstance(table, dict):
        raise where.error(None, section, "must be a table")
    for key in table:
        if key not in _HOTFIX_KEYS:
            raise where.error(
                section, key, f"is not a known key (known: {', '.join(sorted(_HOTFIX_KEYS))})"
            )
    if "version" not in table:
        raise where.error(
            section, None, 'has no version; add version = "X.Y.Z", the upstream release to fix'
        )
    version = table["version"]
    if not isinstance(version, str):
        raise where.error(section, "version", "must be a string")
    check_exact_version(version, lambda msg: where.error(section, "version", msg))
    requires_dist = _parse_requires_dist(table.get("requires-dist"), section, where)
    patches = table.get("patches", [])
    if not isinstance(patches, list) or not (patches or requires_dist):
        raise where.error(
            section,
            "patches",
            "must be a non-empty list of patch files, {url, sha256} or {git, commit} (it may be "
            "empty when [" + section + ".requires-dist] changes the metadata)",
        )
    reason = table.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise where.error(section, "reason", "must be a string")
    parsed = tuple(_parse_patch(p, i, section, where) for i, p in enumerate(patches))
    source, platforms = _parse_source(table, section, where)
    return HotfixSpec(
        name=canonicalize_name(written_name),
        version=version,
        patches=parsed,
        reason=reason,
        source=source,
        platforms=platforms,
        requires_dist=requires_dist,
        fixes=_parse_fixes(table.get("fixes", []), section, where),
    )


_SOURCE_MODES: tuple[SourceMode, ...] = ("sdist", "wheels")
_MAX_PLATFORMS = 256
_MAX_GLOB_CHARS = 200
# A platform tag glob: tag characters (letters, digits, _, .) and fnmatch's * ? [ ] !.
_PLATFORM_GLOB = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


def _parse_source(
    table: dict[str, Any], section: str, where: Locator
) -> tuple[SourceMode, tuple[str, ...]]:
    """`from` ("sdist" or "wheels") and `platforms` (wheel mode only: platform tag globs)."""
    source = table.get("from", "sdist")
    if source not in _SOURCE_MODES:
        raise where.error(
            section,
            "from",
            f'is {source!r}; it must be "sdist" (build from the upstream sdist, the default) or '
            '"wheels" (patch the wheels upstream published)',
        )
    if "platforms" not in table:
        return source, ()
    platforms = table["platforms"]
    if source != "wheels":
        raise where.error(
            section,
            "platforms",
            'selects upstream wheels, so it needs from = "wheels"; add that or remove platforms',
        )
    if not isinstance(platforms, list) or not platforms or len(platforms) > _MAX_PLATFORMS:
        raise where.error(
            section,
            "platforms",
            f"must be a non-empty list (at most {_MAX_PLATFORMS}) of platform tag globs, e.g. "
            '["manylinux*", "macosx*", "win_amd64"]',
        )
    for i, glob in enumerate(platforms):
        if (
            not isinstance(glob, str)
            or not _PLATFORM_GLOB.match(glob)
            or len(glob) > _MAX_GLOB_CHARS
        ):
            raise where.error(
                section,
                f"platforms[{i}]",
                f"is {glob!r}; a platform glob is letters, digits, '_', '.', '-' and the wildcards "
                f'* ? [ ] (at most {_MAX_GLOB_CHARS} characters), e.g. "manylinux*"',
            )
    return source, tuple(dict.fromkeys(platforms))


def _parse_requires_dist(table: Any, section: str, where: Locator) -> tuple[RequiresDistEdit, ...]:
    """`[hotfix.NAME.requires-dist]`: DEPENDENCY = "PEP 508 requirement on it" or false."""
    if table is None:
        return ()
    # Only metadata hotfixes need the PEP 508 parser: a no-op build must start fast.
    from packaging.requirements import InvalidRequirement, Requirement
    inner = f"{section}.requires-dist"
    # Errors point at the sub-table's keys; an inline table has no header, so at its line.
    here = inner if where.line_of(inner, None) is not None else None

    def error(key: str | None, message: str) -> ManifestError:
        if here is None:
            return where.error(section, "requires-dist", f"({key}) {message}" if key else message)
        return where.error(here, key, message)

    if not isinstance(table, dict):
        raise where.error(
            section,
            "requires-dist",
            'must be a table: DEPENDENCY = "requirement" (replace) or DEPENDENCY = false (remove)',
        )
    edits: list[RequiresDistEdit] = []
    seen: dict[str, str] = {}
    for key, value in table.items():
        problem = project_name_problem(key)
        if problem is not None:
            raise error(key, f"is not a project name: {shown_name(key)} {problem}")
        name = canonicalize_name(key)
        if name in seen:
            raise error(key, f"names the same project as {seen[name]}; keep one of them")
        seen[name] = key
        if value is False:
            edits.append(RequiresDistEdit(name, None))
            continue
        if not isinstance(value, str):
            raise error(
                key,
                f'must be a requirement string such as "{key}>=1.0" (replaces every '
                f"Requires-Dist on {key}) or false (removes them)",
            )
        try:
            requirement = Requirement(value)
        except InvalidRequirement as exc:
            raise error(key, f"is {value!r}, not a PEP 508 requirement ({exc})") from None
        if canonicalize_name(requirement.name) != name:
            raise error(
                key,
                f"is {value!r}, a requirement on {requirement.name}; the key names the "
                f'dependency it replaces, so write {requirement.name} = "{value}" or fix the '
                "requirement",
            )
        edits.append(RequiresDistEdit(name, str(requirement)))
    return tuple(edits)


def _parse_fixes(value: Any, section: str, where: Locator) -> tuple[str, ...]:
    """`fixes = ["CVE-…", "GHSA-…", "PYSEC-…"]`: advisory IDs, each once, in the order written."""
    if not isinstance(value, list):
        raise where.error(
            section, "fixes", 'must be a list of advisory IDs, e.g. ["CVE-2024-37891"]'
        )
    if len(value) > MAX_FIXES:
        raise where.error(section, "fixes", f"lists {len(value)} advisories; at most {MAX_FIXES}")
    seen: list[str] = []
    for i, item in enumerate(value):
        key = f"fixes[{i}]"
        if not isinstance(item, str):
            raise where.error(section, key, "must be a string, an advisory ID")
        problem = advisory_problem(item)
        if problem is not None:
            raise where.error(section, key, problem)
        if item in seen:
            raise where.error(section, key, f"is {item!r} again; list each advisory once")
        seen.append(item)
    return tuple(seen)


def check_exact_version(version: str, error: Any) -> None:
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise error(
            f'is {version!r}, not a version; give the exact upstream release, e.g. "0.4.3"'
        ) from None
    if parsed.local is not None:
        raise error(f"is {version!r}; give the upstream release without a local part (+...)")


def _parse_patch(item: Any, index: int, section: str, where: Locator) -> PatchSource:
    key = f"patches[{index}]"
    if isinstance(item, str):
        if item.startswith(("http://", "https://")):
            raise where.error(
                section, key, f'is a URL; pin it as {{ url = "{item}", sha256 = "<hex>" }}'
            )
        return FilePatch(path=item, where=where.place(section, key))
    if not isinstance(item, dict):
        raise where.error(section, key, "must be a path, { url, sha256 } or { git, commit }")
    keys = set(item)
    if keys == {"url", "sha256"} or keys == {"url"}:
        url, sha = item.get("url"), item.get("sha256")
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "file://")):
            raise where.error(section, key, "url must be an http(s):// or file:// URL")
        if sha is None:
            raise where.error(
                section,
                key,
                f'is a URL patch without sha256; pin it with `pyhotfix add` or add sha256 = "<hex>" ({url})',
            )
        if not isinstance(sha, str) or not _SHA256.match(sha.lower()):
            raise where.error(section, key, "sha256 must be 64 hexadecimal characters")
        return UrlPatch(url=url, sha256=sha.lower())
    if keys == {"git", "commit"}:
        repo, commit = item["git"], item["commit"]
        if not isinstance(repo, str) or not repo:
            raise where.error(section, key, "git must be a repository path or URL")
        if not isinstance(commit, str) or not _COMMIT.match(commit.lower()):
            raise where.error(
                section, key, "commit must be a commit hash (7 to 40 hexadecimal characters)"
            )
        return GitPatch(repo=repo, commit=commit.lower())
    raise where.error(
        section, key, f"has keys {sorted(keys)}; expected {{ url, sha256 }} or {{ git, commit }}"
    )
