"""What `pyhotfix pin` reports: each edit it makes, and the new text of the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["PinChange", "PinResult"]


@dataclass(frozen=True)
class PinChange:
    name: str
    where: str  # "requirements.txt:3" or "pyproject.toml [project] dependencies"
    before: str
    after: str


@dataclass(frozen=True)
class PinResult:
    path: Path
    text: str  # the new content
    changed: bool
    changes: tuple[PinChange, ...]
    notes: tuple[str, ...]  # things the user should know (not errors)
    # Why a deployment would still not get the hotfix although the file is right (a lock file
    # that resolves a hotfixed package elsewhere): `pin --check` fails on them.
    problems: tuple[str, ...] = ()
