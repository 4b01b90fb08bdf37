"""Format-preserving edits of the manifest with tomlkit (comments, order and layout kept), each
validated before it is written. tomlkit is imported inside the functions: loading never needs it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pyhotfix._atomic import write_atomic
from pyhotfix.errors import ManifestError, UsageError
from pyhotfix.manifest.names import shown_name
from pyhotfix.manifest.read import parse_toml, read_manifest_text
from pyhotfix.manifest.validate import check_exact_version, parse_manifest
from pyhotfix.manifest.values import FilePatch, PatchSource, RequiresDistEdit, UrlPatch

__all__ = ["patch_to_toml", "remove_hotfix", "set_hotfix_patches", "upsert_hotfix"]


# --- editing, for `pyhotfix add` -------------------------------------------------------------


def _edit_document(path: Path) -> Any:
    """The manifest as a tomlkit document, after the same checks (and errors) as loading."""
    import tomlkit  # only edits need it; loading uses tomllib
    from tomlkit.exceptions import TOMLKitError

    text = read_manifest_text(path)
    parse_toml(text, path)  # syntax errors with line and column, nesting depth
    try:
        return tomlkit.parse(text)
    except (TOMLKitError, RecursionError) as exc:
        raise ManifestError(
            f"{path}: cannot be edited: {exc}. Fix it by hand and run again."
        ) from None


def patch_to_toml(source: PatchSource) -> Any:
    import tomlkit  # only edits need it; loading uses tomllib

    if isinstance(source, FilePatch):
        return source.path
    table = tomlkit.inline_table()
    if isinstance(source, UrlPatch):
        table.update({"url": source.url, "sha256": source.sha256})
    else:
        table.update({"git": source.repo, "commit": source.commit})
    return table


def upsert_hotfix(
    path: Path,
    name: str,
    version: str,
    patches: Sequence[PatchSource],
    reason: str | None,
    *,
    source: str | None = None,
    platforms: Sequence[str] = (),
    requires_dist: Sequence[RequiresDistEdit] = (),
    fixes: Sequence[str] = (),
) -> None:
    """Create or update [hotfix.NAME] in the manifest at `path`, keeping comments and order.

    The version is set; patches (and `fixes` advisory IDs) not yet listed are appended in the
    order given; `source` sets `from` and non-empty `platforms` replace `platforms` (wheel mode);
    each `requires_dist` edit sets its key of [hotfix.NAME.requires-dist]; the result is
    validated before it is written, so a bad edit never reaches the file.
    """
    import tomlkit  # only edits need it; loading uses tomllib

    check_exact_version(version, lambda msg: UsageError(f"The version {msg}."))
    document = _edit_document(path) if path.exists() else tomlkit.document()
    hotfix_tables = document.setdefault("hotfix", tomlkit.table(is_super_table=True))
    existing_key = next(
        (k for k in hotfix_tables if canonicalize_name(k) == canonicalize_name(name)), None
    )
    if existing_key is None:
        table = tomlkit.table()
        table["version"] = version
        array = tomlkit.array()
        array.multiline(True)
        table["patches"] = array
        hotfix_tables[name] = table
        existing_key = name
    table = hotfix_tables[existing_key]
    table["version"] = version
    current = (
        parse_manifest(tomlkit.dumps(document), path).get(name).patches
        if table.get("patches")
        else ()
    )
    array = table["patches"]
    for patch in patches:
        if patch not in current:
            array.append(patch_to_toml(patch))
    if reason is not None:
        table["reason"] = reason
    _add_fixes(table, fixes)
    if source is not None:
        table["from"] = source
        if source == "sdist" and "platforms" in table:
            del table["platforms"]  # platforms only select wheels
    if platforms:
        table["platforms"] = list(platforms)
    if requires_dist:
        _set_requires_dist(table, requires_dist)
    new_text = tomlkit.dumps(document)
    parse_manifest(new_text, path)  # validate before writing
    write_atomic(path, new_text.encode("utf-8"))


def _set_requires_dist(table: Any, edits: Sequence[RequiresDistEdit]) -> None:
    """Set each edit's key of [hotfix.NAME.requires-dist] (an existing spelling of the same
    name is replaced), as a sub-table after the hotfix's own keys."""
    import tomlkit

    sub = table.get("requires-dist")
    if sub is None:
        sub = tomlkit.table()
        table["requires-dist"] = sub
    for edit in edits:
        for key in [k for k in sub if canonicalize_name(k) == edit.name]:
            del sub[key]
        sub[edit.name] = edit.requirement if edit.requirement is not None else False


def _add_fixes(table: Any, fixes: Sequence[str]) -> None:
    """Append the advisory IDs `table`'s `fixes` does not list yet (a list is made when needed)."""
    import tomlkit  # only edits need it; loading uses tomllib

    from pyhotfix.advisories import advisory_problem

    for advisory in fixes:
        problem = advisory_problem(advisory)
        if problem is not None:
            raise UsageError(f"The advisory (--fixes) {problem}.")
    if not fixes:
        return
    if "fixes" not in table:
        table["fixes"] = tomlkit.array()
    array = table["fixes"]
    if not isinstance(array, list):
        raise UsageError(f"fixes in [hotfix] is {array!r}, not a list; fix it by hand first.")
    for advisory in fixes:
        if advisory not in array:
            array.append(advisory)


# --- editing, for `pyhotfix commit` / `rebase` / `retire` ------------------------------------


def _write_validated(path: Path, document: Any) -> None:
    import tomlkit  # only edits need it; loading uses tomllib

    new_text = tomlkit.dumps(document)
    parse_manifest(new_text, path)  # validate before writing
    write_atomic(path, new_text.encode("utf-8"))


def _hotfix_key(document: Any, path: Path, name: str) -> str:
    hotfix_tables = document.get("hotfix", {})
    key = next((k for k in hotfix_tables if canonicalize_name(k) == canonicalize_name(name)), None)
    if key is None:
        raise UsageError(f"{path} has no hotfix named {shown_name(name)}.")
    return str(key)


def set_hotfix_patches(path: Path, name: str, version: str, patches: Sequence[PatchSource]) -> None:
    """Set [hotfix.NAME]'s version and replace its patch list (order as given), keeping the rest of
    the file (comments, other keys) as it is; validated before writing."""
    import tomlkit  # only edits need it; loading uses tomllib

    check_exact_version(version, lambda msg: UsageError(f"The version {msg}."))
    document = _edit_document(path)
    table = document["hotfix"][_hotfix_key(document, path, name)]
    table["version"] = version
    current = parse_manifest(tomlkit.dumps(document), path).get(name).patches
    if tuple(patches) != current:  # an unchanged list keeps its comments and layout
        array = tomlkit.array()
        array.multiline(True)
        for source in patches:
            array.append(patch_to_toml(source))
        table["patches"] = array
    _write_validated(path, document)


def remove_hotfix(path: Path, name: str) -> None:
    """Delete [hotfix.NAME] from the manifest, keeping everything else as it is."""

    document = _edit_document(path)
    hotfix_tables = document.get("hotfix", {})
    del hotfix_tables[_hotfix_key(document, path, name)]
    if not hotfix_tables:
        del document["hotfix"]
    _write_validated(path, document)
