"""The two source modes, each making one hotfix version's files: from the upstream sdist (unpack,
patch, version, PEP 517 build) or from the wheels upstream published (`wheelmode`); the SBOM
put into every wheel either way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from pyhotfix import __version__
from pyhotfix.lock import (
    LockedHotfix,
    LockedPatch,
    LockedUpstreamWheel,
)
from pyhotfix.manifest import HotfixSpec
from pyhotfix.pipeline.values import BuildContext, BuildOptions, BuiltRelease

if TYPE_CHECKING:
    # The build stages (and httpx) are imported only when something is built: a `build` with
    # nothing to do must start fast.
    from pyhotfix.building import BuiltFile
    from pyhotfix.patching import PatchInput
    from pyhotfix.sbom import SbomInputs
    from pyhotfix.versioning import BackendInfo

__all__ = [
    "ReadPatches",
    "SourceJob",
    "from_sdist",
    "from_wheels",
    "sdist_epoch",
    "with_backend_version",
]


# The zip format cannot store dates before 1980; wheels need SOURCE_DATE_EPOCH at or after it.
_MIN_SOURCE_DATE_EPOCH = 315532800


# The lazy patch list: fetched after the upstream files, so a missing release fails first.
ReadPatches = Callable[[], "list[PatchInput]"]


@dataclass(frozen=True)
class SourceJob:
    """What a source mode needs to make one hotfix version's files."""

    context: BuildContext
    spec: HotfixSpec
    hotfix_version: str
    read_patches: ReadPatches
    work_dir: Path  # an empty directory, removed afterwards
    options: BuildOptions
    locked: LockedHotfix | None  # the lock entry when the inputs are the locked ones
    inputs: str  # the inputs key (the SBOM's serial number derives from it)


def from_sdist(job: SourceJob) -> BuiltRelease:
    """Sdist mode: fetch, unpack, patch, set the version, build with the PEP 517 backend, put
    the SBOM into the wheel."""
    from pyhotfix.building import build
    from pyhotfix.patching import apply_patches
    from pyhotfix.sbom import sbom_inputs
    from pyhotfix.unpack import unpack_sdist
    from pyhotfix.upstream import fetch_sdist
    from pyhotfix.versioning import set_version

    context, spec, hotfix_version, options = job.context, job.spec, job.hotfix_version, job.options
    work_dir, locked, inputs = job.work_dir, job.locked, job.inputs
    context.on_stage(spec.name, "fetching")
    sdist = fetch_sdist(
        context.upstream_url, spec.name, spec.version, context.cache, context.http_client
    )
    patches = job.read_patches()
    context.on_stage(spec.name, "unpacking")
    tree = unpack_sdist(sdist.path, work_dir / "src", display_name=sdist.filename)
    source_date_epoch = sdist_epoch(tree.newest_mtime)
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


def from_wheels(job: SourceJob) -> BuiltRelease:
    """Wheel mode (`from = "wheels"`): patch every chosen upstream wheel (`wheelmode`); each
    carries an SBOM whose ancestor is the upstream wheel it was made from."""
    import platform

    from pyhotfix.sbom import sbom_inputs
    from pyhotfix.wheelmode import BACKEND, fetch_wheels, patch_wheels

    context, spec, hotfix_version, options = job.context, job.spec, job.hotfix_version, job.options
    work_dir, locked, inputs = job.work_dir, job.locked, job.inputs
    context.on_stage(spec.name, "fetching")
    wheels = fetch_wheels(
        context.upstream_url,
        spec.name,
        spec.version,
        spec.platforms,
        context.cache,
        context.http_client,
    )
    patches = job.read_patches()
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
    from packaging.version import InvalidVersion

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


def sdist_epoch(newest_mtime: int) -> int:
    """The newest member mtime in the upstream sdist archive: fixed by the inputs, a meaningful date.

    Taken from the archive, not the unpacked tree: directories an sdist does not list (flit_core,
    pdm-backend, poetry-core, hatchling) would carry the time of unpacking.
    """
    return max(newest_mtime, _MIN_SOURCE_DATE_EPOCH)
