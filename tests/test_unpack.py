"""Unpacking refuses anything that could write outside the work directory or exhaust the machine.

Every hostile archive is made here (tests/support/archives.py); each refusal is checked for its
error and message, for nothing left in the destination, for the files next to it being untouched,
and for taking little time.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhotfix.errors import PyhotfixError, UnsafeArchiveError
from pyhotfix.treeremove import remove_tree
from pyhotfix.unpack import UnpackLimits, _BoundedReader, _member_parts, _Refused, unpack_sdist
from tests.support import archives as A
from tests.support.archives import Entry, directory, file, hardlink, symlink

TOP = "pkg-1.0"
DEFAULT_LIMITS = UnpackLimits()
SECONDS = 5.0  # every refusal below takes milliseconds; this only catches a runaway


# -- helpers -----------------------------------------------------------------------------------


def snapshot(root: Path, skip: Path) -> dict[str, tuple[str, bytes]]:
    """Everything under root except `skip`: kind and content (or link target)."""
    seen: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in [*dirnames, *filenames]:
            path = here / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = ("link", os.readlink(path).encode())
            elif path.is_dir():
                seen[rel] = ("dir", b"")
            else:
                seen[rel] = ("file", path.read_bytes())
    return seen


class Scene:
    """A work directory with a sentinel file next to the destination, to prove nothing escaped."""

    def __init__(self, tmp_path: Path) -> None:
        self.base = tmp_path
        self.work = tmp_path / "work"
        self.dest = self.work / "dest"
        self.work.mkdir()
        self.sentinel = self.work / "flag"
        self.sentinel.write_bytes(b"sentinel")
        (tmp_path / "flag").write_bytes(b"sentinel too")

    def refused(
        self, archive: Path, limits: UnpackLimits = DEFAULT_LIMITS, display_name: str | None = None
    ) -> str:
        """Unpack, expect a refusal; check nothing escaped or stayed; return the message."""
        before = snapshot(self.base, skip=self.dest)
        started = time.monotonic()
        with pytest.raises(UnsafeArchiveError) as info:
            unpack_sdist(archive, self.dest, limits, display_name=display_name)
        assert time.monotonic() - started < SECONDS
        assert snapshot(self.base, skip=self.dest) == before, "something was written outside dest"
        assert list(self.dest.iterdir()) == [], "a refused archive leaves nothing behind"
        message = str(info.value)
        assert (display_name or archive.name) in message
        return message


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


def tar(scene: Scene, entries: list[Entry], name: str = "evil-1.0.tar.gz") -> Path:
    return A.write_tar(scene.base / name, entries)


def zip_(scene: Scene, entries: list[Entry], name: str = "evil-1.0.zip") -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names; that's the point
        return A.write_zip(scene.base / name, entries)


def walk_times(root: Path) -> Iterator[tuple[str, int, int]]:
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        yield str(path.relative_to(root)), int(info.st_mtime), stat.S_IMODE(info.st_mode)


# -- honest sdists -----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", ""])
def test_regular_sdist_unpacks_with_inside_links(tmp_path: Path, compression: str) -> None:
    archive = A.write_tar(
        tmp_path / "pkg-1.0.tar",
        [
            directory(TOP),
            file(f"{TOP}/setup.py", b"from setuptools import setup\n"),
            file(f"{TOP}/docs/README.md", b"readme"),  # its directory is not listed
            symlink(f"{TOP}/README.md", "docs/README.md"),
            symlink(f"{TOP}/docs/top-setup.py", "../setup.py"),
            symlink(f"{TOP}/later", "data/x"),  # before its target: allowed, links come last
            file(f"{TOP}/data/x", b"x"),
            hardlink(f"{TOP}/copy.py", f"{TOP}/setup.py"),
        ],
        compression,
    )
    tree = unpack_sdist(archive, tmp_path / "out")
    assert tree.root == tmp_path / "out" / TOP
    assert (tree.root / "setup.py").read_bytes() == b"from setuptools import setup\n"
    assert os.readlink(tree.root / "README.md") == "docs/README.md"
    assert (tree.root / "README.md").read_bytes() == b"readme"
    assert (tree.root / "docs" / "top-setup.py").read_bytes().startswith(b"from setuptools")
    assert (tree.root / "later").read_bytes() == b"x"
    copy = tree.root / "copy.py"
    assert copy.read_bytes() == (tree.root / "setup.py").read_bytes()
    assert not copy.is_symlink() and copy.stat().st_ino != (tree.root / "setup.py").stat().st_ino
    assert tree.newest_mtime == A.MTIME


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_a_file_listed_twice_is_replaced_by_the_later_copy(tmp_path: Path, kind: str) -> None:
    """hatchling lists PKG-INFO twice in an sdist built from an sdist; the later one is current."""
    entries = [
        directory(TOP),
        file(f"{TOP}/PKG-INFO", b"old", mtime=1_500_000_000),
        hardlink(f"{TOP}/copy", f"{TOP}/PKG-INFO")
        if kind == "tar"
        else file(f"{TOP}/copy", b"old"),
        file(f"{TOP}/PKG-INFO", b"new\n", mode=0o755),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        archive = (A.write_tar if kind == "tar" else A.write_zip)(tmp_path / f"pkg.{kind}", entries)
    tree = unpack_sdist(archive, tmp_path / "out")
    assert (tree.root / "PKG-INFO").read_bytes() == b"new\n"
    assert stat.S_IMODE((tree.root / "PKG-INFO").stat().st_mode) == 0o755
    assert (tree.root / "copy").read_bytes() == b"old"
    assert sorted(p.name for p in tree.root.iterdir()) == ["PKG-INFO", "copy"]


def test_zip_sdist_unpacks(tmp_path: Path) -> None:
    archive = A.write_zip(
        tmp_path / "pkg-1.0.zip",
        [
            directory(TOP),
            file(f"{TOP}/setup.py", b"x = 1\n", mode=0o755),
            file(f"{TOP}/pkg/__init__.py", b""),
            symlink(f"{TOP}/link.py", "setup.py"),
        ],
    )
    tree = unpack_sdist(archive, tmp_path / "ok")
    assert (tree.root / "setup.py").read_text() == "x = 1\n"
    assert stat.S_IMODE((tree.root / "setup.py").stat().st_mode) == 0o755
    assert stat.S_IMODE((tree.root / "pkg" / "__init__.py").stat().st_mode) == 0o644
    assert os.readlink(tree.root / "link.py") == "setup.py"
    # zip times have no zone: read as UTC so every machine gets the same epoch.
    assert tree.newest_mtime == 1_600_000_000


def test_modes_are_sanitized_and_times_kept(tmp_path: Path) -> None:
    archive = A.write_tar(
        tmp_path / "pkg-1.0.tar.gz",
        [
            directory(TOP, mode=0o7777, mtime=1_500_000_000),
            file(f"{TOP}/suid", b"#!/bin/sh\n", mode=0o4755, mtime=1_400_000_000),
            file(f"{TOP}/private", b"p", mode=0o600),
            file(f"{TOP}/group-write", b"g", mode=0o2666),
            directory(f"{TOP}/sticky", mode=0o1777),
        ],
    )
    tree = unpack_sdist(archive, tmp_path / "out")
    modes = {p: stat.S_IMODE(m) for p, _, m in walk_times(tree.root)}
    assert modes == {"suid": 0o755, "private": 0o644, "group-write": 0o644, "sticky": 0o755}
    assert stat.S_IMODE(tree.root.stat().st_mode) == 0o755
    assert int(tree.root.stat().st_mtime) == 1_500_000_000
    assert int((tree.root / "suid").stat().st_mtime) == 1_400_000_000
    assert tree.newest_mtime == A.MTIME


def test_epoch_and_tree_times_come_from_the_archive_not_the_clock(tmp_path: Path) -> None:
    """flit/pdm/poetry/hatchling sdists list no directories; their times must not be 'now'."""
    archive = A.write_tar(
        tmp_path / "pkg-1.0.tar.gz",
        [
            file(f"{TOP}/pyproject.toml", b"[project]\n", mtime=1_500_000_000),
            file(f"{TOP}/src/pkg/__init__.py", b"", mtime=1_600_000_123),
            file(f"{TOP}/PKG-INFO", b"Metadata-Version: 2.1\n", mtime=1_550_000_000),
        ],
    )
    first = unpack_sdist(archive, tmp_path / "one")
    time.sleep(1.1)  # a clock-dependent time would now differ by at least a second
    second = unpack_sdist(archive, tmp_path / "two")
    assert first.newest_mtime == second.newest_mtime == 1_600_000_123
    times = list(walk_times(first.root))
    assert times == list(walk_times(second.root))
    assert dict((p, t) for p, t, _ in times)["src"] == 1_600_000_123  # implicit: the newest time
    assert int(first.root.stat().st_mtime) == int(second.root.stat().st_mtime) == 1_600_000_123


def test_pipeline_epoch_uses_the_archive_time_clamped_to_1980() -> None:
    from pyhotfix.pipeline.modes import sdist_epoch

    assert sdist_epoch(1_600_000_123) == 1_600_000_123
    assert sdist_epoch(0) == 315532800


def test_destination_must_be_empty(tmp_path: Path) -> None:
    archive = A.write_tar(tmp_path / "pkg-1.0.tar.gz", [directory(TOP), file(f"{TOP}/a", b"a")])
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep").write_bytes(b"mine")
    with pytest.raises(PyhotfixError, match="not empty"):
        unpack_sdist(archive, dest)
    assert (dest / "keep").read_bytes() == b"mine"


# -- hostile tar -------------------------------------------------------------------------------


def test_path_max_symlink_chain_cve_2025_4517(scene: Scene) -> None:
    """realpath() gives up past PATH_MAX; the escape link, hard link and writes must all fail."""
    archive = tar(scene, A.path_max_symlink_chain(TOP, scene.dest, "flag"))
    message = scene.refused(archive)
    assert "goes through" in message and "symlink" in message
    assert "not trustworthy" in message
    assert not (scene.work / "newfile").exists()


def test_path_max_chain_links_alone_are_refused(scene: Scene) -> None:
    """The chain's directories and links, and `escape` pointing through it: no member uses it."""
    chain = A.path_max_symlink_chain(TOP, scene.dest, "flag")
    entries = [
        e for e in chain if e.kind == "dir" or (e.name.count("/") <= 2 and e.kind == "symlink")
    ]
    assert any(e.name == f"{TOP}/escape" for e in entries)
    message = scene.refused(tar(scene, entries))
    assert "through or at the symlink" in message


