"""hotfixes.toml: what to hotfix. Loading validates strictly; editing (for `add`) keeps the user's format."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix._atomic import write_atomic
from pyhotfix.errors import ManifestError, UsageError

MANIFEST_NAME = "hotfixes.toml"
DEFAULT_INDEX = "hotfix-index"
DEFAULT_LABEL = "hotfix"

_SETTINGS_KEYS = {"upstream", "index", "label", "upload", "endpoint_url"}
_STRING_SETTINGS = {"upstream", "index", "label", "endpoint_url"}
_HOTFIX_KEYS = {"version", "patches", "reason"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_LABEL = re.compile(r"^[a-z][a-z0-9]*$")
# A project name as the packaging spec defines it (PEP 508 / core metadata "Name").
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# Longer names than any real project; the name goes into paths and filenames (255-byte limit).
MAX_NAME_LENGTH = 200
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
# Control characters in a name, version, path, URL, hash or label are a mistake or an attack
# (a NUL cannot even reach the system); free text (reason) may hold tabs and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FREE_TEXT_KEYS = {"reason"}


@dataclass(frozen=True)
class FilePatch:
    path: str  # as written, relative to the manifest's directory
    # "FILE, line N: hotfix.NAME.patches[i]" for errors about the file; not part of its identity.
    where: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UrlPatch:
    url: str
    sha256: str


@dataclass(frozen=True)
class GitPatch:
    repo: str  # a local path (relative to the manifest's directory) or a git URL
    commit: str


PatchSource = FilePatch | UrlPatch | GitPatch


@dataclass(frozen=True)
class Settings:
    upstream: str | None  # None: pip's configured index, else PyPI (resolved by `upstream`)
    index: str  # as written; a directory relative to the manifest, or a URL
    label: str
    upload: bool = False  # index is a PyPI-compatible upload endpoint (twine's legacy API)
    endpoint_url: str | None = None  # S3-compatible endpoint for s3:// indexes


@dataclass(frozen=True)
class HotfixSpec:
    name: str  # canonical (PEP 503) name
    version: str  # the exact upstream release being fixed
    patches: tuple[PatchSource, ...]
    reason: str | None


@dataclass(frozen=True)
class Manifest:
    path: Path
    settings: Settings
    hotfixes: tuple[HotfixSpec, ...]

    @property
    def directory(self) -> Path:
        return self.path.parent

    def get(self, name: str) -> HotfixSpec:
        wanted = canonicalize_name(name)
        for spec in self.hotfixes:
            if spec.name == wanted:
                return spec
        known = ", ".join(s.name for s in self.hotfixes) or "none"
        suggested = name if project_name_problem(name) is None else "NAME"
        raise UsageError(
            f"{self.path} has no hotfix named {shown_name(name)} (hotfixes: {known}). "
            f"Add one with `pyhotfix add {suggested}==VERSION --patch FILE`."
        )


def find_manifest(start: Path) -> Path:
    """hotfixes.toml in `start` or the nearest parent directory."""
    for directory in (start, *start.parents):
        candidate = directory / MANIFEST_NAME
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"No {MANIFEST_NAME} found in {start} or any parent directory. Create one with "
        f"`pyhotfix add NAME==VERSION --patch FILE`, or pass -m/--manifest PATH."
    )


def project_name_problem(name: str) -> str | None:
    """Why `name` is not a usable project name, or None when it is one."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; project names here are at most {MAX_NAME_LENGTH}"
    if not _PROJECT_NAME.match(name):
        return (
            "is not a valid project name (letters, digits, '.', '_' and '-', starting and "
            "ending with a letter or digit)"
        )
    return None


