"""Build a hotfixed sdist and wheel through PEP 517, fast and reproducibly.

Speed comes from two things. `python -m build` and `uv build` create a fresh environment for every
build, which dominates the time of a small build: `EnvCache` keeps one environment per (build
requirements, interpreter). And each PEP 517 hook call normally costs a process that imports the
backend: here get_requires_for_build_X and build_X share one process (pyproject-hooks' own
in-process script, driven twice). Reproducibility comes from SOURCE_DATE_EPOCH plus a deterministic
re-pack of the sdist (setuptools and pdm-backend tarballs vary) and re-zip of the wheel (setuptools
wheels carry umask-dependent file modes), with build paths mapped out of compiled code. The hooks
run upstream's code, so they get only the allow-listed environment of `pyhotfix.building.environ`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from pyhotfix._atomic import open_atomic
from pyhotfix.building.checks import check_built
from pyhotfix.building.environ import backend_environment, prefix_map_flag
from pyhotfix.building.envs import EnvCache
from pyhotfix.building.hooks import run_step, start_hooks
from pyhotfix.building.repack import repack_sdist, rezip_wheel
from pyhotfix.building.repair import repair_wheel
from pyhotfix.distfile import file_sha256_size
from pyhotfix.treeremove import temporary_directory
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import BackendInfo

__all__ = ["BuiltDists", "BuiltFile", "EnvCache", "build"]


@dataclass(frozen=True)
class BuiltFile:
    path: Path
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BuiltDists:
    sdist: BuiltFile
    wheel: BuiltFile
    backend: str
    backend_version: str
    python: str
    warnings: tuple[str, ...] = ()  # e.g. why a compiled Linux wheel kept its linux_* tag
    # the build environment's distributions, "name==version", sorted
    requirements: tuple[str, ...] = ()


def build(
    root: Path,
    name: str,
    version: str,
    out_dir: Path,
    *,
    source_date_epoch: int,
    envs: EnvCache,
    backend: BackendInfo,
    environ: Mapping[str, str] | None = None,
) -> BuiltDists:
    """Build the sdist of the tree at `root`, then the wheel from that sdist (as pip would).

    Both files are checked to carry `name` and `version` in their filenames and metadata before
    they are written to `out_dir`; the same inputs always give byte-identical files. The hooks
    run upstream's code with only the allowed variables of `environ` (default: os.environ), see
    `pyhotfix.building.environ`.
    """
    # Removed at any depth: the backend writes what it likes under HOME and TMPDIR in there.
    with temporary_directory("pyhotfix-build-") as tmp:
        (tmp / "home").mkdir()  # the backend's HOME and TMPDIR (environ)
        (tmp / "tmp").mkdir()
        user_environ = os.environ if environ is None else environ
        hook_env = backend_environment(
            user_environ,
            tmp,
            source_date_epoch=source_date_epoch,
            env_root=envs.root,
            c_prefix_map=prefix_map_flag(user_environ),
        )
        raw_sdist_dir, sdist_dir, wheel_dir = tmp / "sdist-raw", tmp / "sdist", tmp / "wheel"
        sdist_dir.mkdir()

        # The wheel step's interpreter starts now and imports the backend while the sdist is
        # built, so the two backend start-ups overlap (they are most of a small build's time).
        warm_wheel = start_hooks("wheel", wheel_dir / "1", backend, envs, hook_env)
        try:
            raw_sdist, _ = run_step(
                "sdist", root, raw_sdist_dir, name, version, backend, envs, hook_env
            )
            sdist_path = sdist_dir / raw_sdist.name
            repack_sdist(raw_sdist, sdist_path, source_date_epoch)

            # The wheel is built from the sdist, as pip and uv would build it on a user's machine.
            tree = unpack_sdist(sdist_path, tmp / "unpacked")
            wheel_path, env_python = run_step(
                "wheel", tree.root, wheel_dir, name, version, backend, envs, hook_env, warm_wheel
            )
        finally:
            warm_wheel.close()
        rezip_wheel(wheel_path, source_date_epoch)
        # A compiled Linux wheel gets the manylinux tag it satisfies (building/repair).
        repaired = repair_wheel(
            wheel_path, tmp / "repaired", source_date_epoch=source_date_epoch, envs=envs
        )
        wheel_path = repaired.path

        check_built(name, version, backend, sdist_path, wheel_path)

        out_dir.mkdir(parents=True, exist_ok=True)
        sdist = _publish_file(sdist_path, out_dir)
        wheel = _publish_file(wheel_path, out_dir)

    installed = envs.installed(env_python)
    return BuiltDists(
        sdist=sdist,
        wheel=wheel,
        backend=backend.backend,
        backend_version=installed.get(canonicalize_name(backend.distribution), "unknown"),
        python=envs.python_version,
        warnings=(repaired.warning,) if repaired.warning else (),
        requirements=tuple(f"{name}=={version}" for name, version in sorted(installed.items())),
    )


def _publish_file(src: Path, out_dir: Path) -> BuiltFile:
    sha256, size = file_sha256_size(src)
    target = out_dir / src.name
    # Copy under a temporary name first: a reader never sees a half-written file.
    with src.open("rb") as inp, open_atomic(target) as out:
        shutil.copyfileobj(inp, out, 1 << 20)
    return BuiltFile(path=target, filename=src.name, sha256=sha256, size=size)
