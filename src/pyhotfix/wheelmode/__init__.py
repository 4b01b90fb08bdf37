"""Wheel mode (`from = "wheels"`): patch the wheels upstream published instead of building the sdist.

For every upstream wheel of the release (`choose`: platform globs; `fetch`: hash-checked, cached)
the wheel is checked as hostile input (`archive`), the patch series is applied to the files it
installs with the sdist machinery (`apply`: git apply on an unpacked tree, repository paths mapped
onto installed paths; once per distinct set of Python files), and the hotfixed wheel is written
(`rewrite`: version in filename, .dist-info and METADATA, new RECORD, deterministic zip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhotfix.building import BuiltFile
from pyhotfix.building.repack import wheel_date_time
from pyhotfix.distfile import file_sha256_size
from pyhotfix.patching import PatchInput
from pyhotfix.wheelmode.apply import TreeChanges, check_changes, fingerprint, patch_tree
from pyhotfix.wheelmode.archive import open_wheel
from pyhotfix.wheelmode.choose import choose_wheels, platform_tags
from pyhotfix.wheelmode.fetch import UpstreamWheel, fetch_wheels
from pyhotfix.wheelmode.rewrite import hotfix_wheel_filename, rewrite_wheel

__all__ = [
    "BACKEND",
    "PatchedWheels",
    "UpstreamWheel",
    "choose_wheels",
    "fetch_wheels",
    "hotfix_wheel_filename",
    "patch_wheels",
    "platform_tags",
]

# What the lock records as the "build backend" of a wheel-mode hotfix.
BACKEND = "pyhotfix.wheelmode"
_MIN_SOURCE_DATE_EPOCH = 315532800  # zip cannot store dates before 1980


@dataclass(frozen=True)
class PatchedWheels:
    files: tuple[BuiltFile, ...]  # in the order of the upstream wheels
    warnings: tuple[str, ...]
    source_date_epoch: int  # the newest member time of the upstream wheels


def patch_wheels(
    wheels: Sequence[UpstreamWheel],
    patches: Sequence[PatchInput],
    version: str,
    out_dir: Path,
    work_dir: Path,
    *,
    target: str,
    strict: bool = False,
    edit_metadata: Callable[[str], str] | None = None,
) -> PatchedWheels:
    """Apply `patches` to every wheel of `wheels` and write each as `version` into `out_dir`.

    `target` names the release in messages ("markupsafe 2.1.4"); `work_dir` is an empty
    directory for the unpacked trees. Fails closed: a PyhotfixError for any wheel, and the
    caller publishes none of them. The same inputs give byte-identical wheels.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    prints: list[str] = []
    newest = 0
    for wheel in wheels:  # every wheel checked before any is patched
        with open_wheel(wheel.path, wheel.filename) as (zf, layout):
            prints.append(fingerprint(zf, layout))
            newest = max(newest, layout.newest_mtime)
    sde = max(newest, _MIN_SOURCE_DATE_EPOCH)
    date_time = wheel_date_time(sde)
    by_print: dict[str, TreeChanges] = {}
    files: list[BuiltFile] = []
    warnings: dict[str, None] = {}
    for wheel, print_ in zip(wheels, prints, strict=True):
        with open_wheel(wheel.path, wheel.filename) as (zf, layout):
            changes = by_print.get(print_)
            if changes is None:
                root = work_dir / f"tree-{len(by_print)}"
                changes = by_print[print_] = patch_tree(zf, layout, patches, root, target=target)
            warnings.update(
                dict.fromkeys(check_changes(layout, changes, strict=strict, target=target))
            )
            path = rewrite_wheel(zf, layout, changes, version, out_dir, date_time, edit_metadata)
        sha256, size = file_sha256_size(path)
        files.append(BuiltFile(path=path, filename=path.name, sha256=sha256, size=size))
    return PatchedWheels(tuple(files), tuple(warnings), sde)
