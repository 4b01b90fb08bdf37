"""Unpacking refuses anything that could write outside the work directory."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from pyhotfix.errors import UnsafeArchiveError
from pyhotfix.unpack import UnpackLimits, unpack_sdist


def make_tar(
    path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None
) -> Path:
    data = data or {}
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def test_regular_sdist_unpacks(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "pkg-1.0.tar.gz",
        [
            member("pkg-1.0", tarfile.DIRTYPE),
            member("pkg-1.0/setup.py"),
            member("pkg-1.0/link", tarfile.SYMTYPE, "setup.py"),
        ],
        {"pkg-1.0/setup.py": b"from setuptools import setup\n"},
    )
    tree = unpack_sdist(archive, tmp_path / "out")
    assert tree.root == tmp_path / "out" / "pkg-1.0"
    assert (tree.root / "setup.py").read_bytes() == b"from setuptools import setup\n"
    assert (tree.root / "link").is_symlink()


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([member("pkg-1.0/../../evil.py")], "unsafe"),
        ([member("/etc/evil.py")], "unsafe"),
        ([member("pkg-1.0/link", tarfile.SYMTYPE, "../../../etc/passwd")], "links outside"),
        ([member("pkg-1.0/link", tarfile.SYMTYPE, "/etc/passwd")], "absolute path"),
        ([member("pkg-1.0/hard", tarfile.LNKTYPE, "../outside")], "links outside"),
        ([member("pkg-1.0/dev", tarfile.CHRTYPE)], "device"),
        ([member("pkg-1.0/fifo", tarfile.FIFOTYPE)], "device or fifo"),
    ],
)
def test_malicious_tar_is_refused_and_nothing_escapes(
    tmp_path: Path, members: list[tarfile.TarInfo], words: str
) -> None:
    archive = make_tar(tmp_path / "evil-1.0.tar.gz", [member("pkg-1.0", tarfile.DIRTYPE), *members])
    work = tmp_path / "deep" / "work"
    with pytest.raises(UnsafeArchiveError) as info:
        unpack_sdist(archive, work)
    assert words in str(info.value)
    assert "evil-1.0.tar.gz" in str(info.value)
    assert not (tmp_path / "evil.py").exists()
    assert not (tmp_path / "deep" / "evil.py").exists()
    assert not any(work.rglob("*")), "nothing is unpacked from a refused archive"


def test_symlink_then_write_through_it_is_refused(tmp_path: Path) -> None:
    """The classic two-step escape: a link to a directory outside, then a file 'inside' the link."""
    archive = make_tar(
        tmp_path / "evil-1.0.tar.gz",
        [
            member("pkg-1.0", tarfile.DIRTYPE),
            member("pkg-1.0/d", tarfile.SYMTYPE, "../.."),
            member("pkg-1.0/d/x.py"),
        ],
        {"pkg-1.0/d/x.py": b"boom"},
    )
    with pytest.raises(UnsafeArchiveError):
        unpack_sdist(archive, tmp_path / "work")
    assert not (tmp_path / "x.py").exists()


def test_size_and_count_bounds(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "big-1.0.tar.gz",
        [member("big-1.0", tarfile.DIRTYPE), member("big-1.0/a"), member("big-1.0/b")],
        {"big-1.0/a": b"x" * 1000, "big-1.0/b": b"y" * 1000},
    )
    with pytest.raises(UnsafeArchiveError, match="members"):
        unpack_sdist(archive, tmp_path / "w1", UnpackLimits(max_members=2))
    with pytest.raises(UnsafeArchiveError, match="unpacks to"):
        unpack_sdist(archive, tmp_path / "w2", UnpackLimits(max_total_bytes=1500))
    with pytest.raises(UnsafeArchiveError, match="member over"):
        unpack_sdist(archive, tmp_path / "w3", UnpackLimits(max_member_bytes=999))


def test_zip_sdist_and_zip_traversal(tmp_path: Path) -> None:
    good = tmp_path / "pkg-1.0.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("pkg-1.0/setup.py", "x = 1\n")
    assert (unpack_sdist(good, tmp_path / "ok").root / "setup.py").read_text() == "x = 1\n"
    evil = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("pkg-1.0/../../evil.py", "boom")
    with pytest.raises(UnsafeArchiveError):
        unpack_sdist(evil, tmp_path / "bad")
    assert not (tmp_path / "evil.py").exists()


def test_not_an_archive_and_two_roots(tmp_path: Path) -> None:
    junk = tmp_path / "junk-1.0.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(UnsafeArchiveError, match="could not be unpacked"):
        unpack_sdist(junk, tmp_path / "w")
    two = make_tar(tmp_path / "two-1.0.tar.gz", [member("a/x"), member("b/y")])
    with pytest.raises(UnsafeArchiveError, match="exactly one top-level directory"):
        unpack_sdist(two, tmp_path / "w2")
