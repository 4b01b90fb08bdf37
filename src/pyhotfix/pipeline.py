"""One hotfix from its spec to published files: fetch → unpack → patch → version → build → publish → lock.

The stages live in their own modules; this one only sequences them, decides the hotfix number N, and
skips work whose inputs are unchanged. Everything with side effects (HTTP client, caches, the index) is
passed in through `BuildContext`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from pyhotfix import __version__
from pyhotfix.errors import BuildError, PyhotfixError, UsageError
from pyhotfix.hotfixversion import HotfixVersion
from pyhotfix.index import LocalIndex
from pyhotfix.lock import (
    LockedFile,
    LockedHotfix,
    LockedPatch,
    LockedUpstreamWheel,
    lock_path,
    locked_update,
    read_lock,
)
from pyhotfix.manifest import FilePatch, HotfixSpec, Manifest, UrlPatch
from pyhotfix.patching.files import read_patch_file
from pyhotfix.publish import PublishTarget, resolve_target
from pyhotfix.treeremove import temporary_directory

if TYPE_CHECKING:
    # The build stages (and httpx) are imported only when something is built: a `build` with
    # nothing to do must start fast.
    import httpx

    from pyhotfix.building import BuiltFile, EnvCache
    from pyhotfix.patching import PatchInput
    from pyhotfix.provenance.signing import SigningIdentity
    from pyhotfix.sbom import SbomInputs
    from pyhotfix.upstream import Cache
    from pyhotfix.versioning import BackendInfo

# The zip format cannot store dates before 1980; wheels need SOURCE_DATE_EPOCH at or after it.
_MIN_SOURCE_DATE_EPOCH = 315532800

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


def resolve_index(manifest: Manifest) -> LocalIndex:
    """The manifest's index as a local directory, for commands that read its files (serve,
    deploy); UsageError when [settings] index is not a directory or file:// URL. Publishing goes
    through `publish.resolve_target`, which accepts every kind of target."""
    target = resolve_target(manifest.settings, manifest.directory)
    if not isinstance(target, LocalIndex):
        raise UsageError(
            f"[settings] index = {manifest.settings.index!r} is not a local directory; this "
            "command needs the directory that holds the built files."
        )
    return target


def inputs_key(spec: HotfixSpec, label: str, base_dir: Path) -> str:
    """Identity of everything that determines the hotfix number, computed without network access."""
    identities: list[str] = []
    for source in spec.patches:
        if isinstance(source, FilePatch):
            content = read_patch_file(base_dir / source.path, source.path, source.where)
            identities.append("file:" + hashlib.sha256(content).hexdigest())
        elif isinstance(source, UrlPatch):
            identities.append("url:" + source.sha256)
        else:
            identities.append(f"git:{source.commit}")
    inputs: dict[str, object] = {
        "version": str(Version(spec.version)),
        "label": label,
        "patches": identities,
    }
    if spec.source != "sdist":  # only when set: sdist-mode hotfixes keep their key (and N)
        inputs["from"] = spec.source
        inputs["platforms"] = sorted(spec.platforms)  # their order selects nothing
    if spec.requires_dist:  # only when set: the keys (and N) of other hotfixes stay as they were
        inputs["requires_dist"] = [[e.name, e.requirement] for e in spec.requires_dist]
    if spec.fixes:  # only when set: hotfixes without it keep their key (and N)
        inputs["fixes"] = list(spec.fixes)  # written into each wheel's SBOM
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


def used_numbers(index: PublishTarget, name: str, version: str, label: str) -> set[int]:
    """Hotfix numbers N whose files for `version+label.N` are already in the index."""
    base = Version(version)
    numbers: set[int] = set()
    for entry in index.project_entries(name):
        try:
            if entry.filename.endswith(".whl"):
                found = parse_wheel_filename(entry.filename)[1]
            else:
                found = parse_sdist_filename(entry.filename)[1]
        except ValueError:
            continue
        hotfix = HotfixVersion.of(found)
        if hotfix is not None and hotfix.base == base.public and hotfix.label == label:
            numbers.add(hotfix.number)
    return numbers


def up_to_date(
    manifest: Manifest, index: PublishTarget, spec: HotfixSpec, options: BuildOptions
) -> HotfixResult | None:
    """The result for a hotfix whose inputs are unchanged and whose files the index has, else None.

    A file the index has with other bytes than the lock records (changed by hand after it was
    published) gives a failed result with the way to repair it: a rebuild could not replace it.
    Needs no network for a local index, and none of the build stages; the files are compared
    with the lock by size and by the hash the index recorded for their unchanged stat.
    """
    from pyhotfix.index import StaticIndex
    from pyhotfix.index.integrity import check_hotfix, rebuild_repairs, repair_advice

    # First, even when forced: a missing or bad patch file is a usage error (exit 2) for the run.
    key = inputs_key(spec, manifest.settings.label, manifest.directory)
    if options.force or not options.publish:
        return None
    started = time.monotonic()
    locked = read_lock(lock_path(manifest.path)).get(spec.name)
    if locked is None or locked.inputs != key or locked.version != spec.version:
        return None
    filenames = [f.filename for f in locked.files]

    def settled(status: BuildStatus, message: str | None = None) -> HotfixResult:
        return HotfixResult(
            name=spec.name,
            version=spec.version,
            hotfix_version=locked.hotfix_version,
            files=tuple(filenames),
            seconds=time.monotonic() - started,
            status=status,
            message=message,
        )

    if not isinstance(index, StaticIndex):  # a registry: its own page check
        if not index.has_files(spec.name, filenames, {f.filename: f.sha256 for f in locked.files}):
            return None
    else:
        checks = check_hotfix(index, locked, full=False)
        changed = [c for c in checks if c.status != "ok" and not rebuild_repairs(c)]
        if changed:
            message = " ".join(c.detail for c in changed) + " " + repair_advice(changed)
            return settled("failed", message)
        if any(c.status != "ok" for c in checks):
            return None  # missing or unlisted: the rebuild restores it
    return settled("up-to-date")


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


def plan_build(
    manifest: Manifest, index: PublishTarget, specs: Sequence[HotfixSpec], options: BuildOptions
) -> BuildPlan:
    """Settle the hotfixes with nothing to do before any build machinery is loaded."""
    settled = {s.name: r for s in specs if (r := up_to_date(manifest, index, s, options))}
    pending = tuple(s.name for s in specs if s.name not in settled)
    return BuildPlan(tuple(s.name for s in specs), settled, pending)


def build_all(
    context: BuildContext, names: Sequence[str], options: BuildOptions
) -> list[HotfixResult]:
    specs = [context.manifest.get(n) for n in names] if names else list(context.manifest.hotfixes)
    if options.jobs <= 1 or len(specs) <= 1:
        return [build_one(context, spec, options) for spec in specs]
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        return list(pool.map(lambda spec: build_one(context, spec, options), specs))


def build_one(context: BuildContext, spec: HotfixSpec, options: BuildOptions) -> HotfixResult:
    started = time.monotonic()
    try:
        return up_to_date(context.manifest, context.index, spec, options) or _build_one(
            context, spec, options
        )
    except PyhotfixError as exc:
        context.on_stage(spec.name, "failed")
        return HotfixResult(
            name=spec.name,
            version=spec.version,
            hotfix_version=None,
            files=(),
            seconds=time.monotonic() - started,
            status="failed",
            message=str(exc),
        )


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


def _build_one(context: BuildContext, spec: HotfixSpec, options: BuildOptions) -> HotfixResult:
    from pyhotfix.httpclient import redact
    from pyhotfix.patching import read_patch
    from pyhotfix.upstream import fetch_url

    started = time.monotonic()
    manifest, index = context.manifest, context.index
    client_factory = context.http_client
    label = manifest.settings.label
    key = inputs_key(spec, label, manifest.directory)
    locked = read_lock(lock_path(manifest.path)).get(spec.name)
    same_inputs = locked is not None and locked.inputs == key and locked.version == spec.version

    if same_inputs and locked is not None:
        number = locked.number  # same inputs rebuild byte-identical files under the same number
    else:
        taken = used_numbers(index, spec.name, spec.version, label)
        if locked is not None and locked.version == spec.version and locked.label == label:
            taken.add(locked.number)
        number = max(taken, default=0) + 1
    hotfix_version = str(HotfixVersion(spec.version, label, number))

    def fetch_patch(url: str, sha256: str | None) -> bytes:
        return fetch_url(url, context.cache, sha256, client_factory)[1].read_bytes()

    # Removed at any depth (treeremove): the tree in it is upstream content.
    with temporary_directory(f"pyhotfix-{spec.name}-") as work_dir:
        make = _from_wheels if spec.source == "wheels" else _from_sdist
        made = make(
            context,
            spec,
            hotfix_version,
            lambda: [read_patch(s, manifest.directory, fetch_patch) for s in spec.patches],
            work_dir,
            options,
            locked if same_inputs else None,
            key,
        )
        if same_inputs and locked is not None:
            # Same inputs, same N: the files must be the locked ones, or the version would name
            # two different builds. Checked before anything is copied, published or locked.
            _check_against_lock(locked, made, lock_path(manifest.path))
        files = [f.path for f in made.files]
        if options.out_dir is not None:
            options.out_dir.mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copy2(path, options.out_dir / path.name)
        if options.publish:
            context.on_stage(spec.name, "publishing")
            # PEP 708 tracks names a page other machines can read: never a local file:// index.
            upstream_page = f"{redact(context.upstream_url).rstrip('/')}/{spec.name}/"
            remote = upstream_page.startswith(("http://", "https://"))
            entry = _lock_entry(spec, label, number, key, made)
            if same_inputs and locked is not None and locked.build_requires:
                # The same bytes as the locked build: its environment stays the one on record,
                # so the statements already published keep agreeing with the lock.
                entry = dataclasses.replace(entry, build_requires=locked.build_requires)
            # The provenance is made from the lock entry (so the lock alone regenerates it) and
            # published with the files, in the same transaction.
            from pyhotfix.provenance.statement import statements_for

            signed = None
            if options.signing is not None:
                from pyhotfix.provenance.signing import sign_files

                signed = sign_files(files, options.signing)
            index.publish(
                spec.name,
                files,
                tracks=upstream_page if remote else None,
                statements=statements_for(entry),
                signed=signed,
            )
            with locked_update(lock_path(manifest.path)) as entries:
                entries[spec.name] = entry

    context.on_stage(spec.name, "done")
    return HotfixResult(
        name=spec.name,
        version=spec.version,
        hotfix_version=hotfix_version,
        files=tuple(f.filename for f in made.files),
        seconds=time.monotonic() - started,
        status="built",
        warnings=made.warnings,
    )


# The lazy patch list: fetched after the upstream files, so a missing release fails first.
_ReadPatches = Callable[[], "list[PatchInput]"]


def _from_sdist(
    context: BuildContext,
    spec: HotfixSpec,
    hotfix_version: str,
    read_patches: _ReadPatches,
    work_dir: Path,
    options: BuildOptions,
    locked: LockedHotfix | None,
    inputs: str,
) -> BuiltRelease:
    """Sdist mode: fetch, unpack, patch, set the version, build with the PEP 517 backend, put
    the SBOM into the wheel."""
    from pyhotfix.building import build
    from pyhotfix.patching import apply_patches
    from pyhotfix.sbom import sbom_inputs
    from pyhotfix.unpack import unpack_sdist
    from pyhotfix.upstream import fetch_sdist
    from pyhotfix.versioning import set_version

    context.on_stage(spec.name, "fetching")
    sdist = fetch_sdist(
        context.upstream_url, spec.name, spec.version, context.cache, context.http_client
    )
    patches = read_patches()
    context.on_stage(spec.name, "unpacking")
    tree = unpack_sdist(sdist.path, work_dir / "src", display_name=sdist.filename)
    source_date_epoch = _source_date_epoch(tree.newest_mtime)
    context.on_stage(spec.name, "patching")
    patched = apply_patches(
        tree.root, patches, strict=options.strict, target=f"{spec.name} {spec.version}"
    )
    warnings = tuple(
        f"{applied.label}: skipped changes to files not in the sdist: {', '.join(applied.skipped)}"
        for applied in patched.applied
        if applied.skipped
    )
    context.on_stage(spec.name, "versioning")
    backend = set_version(patched.root, spec.name, hotfix_version)
    if spec.requires_dist:
        from pyhotfix.requiresdist import edit_sdist_requirements

        edit_sdist_requirements(patched.root, spec.requires_dist, f"{spec.name} {spec.version}")
    if locked is not None:
        # A rebuild of a locked N uses the backend release that made it: a newer one may
        # write other bytes, and the lock check (rightly) refuses them.
        backend = with_backend_version(backend, locked.backend_version)
    context.on_stage(spec.name, "building")
    built = build(
        patched.root,
        spec.name,
        hotfix_version,
        work_dir / "dist",
        source_date_epoch=source_date_epoch,
        envs=context.envs,
        backend=backend,
    )
    context.on_stage(spec.name, "sbom")
    sbom = sbom_inputs(
        spec, hotfix_version, inputs, sdist.url, sdist.sha256, patches, source_date_epoch
    )
    return BuiltRelease(
        files=(built.sdist, _with_sbom(built.wheel, sbom, locked)),
        backend=built.backend,
        backend_version=built.backend_version,
        python=built.python,
        source_date_epoch=source_date_epoch,
        upstream_url=sdist.url,
        upstream_sha256=sdist.sha256,
        patches=tuple(LockedPatch(p.label, p.sha256) for p in patches),
        warnings=warnings + built.warnings,
        build_requires=built.requirements,
    )


def _from_wheels(
    context: BuildContext,
    spec: HotfixSpec,
    hotfix_version: str,
    read_patches: _ReadPatches,
    work_dir: Path,
    options: BuildOptions,
    locked: LockedHotfix | None,
    inputs: str,
) -> BuiltRelease:
    """Wheel mode (`from = "wheels"`): patch every chosen upstream wheel (`wheelmode`); each
    carries an SBOM whose ancestor is the upstream wheel it was made from."""
    import platform

    from pyhotfix.sbom import sbom_inputs
    from pyhotfix.wheelmode import BACKEND, fetch_wheels, patch_wheels

    context.on_stage(spec.name, "fetching")
    wheels = fetch_wheels(
        context.upstream_url,
        spec.name,
        spec.version,
        spec.platforms,
        context.cache,
        context.http_client,
    )
    patches = read_patches()
    context.on_stage(spec.name, "patching")
    patched = patch_wheels(
        wheels,
        patches,
        hotfix_version,
        work_dir / "dist",
        work_dir / "trees",
        target=f"{spec.name} {spec.version}",
        strict=options.strict,
        edit_metadata=_metadata_editor(spec),
    )
    context.on_stage(spec.name, "sbom")
    files = tuple(
        _with_sbom(
            wheel,
            sbom_inputs(
                spec, hotfix_version, inputs, upstream.url, upstream.sha256, patches,
                patched.source_date_epoch,
            ),
            locked,
        )
        for wheel, upstream in zip(patched.files, wheels, strict=True)
    )  # fmt: skip
    return BuiltRelease(
        files=files,
        backend=BACKEND,
        backend_version=__version__,
        python=platform.python_version(),
        source_date_epoch=patched.source_date_epoch,
        # The first wheel stands for the upstream in the lock's [upstream] table.
        upstream_url=wheels[0].url,
        upstream_sha256=wheels[0].sha256,
        patches=tuple(LockedPatch(p.label, p.sha256) for p in patches),
        upstream_wheels=tuple(LockedUpstreamWheel(w.url, w.sha256, w.filename) for w in wheels),
        warnings=patched.warnings,
    )


def _with_sbom(wheel: BuiltFile, sbom: SbomInputs, locked: LockedHotfix | None) -> BuiltFile:
    """`wheel` carrying the SBOM (`sbom.add_sbom`), with its new hash and size.

    A locked build from before wheels had SBOMs (`locked`: the same inputs and N) is left as it
    was when the wheel just built is the locked one: its version must keep naming those bytes.
    """
    from pyhotfix.building import BuiltFile
    from pyhotfix.distfile import file_sha256_size
    from pyhotfix.sbom import add_sbom

    recorded = {f.filename: f.sha256 for f in locked.files} if locked is not None else {}
    if recorded.get(wheel.filename) == wheel.sha256:
        return wheel
    path = add_sbom(wheel.path, sbom)
    sha256, size = file_sha256_size(path)
    return BuiltFile(path=path, filename=path.name, sha256=sha256, size=size)


def _metadata_editor(spec: HotfixSpec) -> Callable[[str], str] | None:
    """Wheel mode's METADATA edit for `[hotfix.NAME.requires-dist]` (None: none)."""
    if not spec.requires_dist:
        return None
    from pyhotfix.requiresdist import edit_metadata

    edits = spec.requires_dist
    return lambda text: edit_metadata(text, edits)


