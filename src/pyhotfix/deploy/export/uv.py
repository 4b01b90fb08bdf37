"""The uv project format: an explicit index, [tool.uv.sources] and exact override-dependencies for
pyproject.toml (what `pyhotfix pin --pyproject` writes into a uv project)."""

from __future__ import annotations

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import toml_block
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
    overrides = tomlkit.array()
    overrides.extend(f"{b.name}=={b.hotfix_version}" for b in deployment.hotfixes)
    uv = tomlkit.table(is_super_table=True)
    uv.add("override-dependencies", overrides)
    uv.add("index", indexes)
    uv.add("sources", sources)
    tool = tomlkit.table(is_super_table=True)
    tool.add("uv", uv)
    doc.add("tool", tool)
    why = [
        "For pyproject.toml (uv projects: `uv lock`, then `uv sync --locked`). uv applies a",
        "source only to the project's own requirements and its overrides, never to a package a",
        "dependency pulls in: the exact override pins each hotfix wherever it is required, the",
        "source takes it from the explicit hotfix index alone (which serves nothing else), and the",
        "local version keeps same-version or higher builds on other indexes out. Merge it into",
        "your [tool.uv] tables, or let `pyhotfix pin --pyproject pyproject.toml` do it; then",
        "`uv lock` and commit uv.lock. UV_CONSTRAINT does not reach `uv lock`/`uv sync`.",
    ]
    return (ExportedFile("pyproject.toml", toml_block("uv", why, doc)),)
