"""remove_tree: any depth, links removed and never followed, read-only directories emptied."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pyhotfix.treeremove import remove_contents, remove_tree, temporary_directory

NAME = "d" * 20


def make_deep(root: Path, depth: int) -> Path:
    """`depth` nested directories made with relative mkdirs (absolute paths would pass PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(NAME, dir_fd=fd)
            child = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    return root


def test_a_tree_deeper_than_the_recursion_limit_and_path_max_is_removed(tmp_path: Path) -> None:
    """250 levels of 21 characters (over PATH_MAX), removed with a recursion limit of 100: the
    walk keeps no Python frame and no absolute path per level (each rmdir is slow here)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    make_deep(tree, 250)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        remove_tree(tree)
    finally:
        sys.setrecursionlimit(old_limit)
    assert not tree.exists()


def test_links_are_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "to-dir").symlink_to(outside)
    (tree / "to-file").symlink_to(outside / "keep")
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep").read_text() == "keep"


def test_read_only_directories_are_emptied(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "ro" / "inner").mkdir(parents=True)
    (tree / "ro" / "inner" / "f").write_text("x")
    (tree / "ro" / "inner").chmod(0o500)
    (tree / "ro").chmod(0o500)
    remove_contents(tree)
    assert list(tree.iterdir()) == []


def test_missing_path_and_a_plain_file(tmp_path: Path) -> None:
    remove_tree(tmp_path / "nothing")
    single = tmp_path / "single"
    single.write_text("x")
    remove_tree(single)
    assert not single.exists()


def test_temporary_directory_is_removed_even_after_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), temporary_directory("t-", dir=tmp_path) as made:
        make_deep(made, 50)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
