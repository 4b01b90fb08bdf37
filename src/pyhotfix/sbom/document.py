"""The CycloneDX 1.6 JSON document of one hotfix build, written by hand as plain JSON so its bytes
depend only on the inputs (tests validate it with cyclonedx-python-lib's schema validator).

Deterministic by construction: the serial number is a UUID derived (uuid5) from the inputs key
and the hotfix version, the timestamp is SOURCE_DATE_EPOCH, keys and lists have a fixed order, and
pyhotfix's own version is not written (a newer pyhotfix must rebuild a locked hotfix to the same
bytes).
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pyhotfix.advisories import advisory_kind, advisory_url
from pyhotfix.patching.dep3 import Dep3Headers, read_headers

if TYPE_CHECKING:
    from pyhotfix.manifest import HotfixSpec
    from pyhotfix.patching import PatchInput

__all__ = [
    "MAX_DIFF_TEXT_BYTES",
    "SBOM_NAME",
    "SbomInputs",
    "SbomPatch",
    "hotfix_purl",
    "render_sbom",
    "sbom_inputs",
]

SBOM_NAME = "pyhotfix.cdx.json"  # in NAME-VERSION.dist-info/sboms/ (PEP 770)

# A patch's diff goes into the SBOM up to this size; a bigger one (patches may be 20 MiB) would
# bloat every installed copy of the wheel: it is named by its sha256 (and URL, when known) instead.
MAX_DIFF_TEXT_BYTES = 1 << 20

# uuid5 namespace of pyhotfix SBOM serial numbers (itself uuid5 of the URL namespace)
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/pyhotfix/#sbom")
_SOURCES = {"CVE": "NVD", "GHSA": "GitHub Advisory Database", "PYSEC": "OSV (PyPI advisories)"}


@dataclass(frozen=True)
class SbomPatch:
    label: str  # as the manifest lists it
    content: bytes
    sha256: str
    headers: Dep3Headers
    url: str | None = None  # where it was downloaded from (a URL patch), without credentials


@dataclass(frozen=True)
class SbomInputs:
    name: str  # canonical project name
    version: str  # the upstream release
    hotfix_version: str  # X+label.N
    inputs_key: str  # pipeline.inputs_key: the serial number derives from it
    upstream_url: str  # the upstream sdist, without credentials
    upstream_sha256: str
    patches: tuple[SbomPatch, ...]
    fixes: tuple[str, ...]  # advisory IDs
    source_date_epoch: int


def sbom_inputs(
    spec: HotfixSpec,
    hotfix_version: str,
    inputs_key: str,
    upstream_url: str,
    upstream_sha256: str,
    patches: Sequence[PatchInput],
    source_date_epoch: int,
) -> SbomInputs:
    """What the SBOM of `spec`'s build says, from the values the pipeline has at hand."""
    from pyhotfix.httpclient import redact
    from pyhotfix.manifest import UrlPatch

    listed = [
        SbomPatch(
            label=patch.label,
            content=patch.content,
            sha256=patch.sha256,
            headers=read_headers(patch.content),
            url=redact(source.url) if isinstance(source, UrlPatch) else None,
        )
        for source, patch in zip(spec.patches, patches, strict=True)
    ]
    return SbomInputs(
        name=spec.name,
        version=spec.version,
        hotfix_version=hotfix_version,
        inputs_key=inputs_key,
        upstream_url=redact(upstream_url),
        upstream_sha256=upstream_sha256,
        patches=tuple(listed),
        fixes=spec.fixes,
        source_date_epoch=source_date_epoch,
    )


def hotfix_purl(name: str, version: str) -> str:
    """pkg:pypi/NAME@VERSION, the version percent-encoded as the purl spec asks (`+` → %2B)."""
    return f"pkg:pypi/{quote(name, safe='')}@{quote(version, safe='')}"


def render_sbom(inputs: SbomInputs) -> bytes:
    """The CycloneDX 1.6 JSON document (UTF-8, ends with a newline)."""
    serial = uuid.uuid5(_SERIAL_NAMESPACE, f"{inputs.inputs_key}/{inputs.hotfix_version}")
    upstream_ref = hotfix_purl(inputs.name, inputs.version)
    hotfix_ref = hotfix_purl(inputs.name, inputs.hotfix_version)
    sha256 = [{"alg": "SHA-256", "content": inputs.upstream_sha256}]
    ancestor: dict[str, Any] = {
        "type": "library",
        "bom-ref": upstream_ref,
        "name": inputs.name,
        "version": inputs.version,
        "hashes": sha256,
        "purl": upstream_ref,
    }
    if inputs.upstream_url.startswith(("http://", "https://")):  # not a path on the builder
        ancestor["externalReferences"] = [
            {"url": inputs.upstream_url, "type": "distribution", "hashes": sha256}
        ]
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": hotfix_ref,
        "name": inputs.name,
        "version": inputs.hotfix_version,
        "description": f"{inputs.name} {inputs.version} with {len(inputs.patches)} patch(es)",
        "purl": hotfix_ref,
        "pedigree": {
            "ancestors": [ancestor],
            "patches": [_patch(p, inputs.fixes) for p in inputs.patches],
        },
    }
    if inputs.patches:  # each patch's identity, also when its diff is too big to be included
        component["properties"] = [
            {"name": "pyhotfix:patch", "value": f"{p.label} sha256:{p.sha256}"}
            for p in inputs.patches
        ]
    when = datetime.datetime.fromtimestamp(inputs.source_date_epoch, datetime.UTC)
    document = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "pyhotfix"}]},
            "component": component,
        },
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _patch(patch: SbomPatch, fixes: Sequence[str]) -> dict[str, Any]:
    """A pedigree patch: "backport" when upstream has the change (DEP-3 `Origin: upstream|backport`
    or `Applied-Upstream`), else "unofficial"; the diff as text (base64 when it is not UTF-8) up
    to MAX_DIFF_TEXT_BYTES; and the hotfix's advisories (and the patch's Bug) it resolves."""
    headers = patch.headers
    diff: dict[str, Any] = {}
    if len(patch.content) <= MAX_DIFF_TEXT_BYTES:
        try:
            diff["text"] = {"contentType": "text/x-diff", "content": patch.content.decode("utf-8")}
        except UnicodeDecodeError:
            encoded = base64.b64encode(patch.content).decode("ascii")
            diff["text"] = {"contentType": "text/x-diff", "encoding": "base64", "content": encoded}
    url = patch.url or _web_url(headers.origin_url) or _web_url(headers.forwarded)
    if url is not None:
        diff["url"] = url
    resolves: list[dict[str, Any]] = []
    for advisory in fixes:
        kind = advisory_kind(advisory)
        issue: dict[str, Any] = {"type": "security", "id": advisory}
        if kind is not None:
            issue["source"] = {"name": _SOURCES[kind], "url": advisory_url(advisory)}
        resolves.append(issue)
    bug = _web_url(headers.bug)
    if bug is not None:
        resolves.append({"type": "defect", "references": [bug]})
    result: dict[str, Any] = {"type": "backport" if headers.is_backport else "unofficial"}
    if diff:
        result["diff"] = diff
    if resolves:
        result["resolves"] = resolves
    return result


def _web_url(value: str | None) -> str | None:
    """`value` when it is one http(s) URL (DEP-3 fields may hold "no", a version, prose...)."""
    if (
        value is None
        or not value.startswith(("http://", "https://"))
        or any(c.isspace() for c in value)
    ):
        return None
    return value
