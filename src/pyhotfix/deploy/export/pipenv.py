"""The Pipfile format."""

from __future__ import annotations

from urllib.parse import urlsplit

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import (
    toml_block,
)
from pyhotfix.deploy.export.values import INDEX_NAME, ExportedFile, ExportOptions

__all__ = ["pipenv"]


def pipenv(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    source = tomlkit.table()
    source.add("name", INDEX_NAME)
    source.add("url", deployment.index_url)
    source.add("verify_ssl", urlsplit(deployment.index_url).scheme == "https")
    sources = tomlkit.aot()
    sources.append(source)
    doc.add("source", sources)
    packages = tomlkit.table()
    for build in deployment.hotfixes:
        dep = tomlkit.inline_table()
        dep.add("version", f"=={build.hotfix_version}")
        dep.add("index", INDEX_NAME)
        packages.add(build.name, dep)
    doc.add("packages", packages)
    why = [
        "For a Pipfile. Pipenv installs a package that names an index only from that index, so",
        "these packages come from the hotfix index alone, at their exact hotfix versions. Merge",
        "the lines into your [packages], then `pipenv lock` (Pipfile.lock records the hashes).",
    ]
    return (ExportedFile("Pipfile", toml_block("pipenv", why, doc)),)
