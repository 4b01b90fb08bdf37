"""The one atomic-write helper: old or new content, never partial; no temp file left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix._atomic import open_atomic, store_atomic, write_atomic


class Boom(Exception):
    pass


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_error_mid_write_keeps_old_content_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "hotfixes.lock"
    target.write_bytes(b"old")
    with pytest.raises(Boom), open_atomic(target) as out:
        out.write(b"half of the new")
        assert len(_leftovers(tmp_path)) == 1  # the temp file exists while writing
        raise Boom
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_error_before_any_file_existed_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    with pytest.raises(Boom), open_atomic(target, durable=False) as out:
        out.write(b"x")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_created_file_honours_umask_not_mkstemp_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def test_missing_directory_is_an_oserror_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "absent" / "f", b"x")
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_old_content(tmp_path: Path) -> None:
    """A process killed in the middle of a write (a real crash, SIGKILL) leaves the old file."""
    target = tmp_path / "index.html"
    target.write_bytes(b"old")
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from pyhotfix._atomic import open_atomic\n"
        "with open_atomic(Path(sys.argv[1])) as out:\n"
        "    out.write(b'partial')\n"
        "    out.flush()\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(target)], timeout=60, check=False)
    assert proc.returncode == -9
    assert target.read_bytes() == b"old"


@settings(max_examples=50, deadline=None)
@given(old=st.binary(max_size=256), new=st.binary(max_size=256), fail=st.booleans())
def test_content_is_old_or_new_never_mixed(
    tmp_path_factory: pytest.TempPathFactory, old: bytes, new: bytes, fail: bool
) -> None:
    directory = tmp_path_factory.mktemp("atomic")
    target = directory / "entry"
    target.write_bytes(old)
    try:
        with open_atomic(target, durable=False) as out:
            out.write(new[: len(new) // 2])
            if fail:
                raise Boom
            out.write(new[len(new) // 2 :])
    except Boom:
        pass
    assert target.read_bytes() == (old if fail else new)
    assert _leftovers(directory) == []


def test_store_atomic_names_the_file_after_writing_it(tmp_path: Path) -> None:
    def write(out: BinaryIO) -> str:
        out.write(b"content")
        return "abc123"

    dest = store_atomic(tmp_path / "tmp", write, lambda key: tmp_path / "blobs" / key)
    assert dest == tmp_path / "blobs" / "abc123" and dest.read_bytes() == b"content"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_store_atomic_stores_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    def write(out: BinaryIO) -> str:
        out.write(b"partial")
        raise ValueError("hash mismatch")

    with pytest.raises(ValueError):
        store_atomic(tmp_path / "tmp", write, lambda key: tmp_path / "blobs" / key)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "blobs").exists()
