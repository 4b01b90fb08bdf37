"""Project names in a manifest: whether one is usable, and how to show one in a message."""

from __future__ import annotations

import re

__all__ = ["MAX_NAME_LENGTH", "project_name_problem", "shown_name"]

# A project name as the packaging spec defines it (PEP 508 / core metadata "Name").
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# Longer names than any real project; the name goes into paths and filenames (255-byte limit).
MAX_NAME_LENGTH = 200


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
