"""Set the hotfix version in an unpacked upstream sdist, the way its build backend will honour it.

Every backend reads its version from a different place, and several silently ignore the obvious
edit: one module per backend family knows where (README "Version"). Backends that honour PEP 621
get a static `[project] version` (`pep621`). `building.build` checks the result, so an override a
backend ignores is caught there, never shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pyhotfix.errors import VersioningError
from pyhotfix.versioning.detect import (
    DEFAULT_REQUIRES,
    LEGACY_BACKEND,
    SUPPORTED_DISTRIBUTIONS,
    BackendInfo,
    detect_backend,
)
from pyhotfix.versioning.flit import set_flit_version
from pyhotfix.versioning.hatchling import set_hatchling_version
from pyhotfix.versioning.maturin import set_maturin_version
from pyhotfix.versioning.meson import set_meson_python_version
from pyhotfix.versioning.pdm import set_pdm_version
from pyhotfix.versioning.poetry import set_poetry_version
from pyhotfix.versioning.scikit_build_core import set_scikit_build_core_version
from pyhotfix.versioning.setuptools import set_setuptools_version

__all__ = [
    "DEFAULT_REQUIRES",
    "LEGACY_BACKEND",
    "SUPPORTED_DISTRIBUTIONS",
    "BackendInfo",
    "detect_backend",
    "set_version",
]

# distribution (BackendInfo.distribution) -> what sets the version in a tree it builds.
_SETTERS: dict[str, Callable[[Path, str, str], None]] = {
    "setuptools": set_setuptools_version,
    "pbr": set_setuptools_version,
    "hatchling": set_hatchling_version,
    "flit-core": set_flit_version,
    "poetry-core": set_poetry_version,
    "pdm-backend": set_pdm_version,
    "scikit-build-core": set_scikit_build_core_version,
    "meson-python": set_meson_python_version,
    "maturin": set_maturin_version,
}


def set_version(root: Path, name: str, version: str) -> BackendInfo:
    """Make the unpacked sdist at `root` build as `version` (e.g. "0.4.3+hotfix.1")."""
    try:
        Version(version)
    except InvalidVersion as exc:
        raise VersioningError(f"{version!r} is not a valid PEP 440 version for {name}.") from exc
    info = detect_backend(root)
    _SETTERS[info.distribution](root, name, version)
    return info