def test_hardlink_to_a_file_outside_through_links_is_refused(scene: Scene) -> None:
    """The hard-link variant: link `escape` outside, hard link to the sentinel, overwrite it."""
    archive = tar(
        scene,
        [
            directory(TOP),
            symlink(f"{TOP}/escape", "../.."),
            hardlink(f"{TOP}/flaglink", f"{TOP}/escape/flag"),
            file(f"{TOP}/flaglink", b"overwritten"),
        ],
    )
    message = scene.refused(archive)
    assert "goes through" in message or "hard link" in message


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([file(f"{TOP}/../../evil.py", b"x")], "'..'"),
        ([file("/etc/evil.py", b"x")], "absolute path"),
        ([file(f"{TOP}\\..\\..\\evil.py", b"x")], "backslash"),
        ([symlink(f"{TOP}/link", "../../../etc/passwd")], "leaves the sdist's directory"),
        ([symlink(f"{TOP}/link", "..")], "leaves the sdist's directory"),
        ([symlink(f"{TOP}/link", "/etc/passwd")], "absolute path"),
        ([symlink(f"{TOP}/link", ".")], "a loop"),
        ([symlink(f"{TOP}/a", "b"), symlink(f"{TOP}/b", "setup.py")], "links through links"),
        ([hardlink(f"{TOP}/hard", "../outside")], "outside the sdist's directory"),
        ([hardlink(f"{TOP}/hard", f"{TOP}/missing")], "not a regular file extracted before"),
        ([hardlink(f"{TOP}/hard", TOP)], "not a regular file extracted before"),
        ([symlink(f"{TOP}/s", "x"), hardlink(f"{TOP}/hard", f"{TOP}/s")], "not a regular file"),
        ([Entry(f"{TOP}/dev", "chr")], "device file"),
        ([Entry(f"{TOP}/blk", "blk")], "device file"),
        ([Entry(f"{TOP}/fifo", "fifo")], "fifo"),
        ([file(f"{TOP}/a", b"1"), symlink(f"{TOP}/a", "b")], "appears twice"),
        ([symlink(f"{TOP}/a", "b"), file(f"{TOP}/a", b"1")], "appears twice"),
        ([symlink(f"{TOP}/a", "b"), symlink(f"{TOP}/a", "c")], "appears twice"),
        ([file(f"{TOP}/a", b"1"), directory(f"{TOP}/a")], "appears twice"),
        ([file(f"{TOP}/f", b"1"), file(f"{TOP}/f/x", b"2")], "which is a file"),
        ([symlink(f"{TOP}/d", "sub"), file(f"{TOP}/d/x.py", b"boom")], "goes through"),
        ([symlink(f"{TOP}/d", "../.."), file(f"{TOP}/d/x.py", b"boom")], "goes through"),
    ],
)
def test_malicious_tar_is_refused_and_nothing_escapes(
    scene: Scene, entries: list[Entry], words: str
) -> None:
    archive = tar(scene, [directory(TOP), file(f"{TOP}/setup.py", b"ok"), *entries])
    message = scene.refused(archive, display_name="evil-1.0.tar.gz")
    assert words in message
    assert "unsafe to unpack" in message and "not trustworthy" in message


