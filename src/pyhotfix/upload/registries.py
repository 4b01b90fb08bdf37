"""What differs between registries that take uploads: the shape of their upload URL, where their
simple index is, and how (or whether) a release can be yanked there.

The upload API itself has no yanking (PEP 592), so each registry kind has a `Registry` value with
the instructions for doing it (or its nearest equivalent) in the registry itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "PYPI_UPLOAD",
    "REGISTRIES",
    "TESTPYPI_UPLOAD",
    "UPLOAD_URL_SHAPES",
    "Registry",
    "RegistryKind",
    "known_simple_url",
    "registry_kind",
    "yank_message",
]

PYPI_UPLOAD = "https://upload.pypi.org/legacy/"
TESTPYPI_UPLOAD = "https://test.pypi.org/legacy/"

UPLOAD_URL_SHAPES = (
    "devpi https://HOST/USER/INDEX/, pypiserver https://HOST/, Artifactory "
    "https://HOST/artifactory/api/pypi/REPO, Nexus https://HOST/repository/REPO/, GitLab "
    "https://HOST/api/v4/projects/ID/packages/pypi, CodeArtifact "
    "https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPO/"
)

RegistryKind = Literal["pypi", "devpi", "gitlab", "artifactory", "nexus", "codeartifact", "generic"]


@dataclass(frozen=True)
class Registry:
    """How to yank / unyank in a registry of this kind: `str.format` templates over canon,
    version, url (the upload URL), index (its path), domain and repo (CodeArtifact's)."""

    kind: RegistryKind
    yank: str
    unyank: str


_REGISTRY_LIST = (
    Registry(
        "devpi",
        yank=(
            "devpi has no yanking for private indexes (only for mirrored PyPI projects). Remove "
            "the release with devpi-client: `devpi use {url}`, `devpi login USER`, `devpi remove "
            "{canon}=={version}` (a non-volatile index refuses removals: `devpi index {index} "
            "volatile=True` first, then back to False), or delete it in devpi-web."
        ),
        unyank=(
            "devpi has no yanking for private indexes; if the release was removed, publish its "
            "files again (`pyhotfix publish --upload URL NAME`)."
        ),
    ),
    Registry(
        "pypi",
        yank="On PyPI: project {canon}, Manage, Releases, {version}, Options, Yank.",
        unyank="On PyPI: project {canon}, Manage, Releases, {version}, Options, Un-yank.",
    ),
    Registry(
        "gitlab",
        yank=(
            "GitLab has no yanking: delete package {canon} {version} under Deploy, Package "
            "registry, or with the API (DELETE /api/v4/projects/ID/packages/PACKAGE_ID)."
        ),
        unyank="GitLab has no yanking: publish the files again if the package was deleted.",
    ),
    Registry(
        "artifactory",
        yank=(
            "Artifactory has no yanking: delete the files of {canon} {version} in the repository "
            "browser (Artifacts) or with its REST API (DELETE on each file's path)."
        ),
        unyank="Artifactory has no yanking: publish the files again if they were deleted.",
    ),
    Registry(
        "nexus",
        yank=(
            "Nexus has no yanking: Browse, the repository, {canon}, {version}, Delete component "
            "(or DELETE /service/rest/v1/components/ID)."
        ),
        unyank="Nexus has no yanking: publish the files again if the component was deleted.",
    ),
    Registry(
        "codeartifact",
        yank=(
            "CodeArtifact's nearest equivalent is the version status: `aws codeartifact "
            "update-package-versions-status --domain {domain} --repository {repo} --format pypi "
            "--package {canon} --versions {version} --target-status Unlisted`."
        ),
        unyank=(
            "CodeArtifact's nearest equivalent is the version status: `aws codeartifact "
            "update-package-versions-status --domain {domain} --repository {repo} --format pypi "
            "--package {canon} --versions {version} --target-status Published`."
        ),
    ),
    Registry(
        "generic",
        yank=(
            "pypiserver and most simple registries have no yanking: delete the files of "
            "{canon} {version} from the registry (for pypiserver, from its package directory), "
            "or use the registry's own interface (on PyPI-like services: project settings)."
        ),
        unyank=(
            "Most simple registries have no yanking: publish the files again if they were removed."
        ),
    ),
)

REGISTRIES: Mapping[RegistryKind, Registry] = {r.kind: r for r in _REGISTRY_LIST}


def registry_kind(upload_url: str) -> RegistryKind | None:
    """The kind the upload URL shows; None when it does not (devpi or generic: ask devpi's +api)."""
    parts = urlsplit(upload_url)
    host, path = (parts.hostname or "").lower(), parts.path
    if host in ("upload.pypi.org", "pypi.org", "test.pypi.org"):
        return "pypi"
    if ".codeartifact." in host:
        return "codeartifact"
    if "/api/v4/projects/" in path or "/api/v4/groups/" in path:
        return "gitlab"
    if "/artifactory/" in path or "/api/pypi/" in path:
        return "artifactory"
    if path.startswith("/repository/"):
        return "nexus"
    return None


def known_simple_url(upload_url: str) -> str | None:
    """The simple index of PyPI and TestPyPI from their upload URLs; None for other registries."""
    parts = urlsplit(upload_url)
    host = (parts.hostname or "").lower()
    if host == "upload.pypi.org":
        return "https://pypi.org/simple/"
    if host == "test.pypi.org" and parts.path.rstrip("/") == "/legacy":
        return "https://test.pypi.org/simple/"
    return None


def yank_message(
    kind: RegistryKind,
    canon: str,
    version: str,
    upload_url: str,
    where: str,
    reason: str | None,
    *,
    undo: bool,
) -> str:
    """Why the upload API cannot yank (or unyank) and how to do it in the registry itself."""
    registry = REGISTRIES[kind]
    parts = urlsplit(upload_url)
    domain_owner = (parts.hostname or "").split(".", 1)[0]
    how = (registry.unyank if undo else registry.yank).format(
        canon=canon,
        version=version,
        url=upload_url,
        index=parts.path.strip("/"),
        domain=domain_owner.rpartition("-")[0] or "DOMAIN",
        repo=parts.path.strip("/").split("/")[-1] or "REPO",
    )
    verb = "unyank" if undo else "yank"
    note = f" (the reason {reason!r} cannot be recorded there)" if reason else ""
    later = (
        ""
        if undo
        else " Alternatively, publish a fixed build as the next hotfix number (+hotfix.N+1): "
        "installers pick the highest hotfix of a version, so it replaces this one for every "
        "new install."
    )
    return (
        f"Cannot {verb} {canon} {version} on {where}{note}: the upload API has no "
        f"yanking (PEP 592), so it must be done in the registry itself. {how}{later}"
    )
