"""The Pipfile format: each hotfix as a `file =` URL pinned by sha256 (see `pin.pipfile` for why
not `index =` with the +hotfix version)."""

from __future__ import annotations

import tomlkit

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import toml_block
from pyhotfix.deploy.export.values import ExportedFile, ExportOptions

__all__ = ["pipenv"]


def pipenv(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    packages = tomlkit.table()
    for build in deployment.hotfixes:
        dep = tomlkit.inline_table()
        dep.add("file", deployment.pinned_url(build))
        packages.add(build.name, dep)
    doc.add("packages", packages)
    why = [
        "For a Pipfile: replace your own entry for each package with this one, and add it even",
        "when a dependency pulls it in (a package the Pipfile does not name comes from its",
        "sources). Then `pipenv lock`, and deploy with `pipenv install --deploy` or `pipenv sync`.",
        "A file = URL is installed as that exact file, its sha256 checked, over whatever is",
        "installed, and no index is asked for it. Not `index =` with ==X+hotfix.N: Pipenv drops",
        "the +hotfix part when it checks what is installed and keeps an upstream X.",
        "`pyhotfix pin --pipfile Pipfile` makes these edits (and finds the pulled-in packages in",
        "Pipfile.lock).",
    ]
    return (ExportedFile("Pipfile", toml_block("pipenv", why, doc)),)