def test_display_name_replaces_the_cache_path(scene: Scene) -> None:
    archive = tar(scene, [directory(TOP), file("/abs", b"x")], name="0f3a9c")
    message = scene.refused(archive, display_name="evil-1.0.tar.gz")
    assert message.startswith("evil-1.0.tar.gz is unsafe") and "0f3a9c" not in message


def test_long_names_are_cut_in_messages(scene: Scene) -> None:
    archive = tar(scene, [directory(TOP), symlink(f"{TOP}/" + "x" * 250, "/" + "y" * 3000)])
    message = scene.refused(archive)
    assert "absolute path" in message and len(message) < 800


@pytest.mark.parametrize(
    ("entries", "limits", "words"),
    [
        ([file(f"{TOP}/a", b"1"), file(f"{TOP}/b", b"2")], UnpackLimits(max_members=2), "members"),
        (
            [file(f"{TOP}/a", b"x" * 1000), file(f"{TOP}/b", b"y" * 1000)],
            UnpackLimits(max_total_bytes=1500),
            "unpacks to more than 1500 bytes",
        ),
        (
            [file(f"{TOP}/a", b"x" * 1000)],
            UnpackLimits(max_member_bytes=999),
            "limit for one member is 999",
        ),
        (
            [file(f"{TOP}/a", b"x" * 1000), hardlink(f"{TOP}/b", f"{TOP}/a")],
            UnpackLimits(max_total_bytes=1500),
            "unpacks to more than",
        ),
        ([file(f"{TOP}/" + "d/" * 40 + "x", b"")], UnpackLimits(max_path_chars=60), "characters"),
        ([file(f"{TOP}/" + "n" * 256, b"")], UnpackLimits(), "over 255 bytes"),
    ],
)
def test_bounds(scene: Scene, entries: list[Entry], limits: UnpackLimits, words: str) -> None:
    archive = tar(scene, [directory(TOP), *entries], name="big-1.0.tar.gz")
    assert words in scene.refused(archive, limits)


