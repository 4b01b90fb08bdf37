"""The values of a verification: the options it runs with, and the checks and report it
returns; what an install found (`Installed`, `InstallRun`); the runner it is given."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "Check",
    "CheckResult",
    "InstallRun",
    "Installed",
    "Runner",
    "VerifyOptions",
    "VerifyReport",
]

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class VerifyOptions:
    requirements: Path | None = None  # -r FILE
    project: Path | None = None  # --project DIR
    installers: tuple[str, ...] = ("pip",)
    python: str = sys.executable
    default_index: str = (
        "https://pypi.org/simple/"  # what deployments use when the config names none
    )
    env_files: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    use_user_config: bool = False
    existing: bool = True  # also install over the upstream release already installed
    deployed_at: str | None = None  # where the deployment puts the app (s2i: /opt/app-root/src)
    tool: str | None = None  # the project's tool (pip, uv, poetry, pipenv, pdm); None: detect
    tool_path: Path | None = None  # the tool's executable; None: PATH


CheckResult = Literal["ok", "FAIL", "error", "unused", "skipped"]


@dataclass(frozen=True)
class Check:
    hotfix: str
    installer: str
    environment: str  # "fresh" or "had <version>"
    expected: str
    installed: str | None
    result: CheckResult
    reason: str
    source: str | None = None  # where the installed file came from, when known


@dataclass(frozen=True)
class VerifyReport:
    target: str
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not any(c.result in ("FAIL", "error") for c in self.checks)


@dataclass(frozen=True)
class Installed:
    version: str
    files: Mapping[str, tuple[str | None, str | None]]  # path -> (RECORD hash, hash on disk)
    url: str | None  # direct_url.json's URL, for direct-reference installs


@dataclass(frozen=True)
class InstallRun:
    """One install: its outcome per hotfixed name."""

    ok: bool
    error: str
    installed: Mapping[str, Installed | None]
    sources: Mapping[str, str]  # canonical name -> URL the installer took it from
