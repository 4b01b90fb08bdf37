"""Distribution files: filenames, bounded core-metadata reads, the name/version check, hashing."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyhotfix.distfile import (
    METADATA_MAX,
    DistFilename,
    check_metadata,
    dist_kind,
    file_sha256_size,
    parse_dist_filename,
    sdist_pkg_info,
    wheel_metadata,
)
from pyhotfix.errors import PublishError

DEMO, DEMO_PKG = canonicalize_name("demo"), canonicalize_name("demo-pkg")
META = b"Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\nRequires-Python: >=3.8\n\nbody\n"


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _sdist(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_filenames_name_their_project_and_version() -> None:
    assert parse_dist_filename("Demo.Pkg-1.0.tar.gz") == DistFilename(
        "sdist", DEMO_PKG, Version("1.0")
    )
    assert parse_dist_filename("demo_pkg-1.0+hotfix.2-py3-none-any.whl") == DistFilename(
        "wheel", DEMO_PKG, Version("1.0+hotfix.2")
    )
    assert [dist_kind(n) for n in ("a-1.whl", "a-1.tar.gz", "a-1.zip", "a-1.egg")] == [
        "wheel",
        "sdist",
        "sdist",
        None,
    ]
    with pytest.raises(ValueError):
        parse_dist_filename("demo-1.0.egg")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["", ".whl", ".tar.gz", ".zip"]))
def test_filename_parser_raises_only_value_error(stem: str, suffix: str) -> None:
    try:
        parsed = parse_dist_filename(stem + suffix)
    except ValueError:
        return
    assert parsed.kind == ("wheel" if suffix == ".whl" else "sdist")


def test_wheel_metadata_is_read_and_checked(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path / "demo_pkg-1.0-py3-none-any.whl",
        {"demo/__init__.py": b"", "demo_pkg-1.0.dist-info/METADATA": META},
    )
    metadata = wheel_metadata(wheel, wheel.name, DEMO_PKG, Version("1.0"))
    assert metadata == META
    assert check_metadata(metadata, wheel.name, DEMO_PKG, Version("1.0")) == ">=3.8"
    with pytest.raises(PublishError, match=r"its metadata says Demo\.Pkg 1\.0, but its filename"):
        check_metadata(metadata, wheel.name, DEMO_PKG, Version("2.0"))


def test_oversized_metadata_members_are_refused_unread(tmp_path: Path) -> None:
    huge = b"Name: demo\nVersion: 1.0\n" + b"x" * METADATA_MAX  # compresses to a few KiB
    wheel = _wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo-1.0.dist-info/METADATA": huge})
    with pytest.raises(PublishError, match="its METADATA is too large"):
        wheel_metadata(wheel, wheel.name, DEMO, Version("1.0"))
    sdist = _sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/PKG-INFO": huge})
    assert sdist_pkg_info(sdist, sdist.name) is None


def test_sdist_pkg_info_and_broken_archives(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/PKG-INFO": META, "demo-1.0/x.py": b""})
    assert sdist_pkg_info(sdist, sdist.name) == META
    broken = tmp_path / "demo-1.1.tar.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(PublishError, match="is not a valid sdist archive"):
        sdist_pkg_info(broken, broken.name)
    with pytest.raises(PublishError, match=r"is not a valid wheel \(zip\)"):
        wheel_metadata(broken, "demo-1.1-py3-none-any.whl", DEMO, Version("1.1"))


def test_file_sha256_size_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # spans several read chunks
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert file_sha256_size(path) == (hashlib.sha256(data).hexdigest(), len(data))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256_size(empty) == (hashlib.sha256(b"").hexdigest(), 0)
