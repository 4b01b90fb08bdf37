"""Requirements files the way pip reads them, kept editable line by line.

pip's rules (pip/_internal/req/req_file.py): a line ending in a backslash continues on the next,
unless it is a comment line; a comment starts at a `#` at the start of the line or after
whitespace; a line starting with `-` is an option line (`-r`, `-c`, `--index-url`, …); otherwise the
requirement runs up to the first token starting with `-` and the rest are its options (`--hash`).
`${NAME}` is replaced from the environment.

A `LogicalLine` keeps the physical lines it came from, so an edit replaces exactly those lines and
leaves every other byte of the file as it was.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyhotfix.errors import UsageError

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
# Options that take a value, as pip spells them (short and long).
_VALUE_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "-r": "--requirement",
    "--requirement": "--requirement",
    "-c": "--constraint",
    "--constraint": "--constraint",
    "-e": "--editable",
    "--editable": "--editable",
    "--trusted-host": "--trusted-host",
    "--only-binary": "--only-binary",
    "--no-binary": "--no-binary",
    "--use-feature": "--use-feature",
    "--config-settings": "--config-settings",
    "--global-option": "--global-option",
    "--hash": "--hash",
}
INDEX_OPTIONS = ("--index-url", "--extra-index-url", "--find-links")


@dataclass(frozen=True)
class Option:
    name: str  # long form, e.g. "--extra-index-url"; flags keep their own spelling
    value: str | None


@dataclass(frozen=True)
class LogicalLine:
    start: int  # index of its first physical line
    end: int  # one past its last physical line
    raw: str  # the physical lines, joined as written (newlines included)
    content: str  # continuation-joined, comment stripped, ${VARS} expanded
    comment: str  # the comment as written ("# ..."), or ""
    requirement: Requirement | None = None
    requirement_text: str = ""  # the requirement part as written
    options: tuple[Option, ...] = ()
    error: str | None = None  # why a requirement line did not parse

    @property
    def is_requirement(self) -> bool:
        return self.requirement is not None

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(o.value or "" for o in self.options if o.name == "--hash")

    def option_values(self, name: str) -> list[str]:
        return [o.value for o in self.options if o.name == name and o.value is not None]


@dataclass(frozen=True)
class RequirementsFile:
    path: Path
    lines: tuple[str, ...]  # physical lines, with their line endings
    logical: tuple[LogicalLine, ...] = field(default_factory=tuple)

    @property
    def newline(self) -> str:
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith("\n"):
                return "\n"
        return "\n"

    def requirements(self) -> Iterator[LogicalLine]:
        return (line for line in self.logical if line.is_requirement)

    def named(self, name: str) -> list[LogicalLine]:
        canon = canonicalize_name(name)
        return [
            line
            for line in self.logical
            if line.requirement is not None and canonicalize_name(line.requirement.name) == canon
        ]

    def option_lines(self) -> Iterator[LogicalLine]:
        return (line for line in self.logical if line.options and line.requirement is None)

    def location(self, line: LogicalLine) -> str:
        return f"{self.path.name}:{line.start + 1}"


def parse_text(text: str, path: Path, environ: Mapping[str, str] | None = None) -> RequirementsFile:
    env = os.environ if environ is None else environ
    physical = tuple(text.splitlines(keepends=True))
    logical: list[LogicalLine] = []
    i = 0
    while i < len(physical):
        start = i
        parts: list[str] = []
        while True:
            line = physical[i].rstrip("\r\n")
            i += 1
            continued = line.endswith("\\") and not _COMMENT.match(line)
            if not continued:
                parts.append(line)
                break
            parts.append(line[:-1])
            if i >= len(physical):
                break
        joined = "".join(parts)
        logical.append(_parse_line(start, i, "".join(physical[start:i]), joined, env))
    return RequirementsFile(path=path, lines=physical, logical=tuple(logical))


def read(path: Path, environ: Mapping[str, str] | None = None) -> RequirementsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from exc
    return parse_text(text, path, environ)


def _parse_line(start: int, end: int, raw: str, joined: str, env: Mapping[str, str]) -> LogicalLine:
    match = _COMMENT.search(joined)
    comment = joined[match.start() :].strip() if match else ""
    content = _COMMENT.sub("", joined).strip()
    content = _ENV_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), content)
    base = LogicalLine(start=start, end=end, raw=raw, content=content, comment=comment)
    if not content:
        return base
    if content.startswith("-"):
        return _with_options(base, content, "")
    # The requirement runs up to the first token that starts with "-" (pip's break_args_options).
    tokens = content.split(" ")
    req_tokens: list[str] = []
    rest = ""
    for n, token in enumerate(tokens):
        if token.startswith("-"):
            rest = " ".join(tokens[n:])
            break
        req_tokens.append(token)
    req_text = " ".join(req_tokens).strip()
    line = _with_options(base, rest, req_text)
    try:
        requirement = Requirement(req_text)
    except InvalidRequirement as exc:
        # A local path or bare URL (pip accepts those): not a named requirement we can pin.
        return replace(line, error=str(exc))
    return replace(line, requirement=requirement)


def _with_options(base: LogicalLine, text: str, req_text: str) -> LogicalLine:
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    options: list[Option] = []
    n = 0
    while n < len(tokens):
        token = tokens[n]
        n += 1
        name, eq, value = token.partition("=")
        if name in _VALUE_OPTIONS and name.startswith("--"):
            if not eq:
                value = tokens[n] if n < len(tokens) else ""
                n += 1
            options.append(Option(_VALUE_OPTIONS[name], value))
        elif token[:2] in _VALUE_OPTIONS and not token.startswith("--"):
            short = token[:2]
            value = token[2:] or (tokens[n] if n < len(tokens) else "")
            if not token[2:]:
                n += 1
            options.append(Option(_VALUE_OPTIONS[short], value))
        else:
            options.append(Option(name, value if eq else None))
    return replace(base, requirement_text=req_text, options=tuple(options))


def dependency_requirements(array: Any) -> Iterator[tuple[int, str, Requirement]]:
    """(position, text, parsed) for each PEP 508 string in a TOML dependency array; anything
    else (not a list, not a string, not a valid requirement) is skipped, as installers report it."""
    if not isinstance(array, list):
        return
    for n, item in enumerate(array):
        if not isinstance(item, str):
            continue
        try:
            yield n, item, Requirement(item)
        except InvalidRequirement:
            continue


def resolve_reference(value: str, including: Path) -> Path | None:
    """The file a nested `-r`/`-c` names: relative to the including file, as pip resolves it.
    None for URLs (not followed)."""
    if "://" in value and not value.startswith("file:"):
        return None
    if value.startswith("file:"):
        return Path(unquote(urlsplit(value).path))
    path = Path(value).expanduser()
    return path if path.is_absolute() else including.parent / path
