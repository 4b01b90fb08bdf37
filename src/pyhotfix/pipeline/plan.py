"""What a build would do without doing it: the inputs key that decides N, the numbers the index
has used, and whether a hotfix is up to date (no network, no build stages)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from pyhotfix.errors import UsageError
from pyhotfix.hotfixversion import HotfixVersion
from pyhotfix.index import LocalIndex
from pyhotfix.lock import (
    lock_path,
    read_lock,
)
from pyhotfix.manifest import FilePatch, HotfixSpec, Manifest, UrlPatch
from pyhotfix.patching.files import read_patch_file
from pyhotfix.pipeline.values import BuildOptions, BuildPlan, BuildStatus, HotfixResult
from pyhotfix.publish import PublishTarget, resolve_target

if TYPE_CHECKING:
    # The build stages (and httpx) are imported only when something is built: a `build` with
    # nothing to do must start fast.

    pass

__all__ = ["inputs_key", "plan_build", "resolve_index", "up_to_date", "used_numbers"]


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


def plan_build(
    manifest: Manifest, index: PublishTarget, specs: Sequence[HotfixSpec], options: BuildOptions
) -> BuildPlan:
    """Settle the hotfixes with nothing to do before any build machinery is loaded."""
    settled = {s.name: r for s in specs if (r := up_to_date(manifest, index, s, options))}
    pending = tuple(s.name for s in specs if s.name not in settled)
    return BuildPlan(tuple(s.name for s in specs), settled, pending)
