"""Where a built file's provenance lives in the index and how its pages point at it.

``<filename>.intoto.json`` beside every published file holds the unsigned in-toto Statement (SLSA
Provenance v1 predicate) of that file. PEP 740's ``<filename>.provenance`` / ``data-provenance`` /
JSON ``provenance`` are for Sigstore-signed attestation bundles only, so an unsigned statement is
never served under those names; pages link it with names of their own:

- HTML: ``data-intoto-statement="<percent-encoded filename>.intoto.json"`` on the file's anchor;
- JSON (PEP 691): ``"_intoto-statement": {"url": …, "sha256": …}`` in the file's entry (PEP 691
  reserves keys with a leading underscore for the index, and clients ignore unknown keys).

With `--sign` (signing.py), ``<filename>.provenance`` is a real PEP 740 provenance object
(Sigstore-signed attestation bundles), linked as PEP 740 says: ``data-provenance`` and the JSON
key ``provenance``, both the file's URL.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

__all__ = [
    "HTML_ATTRIBUTE",
    "JSON_KEY",
    "PROVENANCE_SUFFIX",
    "PROVENANCE_TYPE",
    "STATEMENT_SUFFIX",
    "STATEMENT_TYPE",
    "is_statement_name",
    "provenance_name",
    "provenance_url",
    "statement_name",
    "statement_url",
]

STATEMENT_SUFFIX: Final = ".intoto.json"
STATEMENT_TYPE: Final = "application/vnd.in-toto+json"  # the in-toto media type, for object stores
HTML_ATTRIBUTE: Final = "data-intoto-statement"
JSON_KEY: Final = "_intoto-statement"
PROVENANCE_SUFFIX: Final = ".provenance"  # PEP 740
PROVENANCE_TYPE: Final = "application/vnd.pypi.integrity.v1+json"  # PEP 740


def statement_name(filename: str) -> str:
    """The statement's filename for the dist `filename`."""
    return filename + STATEMENT_SUFFIX


def statement_url(filename: str) -> str:
    """The statement's URL relative to the project page (percent-encoded as the file's own)."""
    return quote(statement_name(filename), safe="")


def is_statement_name(name: str) -> bool:
    return name.endswith(STATEMENT_SUFFIX)


def provenance_name(filename: str) -> str:
    """The PEP 740 provenance file's name for the dist `filename`."""
    return filename + PROVENANCE_SUFFIX


def provenance_url(filename: str) -> str:
    return quote(provenance_name(filename), safe="")
