"""Reading a manifest safely: finding it, a bounded regular file in UTF-8, TOML syntax errors with
line and column, nesting too deep for the parser."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import ManifestError, UsageError
from pyhotfix.manifest.values import MANIFEST_NAME

__all__ = [
    "MAX_MANIFEST_BYTES",
    "decode_manifest",
    "deep_nesting_line",
    "find_manifest",
    "parse_toml",
    "read_manifest_text",
]

MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


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


def read_manifest_text(path: Path) -> str:
    """The manifest's text: a regular file of at most MAX_MANIFEST_BYTES, in UTF-8.

    Read with `read_regular_file`: a FIFO or device named as the manifest cannot hang us, and
    what is checked (fstat on the open file) is what is read.
    """
    data = read_regular_file(path, MAX_MANIFEST_BYTES, lambda problem: _read_error(path, problem))
    return decode_manifest(data, path)


def _read_error(path: Path, problem: ReadProblem) -> ManifestError:
    mib = MAX_MANIFEST_BYTES // (1024 * 1024)
    if problem.kind == "cannot-open":
        strerror = problem.error.strerror if problem.error else None
        return ManifestError(
            f"Cannot read the manifest {path}: {strerror}. Check the path (-m/--manifest)."
        )
    if problem.kind == "not-regular":
        return ManifestError(
            f"The manifest {path} is not a regular file. Give the path of a hotfixes.toml."
        )
    if problem.kind == "too-large" and problem.grew:
        return ManifestError(
            f"The manifest {path} is over {mib} MiB; check that it is the right file."
        )
    if problem.kind == "too-large":
        return ManifestError(
            f"The manifest {path} is {problem.size} bytes; manifests are limited to "
            f"{mib} MiB. Check that it is the right file."
        )
    strerror = problem.error.strerror if problem.error else None
    return ManifestError(f"Cannot read the manifest {path}: {strerror}.")


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


def parse_toml(text: str, path: Path) -> dict[str, Any]:
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
        line = deep_nesting_line(text)
        place = f"{path}" + (f", line {line}" if line else "")
        raise ManifestError(
            f"{place}: arrays or inline tables are nested too deeply. A manifest needs at most a "
            "few levels; check that it is the right file."
        ) from None


def deep_nesting_line(text: str, limit: int = 100) -> int | None:
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