def test_not_an_archive_and_not_an_sdist(scene: Scene) -> None:
    junk = scene.base / "junk-1.0.tar.gz"
    junk.write_bytes(b"not a tarball")
    assert "could not be unpacked" in scene.refused(junk)
    two = tar(scene, [file("a/x", b"1"), file("b/y", b"2")], name="two-1.0.tar.gz")
    assert "exactly one top-level directory" in scene.refused(two)
    flat = tar(scene, [file("setup.py", b"1")], name="flat-1.0.tar.gz")
    assert "exactly one top-level directory" in scene.refused(flat)
    empty = tar(scene, [], name="empty-1.0.tar.gz")
    assert "exactly one top-level directory" in scene.refused(empty)


def test_damaged_compressed_stream_is_unreadable_not_a_disk_error(scene: Scene) -> None:
    good = A.write_tar(
        scene.base / "pkg-1.0.tar.gz", [directory(TOP), file(f"{TOP}/a", b"a" * 5000)]
    )
    damaged = scene.base / "damaged-1.0.tar.gz"
    damaged.write_bytes(good.read_bytes()[:12] + b"garbage" * 20)
    message = scene.refused(damaged)
    assert "not a readable" in message and "free space" not in message


def test_a_write_failure_is_reported_as_such_and_cleaned_up(tmp_path: Path) -> None:
    """A real write error (EFBIG under RLIMIT_FSIZE) is not blamed on the sdist."""
    archive = A.write_tar(
        tmp_path / "pkg-1.0.tar.gz", [directory(TOP), file(f"{TOP}/a", b"a" * 5000)]
    )
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from pathlib import Path
        from pyhotfix.errors import UnsafeArchiveError
        from pyhotfix.unpack import unpack_sdist
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            unpack_sdist(Path(sys.argv[1]), Path(sys.argv[2]))
        except UnsafeArchiveError as exc:
            print(exc)
        """
    )
    dest = tmp_path / "dest"
    done = subprocess.run(
        [sys.executable, "-c", script, str(archive), str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "pkg-1.0.tar.gz could not be unpacked into" in done.stdout
    assert "free space and permissions" in done.stdout
    assert list(dest.iterdir()) == []


def test_odd_pax_times_are_clamped(tmp_path: Path) -> None:
    archive = tmp_path / "pkg-1.0.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as out:
        for name, mtime in [(TOP, "nan"), (f"{TOP}/a", "inf"), (f"{TOP}/b", "-5")]:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE if name == TOP else tarfile.REGTYPE
            info.pax_headers = {"mtime": mtime}
            out.addfile(info, None if name == TOP else io.BytesIO(b""))
    tree = unpack_sdist(archive, tmp_path / "out")
    assert tree.newest_mtime == 0
    assert int((tree.root / "a").stat().st_mtime) == 0


# -- memory and decompression bombs ------------------------------------------------------------


_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from pyhotfix.errors import UnsafeArchiveError
    from pyhotfix.unpack import unpack_sdist
    messages = []
    for i, archive in enumerate(sys.argv[1:]):
        try:
            unpack_sdist(Path(archive), Path(archive).parent / f"dest-{i}")
        except UnsafeArchiveError as exc:
            messages.append(str(exc))
    # VmHWM: the peak of this process's own memory since exec. ru_maxrss is not that: Linux
    # carries the parent's peak over fork and exec, so it reported pytest's size (272 MB once).
    try:
        with open("/proc/self/status") as status:
            peak_kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak_kb // 1024)
    print("\\n".join(messages))
    """
)


