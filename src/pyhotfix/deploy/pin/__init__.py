"""`pyhotfix pin`: rewrite an application's requirements so every hotfixed package is pinned to its
exact hotfix build, keeping everything else (comments, order, options, formatting) byte for byte.

Pinning is a pure function from the file's text to its new text: running it on its own output
changes nothing, and `--check` is "would the text change".

Modules: `values` (what pin reports), `judge` (can a written requirement take the hotfix build),
`requirements` (requirements files), `pyproject` (pyproject.toml: which tool, then `uvproject`,
`poetry` or `pdm` on a `tomledit` document; `lockfiles` reads the tool's lock for `--check`).
"""

from __future__ import annotations

from pathlib import Path

import tomlkit

from pyhotfix._atomic import write_atomic
from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.pin.pyproject import pin_pyproject
from pyhotfix.deploy.pin.requirements import (
    INDEX_COMMENT,
    INDEX_MARK,
    hashes_would_hold,
    pin_requirements,
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
    "pin_file",
    "pin_pyproject",
    "pin_requirements",
    "write_result",
]


def pin_file(path: Path, deployment: Deployment, hashes: bool | None = None) -> PinResult:
    """Pin `path` (a requirements file, or a pyproject.toml by its name). Writes nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from exc
    if path.name == "pyproject.toml" or path.suffix == ".toml":
        return pin_pyproject(text, path, deployment)
    return pin_requirements(text, path, deployment, hashes)


def existing_index_url(path: Path) -> str | None:
    """The hotfix index URL an earlier `pin` wrote into `path`, if any: pinning again without
    --index-url keeps it rather than switching to this machine's file:// URL."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
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
