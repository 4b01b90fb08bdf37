"""Security advisories a hotfix fixes (`fixes = ["CVE-…", "GHSA-…", "PYSEC-…"]`): their IDs' shape.

The IDs are written into the SBOM inside each wheel (`resolves`), the VEX document and pip-audit's
ignore list (`deploy/export/vex`, `deploy/export/pipaudit`); a malformed ID would make a scanner
silently ignore nothing, or the wrong thing, so only the three shapes scanners report are taken.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "MAX_FIXES",
    "AdvisoryKind",
    "advisory_kind",
    "advisory_problem",
    "advisory_url",
]

AdvisoryKind = Literal["CVE", "GHSA", "PYSEC"]

MAX_FIXES = 100  # per hotfix; more is a pasted list, not a fix

_SHAPES: dict[AdvisoryKind, re.Pattern[str]] = {
    "CVE": re.compile(r"CVE-[0-9]{4}-[0-9]{4,19}"),
    # GitHub's alphabet for advisory IDs: digits and letters that cannot be confused
    "GHSA": re.compile(r"GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}"),
    "PYSEC": re.compile(r"PYSEC-[0-9]{4}-[0-9]{1,19}"),
}


def advisory_kind(advisory: str) -> AdvisoryKind | None:
    """Which database `advisory` is an ID of, or None when it has none of the known shapes."""
    for kind, shape in _SHAPES.items():
        if shape.fullmatch(advisory):
            return kind
    return None


def advisory_problem(advisory: str) -> str | None:
    """What is wrong with `advisory` as an ID (a phrase for an error message), or None."""
    if advisory_kind(advisory) is not None:
        return None
    upper = advisory.strip().upper()
    if upper.startswith("GHSA-"):
        canonical = "GHSA-" + upper[5:].lower()
        if advisory_kind(canonical) is not None:
            return f"is {advisory!r}; write it as {canonical!r}"
    elif advisory_kind(upper) is not None:
        return f"is {advisory!r}; write it as {upper!r}"
    shown = advisory if len(advisory) <= 80 else advisory[:77] + "..."
    return (
        f"is {shown!r}, not an advisory ID; give a CVE (CVE-2024-37891), GitHub (GHSA-xxxx-xxxx-xxxx) "
        "or PyPI/OSV (PYSEC-2024-12) ID"
    )


def advisory_url(advisory: str) -> str | None:
    """The public page of `advisory` (for the SBOM's and VEX's `source`), None for an unknown shape."""
    kind = advisory_kind(advisory)
    if kind == "CVE":
        return f"https://nvd.nist.gov/vuln/detail/{advisory}"
    if kind == "GHSA":
        return f"https://github.com/advisories/{advisory}"
    if kind == "PYSEC":
        return f"https://osv.dev/vulnerability/{advisory}"
    return None