def with_backend_version(backend: BackendInfo, version: str) -> BackendInfo:
    """`backend` whose build requirements pin its own distribution to `version` (the others,
    and an in-tree backend, stay as they are)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return backend  # "unknown": nothing to pin to
    wanted = canonicalize_name(backend.distribution)
    requires: list[str] = []
    pinned = False
    for text in backend.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            requires.append(text)
            continue
        if canonicalize_name(req.name) == wanted and req.url is None:
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            marker = f"; {req.marker}" if req.marker else ""
            requires.append(f"{req.name}{extras}=={version}{marker}")
            pinned = True
        else:
            requires.append(text)
    if not pinned and not backend.backend_path:
        requires.append(f"{backend.distribution}=={version}")
    return dataclasses.replace(backend, requires=tuple(requires))


def _check_against_lock(locked: LockedHotfix, made: BuiltRelease, lock_file: Path) -> None:
    """BuildError when a rebuild from the locked inputs gave other files than the lock records
    (every file of the release: the sdist and wheel, or each patched upstream wheel)."""
    recorded = {f.filename: f.sha256 for f in locked.files}
    differences = []
    for f in made.files:
        if f.filename not in recorded:
            differences.append(
                f"{f.filename} is not in the lock, which records {', '.join(sorted(recorded))} "
                "(another Python version or platform?)"
            )
        elif recorded[f.filename] != f.sha256:
            differences.append(
                f"{f.filename} has sha256 {f.sha256}, the lock says {recorded[f.filename]}"
            )
    if made.upstream_wheels:  # wheel mode: the same set of wheels, none lost
        built_names = {f.filename for f in made.files}
        differences.extend(
            f"{name} is in the lock but was not made (upstream wheels changed?)"
            for name in sorted(recorded.keys() - built_names)
        )
    if not differences:
        return
    toolchain = [
        f"{what} {was} when locked, {now} now"
        for what, was, now in (
            (f"build backend {made.backend}", locked.backend_version, made.backend_version),
            ("Python", locked.python, made.python),
            ("SOURCE_DATE_EPOCH", str(locked.source_date_epoch), str(made.source_date_epoch)),
        )
        if was != now
    ]
    raise BuildError(
        f"Rebuilding {locked.name} {locked.hotfix_version} from the inputs recorded in "
        f"{lock_file} gave different files: {'; '.join(differences)}. "
        + (f"What changed: {'; '.join(toolchain)}. " if toolchain else "")
        + "One version must never name two different builds, so nothing was published and the "
        "lock was NOT changed. The build is not reproducible here: compare this build with the "
        "locked files (e.g. with diffoscope; they are in the index that received them) and look "
        "for what differs (backend or compiler version, Python, a backend that embeds the time or "
        "the build path), then build where the lock was made or fix the cause. `build --force` "
        "does not get around this check."
    )


def _source_date_epoch(newest_mtime: int) -> int:
    """The newest member mtime in the upstream sdist archive: fixed by the inputs, a meaningful date.

    Taken from the archive, not the unpacked tree: directories an sdist does not list (flit_core,
    pdm-backend, poetry-core, hatchling) would carry the time of unpacking.
    """
    return max(newest_mtime, _MIN_SOURCE_DATE_EPOCH)


def _lock_entry(
    spec: HotfixSpec, label: str, number: int, key: str, made: BuiltRelease
) -> LockedHotfix:
    return LockedHotfix(
        name=spec.name,
        version=spec.version,
        hotfix_version=str(HotfixVersion(spec.version, label, number)),
        number=number,
        label=label,
        inputs=key,
        upstream_url=made.upstream_url,
        upstream_sha256=made.upstream_sha256,
        patches=made.patches,
        files=tuple(LockedFile(f.filename, f.sha256, f.size) for f in made.files),
        backend=made.backend,
        backend_version=made.backend_version,
        python=made.python,
        pyhotfix=__version__,
        source_date_epoch=made.source_date_epoch,
        upstream_wheels=made.upstream_wheels,
        build_requires=made.build_requires,
    )