def test_header_and_gzip_bombs_stay_small_and_fast(tmp_path: Path) -> None:
    """A 600 MB PAX / GNU long-name header and a 6 GiB file, each in a small .tar.gz."""
    bombs = [
        A.pax_header_bomb(tmp_path / "pax-1.0.tar.gz"),
        A.gnu_longname_bomb(tmp_path / "gnu-1.0.tar.gz"),
        A.gzip_bomb(tmp_path / "gz-1.0.tar.gz", TOP, declared=6 << 30, actual=64 << 20),
    ]
    assert all(path.stat().st_size < 1 << 20 for path in bombs)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *map(str, bombs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert time.monotonic() - started < 20
    peak_mb, *messages = done.stdout.splitlines()
    assert int(peak_mb) <= 100, f"peak memory {peak_mb} MB"  # measured: about 25 MB
    assert len(messages) == 3, done.stdout
    assert "pax-1.0.tar.gz" in messages[0] and "header of 629145600 bytes" in messages[0]
    assert "gnu-1.0.tar.gz" in messages[1] and "header of 629145600 bytes" in messages[1]
    assert "gz-1.0.tar.gz" in messages[2] and "declares 6442450944 bytes" in messages[2]
    assert not any(tmp_path.glob("dest-*/*"))


def test_gzip_bomb_within_one_member_stops_at_the_total_bound(scene: Scene) -> None:
    """Members each under the per-member bound, together over the total bound: refused early."""
    zeros = b"\0" * (1 << 20)
    archive = tar(scene, [directory(TOP), *(file(f"{TOP}/z{i}", zeros) for i in range(40))])
    limits = UnpackLimits(max_total_bytes=8 << 20, max_member_bytes=2 << 20)
    assert "unpacks to more than 8388608 bytes" in scene.refused(archive, limits)


def test_the_decompressed_stream_itself_is_bounded() -> None:
    """Belt and braces behind the per-member checks: reading past the bound stops the archive."""
    reader = _BoundedReader(io.BytesIO(b"\0" * 10_000), limit=4096)
    assert len(reader.read(4096)) == 4096
    with pytest.raises(_Refused, match="decompresses to more than 4096 bytes"):
        reader.read(1)


def test_many_extension_headers_in_a_row_are_refused(scene: Scene) -> None:
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    name = f"{TOP}/x".encode() + b"\0"
    header.size = len(name)
    block = header.tobuf(format=tarfile.GNU_FORMAT) + name.ljust(512, b"\0")
    archive = scene.base / "chain-1.0.tar"
    archive.write_bytes(block * 5000 + b"\0" * 1024)
    assert "more PAX or GNU long-name headers" in scene.refused(archive)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.REGTYPE])
