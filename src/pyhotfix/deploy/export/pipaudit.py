"""The `pip-audit` format: pip-audit arguments that ignore the advisories the hotfix builds fix.

pip-audit has no ignore file; it takes `--ignore-vuln ID` options, and an ID matches a finding by
its own ID or any alias (a CVE ignores the PYSEC/GHSA entry that names it). The file holds one
`--ignore-vuln=ID` per line and comments, for `pip-audit $(grep -v '^#' FILE)`. An ignored ID is
ignored for every package and version, upstream's included: so the file says which build fixes
each one, and `pyhotfix verify` checks that deployments install those builds.
"""

from __future__ import annotations

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import header, text
from pyhotfix.deploy.export.values import ExportedFile, ExportOptions
from pyhotfix.deploy.export.vex import fixed_advisories

__all__ = ["PIP_AUDIT_NAME", "pip_audit"]

PIP_AUDIT_NAME = "pip-audit-ignore.txt"


def pip_audit(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = header(
        "pip-audit",
        "Advisories the hotfix builds fix: pip-audit still reports them, as it matches the",
        "upstream release. Pass the options to pip-audit (they match IDs and aliases):",
        f"  pip-audit -r requirements.txt $(grep -v '^#' {PIP_AUDIT_NAME})",
        "pip-audit ignores an ID for every version: make sure deployments install the hotfix",
        "builds (`pyhotfix pin`, `pyhotfix verify`).",
    )
    seen: set[str] = set()
    for item in fixed_advisories(deployment):
        build = item.build
        lines.append(f"# fixed in {build.name} {build.hotfix_version} (upstream {build.version})")
        for advisory in item.advisories:
            if advisory not in seen:  # one option per ID, however many builds fix it
                seen.add(advisory)
                lines.append(f"--ignore-vuln={advisory}")
    return (ExportedFile(PIP_AUDIT_NAME, text(lines)),)
