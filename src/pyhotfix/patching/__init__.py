"""Read patches and apply them to an unpacked sdist with git, mapping repository paths onto it.

Patches are written against the upstream *repository*, but we patch the *sdist*, whose layout can
differ (``src/pkg`` in the repo, ``pkg`` in the sdist; tests and CI config left out). Each patch is
parsed only far enough to find the files it touches, pick the strip level, rewrite the paths onto
the sdist and drop sections for files the sdist does not have. The applying itself is done by
``git apply --3way`` / ``git am --3way`` in a throwaway repository created inside the tree.

One concept per module:

- `sources`: patch sources (file, URL, git commit) → `PatchInput` bytes;
- `diff`: the diff/mbox parser (sections, hunks, C-quoted names, mails, DEP-3 headers);
- `layout`: repository paths → sdist paths (`src/` mapping, suffix matches, strip level);
- `plan`: one patch → the units git applies, sections for absent files dropped;
- `render`: a placed section written back in git's format with sdist paths;
- `binary`: limits on what binary hunks may create;
- `apply`: `apply_patches` in the throwaway repository, and its failure messages;
- `treecheck`: the patched tree may not make the build read outside it;
- `files`: reading a patch file, bounded; `dep3`: DEP-3 `Origin:` of stored URL patches;
  `entries`: `add --patch` values → manifest entries.

The public names are importable from the package; they are loaded on first use, so importing
`pyhotfix.patching.files` (as a `build` with nothing to do does) loads no git or email code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhotfix.patching.apply import AppliedPatch, PatchedTree, apply_patches
    from pyhotfix.patching.sources import PatchInput, read_patch, resolve_commit, sha256_of

__all__ = [
    "AppliedPatch",
    "PatchInput",
    "PatchedTree",
    "apply_patches",
    "read_patch",
    "resolve_commit",
    "sha256_of",
]

_HOMES = {
    "AppliedPatch": "apply",
    "PatchedTree": "apply",
    "apply_patches": "apply",
    "PatchInput": "sources",
    "read_patch": "sources",
    "resolve_commit": "sources",
    "sha256_of": "sources",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
