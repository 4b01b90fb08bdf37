"""Metadata hotfixes: `[hotfix.NAME.requires-dist]` edits of a distribution's Requires-Dist.

`metadata` edits requirement lists and core metadata text (a wheel's METADATA, PKG-INFO); `sdist`
edits an unpacked sdist through its build backend's own declaration, so the built wheel says the
same as `edit_metadata` would make of the upstream wheel.
"""

from __future__ import annotations

from pyhotfix.requiresdist.metadata import (
    EditedList,
    edit_metadata,
    edit_requirement_list,
    requirement_name,
)
from pyhotfix.requiresdist.sdist import edit_sdist_requirements

__all__ = [
    "EditedList",
    "edit_metadata",
    "edit_requirement_list",
    "edit_sdist_requirements",
    "requirement_name",
]
