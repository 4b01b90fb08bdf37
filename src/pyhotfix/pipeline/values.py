"""The values of a build: options, context, results, plans and what one source mode made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pyhotfix.lock import (
    LockedPatch,
    LockedUpstreamWheel,
)
from pyhotfix.manifest import Manifest
from pyhotfix.publish import PublishTarget

if TYPE_CHECKING:
    # The build stages (and httpx) are imported only when something is built: a `build` with
    # nothing to do must start fast.
    import httpx

    from pyhotfix.building import BuiltFile, EnvCache
    from pyhotfix.provenance.signing import SigningIdentity
    from pyhotfix.upstream import Cache

__all__ = [
    "BuildContext",
    "BuildOptions",
    "BuildPlan",
    "BuildStatus",
    "BuiltRelease",
    "HotfixResult",
    "StageCallback",
]


StageCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class BuildOptions:
    force: bool = False
    publish: bool = True
    out_dir: Path | None = None
    strict: bool = False
    jobs: int = 1
    # --sign: the CI's Sigstore identity; each published file also gets a signed PEP 740
    # provenance object (provenance.signing)
    signing: SigningIdentity | None = None


BuildStatus = Literal["built", "up-to-date", "failed"]


@dataclass(frozen=True)
class HotfixResult:
    name: str
    version: str
    hotfix_version: str | None
    files: tuple[str, ...]
    seconds: float
    status: BuildStatus
    message: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildContext:
    manifest: Manifest
    upstream_url: str
    index: PublishTarget
    cache: Cache
    envs: EnvCache
    client_factory: Callable[[str], httpx.Client] | None = None  # None: httpclient.make_client
    on_stage: StageCallback = field(default=lambda name, stage: None)

    def http_client(self, index_url: str) -> httpx.Client:
        """A client for `index_url`, from `client_factory` or else `httpclient.make_client`."""
        if self.client_factory is not None:
            return self.client_factory(index_url)
        from pyhotfix.httpclient import make_client

        return make_client(index_url)


@dataclass(frozen=True)
class BuildPlan:
    """Which of the selected hotfixes are settled without building (`up_to_date`) and which must
    be built; `results` puts the two back in the selection's order."""

    order: tuple[str, ...]
    settled: dict[str, HotfixResult]
    pending: tuple[str, ...]

    def results(self, built: Sequence[HotfixResult]) -> list[HotfixResult]:
        done = {**self.settled, **{r.name: r for r in built}}
        return [done[name] for name in self.order]


@dataclass(frozen=True)
class BuiltRelease:
    """The files one hotfix version is made of, from either source mode, with what the lock
    records about how they were made. Every file goes through the same checks, copy, publish
    and lock steps (`_build_one`) whichever mode made it."""

    files: tuple[BuiltFile, ...]
    backend: str
    backend_version: str
    python: str
    source_date_epoch: int
    upstream_url: str
    upstream_sha256: str
    patches: tuple[LockedPatch, ...]
    upstream_wheels: tuple[LockedUpstreamWheel, ...] = ()
    warnings: tuple[str, ...] = ()
    build_requires: tuple[str, ...] = ()  # the build environment, "name==version" (sdist mode)
