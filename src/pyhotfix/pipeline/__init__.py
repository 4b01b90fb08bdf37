"""One hotfix from its spec to published files: fetch → unpack → patch → version → build → publish → lock.

The stages live in their own modules; this one only sequences them, decides the hotfix number N, and
skips work whose inputs are unchanged. Everything with side effects (HTTP client, caches, the index) is
passed in through `BuildContext`. Modules: `values` (typed values), `plan` (inputs key, up to
date), `modes` (sdist or wheels → files, with the SBOM), `run` (N, lock check, publish, lock).
"""

from __future__ import annotations

from pyhotfix.pipeline.modes import with_backend_version
from pyhotfix.pipeline.plan import inputs_key, plan_build, resolve_index, up_to_date, used_numbers
from pyhotfix.pipeline.run import build_all, build_one
from pyhotfix.pipeline.values import (
    BuildContext,
    BuildOptions,
    BuildPlan,
    BuildStatus,
    BuiltRelease,
    HotfixResult,
    StageCallback,
)

__all__ = [
    "BuildContext",
    "BuildOptions",
    "BuildPlan",
    "BuildStatus",
    "BuiltRelease",
    "HotfixResult",
    "StageCallback",
    "build_all",
    "build_one",
    "inputs_key",
    "plan_build",
    "resolve_index",
    "up_to_date",
    "used_numbers",
    "with_backend_version",
]