def shown_name(name: str, limit: int = 80) -> str:
    """`name` quoted for a message, shortened when it is long (hostile input can be huge)."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + f"... ({len(name)} chars)"


def read_manifest_text(path: Path) -> str:
    """The manifest's text: a regular file of at most MAX_MANIFEST_BYTES, in UTF-8.

    Opened non-blocking so a FIFO or device named as the manifest cannot hang us; checked with
    fstat on the open file, so what is checked is what is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ManifestError(
            f"Cannot read the manifest {path}: {exc.strerror}. Check the path (-m/--manifest)."
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError(
                f"The manifest {path} is not a regular file. Give the path of a hotfixes.toml."
            )
        if info.st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(
                f"The manifest {path} is {info.st_size} bytes; manifests are limited to "
                f"{MAX_MANIFEST_BYTES // (1024 * 1024)} MiB. Check that it is the right file."
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"Cannot read the manifest {path}: {exc.strerror}.") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_MANIFEST_BYTES:  # grew after fstat
        raise ManifestError(
            f"The manifest {path} is over {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB; "
            "check that it is the right file."
        )
    return decode_manifest(data, path)


def decode_manifest(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ManifestError(
            f"{path}, line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8. "
            "TOML files are UTF-8: re-save the file as UTF-8."
        ) from None


def load_manifest(path: Path) -> Manifest:
    return parse_manifest(read_manifest_text(path), path)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib has the position only in the message: "... (at line L, column C)"
        message = str(exc)
        found = _TOML_POSITION.search(message)
        place = f"{path}, line {found[1]}, column {found[2]}" if found else f"{path}"
        reason = _TOML_POSITION.sub("", message)
        raise ManifestError(
            f"{place}: not valid TOML: {reason}. Fix the syntax and run again."
        ) from None
    except RecursionError:
        line = _deep_nesting_line(text)
        place = f"{path}" + (f", line {line}" if line else "")
        raise ManifestError(
            f"{place}: arrays or inline tables are nested too deeply. A manifest needs at most a "
            "few levels; check that it is the right file."
        ) from None


def _deep_nesting_line(text: str, limit: int = 100) -> int | None:
    """The line where `[`/`{` nesting (outside strings and comments) first exceeds `limit`:
    where to look after the parser gave up on depth. Linear, no recursion."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif char in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else char
            end = i + len(quote)
            while end < n and not text.startswith(quote, end):
                end += 2 if char == '"' and text[end] == "\\" else 1
                if len(quote) == 1 and end < n and text[end] == "\n":
                    break  # an unterminated one-line string ends at the line's end
            line += text.count("\n", i, end)
            i = end + len(quote) if text.startswith(quote, end) else end
            continue
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def parse_manifest(text: str, path: Path) -> Manifest:
    data = _parse_toml(text, path)
    where = _Locator(text, path)
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


def _refuse_control_characters(data: dict[str, Any], where: _Locator) -> None:
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
    where: _Locator,
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


def _parse_settings(table: Any, where: _Locator) -> Settings:
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


def _parse_hotfix(written_name: str, table: Any, where: _Locator) -> HotfixSpec:
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
    _check_exact_version(version, lambda msg: where.error(section, "version", msg))
    patches = table.get("patches", [])
    if not isinstance(patches, list) or not patches:
        raise where.error(
            section,
            "patches",
            "must be a non-empty list of patch files, {url, sha256} or {git, commit}",
        )
    reason = table.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise where.error(section, "reason", "must be a string")
    parsed = tuple(_parse_patch(p, i, section, where) for i, p in enumerate(patches))
    return HotfixSpec(
        name=canonicalize_name(written_name), version=version, patches=parsed, reason=reason
    )


def _check_exact_version(version: str, error: Any) -> None:
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise error(
            f'is {version!r}, not a version; give the exact upstream release, e.g. "0.4.3"'
        ) from None
    if parsed.local is not None:
        raise error(f"is {version!r}; give the upstream release without a local part (+...)")


def _parse_patch(item: Any, index: int, section: str, where: _Locator) -> PatchSource:
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


class _Locator:
    """Finds the line a table or key is on, so errors can point at it (tomllib keeps no positions)."""

    def __init__(self, text: str, path: Path) -> None:
        # TOML lines end at \n only (splitlines would also split at \x0c, \u2028, ...).
        self.lines = text.split("\n")
        self.path = path

    def _table_line(self, section: str) -> int | None:
        parts = section.split(".", 1)
        pattern = re.compile(
            r"^\s*\[\s*"
            + re.escape(parts[0])
            + (r"\s*\.\s*[\"']?" + re.escape(parts[1]) + r"[\"']?" if len(parts) > 1 else "")
            + r"\s*\]"
        )
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def line_of(self, section: str | None, key: str | None) -> int | None:
        start = self._table_line(section) if section else None
        if key is None:
            return start
        bare = key.split("[", 1)[0]
        key_pattern = re.compile(r"^\s*[\"']?" + re.escape(bare) + r"[\"']?\s*=")
        # Looked up once, not per line: per line made a long manifest take quadratic time.
        bare_table = self._table_line(bare) if section is None else None
        for number in range((start or 0) + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if start is not None and number > start and re.match(r"^\s*\[", line):
                break
            if key_pattern.match(line) or number == bare_table:
                item = re.fullmatch(r".*\[(\d+)\]", key)
                return self._item_line(number, int(item.group(1))) if item else number
        if section is None:
            return bare_table
        return start

    def _item_line(self, key_line: int, index: int) -> int:
        """The line of item `index` of a multi-line array that starts on `key_line` (one item per
        line, as `pyhotfix add` writes them); the key's own line for an array on one line."""
        if "]" in self.lines[key_line - 1].split("=", 1)[1]:
            return key_line
        seen = -1
        for number in range(key_line + 1, len(self.lines) + 1):
            text = self.lines[number - 1].strip()
            if text.startswith("]"):
                break
            if text[:1] in ('"', "'", "{"):
                seen += 1
                if seen == index:
                    return number
        return key_line

    def place(self, section: str | None, key: str | None) -> str:
        """Where a key is, as errors name it: "FILE, line N: SECTION.KEY"."""
        line = self.line_of(section, key)
        what = ".".join(p for p in (section, key) if p)
        return f"{self.path}" + (f", line {line}" if line else "") + f": {what}"

    def error(self, section: str | None, key: str | None, message: str) -> ManifestError:
        return ManifestError(f"{self.place(section, key)} {message}.")


# --- editing, for `pyhotfix add` -------------------------------------------------------------


def _edit_document(path: Path) -> Any:
    """The manifest as a tomlkit document, after the same checks (and errors) as loading."""
    import tomlkit  # only edits need it; loading uses tomllib
    from tomlkit.exceptions import TOMLKitError

    text = read_manifest_text(path)
    _parse_toml(text, path)  # syntax errors with line and column, nesting depth
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
) -> None:
    """Create or update [hotfix.NAME] in the manifest at `path`, keeping comments and order.

    The version is set; patches not yet listed are appended in the order given; the result is
    validated before it is written, so a bad edit never reaches the file.
    """
    import tomlkit  # only edits need it; loading uses tomllib

    _check_exact_version(version, lambda msg: UsageError(f"The version {msg}."))
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
    for source in patches:
        if source not in current:
            array.append(patch_to_toml(source))
    if reason is not None:
        table["reason"] = reason
    new_text = tomlkit.dumps(document)
    parse_manifest(new_text, path)  # validate before writing
    write_atomic(path, new_text.encode("utf-8"))


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

    _check_exact_version(version, lambda msg: UsageError(f"The version {msg}."))
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
