"""`_files.read_regular_file`: the one bounded reader of user-named files (manifest, patches)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pyhotfix._files import ReadProblem, read_regular_file


class Refused(Exception):
    def __init__(self, problem: ReadProblem) -> None:
        super().__init__(problem.kind)
        self.problem = problem


def refuse(problem: ReadProblem) -> Refused:
    return Refused(problem)


def test_reads_a_regular_file_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert read_regular_file(path, 10, refuse) == b"x" * 10


def test_a_file_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(Refused) as raised:
        read_regular_file(path, 10, refuse)
    assert raised.value.problem == ReadProblem("too-large", size=11)


def test_a_missing_file_cannot_be_opened_and_the_os_error_is_kept(tmp_path: Path) -> None:
    with pytest.raises(Refused) as raised:
        read_regular_file(tmp_path / "missing", 10, refuse)
    problem = raised.value.problem
    assert problem.kind == "cannot-open" and isinstance(problem.error, FileNotFoundError)
    assert raised.value.__cause__ is problem.error


def test_a_directory_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(Refused) as raised:
        read_regular_file(tmp_path, 10, refuse)
    assert raised.value.problem.kind == "not-regular"
    assert stat.S_ISDIR(raised.value.problem.mode)


def test_a_fifo_without_a_writer_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(Refused) as raised:
        read_regular_file(fifo, 10, refuse)
    assert raised.value.problem.kind == "not-regular"
    assert stat.S_ISFIFO(raised.value.problem.mode)
