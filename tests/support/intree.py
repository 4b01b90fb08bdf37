"""A project with an in-tree build backend (`backend-path = ["."]`), as poetry-core builds itself.

The backend is a tiny module of the project: importing it from the tree is what made Python write
`__pycache__/*.pyc` into the tree being packed. It packs every file it finds (as a backend that
lists its tree does), so a stray .pyc shows in the sdist. It needs no build requirements, so no
index is involved.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from pyhotfix.versioning import BackendInfo

BACKEND_MODULE = "tinybackend"

_BACKEND = '''\
"""A minimal PEP 517 backend: the sdist packs the whole tree, the wheel the package."""
import base64, hashlib, os, tarfile, tomllib, zipfile


def _meta():
    with open("pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    return project["name"], project["version"]


def _make_deep_tmp():
    # With a file `deep-tmp` in the tree: leave a tree that many levels deep in TMPDIR, as a
    # build tool's scratch files can be; cleaning up must not recurse per level.
    if not os.path.exists("deep-tmp"):
        return
    levels = int(open("deep-tmp").read())
    fd = os.open(os.environ["TMPDIR"], os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    name, version = _meta()
    base = f"{name.replace('-', '_')}-{version}"
    with open("PKG-INFO", "w") as fh:
        fh.write(f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as tar:
        for dirpath, dirnames, filenames in os.walk("."):
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.normpath(os.path.join(dirpath, filename))
                tar.add(path, arcname=f"{base}/{path}", recursive=False)
    return base + ".tar.gz"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _make_deep_tmp()
    name, version = _meta()
    dist = f"{name.replace('-', '_')}-{version}"
    filename = f"{dist}-py3-none-any.whl"
    files = {
        "intree_demo/__init__.py": open("intree_demo/__init__.py", "rb").read(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode()
        ),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\\nGenerator: tinybackend\\nRoot-Is-Purelib: true\\n"
            b"Tag: py3-none-any\\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return filename
'''


def make_in_tree_backend_project(dest: Path, name: str, version: str) -> Path:
    """The project at `dest` (created), building itself with its own `tinybackend` module."""
    (dest / "intree_demo").mkdir(parents=True)
    (dest / "intree_demo" / "__init__.py").write_text("def answer():\n    return 42\n")
    (dest / f"{BACKEND_MODULE}.py").write_text(_BACKEND)
    (dest / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = []
            build-backend = "{BACKEND_MODULE}"
            backend-path = ["."]

            [project]
            name = "{name}"
            version = "{version}"
            """
        )
    )
    return dest


def in_tree_backend_info() -> BackendInfo:
    """What `detect_backend` would say if pyhotfix knew how to version this backend."""
    return BackendInfo(BACKEND_MODULE, (), (".",), "tinybackend")
