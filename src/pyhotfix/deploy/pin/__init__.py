"""`pyhotfix pin`: rewrite an application's requirements so every hotfixed package is pinned to its
exact hotfix build, keeping everything else (comments, order, options, formatting) byte for byte.

Pinning is a pure function from the file's text to its new text: running it on its own output
changes nothing, and `--check` is "would the text change".

Modules: `values` (what pin reports), `judge` (can a written requirement take the hotfix build),
`requirements` (requirements files), `pyproject` (pyproject.toml: which tool, then `uvproject`,
`poetry` or `pdm` on a `tomledit` document; `lockfiles` reads the tool's lock for `--check`),
`pipfile` (Pipfile, with Pipfile.lock for the packages dependencies pull in).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import tomlkit

from pyhotfix._atomic import write_atomic
from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.pipfile import pin_pipfile, pipfile_index_url, read_lock_file
from pyhotfix.deploy.pin.pyproject import pin_pyproject
from pyhotfix.deploy.pin.requirements import (
    INDEX_COMMENT,
    INDEX_MARK,
    hashes_would_hold,
    pin_requirements,
    requirements_gaps,
)
from pyhotfix.deploy.pin.values import PinChange, PinResult
from pyhotfix.deploy.reqfile import parse_text
from pyhotfix.errors import UsageError

__all__ = [
    "INDEX_COMMENT",
    "INDEX_MARK",
    "PinChange",
    "PinResult",
    "existing_index_url",
    "hashes_would_hold",
    "is_pipfile",
    "pin_file",
    "pin_pipfile",
    "pin_pyproject",
    "pin_requirements",
    "write_result",
]


def is_pipfile(path: Path) -> bool:
    return path.name.startswith("Pipfile") and path.suffix != ".lock"


def pin_file(
    path: Path, deployment: Deployment, hashes: bool | None = None, pipfile: bool = False
) -> PinResult:
    """Pin `path` (a requirements file, a pyproject.toml by its name, a Pipfile by its name or
    `pipfile`). Writes nothing. `unsafe` in the result says what `--check` fails on besides edits."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8"
        raise UsageError(f"Cannot read {path}: {reason}.") from exc
    if pipfile or is_pipfile(path):
        return pin_pipfile(text, path, deployment, read_lock_file(path))
    if path.name == "pyproject.toml" or path.suffix == ".toml":
        return pin_pyproject(text, path, deployment)
    result = pin_requirements(text, path, deployment, hashes)
    # What the pins cannot show: a hotfix pinned nowhere that a dependency pulls in (the file
    # after pinning is what --check judges, so the gaps are looked for only when it is pinned).
    if result.changed:
        return result
    return replace(result, unsafe=requirements_gaps(path, deployment))


def existing_index_url(path: Path) -> str | None:
    """The hotfix index URL an earlier `pin` wrote into `path`, if any: pinning again without
    --index-url keeps it rather than switching to this machine's file:// URL."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # pin itself reports the file
        return None
    if is_pipfile(path):
        try:
            lock = read_lock_file(path)
        except UsageError:
            lock = None  # pin itself reports a broken Pipfile.lock
        return pipfile_index_url(text, lock)
    if path.suffix == ".toml":
        try:
            data = tomlkit.parse(text).unwrap()
        except Exception:  # tomlkit's ParseError family; pin itself reports bad TOML
            return None
        tool = data.get("tool")
        entries: list[object] = []
        for name, key in (("uv", "index"), ("poetry", "source"), ("pdm", "source")):
            table = tool.get(name) if isinstance(tool, dict) else None
            found = table.get(key) if isinstance(table, dict) else None
            entries += found if isinstance(found, list) else []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == INDEX_NAME and entry.get("url"):
                return str(entry["url"])
        return None
    parsed = parse_text(text, path)
    for above, line in zip(parsed.logical, parsed.logical[1:], strict=False):
        values = line.option_values("--extra-index-url")
        if above.comment.startswith(INDEX_MARK) and values:
            return values[0]
    return None


def write_result(result: PinResult) -> None:
    write_atomic(result.path, result.text.encode("utf-8"))
