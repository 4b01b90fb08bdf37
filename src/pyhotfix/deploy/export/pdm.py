"""The PDM format: a hotfix source that alone serves the hotfixed packages, and exact overrides,
for pyproject.toml (what `pyhotfix pin --pyproject` writes into a PDM project)."""

from __future__ import annotations

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import toml_block
from pyhotfix.deploy.export.values import INDEX_NAME, ExportedFile, ExportOptions

__all__ = ["pdm"]


def pdm(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    source = tomlkit.table()
    source.add("name", INDEX_NAME)
    source.add("url", deployment.index_url)
    included = tomlkit.array()
    included.extend(sorted(b.name for b in deployment.hotfixes))
    source.add("include_packages", included)
    sources = tomlkit.aot()
    sources.append(source)
    overrides = tomlkit.table()
    for build in deployment.hotfixes:
        overrides.add(build.name, f"=={build.hotfix_version}")
    resolution = tomlkit.table(is_super_table=True)
    resolution.add("overrides", overrides)
    pdm = tomlkit.table(is_super_table=True)
    pdm.add("source", sources)
    pdm.add("resolution", resolution)
    tool = tomlkit.table(is_super_table=True)
    tool.add("pdm", pdm)
    doc.add("tool", tool)
    why = [
        "For pyproject.toml (PDM: `pdm lock`, then `pdm sync` or `pdm install`). PDM looks for a",
        "package that a source's include_packages names in those sources only, so the hotfixed",
        "packages come from the hotfix index alone, whatever other sources you have (none of them",
        "may include these packages too); the overrides pin the exact hotfix version for direct",
        "and transitive requirements alike. Merge it into your [tool.pdm] tables, or let",
        "`pyhotfix pin --pyproject pyproject.toml` do it; then `pdm lock` and commit pdm.lock.",
    ]
    return (ExportedFile("pyproject.toml", toml_block("pdm", why, doc)),)
