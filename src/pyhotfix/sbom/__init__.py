"""The SBOM inside every hotfix wheel (PEP 770): a CycloneDX 1.6 JSON document at
`NAME-VERSION.dist-info/sboms/pyhotfix.cdx.json` saying what the wheel is (pkg:pypi/NAME@X+hotfix.N)
and its pedigree: the upstream sdist it was built from (with its sha256 and URL) and every patch
(with its diff, origin and the advisories it resolves).

`document` builds the JSON (deterministic: no random serial number, no wall-clock time), `wheel`
puts it into a built wheel (`add_sbom`) and keeps the wheel byte-reproducible.
"""

from __future__ import annotations

from pyhotfix.sbom.document import (
    MAX_DIFF_TEXT_BYTES,
    SBOM_NAME,
    SbomInputs,
    SbomPatch,
    hotfix_purl,
    render_sbom,
    sbom_inputs,
)
from pyhotfix.sbom.wheel import add_sbom

__all__ = [
    "MAX_DIFF_TEXT_BYTES",
    "SBOM_NAME",
    "SbomInputs",
    "SbomPatch",
    "add_sbom",
    "hotfix_purl",
    "render_sbom",
    "sbom_inputs",
]
