"""Cached build environments: one per (sorted build requirements, interpreter), made with uv.

`python -m build` and `uv build` create a fresh environment for every build, which dominates the
time of a small build; `EnvCache` keeps them. Build requirements are installed from wheels only
and direct references are refused, so no third-party build code runs with uv's index credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyhotfix.building._output import tail_block
from pyhotfix.building.environ import installer_environment
from pyhotfix.errors import BuildError
from pyhotfix.treeremove import remove_tree

__all__ = ["EnvCache"]

_MARKER = ".pyhotfix-env.json"


class EnvCache:
    """Build environments kept under `root`, one per (sorted build requirements, interpreter).

    Environments are created with uv in a temporary directory and renamed into place under an
    exclusive file lock, with a marker written last, so concurrent processes never share a
    half-built environment and an interrupted creation is simply redone. Requirements are resolved
    once, when the environment is created; clear `root` to pick up newer backends.
    """

    def __init__(
        self,
        root: Path,
        python: str = sys.executable,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # Absolute: uv and the hooks run in other working directories.
        self.root = Path(os.path.abspath(root))
        # uv gets its own settings and index credentials, nothing else secret (environ).
        self.environ = installer_environment(os.environ if environ is None else environ)
        self.python = shutil.which(python) or python
        self._python_version: str | None = None
        self._uv: str | None = None

    @property
    def python_version(self) -> str:
        """The interpreter's version, e.g. "3.11.7" (asked once; it is part of the cache key)."""
        if self._python_version is None:
            if os.path.realpath(self.python) == os.path.realpath(sys.executable):
                self._python_version = platform.python_version()
            else:
                out = self._run(
                    [self.python, "-c", "import platform; print(platform.python_version())"],
                    what=f"ask {self.python} for its version",
                    advice="Check that this Python interpreter exists and runs.",
                )
                self._python_version = out.strip()
        return self._python_version

    def environment(self, requires: Sequence[str]) -> Path:
        """Return the python executable of an environment with `requires` installed."""
        reqs = _normalize_requirements(requires)
        material = json.dumps(
            {
                "requires": reqs,
                "python": self.python_version,
                "interpreter": os.path.realpath(self.python),
            },
            sort_keys=True,
        )
        key = hashlib.sha256(material.encode()).hexdigest()[:32]
        env_dir = self.root / key
        python = env_dir / "bin" / "python"
        if self._ready(env_dir):
            return python
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / f"{key}.lock"):
            if self._ready(env_dir):  # another process finished it while we waited
                return python
            if env_dir.exists():  # unfinished or broken: start over
                remove_tree(env_dir)
            staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
            try:
                self._create(staging / "env", reqs)
                os.rename(staging / "env", env_dir)
            finally:
                with contextlib.suppress(OSError):
                    remove_tree(staging)
        return python

    def installed(self, env_python: Path) -> dict[str, str]:
        """Canonical distribution name -> version of what an environment of this cache holds."""
        marker = env_python.parent.parent / _MARKER
        data: dict[str, Any] = json.loads(marker.read_text())
        installed: dict[str, str] = data["installed"]
        return installed

    # -- internals --

    def _ready(self, env_dir: Path) -> bool:
        # The marker is written last and the interpreter link must still resolve.
        return (env_dir / _MARKER).is_file() and (env_dir / "bin" / "python").exists()

    def _create(self, env_dir: Path, reqs: list[str]) -> None:
        uv = self._uv_bin()
        # --relocatable: the environment is renamed into place after creation.
        self._run(
            [uv, "venv", "--quiet", "--relocatable", "--python", self.python, str(env_dir)],
            what=f"create a build environment for {self.python}",
            advice="Check that this Python interpreter exists and that uv can use it.",
            cwd=env_dir.parent,
        )
        env_python = env_dir / "bin" / "python"
        if reqs:
            # Bytecode compiled now saves every later hook call from compiling the backend.
            # --no-build: wheels only. uv would build an sdist with its own environment (index
            # credentials, the real HOME), so no third-party build code runs in it.
            self._run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--no-build",
                    "--compile-bytecode",
                    "--python",
                    str(env_python),
                    *reqs,
                ],
                what=f"install the build requirements {', '.join(reqs)}",
                advice="Check that the package index is reachable and that these requirements "
                "exist for this Python, then retry.",
                cwd=env_dir.parent,
                advice_if=(
                    ("building from source is disabled", _NO_WHEEL_ADVICE),
                    ("no usable wheels", _NO_WHEEL_ADVICE),
                ),
            )
        marker = {
            "requires": reqs,
            "python": self.python_version,
            "installed": _installed_distributions(env_dir),
        }
        (env_dir / _MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True))

    def _uv_bin(self) -> str:
        if self._uv is None:
            import uv  # the uv PyPI package ships the binary

            self._uv = uv.find_uv_bin()
        return self._uv

    def _run(
        self,
        cmd: list[str],
        *,
        what: str,
        advice: str,
        cwd: Path | None = None,
        advice_if: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Run `cmd`; on failure a BuildError with `advice`, or the advice of the first
        (text, advice) pair of `advice_if` whose text is in the output."""
        proc = subprocess.run(
            cmd, cwd=cwd, env=self.environ, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            advice = next((a for text, a in advice_if if text in output), advice)
            raise BuildError(
                f"Could not {what} (exit code {proc.returncode}). {advice}"
                + tail_block(Path(cmd[0]).name, proc.stdout + proc.stderr)
            )
        return proc.stdout


_NO_WHEEL_ADVICE = (
    "A build requirement has no wheel for this Python and platform (see below). pyhotfix "
    "installs build requirements from wheels only, so that no third-party build code runs with "
    "uv's index credentials: build a wheel of it yourself and put it on your package index (or "
    "in a directory named by UV_FIND_LINKS), then retry."
)


def _normalize_requirements(requires: Sequence[str]) -> list[str]:
    """The requirements, normalized and sorted; invalid ones and direct references refused."""
    normalized = set()
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise BuildError(
                f"The build requirement {text!r} is not a valid PEP 508 requirement ({exc}); "
                "fix [build-system] requires in pyproject.toml with a patch."
            ) from exc
        if req.url is not None:
            # A local path or URL would be fetched, and an sdist there built, by uv with its
            # own environment; upstream build requirements name index packages.
            raise BuildError(
                f"The build requirement {text[:200]!r} is a direct reference (a path or URL, "
                "not a package on an index); pyhotfix refuses those, as they make the build "
                "fetch and run code from wherever they point. Replace it in [build-system] "
                "requires of pyproject.toml with a patch (name the package and a version), and "
                "make that package's wheel available on your index."
            )
        normalized.add(str(req))
    return sorted(normalized)


def _installed_distributions(env_dir: Path) -> dict[str, str]:
    installed: dict[str, str] = {}
    for dist_info in env_dir.glob("lib/python*/site-packages/*.dist-info"):
        dist, _, ver = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[canonicalize_name(dist)] = ver
    return installed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