def test_negative_sizes_are_refused(scene: Scene, kind: bytes) -> None:
    """CVE-2025-8194: a negative size moves tarfile's offset backwards (a loop, unstreamed)."""
    top = tarfile.TarInfo(TOP)
    top.type = tarfile.DIRTYPE
    info = tarfile.TarInfo(f"{TOP}/neg")
    info.type = kind
    info.size = -2048
    archive = scene.base / "neg-1.0.tar"
    archive.write_bytes(
        top.tobuf(format=tarfile.GNU_FORMAT)
        + info.tobuf(format=tarfile.GNU_FORMAT)
        + top.tobuf(format=tarfile.GNU_FORMAT) * 4
        + b"\0" * 1024
    )
    message = scene.refused(archive)
    assert "-2048 bytes" in message


def test_sparse_members_are_refused(scene: Scene) -> None:
    info = tarfile.TarInfo(f"{TOP}/sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    archive = scene.base / "sparse-1.0.tar"
    archive.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
    assert "sparse" in scene.refused(archive)


# -- hostile zip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([file(f"{TOP}/../../evil.py", b"x")], "'..'"),
        ([file("/evil.py", b"x")], "absolute path"),
        ([file(f"{TOP}\\..\\..\\evil.py", b"x")], "backslash"),
        ([symlink(f"{TOP}/link", "../../flag")], "leaves the sdist's directory"),
        ([symlink(f"{TOP}/link", "/etc/passwd")], "absolute path"),
        ([symlink(f"{TOP}/d", "../.."), file(f"{TOP}/d/x.py", b"boom")], "goes through"),
        ([file(f"{TOP}/a", b"1"), symlink(f"{TOP}/a", "x")], "appears twice"),
        ([Entry(f"{TOP}/fifo", "fifo")], "device, fifo or socket"),
        ([Entry(f"{TOP}/dev", "chr")], "device, fifo or socket"),
    ],
)
def test_malicious_zip_is_refused(scene: Scene, entries: list[Entry], words: str) -> None:
    archive = zip_(scene, [directory(TOP), file(f"{TOP}/setup.py", b"ok"), *entries])
    message = scene.refused(archive)
    assert words in message


def test_zip_size_bounds_declared_and_actual(scene: Scene) -> None:
    big = zip_(scene, [directory(TOP), file(f"{TOP}/zeros", b"\0" * (4 << 20))], "big-1.0.zip")
    assert "declares 4194304 bytes" in scene.refused(big, UnpackLimits(max_member_bytes=1 << 20))
    assert "unpacks to more than" in scene.refused(big, UnpackLimits(max_total_bytes=1 << 20))
    # Declares 1000 bytes, holds 16 MiB: never more than the declared size is read or written.
    liar = A.zip_with_lying_size(scene.base / "liar-1.0.zip", f"{TOP}/zeros", 16 << 20, 1000)
    assert "could not be unpacked" in scene.refused(liar)
    many = zip_(scene, [directory(TOP), *(file(f"{TOP}/{i}", b"") for i in range(30))], "m-1.0.zip")
    assert "more than 10 members" in scene.refused(many, UnpackLimits(max_members=10))


