"""The uv project format: an explicit index and [tool.uv.sources] for pyproject.toml."""

from __future__ import annotations

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import (
    hotfix_list,
    toml_block,
)
from pyhotfix.deploy.export.values import INDEX_NAME, ExportedFile, ExportOptions

__all__ = ["uv"]


def uv(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    index = tomlkit.table()
    index.add("name", INDEX_NAME)
    index.add("url", deployment.index_url)
    index.add("explicit", True)
    indexes = tomlkit.aot()
    indexes.append(index)
    sources = tomlkit.table()
    for build in deployment.hotfixes:
        source = tomlkit.inline_table()
        source.add("index", INDEX_NAME)
        sources.add(build.name, source)
    uv = tomlkit.table(is_super_table=True)
    uv.add("index", indexes)
    uv.add("sources", sources)
    tool = tomlkit.table(is_super_table=True)
    tool.add("uv", uv)
    doc.add("tool", tool)
    why = [
        "For pyproject.toml (uv). uv takes a package from the first index that has it; an",
        "explicit index is used only by the packages [tool.uv.sources] ties to it, so the hotfixed",
        "packages come from the hotfix index alone and nothing else does. Merge it into existing",
        "[tool.uv] tables, or let `pyhotfix pin --pyproject pyproject.toml` do it (and pin the exact",
        f"versions: {hotfix_list(deployment)}).",
    ]
    return (ExportedFile("pyproject.toml", toml_block("uv", why, doc)),)
