"""The `vex` format: a CycloneDX 1.6 VEX document saying that each hotfix build is not exploitable
through the advisories its `fixes` lists, so scanners stop flagging a release the team patched.

analysis.state is "resolved", not "not_affected": the hotfix's upstream release *is* affected and
the hotfix build remediates it (CycloneDX: "resolved — the vulnerability has been remediated").
"not_affected" claims the code was never exploitable and needs a justification (code not present,
not reachable, …) that a patch does not give. `affects` names the build by its bom-ref, the same
`pkg:pypi/NAME@X%2Bhotfix.N` as the SBOM inside its wheel, with that version "unaffected".

The advisories come from the manifest, checked against the lock: a hotfix whose manifest entry
changed since it was built (another `fixes`, other patches) is refused, since the build that
deployments install would not be the one the statement is about.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pyhotfix.advisories import advisory_kind, advisory_url
from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.export.values import ExportedFile, ExportOptions
from pyhotfix.errors import DeployError, UsageError

__all__ = ["VEX_NAME", "FixedAdvisories", "fixed_advisories", "vex"]

VEX_NAME = "hotfixes.vex.cdx.json"

_SOURCES = {"CVE": "NVD", "GHSA": "GitHub Advisory Database", "PYSEC": "OSV (PyPI advisories)"}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/pyhotfix/#vex")


@dataclass(frozen=True)
class FixedAdvisories:
    build: HotfixBuild
    advisories: tuple[str, ...]


def fixed_advisories(deployment: Deployment) -> list[FixedAdvisories]:
    """Each built hotfix with the advisories its (unchanged since built) manifest entry fixes.

    UsageError when no hotfix lists any; DeployError when one that does is not built as it stands.
    """
    from pyhotfix.lock import lock_path, read_lock
    from pyhotfix.manifest import load_manifest
    from pyhotfix.pipeline import inputs_key

    manifest = load_manifest(deployment.manifest_path)
    lock = read_lock(lock_path(manifest.path))
    found: list[FixedAdvisories] = []
    stale: list[str] = []
    for build in deployment.hotfixes:
        spec = manifest.get(build.name)
        locked = lock.get(build.name)
        if not spec.fixes or locked is None:
            continue
        if locked.inputs != inputs_key(spec, locked.label, manifest.directory):
            stale.append(build.name)
            continue
        found.append(FixedAdvisories(build, spec.fixes))
    if stale:
        raise DeployError(
            f"{', '.join(stale)}: the manifest entry changed since the hotfix was built "
            "(its fixes or patches), so the build in the index is not the one the manifest "
            "describes. Run `pyhotfix build`, then export again."
        )
    if not found:
        raise UsageError(
            f"No hotfix in {manifest.path} lists the advisories it fixes, so there is nothing to "
            'state. Add fixes = ["CVE-…"] to a [hotfix.NAME] (or `pyhotfix add NAME==X --patch '
            "P --fixes CVE-…`), build, then export again."
        )
    return found


def vex(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    from pyhotfix.sbom import hotfix_purl

    fixed = fixed_advisories(deployment)
    components: list[dict[str, Any]] = []
    by_advisory: dict[str, list[HotfixBuild]] = {}
    for item in fixed:
        build = item.build
        purl = hotfix_purl(build.name, build.hotfix_version)
        components.append(
            {
                "type": "library",
                "bom-ref": purl,
                "name": build.name,
                "version": build.hotfix_version,
                "purl": purl,
            }
        )
        for advisory in item.advisories:
            by_advisory.setdefault(advisory, []).append(build)
    vulnerabilities = [_vulnerability(advisory, builds) for advisory, builds in by_advisory.items()]
    body: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"tools": {"components": [{"type": "application", "name": "pyhotfix"}]}},
        "components": components,
        "vulnerabilities": vulnerabilities,
    }
    # Same statements, same serial number (and bytes): the file can be committed and diffed.
    serial = uuid.uuid5(_NAMESPACE, json.dumps(body, sort_keys=True))
    document = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial.urn,
        **{k: v for k, v in body.items() if k not in ("bomFormat", "specVersion")},
    }
    return (ExportedFile(VEX_NAME, json.dumps(document, indent=2) + "\n"),)


def _vulnerability(advisory: str, builds: list[HotfixBuild]) -> dict[str, Any]:
    from pyhotfix.sbom import hotfix_purl

    entry: dict[str, Any] = {"id": advisory}
    kind = advisory_kind(advisory)
    if kind is not None:
        entry["source"] = {"name": _SOURCES[kind], "url": advisory_url(advisory)}
    fixed_in = ", ".join(f"{b.name} {b.hotfix_version} (upstream {b.version})" for b in builds)
    entry["analysis"] = {
        "state": "resolved",
        "response": ["update"],
        "detail": f"Remediated by the patches of the hotfix build(s) {fixed_in}; install that "
        "build (pyhotfix export/pin) to be unaffected.",
    }
    entry["affects"] = [
        {
            "ref": hotfix_purl(b.name, b.hotfix_version),
            "versions": [{"version": b.hotfix_version, "status": "unaffected"}],
        }
        for b in builds
    ]
    return entry
