"""`pyhotfix status`: for each hotfix, what newer upstream releases do to its patches.

Every newer release (yanked ones skipped, pre-releases only on request) is checked patch by patch
(`series.replay`): contained, applies (cleanly or with a three-way merge) or conflicts; and the
series as a whole (`series.series_contained`): a release with the combined effect of every patch
contains the series even when a patch alone conflicts (a later patch rewrote what it added). The
recommendation, in this order:

1. `keep`: no newer release.
2. `retire → V`: V is the earliest release that contains the whole series.
3. `rebase → V`: V is the newest release onto which the whole series applies (patches it
   already contains are dropped). With `newest`, V must be the newest release.
4. `conflict → V`: otherwise, with V the newest release: rebase by hand (`rebase --to V`).
5. `unknown`: there are newer releases but none could be checked (no sdist, or offline and not
   cached).

Project pages are fetched concurrently and revalidated with ETag / Last-Modified; sdists come from
the content-addressed cache (downloaded once); the verdict for (hotfix inputs, release sdist) is
cached too, since both are immutable, so a repeated status costs one conditional request per
hotfix. When the index cannot be reached the cached pages are used and the answers marked stale.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from pyhotfix.distfile import dist_kind, parse_dist_filename
from pyhotfix.errors import PyhotfixError, UpstreamError
from pyhotfix.httpclient import make_client, redact
from pyhotfix.lifecycle.common import patch_label
from pyhotfix.lifecycle.series import (
    APPLIES,
    APPLIES_3WAY,
    CONFLICTS,
    CONTAINED,
    PatchState,
    build_series,
    replay,
    series_contained,
    stage_release,
)
from pyhotfix.manifest import HotfixSpec, Manifest
from pyhotfix.patching import read_patch
from pyhotfix.pipeline import inputs_key
from pyhotfix.simpleapi import DistFile
from pyhotfix.upstream import (
    Cache,
    cached_download,
    fetch_url,
    find_sdist,
    list_files_cached,
)

_VERDICT_FORMAT = 2  # 2: the series' own verdict is stored too
Action = Literal["keep", "retire", "rebase", "conflict", "unknown"]
KEEP: Final = "keep"
RETIRE: Final = "retire"
REBASE: Final = "rebase"
CONFLICT: Final = "conflict"
UNKNOWN: Final = "unknown"


@dataclass(frozen=True)
class PatchVerdict:
    label: str
    state: PatchState
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseCheck:
    version: str
    patches: tuple[PatchVerdict, ...] = ()  # empty when the release could not be checked
    note: str | None = None  # why it could not be checked
    # The series judged as a whole (`series_state`); None: derived from the patches alone.
    series: str | None = None

    @property
    def checked(self) -> bool:
        return bool(self.patches)

    @property
    def series_state(self) -> str:
        """contained when the release has the combined effect of every patch (even if a patch
        alone does not fit: a later one may rewrite what it added); else the worst patch state."""
        if self.series is not None:
            return self.series
        return _combined(self.patches, whole_contained=False)

    @property
    def contains_all(self) -> bool:
        return self.checked and self.series_state == CONTAINED

    @property
    def applies(self) -> bool:
        return self.checked and all(p.state != CONFLICTS for p in self.patches)


@dataclass(frozen=True)
class Recommendation:
    action: Action
    version: str | None = None

    def __str__(self) -> str:
        return self.action if self.version is None else f"{self.action} → {self.version}"


@dataclass(frozen=True)
class HotfixStatus:
    name: str
    version: str
    patches: tuple[str, ...]
    releases: tuple[ReleaseCheck, ...]
    recommendation: Recommendation
    stale: bool = False  # the index could not be reached: answers come from the cache
    page_fetched_at: float | None = None
    error: str | None = None  # the hotfix could not be checked at all

    @property
    def needs_action(self) -> bool:
        return self.error is None and self.recommendation.action != KEEP

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "patches": list(self.patches),
            "recommendation": {
                "action": self.recommendation.action,
                "version": self.recommendation.version,
                "text": str(self.recommendation),
            },
            "needs_action": self.needs_action,
            "releases": [
                {
                    "version": r.version,
                    "series": r.series_state if r.checked else None,
                    "patches": [
                        {"label": p.label, "state": p.state, "conflicts": list(p.conflicts)}
                        for p in r.patches
                    ],
                    "note": r.note,
                }
                for r in self.releases
            ],
            "stale": self.stale,
            "page_fetched_at": self.page_fetched_at,
            "error": self.error,
        }


# A check's scratch trees (two small sdists and a git repository, removed at once) cost less in
# memory-backed storage: creating and removing their many small files and directories on a disk
# took about a quarter of a full re-analysis's CPU time.
_SCRATCH_MIN_FREE = 4 << 30  # hostile sdists are bounded (unpack limits), but keep RAM to spare


def _scratch_root() -> str | None:
    """/dev/shm when it is a writable tmpfs with room to spare and TMPDIR is not set, else the
    default temporary directory (None)."""
    if os.environ.get("TMPDIR"):
        return None  # the user chose where temporary files go
    try:
        stats = os.statvfs("/dev/shm")
    except OSError:
        return None
    if stats.f_bavail * stats.f_frsize < _SCRATCH_MIN_FREE or not os.access("/dev/shm", os.W_OK):
        return None
    return "/dev/shm"


@dataclass(frozen=True)
class StatusOptions:
    pre: bool = False  # consider pre-releases
    newest: bool = False  # judge rebase/conflict against the newest release only
    jobs: int = 16  # project pages fetched at once
    # One more than the cores: a check also waits for git processes to start and for the disk.
    analysis_jobs: int = field(default_factory=lambda: (os.cpu_count() or 2) + 1)


def _combined(patches: Sequence[PatchVerdict], *, whole_contained: bool) -> str:
    found = {p.state for p in patches}
    if whole_contained or found == {CONTAINED}:
        return CONTAINED
    for state in (CONFLICTS, APPLIES_3WAY):
        if state in found:
            return state
    return APPLIES


def recommend(releases: Sequence[ReleaseCheck], *, newest: bool = False) -> Recommendation:
    """The recommendation from the per-release checks (oldest first); see the module docstring."""
    if not releases:
        return Recommendation(KEEP)
    checked = [r for r in releases if r.checked]
    if not checked:
        return Recommendation(UNKNOWN)
    retire = next((r for r in checked if r.contains_all), None)
    if retire is not None:
        return Recommendation(RETIRE, retire.version)
    if newest:
        target = checked[-1]
        return Recommendation(REBASE if target.applies else CONFLICT, target.version)
    applicable = [r for r in checked if r.applies]
    if applicable:
        return Recommendation(REBASE, applicable[-1].version)
    return Recommendation(CONFLICT, checked[-1].version)


def newer_releases(
    files: Sequence[DistFile], name: str, version: str, *, pre: bool
) -> list[tuple[str, DistFile | None]]:
    """(version, its sdist or None) for each release newer than `version`, oldest first.

    A release counts when some file of it is not yanked; the sdist chosen is a non-yanked one,
    .tar.gz before .zip.
    """
    project = canonicalize_name(name)
    base = Version(version)
    by_version: dict[Version, list[tuple[DistFile, bool]]] = {}
    for f in files:
        if dist_kind(f.filename) is None:
            continue
        try:
            parsed = parse_dist_filename(f.filename)
        except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
            continue
        fname, found, is_sdist = parsed.name, parsed.version, parsed.kind == "sdist"
        if fname != project or found <= base or found.local is not None:
            continue
        if found.is_prerelease and not pre:
            continue
        by_version.setdefault(found, []).append((f, is_sdist))
    result: list[tuple[str, DistFile | None]] = []
    for found in sorted(by_version):
        live = [(f, s) for f, s in by_version[found] if not f.yanked]
        if not live:
            continue
        sdists = sorted((f for f, s in live if s), key=lambda f: not f.filename.endswith(".tar.gz"))
        result.append((str(found), sdists[0] if sdists else None))
    return result


def status(
    manifest: Manifest,
    names: Sequence[str],
    *,
    upstream_url: str,
    cache: Cache,
    options: StatusOptions = StatusOptions(),
    client_factory: Callable[[str], httpx.Client] = make_client,
) -> list[HotfixStatus]:
    """Check the named hotfixes (all when `names` is empty), concurrently; manifest order."""
    specs = [manifest.get(n) for n in names] if names else list(manifest.hotfixes)
    if not specs:
        return []
    checker = _Checker(manifest, upstream_url, cache, options, client_factory)
    with (
        client_factory(upstream_url) as client,
        ThreadPoolExecutor(max_workers=max(1, min(options.jobs, len(specs)))) as pool,
    ):
        return list(pool.map(lambda spec: checker.check(client, spec), specs))


class _Checker:
    def __init__(
        self,
        manifest: Manifest,
        upstream_url: str,
        cache: Cache,
        options: StatusOptions,
        client_factory: Callable[[str], httpx.Client],
    ) -> None:
        self.manifest = manifest
        self.upstream_url = upstream_url
        self.cache = cache
        self.options = options
        self.client_factory = client_factory
        # git-heavy analysis is mostly CPU bound: about as many at once as there are cores.
        self.analysis_slots = threading.Semaphore(max(1, options.analysis_jobs))

    def check(self, client: httpx.Client, spec: HotfixSpec) -> HotfixStatus:
        labels = tuple(_labels(spec))
        try:
            listing = list_files_cached(client, self.upstream_url, spec.name, self.cache)
        except PyhotfixError as exc:
            return HotfixStatus(
                spec.name, spec.version, labels, (), Recommendation(UNKNOWN), error=str(exc)
            )
        try:
            releases = self._releases(client, spec, listing.files, listing.stale)
        except PyhotfixError as exc:
            return HotfixStatus(
                spec.name,
                spec.version,
                labels,
                (),
                Recommendation(UNKNOWN),
                stale=listing.stale,
                page_fetched_at=listing.fetched_at,
                error=str(exc),
            )
        return HotfixStatus(
            name=spec.name,
            version=spec.version,
            patches=labels,
            releases=tuple(releases),
            recommendation=recommend(releases, newest=self.options.newest),
            stale=listing.stale,
            page_fetched_at=listing.fetched_at,
            error=listing.error if listing.stale else None,
        )

    def _releases(
        self, client: httpx.Client, spec: HotfixSpec, files: Sequence[DistFile], stale: bool
    ) -> list[ReleaseCheck]:
        inputs = inputs_key(spec, self.manifest.settings.label, self.manifest.directory)
        checks: dict[str, ReleaseCheck] = {}
        pending: list[tuple[str, Path, str]] = []
        if spec.source == "wheels":  # judged against a wheel of each newer release
            from pyhotfix.wheelmode.releases import newer_wheel_releases

            candidates = newer_wheel_releases(
                files, spec.name, spec.version, spec.platforms, pre=self.options.pre
            )
        else:
            candidates = newer_releases(files, spec.name, spec.version, pre=self.options.pre)
        wheel_names = {v: d.filename for v, d in candidates if d is not None}
        for version, dist in candidates:
            if dist is None:
                missing = "wheels matching platforms" if spec.source == "wheels" else "sdist"
                checks[version] = ReleaseCheck(version, note=f"no {missing}: not checked")
                continue
            got = cached_download(None if stale else client, dist, self.cache)
            if got is None:
                checks[version] = ReleaseCheck(
                    version,
                    note="not checked: its sdist is not cached and the index is unreachable",
                )
                continue
            sha256, path = got
            cached = self._cached_verdict(inputs, sha256, version)
            if cached is not None:
                checks[version] = cached
            else:
                pending.append((version, path, sha256))
        if pending:
            with self.analysis_slots:
                checks.update(
                    self._analyse(
                        None if stale else client, files, spec, pending, inputs, wheel_names
                    )
                )
        return [checks[version] for version, _ in candidates]

    def _verdict_key(self, inputs: str, release_sha256: str) -> str:
        return json.dumps(
            {
                "kind": "status-verdict",
                "format": _VERDICT_FORMAT,
                "index": redact(self.upstream_url),
                "inputs": inputs,
                "release": release_sha256,
            },
            sort_keys=True,
        )

    def _cached_verdict(
        self, inputs: str, release_sha256: str, version: str
    ) -> ReleaseCheck | None:
        record = self.cache.get_record(self._verdict_key(inputs, release_sha256))
        if record is None or not isinstance(record.get("patches"), list):
            return None
        try:
            verdicts = tuple(
                PatchVerdict(p["label"], p["state"], tuple(p["conflicts"]))
                for p in record["patches"]
            )
            series = record["series"]
        except (KeyError, TypeError):
            return None
        known = {CONTAINED, APPLIES, APPLIES_3WAY, CONFLICTS}
        if not verdicts or not {v.state for v in verdicts} | {series} <= known:
            return None
        return ReleaseCheck(version, verdicts, series=series)

    def _store_verdict(self, inputs: str, release_sha256: str, check: ReleaseCheck) -> None:
        self.cache.put_record(
            self._verdict_key(inputs, release_sha256),
            {
                "series": check.series_state,
                "patches": [
                    {"label": v.label, "state": v.state, "conflicts": list(v.conflicts)}
                    for v in check.patches
                ],
            },
        )

    def _analyse(
        self,
        client: httpx.Client | None,
        files: Sequence[DistFile],
        spec: HotfixSpec,
        pending: Sequence[tuple[str, Path, str]],
        inputs: str,
        wheel_names: Mapping[str, str],
    ) -> dict[str, ReleaseCheck]:
        # The hotfixed release's sdist, found on the page already fetched (no second request).
        if spec.source == "wheels":
            from pyhotfix.wheelmode import choose_wheels
            from pyhotfix.wheelmode.releases import wheel_source_archive

            dist = choose_wheels(files, spec.name, spec.version, spec.platforms, self.upstream_url)[
                0
            ]
        else:
            dist = find_sdist(files, spec.name, spec.version, self.upstream_url)
        got = cached_download(client, dist, self.cache)
        if got is None:
            raise UpstreamError(
                f"the sdist of {spec.name} {spec.version} is not in the cache and "
                f"{redact(self.upstream_url)} cannot be reached; run status again when it can."
            )
        base_sdist = got[1]

        def fetch_patch(url: str, sha256: str | None) -> bytes:
            return fetch_url(url, self.cache, sha256, self.client_factory)[1].read_bytes()

        patches = [read_patch(s, self.manifest.directory, fetch_patch) for s in spec.patches]
        results: dict[str, ReleaseCheck] = {}
        with tempfile.TemporaryDirectory(
            prefix=f"pyhotfix-status-{spec.name}-", dir=_scratch_root()
        ) as tmp:
            work = Path(tmp)
            if spec.source == "wheels":  # the wheels' Python files, as sdist-shaped archives
                base_sdist = wheel_source_archive(base_sdist, dist.filename, work / "base.tar")
                pending = [
                    (v, wheel_source_archive(p, wheel_names[v], work / f"{v}.tar"), sha)
                    for v, p, sha in pending
                ]
            series = build_series(base_sdist, patches, work, f"{spec.name} {spec.version}")
            for i, (version, path, sha256) in enumerate(pending):
                release = stage_release(series, path, work / f"release-{i}", version)
                outcomes, _head = replay(series, release, commits=False)
                verdicts = tuple(
                    PatchVerdict(label, o.state, o.conflicts)
                    for label, o in zip(_labels(spec), outcomes, strict=True)
                )
                # One patch: its verdict is the series'. Several, not all contained alone: ask
                # whether the release has what the series adds up to.
                whole = (
                    len(verdicts) > 1
                    and any(v.state != CONTAINED for v in verdicts)
                    and series_contained(series, release)
                )
                release.drop()
                check = ReleaseCheck(
                    version, verdicts, series=_combined(verdicts, whole_contained=whole)
                )
                results[version] = check
                self._store_verdict(inputs, sha256, check)
        return results


def _labels(spec: HotfixSpec) -> list[str]:
    return [patch_label(source) for source in spec.patches]
