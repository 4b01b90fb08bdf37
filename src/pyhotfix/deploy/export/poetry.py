"""The Poetry format: an explicit source and each hotfix a dependency tied to it, for
pyproject.toml (what `pyhotfix pin --pyproject` writes into a Poetry project)."""

from __future__ import annotations

from urllib.parse import urlsplit

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import toml_block
from pyhotfix.deploy.export.values import INDEX_NAME, ExportedFile, ExportOptions
from pyhotfix.errors import UsageError

__all__ = ["poetry", "poetry_url_problem"]


def poetry_url_problem(index_url: str) -> str | None:
    """Why Poetry cannot use this index URL, or None."""
    if urlsplit(index_url).scheme in ("http", "https"):
        return None
    return (
        f"Poetry cannot read an index at {index_url}: it reads sources over http or https only "
        "(`poetry lock` fails with a file:// source). Serve the hotfix index (`pyhotfix serve`, "
        "or publish it to a web server or bucket) and pass its URL with --index-url "
        "https://…/simple/."
    )


def poetry(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    problem = poetry_url_problem(deployment.index_url)
    if problem is not None:
        raise UsageError(problem)
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
    pep621 = ", ".join(f'"{b.name}=={b.hotfix_version}"' for b in deployment.hotfixes)
    why = [
        'For pyproject.toml (Poetry 2). A source with priority = "explicit" is searched only for',
        "the dependencies that name it, and Poetry has no overrides: a package a dependency pulls",
        "in comes from the default source unless the project lists it. So each hotfix the app",
        "uses, directly or not, is listed here at its exact version, from the hotfix index alone.",
        "Classic layout: merge the lines into [tool.poetry.dependencies]. PEP 621 layout ([project]",
        f"dependencies): add {pep621} to [project] dependencies and keep only",
        '`source = "hotfix"` in these lines. Or let `pyhotfix pin --pyproject pyproject.toml` do',
        "it. Then `poetry lock` and commit poetry.lock.",
    ]
    return (ExportedFile("pyproject.toml", toml_block("poetry", why, doc)),)