def test_zip_central_directory_is_bounded_before_it_is_loaded(scene: Scene) -> None:
    archive = zip_(scene, [directory(TOP), file(f"{TOP}/a", b"a")], "cd-1.0.zip")
    raw = bytearray(archive.read_bytes())
    end = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<L", raw, end + 12, 0x7FFF_FFFF)  # the central directory's size
    archive.write_bytes(bytes(raw))
    assert "central directory is 2147483647 bytes long" in scene.refused(archive)


# -- the path parser ---------------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from(["a", "b", ".", "/", "\\", "\0", "é"]), max_size=40))
def test_member_parts_never_yield_an_escaping_path(name: str) -> None:
    try:
        parts = _member_parts(name, UnpackLimits())
    except _Refused:
        return
    assert all(p not in ("", ".", "..") and "/" not in p and "\\" not in p for p in parts)
    assert "\0" not in "".join(parts) and not name.startswith("/")


# -- deep trees ----------------------------------------------------------------------------------


def test_a_member_deeper_than_the_depth_bound_is_refused(scene: Scene) -> None:
    """The red-team sdist: one file 1500 directories deep (within the 4096-character bound)."""
    deep = "/".join(["d"] * 1500)
    entries = [directory(TOP), file(f"{TOP}/setup.py", b"ok"), file(f"{TOP}/{deep}/x")]
    archive = tar(scene, entries)
    message = scene.refused(archive)
    assert "has 1502 path components (the limit is 64" in message
    assert "nothing from it was kept" in message


def test_a_refusal_after_a_deep_tree_cleans_up_at_any_depth(scene: Scene) -> None:
    """Limits raised to let a deep tree in, then a fifo: the cleanup must not recurse per level
    (shutil.rmtree did, and a 1500-level sdist made it raise RecursionError). The recursion limit
    is lowered so that a few hundred levels prove it (each level costs a slow rmdir here)."""
    deep = "/".join(["d"] * 400)
    entries = [directory(TOP), file(f"{TOP}/{deep}/x", b"x"), Entry(f"{TOP}/fifo", "fifo")]
    archive = tar(scene, entries)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        message = scene.refused(archive, UnpackLimits(max_depth=500))
    finally:
        sys.setrecursionlimit(old_limit)
    assert "is a fifo" in message


def test_many_members_deep_down_cost_path_components_not_members_times_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red-team shape (14,000 files ~1990 levels down took > 300 s): each member re-opened
    every directory level. Now the directories opened are about the path components."""
    depth, count = 300, 2000
    deep = "/".join(["a"] * depth)
    entries = [directory(TOP), *(file(f"{TOP}/{deep}/f{i}") for i in range(count))]
    archive = A.write_tar(tmp_path / "deep-1.0.tar.gz", entries)
    opened: list[object] = []
    real_open = os.open

    def counting_open(*args: Any, **kwargs: Any) -> int:
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    tree = unpack_sdist(archive, tmp_path / "out", UnpackLimits(max_depth=depth + 10))
    monkeypatch.undo()
    # one per file; per directory one while writing and two to set its time (parent, itself)
    assert len(opened) <= count + 3 * (depth + 1) + 10, len(opened)  # members x depth: 600,000
    assert (tree.root / deep / f"f{count - 1}").is_file()
    remove_tree(tmp_path / "out")  # pytest's own cleanup recurses per level


def test_depth_bound_counts_components_not_dots_or_slashes(scene: Scene) -> None:
    name = f"{TOP}/" + "./" * 100 + "/".join(["d"] * 62) + "/x"
    archive = tar(scene, [directory(TOP), file(name, b"ok")])
    tree = unpack_sdist(archive, scene.dest)
    assert (tree.root / "/".join(["d"] * 62) / "x").read_bytes() == b"ok"
