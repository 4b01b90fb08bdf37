"""Where a table or key is in the manifest's text, so errors can name its line (tomllib keeps no
positions). Linear in the manifest's length."""

from __future__ import annotations

import re
from pathlib import Path

from pyhotfix.errors import ManifestError

__all__ = ["Locator"]

_TABLE_HEADER = re.compile(r"\s*\[([^\[\]]*)\]")


def _section_key(written: str) -> str:
    """`[ hotfix . "zope.interface" ]` and `hotfix.zope.interface` alike: no spaces around the
    dots, no quotes."""
    return re.sub(r"\s*\.\s*", ".", written.strip()).replace('"', "").replace("'", "")


class Locator:
    """Finds the line a table or key is on, so errors can point at it (tomllib keeps no positions)."""

    def __init__(self, text: str, path: Path) -> None:
        # TOML lines end at \n only (splitlines would also split at \x0c, \u2028, ...).
        self.lines = text.split("\n")
        self.path = path
        self._tables: dict[str, int] | None = None

    def _table_line(self, section: str) -> int | None:
        # Every table header indexed once: a lookup per hotfix made validating a manifest of
        # many hotfixes quadratic (0.3 s for 200).
        if self._tables is None:
            self._tables = {}
            for number, line in enumerate(self.lines, start=1):
                header = _TABLE_HEADER.match(line)
                if header:
                    self._tables.setdefault(_section_key(header.group(1)), number)
        return self._tables.get(_section_key(section))

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
