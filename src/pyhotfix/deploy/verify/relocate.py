"""`--deployed-at`: verify a copy of the app in which paths and file:// URLs under the
deployment's app directory (e.g. s2i's /opt/app-root/src) point into the copy."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

from pyhotfix.deploy.verify.report import VerifyOptions

__all__ = ["COPY_IGNORE", "deployed_pattern", "relocate", "source_app_dir"]

_CONFIG_SUFFIXES = frozenset({".txt", ".in", ".conf", ".cfg", ".ini", ".toml"})
_MAX_SCANNED = 20_000  # files looked at when relocating a copy of the app
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist", "*.egg-info",
)  # fmt: skip


def source_app_dir(options: VerifyOptions) -> Path:
    if options.project is not None:
        return options.project.absolute()
    assert options.requirements is not None
    return options.requirements.absolute().parent


def deployed_pattern(options: VerifyOptions) -> re.Pattern[str] | None:
    if options.deployed_at is None:
        return None
    return re.compile(re.escape(options.deployed_at.rstrip("/")) + r"(?=/|\s|$)")


def relocate(options: VerifyOptions, work: Path) -> VerifyOptions:
    """A copy of the app in which paths and file:// URLs under the deployment's app directory
    (e.g. s2i's /opt/app-root/src) point into the copy, so the install reads what the
    deployment would read there."""
    app = source_app_dir(options)
    copy = work / "app"
    shutil.copytree(app, copy, ignore=COPY_IGNORE, symlinks=True)
    pattern = deployed_pattern(options)
    assert pattern is not None
    for n, path in enumerate(copy.rglob("*")):
        if n > _MAX_SCANNED:
            break
        is_config = path.suffix in _CONFIG_SUFFIXES or path.name == "environment"
        if not is_config or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new = pattern.sub(str(copy), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    requirements = (
        copy / options.requirements.absolute().relative_to(app)
        if options.requirements is not None
        else None
    )
    env_files = tuple(
        copy / f.absolute().relative_to(app) if f.absolute().is_relative_to(app) else f
        for f in options.env_files
    )
    return replace(
        options,
        requirements=requirements,
        project=copy if options.project is not None else None,
        env_files=env_files,
    )
