"""Requires-Dist edits on requirement lists and on core metadata (a wheel's METADATA, an sdist's
PKG-INFO): pure text in, text out.

An edit names a dependency: every requirement on it is replaced by the edit's requirement (once,
at the place of the first one, or at the end when there was none), or removed. Lines that are not
requirements on an edited name, and every other header, stay byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from pyhotfix.manifest import RequiresDistEdit

__all__ = ["EditedList", "edit_metadata", "edit_requirement_list", "requirement_name"]

# The distribution name a PEP 508 string starts with. Matching on the name alone (not a full
# parse) also finds a requirement packaging would reject, so a hostile line cannot hide from an edit.
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_REQUIRES_DIST = re.compile(r"requires-dist[ \t]*:", re.IGNORECASE)


def requirement_name(text: str) -> str | None:
    """The canonical name a requirement string is about, or None when it names nothing."""
    found = _NAME.match(text)
    return canonicalize_name(found.group(1)) if found else None


@dataclass(frozen=True)
class EditedList:
    items: tuple[str, ...]
    found: frozenset[str]  # canonical names of edits that matched at least one item


def edit_requirement_list(
    items: Sequence[str], edits: Sequence[RequiresDistEdit], *, add: bool = True
) -> EditedList:
    """`items` with the edits applied. `add=False` (an extra's list) only removes: a replacement
    lives in the main list, which is the one that gets `add=True`."""
    by_name = {edit.name: edit for edit in edits}
    result: list[str] = []
    found: set[str] = set()
    for item in items:
        name = requirement_name(item)
        edit = by_name.get(name) if name is not None else None
        if edit is None:
            result.append(item)
            continue
        if add and edit.requirement is not None and edit.name not in found:
            result.append(edit.requirement)
        found.add(edit.name)
    if add:
        result.extend(
            e.requirement for e in edits if e.requirement is not None and e.name not in found
        )
    return EditedList(tuple(result), frozenset(found))


def edit_metadata(metadata_text: str, edits: Sequence[RequiresDistEdit]) -> str:
    """Core metadata (METADATA or PKG-INFO) with its Requires-Dist headers edited.

    Replacements take the place of the first header they replace; additions go after the last
    Requires-Dist (or at the end of the headers when there is none). Line endings, header order
    and the description body are kept.
    """
    if not edits:
        return metadata_text
    head, separator, body = _split_headers(metadata_text)
    newline = "\r\n" if "\r\n" in head else "\n"
    by_name = {edit.name: edit for edit in edits}
    out: list[str] = []
    emitted: set[str] = set()
    after_requires = -1  # where additions go: after the last Requires-Dist kept or written
    for field in _header_fields(head):
        if not _REQUIRES_DIST.match(field):
            out.append(field)
            continue
        name = requirement_name(_field_value(field))
        edit = by_name.get(name) if name is not None else None
        if edit is None:
            out.append(field)
        elif edit.requirement is not None and edit.name not in emitted:
            emitted.add(edit.name)
            out.append(f"Requires-Dist: {edit.requirement}{newline}")
        else:
            continue  # removed, or a further header on a replaced name
        after_requires = len(out)
    added = [
        f"Requires-Dist: {e.requirement}{newline}"
        for e in edits
        if e.requirement is not None and e.name not in emitted
    ]
    if added:
        position = after_requires if after_requires >= 0 else len(out)
        if position == len(out) and out and not out[-1].endswith("\n"):
            out[-1] += newline  # headers without a final line break
        out[position:position] = added
    return "".join(out) + separator + body


def _split_headers(text: str) -> tuple[str, str, str]:
    """(headers, the blank line after them, body): the headers end at the first empty line."""
    found = re.search(r"\r?\n(\r?\n)", text)
    if found is None:
        return text, "", ""
    return text[: found.start(1)], text[found.start(1) : found.end(1)], text[found.end(1) :]


def _header_fields(head: str) -> list[str]:
    """The header lines, each with its continuation lines and line break (RFC 822 folding)."""
    fields: list[str] = []
    # Split at line breaks only: str.splitlines would also split inside a value at \x0c or \u2028.
    for line in re.findall(r"[^\n]*\n|[^\n]+$", head):
        if fields and line[:1] in (" ", "\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _field_value(field: str) -> str:
    value = field.split(":", 1)[1]
    return " ".join(part.strip() for part in value.split("\n")).strip()
