"""Which PEP 517 backend builds a source tree ([build-system]), and how pyhotfix drives it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyhotfix.errors import VersioningError
from pyhotfix.versioning import meson, scikit_build_core
from pyhotfix.versioning._common import is_str_list, load_pyproject

__all__ = [
    "DEFAULT_REQUIRES",
    "LEGACY_BACKEND",
    "SUPPORTED_DISTRIBUTIONS",
    "BackendInfo",
    "detect_backend",
]

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# PEP 517/518: a project without [build-system] is built by setuptools' legacy backend.
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)

# build-backend string -> the distribution that provides it.
_BACKENDS = {
    "setuptools.build_meta": "setuptools",
    LEGACY_BACKEND: "setuptools",
    "hatchling.build": "hatchling",
    "flit_core.buildapi": "flit-core",
    "poetry.core.masonry.api": "poetry-core",
    "pdm.backend": "pdm-backend",
    # pbr >= 6: setuptools.build_meta with pbr's setup hooks, versioned like setuptools.
    "pbr.build": "pbr",
    "scikit_build_core.build": "scikit-build-core",
    "mesonpy": "meson-python",
    "maturin": "maturin",
}
SUPPORTED_DISTRIBUTIONS = (
    "setuptools",
    "pbr",
    "hatchling",
    "flit-core",
    "poetry-core",
    "pdm-backend",
    "scikit-build-core",
    "meson-python",
    "maturin",
)

# PEP 517 config_settings pyhotfix passes to a backend's hooks (reproducible compiled builds).
_CONFIG_SETTINGS = {
    "scikit-build-core": scikit_build_core.BUILD_SETTINGS,
    "meson-python": meson.BUILD_SETTINGS,
}


@dataclass(frozen=True)
class BackendInfo:
    """How a source tree is built (PEP 517 [build-system]) and which distribution does it.

    `config_settings` are the PEP 517 config settings every hook of the build gets (pairs, so
    the value stays hashable and immutable).
    """

    backend: str
    requires: tuple[str, ...]
    backend_path: tuple[str, ...]
    distribution: str
    config_settings: tuple[tuple[str, str], ...] = ()


def detect_backend(root: Path) -> BackendInfo:
    """Read the tree's [build-system]; VersioningError for a backend pyhotfix cannot version."""
    build_system = load_pyproject(root).get("build-system")
    if not isinstance(build_system, dict):
        # No [build-system]: PEP 517's fallback is the legacy setuptools backend (setup.py).
        return BackendInfo(LEGACY_BACKEND, DEFAULT_REQUIRES, (), "setuptools")
    requires = build_system.get("requires", list(DEFAULT_REQUIRES))
    backend = build_system.get("build-backend", LEGACY_BACKEND)
    backend_path = build_system.get("backend-path", [])
    if not isinstance(backend, str) or not is_str_list(requires) or not is_str_list(backend_path):
        raise VersioningError(
            f"The [build-system] table in {root / 'pyproject.toml'} is malformed (build-backend "
            "must be a string, requires and backend-path lists of strings), so the package cannot "
            "be built."
        )
    distribution = _BACKENDS.get(backend.strip())
    if distribution is None:
        raise VersioningError(
            f"The build backend {backend!r} (requires: {', '.join(requires) or 'nothing'}) is not "
            "supported yet: pyhotfix only knows how to set the version for "
            f"{', '.join(SUPPORTED_DISTRIBUTIONS)}. Build this hotfix by hand, or ask for support "
            "for this backend."
        )
    return BackendInfo(
        backend.strip(),
        tuple(requires),
        tuple(backend_path),
        distribution,
        _CONFIG_SETTINGS.get(distribution, ()),
    )
