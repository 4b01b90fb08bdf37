"""Small real distributions built in memory: valid wheels and sdists (byte-identical for identical
arguments), and the bare stand-ins that only an index listing needs."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "dist_name",
    "make_listing_sdist",
    "make_listing_wheel",
    "make_module_wheel",
    "make_sdist",
    "make_setuptools_sdist",
    "make_wheel",
]


def dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata(
    name: str, version: str, requires_python: str | None, requires: Sequence[str] = ()
) -> str:
    text = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test package\n"
    if requires_python:
        text += f"Requires-Python: {requires_python}\n"
    text += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    return text + "\nA long description.\n"


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    body: str = "",
    meta_version: str | None = None,
    requires: Sequence[str] = (),
) -> Path:
    """A valid pure-Python wheel; byte-identical for identical arguments (fixed zip timestamps).

    `requires`: its Requires-Dist lines (PEP 508 strings)."""
    dist = dist_name(name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f'VERSION = "{version}"\n{body}',
        f"{info}/METADATA": _metadata(name, meta_version or version, requires_python, requires),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: pyhotfix-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = ""
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in files.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
    return out


def make_sdist(
    dest: Path, name: str, version: str, *, requires_python: str | None = None, body: str = ""
) -> Path:
    dist = dist_name(name)
    top = f"{dist}-{version}"
    files = {
        f"{top}/PKG-INFO": _metadata(name, version, requires_python),
        f"{top}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n',
        f"{top}/{dist}/__init__.py": f'VERSION = "{version}"\n{body}',
    }
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{top}.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(path)
            member.size, member.mtime, member.mode = len(data), 1577836800, 0o644
            tar.addfile(member, io.BytesIO(data))
    out.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    return out


def make_listing_sdist(directory: Path, name: str, version: str) -> Path:
    """A minimal sdist: <name>-<version>.tar.gz holding <name>-<version>/PKG-INFO."""
    stem = f"{name}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{stem}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return path


def make_listing_wheel(directory: Path, name: str, version: str, tag: str = "py3-none-any") -> Path:
    """A file named like a wheel that is not one: enough for code that only lists it."""
    path = directory / f"{name}-{version}-{tag}.whl"
    path.write_bytes(b"not really a wheel: the index only lists it")
    return path


def make_setuptools_sdist(
    dest: Path,
    name: str,
    version: str,
    module: str,
    *,
    src: bool = False,
    files: dict[str, str] | None = None,
) -> Path:
    """A minimal real sdist (PKG-INFO, pyproject.toml with setuptools, one package); `files`
    (relative path → text) replaces the package's `__init__.py` when given."""
    base = f"{name}-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ),
        **(files if files is not None else {f"{'src/' if src else ''}{name}/__init__.py": module}),
    }
    path = dest / f"{base}.tar.gz"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def make_module_wheel(dest: Path, name: str, version: str, module: str) -> Path:
    """A pure-Python wheel written by hand, so pip installs upstream without building."""
    path = dest / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": module.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{rel},sha256={hashlib.sha256(data).hexdigest()},{len(data)}\n"
        for rel, data in files.items()
    )
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path
