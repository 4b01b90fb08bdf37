"""The Poetry format: an explicit source and dependencies for pyproject.toml."""

from __future__ import annotations

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import (
    toml_block,
)
from pyhotfix.deploy.export.values import INDEX_NAME, ExportedFile, ExportOptions

__all__ = ["poetry"]


def poetry(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    source = tomlkit.table()
    source.add("name", INDEX_NAME)
    source.add("url", deployment.index_url)
    source.add("priority", "explicit")
    sources = tomlkit.aot()
    sources.append(source)
    deps = tomlkit.table()
    for build in deployment.hotfixes:
        dep = tomlkit.inline_table()
        dep.add("version", build.hotfix_version)
        dep.add("source", INDEX_NAME)
        deps.add(build.name, dep)
    poetry = tomlkit.table(is_super_table=True)
    poetry.add("source", sources)
    poetry.add("dependencies", deps)
    tool = tomlkit.table(is_super_table=True)
    tool.add("poetry", poetry)
    doc.add("tool", tool)
    why = [
        'For pyproject.toml (Poetry). A source with priority = "explicit" is searched only for',
        "the dependencies that name it, so these packages come from the hotfix index alone, at",
        "their exact hotfix versions, and nothing else comes from it. Merge the dependency lines",
        "into your [tool.poetry.dependencies], then `poetry lock`.",
    ]
    return (ExportedFile("pyproject.toml", toml_block("poetry", why, doc)),)
