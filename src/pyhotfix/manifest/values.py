"""The typed values a manifest holds: `Manifest`, `Settings`, `HotfixSpec` and the patch sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from pyhotfix.errors import UsageError
from pyhotfix.manifest.names import project_name_problem, shown_name

__all__ = [
    "DEFAULT_INDEX",
    "DEFAULT_LABEL",
    "MANIFEST_NAME",
    "FilePatch",
    "GitPatch",
    "HotfixSpec",
    "Manifest",
    "PatchSource",
    "RequiresDistEdit",
    "Settings",
    "SourceMode",
    "UrlPatch",
]

MANIFEST_NAME = "hotfixes.toml"
DEFAULT_INDEX = "hotfix-index"
DEFAULT_LABEL = "hotfix"


@dataclass(frozen=True)
class FilePatch:
    path: str  # as written, relative to the manifest's directory
    # "FILE, line N: hotfix.NAME.patches[i]" for errors about the file; not part of its identity.
    where: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UrlPatch:
    url: str
    sha256: str


@dataclass(frozen=True)
class GitPatch:
    repo: str  # a local path (relative to the manifest's directory) or a git URL
    commit: str


PatchSource = FilePatch | UrlPatch | GitPatch

# What a hotfix patches: the upstream sdist (built with its backend) or the wheels upstream published.
SourceMode = Literal["sdist", "wheels"]


@dataclass(frozen=True)
class RequiresDistEdit:
    """One `[hotfix.NAME.requires-dist]` entry: every Requires-Dist on `name` is replaced by
    `requirement` (added when there is none), or removed when `requirement` is None."""

    name: str  # canonical (PEP 503) name of the dependency
    requirement: str | None  # a PEP 508 string naming `name`, normalised by packaging


@dataclass(frozen=True)
class Settings:
    upstream: str | None  # None: pip's configured index, else PyPI (resolved by `upstream`)
    index: str  # as written; a directory relative to the manifest, or a URL
    label: str
    upload: bool = False  # index is a PyPI-compatible upload endpoint (twine's legacy API)
    endpoint_url: str | None = None  # S3-compatible endpoint for s3:// indexes


@dataclass(frozen=True)
class HotfixSpec:
    name: str  # canonical (PEP 503) name
    version: str  # the exact upstream release being fixed
    patches: tuple[PatchSource, ...]
    reason: str | None
    source: SourceMode = "sdist"  # `from = "wheels"`: patch upstream's wheels (wheelmode)
    platforms: tuple[str, ...] = ()  # wheel mode: only wheels whose platform tag matches a glob
    requires_dist: tuple[RequiresDistEdit, ...] = ()  # in manifest order
    fixes: tuple[str, ...] = ()  # advisory IDs the patches fix (`advisories`)


@dataclass(frozen=True)
class Manifest:
    path: Path
    settings: Settings
    hotfixes: tuple[HotfixSpec, ...]

    @property
    def directory(self) -> Path:
        return self.path.parent

    def get(self, name: str) -> HotfixSpec:
        wanted = canonicalize_name(name)
        for spec in self.hotfixes:
            if spec.name == wanted:
                return spec
        known = ", ".join(s.name for s in self.hotfixes) or "none"
        suggested = name if project_name_problem(name) is None else "NAME"
        raise UsageError(
            f"{self.path} has no hotfix named {shown_name(name)} (hotfixes: {known}). "
            f"Add one with `pyhotfix add {suggested}==VERSION --patch FILE`."
        )
