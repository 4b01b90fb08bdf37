"""Upstream releases published as platform wheels, made in memory for wheel mode (`from = "wheels"`):
one small package per wheel (the same Python files in each, a fake compiled module that differs),
optionally a mypyc-style module compiled beside its .py, and the repository patch that fixes it.
Byte-identical for identical arguments (fixed zip timestamps)."""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.dists import dist_name

__all__ = [
    "BUG",
    "FIXED",
    "PLATFORMS",
    "PYTHONS",
    "fix_patch",
    "make_platform_release",
    "make_platform_wheel",
    "package_files",
    "platform_tags",
]

BUG = "    return 41  # bug: should be 42\n"
FIXED = "    return 42  # fixed\n"

PYTHONS = ("cp38", "cp39", "cp310", "cp311", "cp312", "cp313")
PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "manylinux_2_5_i686.manylinux1_i686",
    "musllinux_1_1_x86_64",
    "musllinux_1_1_aarch64",
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "macosx_10_9_universal2",
    "win_amd64",
    "win32",
)


def platform_tags(count: int) -> list[str]:
    """`count` distinct wheel tags (python-abi-platform), the running interpreter's
    manylinux x86_64 one first (so pip on this machine can install the release)."""
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    tags = [f"{here}-{here}-{PLATFORMS[0]}"]
    for py in PYTHONS:
        for plat in PLATFORMS:
            tag = f"{py}-{py}-{plat}"
            if tag not in tags:
                tags.append(tag)
    return tags[:count]


def package_files(
    module: str,
    *,
    mypyc: bool = False,
    abi: str = "cpython-311-x86_64-linux-gnu",
    fixed: bool = False,
) -> dict[str, bytes]:
    """The files a wheel of package `module` installs: `answer()` with the bug, a helper module,
    a fake extension module; with `mypyc`, `md.py` compiled beside itself as `md.<abi>.so`."""
    files = {
        f"{module}/__init__.py": (
            "from .helpers import double\n\n\n"
            "def answer() -> int:\n"
            '    """Return the answer."""\n'
            f"{FIXED if fixed else BUG}"
        ).encode(),
        f"{module}/helpers.py": b"def double(x: int) -> int:\n    return 2 * x\n",
        f"{module}/_speedups.{abi}.so": b"\x7fELF fake extension for " + abi.encode(),
    }
    if mypyc:
        files[f"{module}/md.py"] = b"def detect() -> str:\n    return 'bug'\n"
        files[f"{module}/md.{abi}.so"] = b"\x7fELF fake mypyc module " + abi.encode()
    return files


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_platform_wheel(
    dest: Path,
    name: str,
    version: str,
    tag: str,
    files: Mapping[str, bytes],
    *,
    extra_members: Sequence[tuple[zipfile.ZipInfo, bytes]] = (),
) -> Path:
    """A wheel with `files` installed (plus a valid .dist-info and RECORD), tagged `tag`;
    `extra_members` are appended as given (for hostile wheels)."""
    dist = dist_name(name)
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: platform wheels\n"
        "\nThe description.\n"
    ).encode()
    members[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: pyhotfix-tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
    ).encode()
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in members.items():
            zf.writestr(zipfile.ZipInfo(path, (2024, 5, 6, 7, 8, 10)), data)
        for zinfo, data in extra_members:
            zf.writestr(zinfo, data)
    return out


def make_platform_release(
    dest: Path, name: str, version: str, count: int, *, mypyc: bool = False, fixed: bool = False
) -> list[Path]:
    """`count` platform wheels of `name` `version` (see `platform_tags`): the same Python files,
    a fake extension module per wheel."""
    module = dist_name(name)
    wheels = []
    for tag in platform_tags(count):
        py, _, plat = tag.split("-")
        abi = f"{py}-{plat.split('.')[0]}"
        wheels.append(
            make_platform_wheel(
                dest, name, version, tag, package_files(module, mypyc=mypyc, abi=abi, fixed=fixed)
            )
        )
    return wheels


def fix_patch(module: str, *, repo_prefix: str = "src/") -> str:
    """The repository's fix of answer(): a git diff of `src/<module>/__init__.py`."""
    path = f"{repo_prefix}{module}/__init__.py"
    return (
        f"diff --git a/{path} b/{path}\n"
        f"--- a/{path}\n"
        f"+++ b/{path}\n"
        "@@ -3,4 +3,4 @@ from .helpers import double\n"
        " \n"
        " def answer() -> int:\n"
        '     """Return the answer."""\n'
        f"-{BUG.rstrip()}\n"
        f"+{FIXED.rstrip()}\n"
    )
