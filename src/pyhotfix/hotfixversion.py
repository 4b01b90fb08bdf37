"""The hotfix version `X+<label>.<N>`: built and parsed here and nowhere else.

X is the upstream release (a PEP 440 public version), label the manifest's `label` (lowercase
letters and digits, starting with a letter) and N the hotfix number, counted from 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from packaging.version import InvalidVersion, Version

__all__ = ["LABEL_PATTERN", "HotfixVersion"]

# The same rule the manifest enforces on `label`; packaging lowercases local segments anyway.
LABEL_PATTERN = re.compile(r"^[a-z][a-z0-9]*$")

# Versions longer than this are not ours and not worth a regex pass (hostile filenames).
_MAX_LENGTH = 256


@dataclass(frozen=True)
class HotfixVersion:
    """`base+label.number`; str() gives the version string written into built files."""

    base: str
    label: str
    number: int

    @classmethod
    def parse(cls, text: str) -> HotfixVersion | None:
        """The hotfix version `text` spells, or None if it is not `X+label.N` (never raises).

        The base comes back normalised (`1.0.POST1` gives `1.0.post1`)."""
        if len(text) > _MAX_LENGTH:
            return None
        try:
            version = Version(text)
        except InvalidVersion:
            return None
        return cls.of(version)

    @classmethod
    def of(cls, version: Version) -> HotfixVersion | None:
        """The hotfix version a parsed `version` is, or None if its local part is not `label.N`."""
        label, dot, number = (version.local or "").partition(".")
        if not dot or not LABEL_PATTERN.match(label) or not number.isdecimal():
            return None
        if not number.isascii() or int(number) < 1:
            return None
        return cls(base=version.public, label=label, number=int(number))

    def __str__(self) -> str:
        return f"{self.base}+{self.label}.{self.number}"

    def with_number(self, number: int) -> HotfixVersion:
        return replace(self, number=number)

    def next(self) -> HotfixVersion:
        """The following hotfix of the same release and label."""
        return self.with_number(self.number + 1)
