"""`pyhotfix retire NAME`: drop a hotfix once upstream has the fix (or it is no longer wanted).

In this order, so a failure leaves the earlier state intact: optionally yank every hotfix build of
the project in the index (PEP 592: installers then skip them unless pinned with ==), remove
[hotfix.NAME] from the manifest and its entry from the lock, and move its patch files to
`patches/.retired/<name>/` (or delete them). The result says how the app's requirement should
change: `NAME>=V` with V the earliest release containing the whole series (as `status` judges it),
minus the later releases status found without it (`,!=W`).

Refused (nothing changed) unless status names such a release: retiring would otherwise leave the
app on a release without the fix. `force` overrides that (the fix is no longer wanted); the advice
is then the upstream release itself, `NAME==VERSION`, and the result says it has no fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from pyhotfix.distfile import parse_dist_filename
from pyhotfix.errors import LifecycleError, PyhotfixError
from pyhotfix.hotfixversion import HotfixVersion
from pyhotfix.lifecycle.common import FileEdits, retired_path
from pyhotfix.lock import lock_path, locked_update
from pyhotfix.manifest import FilePatch, HotfixSpec, Manifest, remove_hotfix
from pyhotfix.publish import PublishTarget

if TYPE_CHECKING:
    from pyhotfix.lifecycle.status import HotfixStatus


@dataclass(frozen=True)
class RetireResult:
    name: str
    version: str
    requirement_before: str
    requirement_after: str
    yanked: tuple[str, ...]  # hotfix versions yanked in the index
    moved: tuple[tuple[str, str], ...]  # patch files (from, to), relative to the manifest
    deleted: tuple[str, ...]
    kept: tuple[str, ...]  # patch files another hotfix still uses
    fixed_upstream: bool = True  # False: forced, no release known to contain the fix


def hotfix_versions(index: PublishTarget, name: str, label: str) -> list[str]:
    """The `X+<label>.N` versions of `name` in the index that are not yanked yet, oldest first."""
    found: dict[Version, bool] = {}
    for entry in index.project_entries(name):
        try:
            version = parse_dist_filename(entry.filename).version
        except (ValueError, InvalidVersion):
            continue
        hotfix = HotfixVersion.of(version)
        if hotfix is not None and hotfix.label == label:
            found[version] = found.get(version, False) or entry.yanked is False
    return [str(v) for v in sorted(found) if found[v]]


def retire(
    manifest: Manifest,
    spec: HotfixSpec,
    *,
    fixed_in: str | None,
    without_fix: Sequence[str] = (),
    unknown_because: str = "",
    force: bool = False,
    index: PublishTarget | None = None,
    reason: str | None = None,
    delete: bool = False,
) -> RetireResult:
    """Retire `spec`; `index` given: yank its builds there first. `fixed_in`: the earliest
    upstream release known to contain the fix (from status); `without_fix`: later releases known
    not to; `unknown_because`: why status could not name one (for the refusal)."""
    if fixed_in is None and not force:
        raise LifecycleError(
            f"No upstream release of {spec.name} is known to contain every patch of its hotfix "
            f"({unknown_because or 'status cannot name one'}), so retiring it would leave the app "
            f"on a release without the fix. See `pyhotfix status {spec.name}`: carry the patches "
            f"to a newer release with `pyhotfix rebase {spec.name} --to VERSION`, or keep the "
            f"hotfix until upstream has the fix. If the fix is no longer wanted, run `pyhotfix "
            f"retire {spec.name} --force`. Nothing was changed."
        )
    yanked: list[str] = []
    if index is not None:
        why = reason or (
            f"retired: fixed upstream in {spec.name} {fixed_in}" if fixed_in else "retired"
        )
        for version in hotfix_versions(index, spec.name, manifest.settings.label):
            index.yank(spec.name, version, why)
            yanked.append(version)
    remove_hotfix(manifest.path, spec.name)
    lock = lock_path(manifest.path)
    if lock.exists():
        with locked_update(lock) as entries:
            entries.pop(spec.name, None)
    moved: list[tuple[str, str]] = []
    deleted: list[str] = []
    kept: list[str] = []
    others = [h for h in manifest.hotfixes if h.name != spec.name]
    edits = FileEdits()
    for source in spec.patches:
        if not isinstance(source, FilePatch):
            continue
        path = manifest.directory / source.path
        if any(source in h.patches for h in others):
            kept.append(source.path)
        elif not path.exists():
            continue
        elif delete:
            path.unlink()
            deleted.append(source.path)
        else:
            target = retired_path(manifest, spec.name, path)
            edits.move(path, target)
            moved.append((source.path, target.relative_to(manifest.directory).as_posix()))
    _remove_if_empty(manifest.directory / "patches" / spec.name)
    if fixed_in is not None:
        after = f"{spec.name}>={fixed_in}" + "".join(f",!={v}" for v in without_fix)
    else:
        after = f"{spec.name}=={spec.version}"  # forced: upstream as it is, without the fix
    return RetireResult(
        name=spec.name,
        version=spec.version,
        requirement_before=f"{spec.name}=={spec.version}",
        requirement_after=after,
        yanked=tuple(yanked),
        moved=tuple(moved),
        deleted=tuple(deleted),
        kept=tuple(kept),
        fixed_upstream=fixed_in is not None,
    )


def _remove_if_empty(directory: Path) -> None:
    # Not there, or it still holds files the user keeps there: leave it.
    with contextlib.suppress(OSError):
        directory.rmdir()


@dataclass(frozen=True)
class FixEvidence:
    """What `status` says about upstream having the fix: `retire`'s fixed_in, without_fix and
    unknown_because."""

    fixed_in: str | None  # the earliest release containing every patch; None: none known
    without_fix: tuple[str, ...]  # later releases checked and found without the whole fix
    unknown_because: str  # why no release is named (for the refusal or the --force warning)


def fix_evidence(check_status: Callable[[], HotfixStatus]) -> FixEvidence:
    """Judge `check_status()` (the hotfix's status); a status that fails is "unknown", not an
    error: --force may still retire."""
    from pyhotfix.lifecycle.status import RETIRE

    try:
        found = check_status()
    except PyhotfixError as exc:
        return FixEvidence(None, (), f"status could not check it: {exc}")
    if found.error is not None and not found.stale:
        return FixEvidence(None, (), f"status could not check it: {found.error}")
    unknown_because = f"status says {found.recommendation}"
    if found.recommendation.action != RETIRE:
        return FixEvidence(None, (), unknown_because)
    fixed_in = found.recommendation.version
    after = [r for r in found.releases if Version(r.version) > Version(fixed_in or "0")]
    without_fix = tuple(r.version for r in after if r.checked and not r.contains_all)
    return FixEvidence(fixed_in, without_fix, unknown_because)
