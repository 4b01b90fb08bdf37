"""Building hotfixes: the number N, one source mode, the lock check, publishing with provenance,
the lock entry; several hotfixes at once (`--jobs`)."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pyhotfix import __version__
from pyhotfix.errors import BuildError, PyhotfixError
from pyhotfix.hotfixversion import HotfixVersion
from pyhotfix.lock import (
    LockedFile,
    LockedHotfix,
    lock_path,
    locked_update,
    read_lock,
)
from pyhotfix.manifest import HotfixSpec
from pyhotfix.pipeline.modes import SourceJob, from_sdist, from_wheels
from pyhotfix.pipeline.plan import inputs_key, up_to_date, used_numbers
from pyhotfix.pipeline.values import (
    BuildContext,
    BuildOptions,
    BuiltRelease,
    HotfixResult,
)
from pyhotfix.treeremove import temporary_directory

if TYPE_CHECKING:
    # The build stages (and httpx) are imported only when something is built: a `build` with
    # nothing to do must start fast.

    pass

__all__ = ["build_all", "build_one"]


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
        make = from_wheels if spec.source == "wheels" else from_sdist
        made = make(
            SourceJob(
                context=context,
                spec=spec,
                hotfix_version=hotfix_version,
                read_patches=lambda: [
                    read_patch(s, manifest.directory, fetch_patch) for s in spec.patches
                ],
                work_dir=work_dir,
                options=options,
                locked=locked if same_inputs else None,
                inputs=key,
            )
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
