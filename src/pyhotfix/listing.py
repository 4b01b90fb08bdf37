"""`pyhotfix list`: each hotfix of the manifest, its current build and whether the index has it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from pyhotfix.lock import lock_path, read_lock
from pyhotfix.manifest import Manifest, RequiresDistEdit

if TYPE_CHECKING:
    from pyhotfix.index.integrity import FileStatus
    from pyhotfix.patching.dep3 import PatchInfo

__all__ = ["IndexState", "ListedHotfix", "ListedProblem", "list_hotfixes"]

# "mismatch": a file in the index has other bytes than the lock records (or a page lists others),
# or the index has files or page entries no publish could have made
IndexState = Literal["yes", "no", "mismatch"]
_CHANGED = ("mismatch", "page-mismatch", "unexpected")


@dataclass(frozen=True)
class ListedProblem:
    """A locked file the index does not serve as the lock records (`integrity.FileCheck`)."""

    filename: str
    status: FileStatus
    detail: str


@dataclass(frozen=True)
class ListedHotfix:
    name: str
    version: str  # upstream
    hotfix_version: str | None  # None: not built for the manifest's current version
    patches: int
    published: bool  # the index has every file of the current build
    index: IndexState
    problems: tuple[ListedProblem, ...]
    reason: str | None
    requires_dist: tuple[RequiresDistEdit, ...] = ()  # [hotfix.NAME.requires-dist], in order
    patch_info: tuple[PatchInfo, ...] = ()  # DEP-3 fields of the patch files
    fixes: tuple[str, ...] = ()  # advisory IDs

    @property
    def mismatches(self) -> tuple[str, ...]:
        """What differs, one sentence per file whose bytes changed in the index."""
        return tuple(p.detail for p in self.problems if p.status in _CHANGED)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["problems"] = [asdict(p) for p in self.problems]
        if not self.requires_dist:  # present only for metadata hotfixes: the rows stay as they were
            del document["requires_dist"]
        document["patch_info"] = [p.to_json() for p in self.patch_info]
        document["fixes"] = list(self.fixes)
        return document


def list_hotfixes(manifest: Manifest) -> list[ListedHotfix]:
    """One row per hotfix, in manifest order; reads the lock and the index (no build, no network
    for a local index)."""
    from pyhotfix.index import StaticIndex
    from pyhotfix.index.integrity import check_hotfix
    from pyhotfix.patching.dep3 import patch_infos
    from pyhotfix.publish import resolve_target

    lock = read_lock(lock_path(manifest.path))
    index = resolve_target(manifest.settings, manifest.directory)
    rows = []
    for spec in manifest.hotfixes:
        locked = lock.get(spec.name)
        current = locked is not None and locked.version == spec.version
        problems: tuple[ListedProblem, ...] = ()
        if locked is None:
            published = False
        elif isinstance(index, StaticIndex):
            problems = tuple(
                ListedProblem(c.filename, c.status, c.detail)
                for c in check_hotfix(index, locked, full=False)
                if c.status != "ok"
            )
            published = not problems
        else:
            published = index.has_files(
                spec.name,
                [f.filename for f in locked.files],
                {f.filename: f.sha256 for f in locked.files},
            )
        mismatch = any(p.status in _CHANGED for p in problems)
        state: IndexState = "mismatch" if mismatch else "yes" if published and current else "no"
        rows.append(
            ListedHotfix(
                name=spec.name,
                version=spec.version,
                hotfix_version=locked.hotfix_version if locked and current else None,
                patches=len(spec.patches),
                published=published and current,
                index=state,
                problems=problems,
                reason=spec.reason,
                requires_dist=spec.requires_dist,
                patch_info=patch_infos(spec, manifest.directory),
                fixes=spec.fixes,
            )
        )
    return rows
