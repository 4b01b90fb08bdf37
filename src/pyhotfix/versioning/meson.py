"""meson-python: the static [project] version (PEP 621) and `project(version:)` in meson.build.

meson-python takes a static [project] version as is; without a [project] table (or with a dynamic
version) it takes `project(version: ...)` from meson.build. Both are set, so the metadata and
`meson.project_version()` (used by projects to write their `__version__`) agree. meson-python
builds its sdist with `meson dist`, which only works in a git (or Mercurial) checkout, so the
versioned tree is committed to a throwaway repository (fixed identity and date) for that.
"""

from __future__ import annotations

import re
from pathlib import Path

from pyhotfix._git import Git
from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import (
    inside,
    load_pyproject_doc,
    read_text,
    set_pkg_info,
    write_pyproject,
    write_text,
)
from pyhotfix.versioning.pep621 import set_project_version

__all__ = ["BUILD_SETTINGS", "meson_project_version_span", "set_meson_python_version"]

# A build directory at a fixed place in the tree (default: a random `.mesonpy-*` one), so the
# paths compiled into the extension (debug info, hence the build-id) are the same every time.
BUILD_SETTINGS = (("build-dir", ".pyhotfix-build"),)

_PROJECT_CALL = re.compile(r"^[ \t]*project[ \t]*\(", re.MULTILINE)
_KEYWORD = re.compile(r"\s*(?P<key>\w+)\s*:(?!=)\s*", re.ASCII)
_STRING = re.compile(r"'(?P<value>(?:[^'\\\n]|\\.)*)'")
_FILES = re.compile(r"files\s*\(\s*'(?P<path>[^'\\\n]+)'\s*\)")


def set_meson_python_version(root: Path, name: str, version: str) -> None:
    doc = load_pyproject_doc(root)
    has_project = set_project_version(doc, version)
    in_meson_build = _set_meson_build_version(root, version)
    if not has_project and not in_meson_build:
        raise VersioningError(
            f"{name} has no [project] table in pyproject.toml and its meson.build does not give "
            "project() a literal version (a string or files('VERSION')), so pyhotfix cannot set "
            "the hotfix version; make the version a literal in meson.build with a patch."
        )
    if has_project:
        write_pyproject(root, doc)
    set_pkg_info(root, version, required=False)
    _commit_for_meson_dist(root)


def meson_project_version_span(text: str) -> tuple[int, int] | None:
    """Where the value of project()'s `version:` keyword is in meson.build text, or None.

    A small scanner of meson's syntax (strings, comments, brackets) finds the keyword among the
    top-level arguments of the first project() call.
    """
    call = _PROJECT_CALL.search(text)
    if call is None:
        return None
    depth, i, arg_start = 1, call.end(), call.end()
    args: list[tuple[int, int]] = []
    while i < len(text) and depth:
        c = text[i]
        if text.startswith("'''", i):
            end = text.find("'''", i + 3)
            i = len(text) if end < 0 else end + 3
            continue
        if c == "'":
            m = _STRING.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if not depth:
                args.append((arg_start, i))
        elif c == "," and depth == 1:
            args.append((arg_start, i))
            arg_start = i + 1
        i += 1
    if depth:
        return None  # unbalanced: not a meson.build we understand
    for start, end in args:
        m = _KEYWORD.match(text, start, end)
        if m and m["key"] == "version":
            value_end = end
            while value_end > m.end() and text[value_end - 1].isspace():
                value_end -= 1
            return m.end(), value_end
    return None


def _set_meson_build_version(root: Path, version: str) -> bool:
    """Set a literal project(version:) in meson.build (or the file of `files('VERSION')`)."""
    path = root / "meson.build"
    if not path.is_file():
        return False
    text = read_text(path)
    span = meson_project_version_span(text)
    if span is None:
        return False
    value = text[span[0] : span[1]]
    if _STRING.fullmatch(value):
        write_text(path, text[: span[0]] + f"'{version}'" + text[span[1] :])
        return True
    files = _FILES.fullmatch(value)
    target = inside(root, files["path"]) if files else None
    if target is not None and target.is_file():
        old = read_text(target)
        write_text(target, version + old[len(old.rstrip()) :])
        return True
    return False  # computed (run_command, a variable): the static [project] version decides


def _commit_for_meson_dist(root: Path) -> None:
    if (root / ".git").exists():
        return  # already a repository (an edit workspace): meson dist uses it as it is
    git = Git(root)
    git.must("init", "--quiet")
    # -f: files upstream's .gitignore names (generated version files) are part of the sdist too.
    git.must("add", "--all", "--force")
    # meson-python writes PKG-INFO into the sdist itself; `meson dist` would add the tree's too.
    git.must("rm", "--cached", "--quiet", "--ignore-unmatch", "--", "PKG-INFO")
    git.must("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "pyhotfix: hotfix tree")
