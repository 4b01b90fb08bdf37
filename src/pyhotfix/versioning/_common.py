"""Helpers the backend modules share: pyproject.toml (read, tomlkit edit, write), PKG-INFO's
Version header, bounded reads of the other files a backend keeps its version in, and regex
replacement of a version literal."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from pyhotfix._files import ReadProblem, read_regular_file
from pyhotfix.errors import VersioningError

# The files edited here are small text files; anything bigger is not what it claims to be.
_MAX_TEXT = 4 << 20


def is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def read_text(path: Path) -> str:
    """A text file of the tree (meson.build, Cargo.toml): regular, bounded, UTF-8."""

    def failure(problem: ReadProblem) -> Exception:
        why = {
            "cannot-open": f"cannot be opened ({problem.error})",
            "cannot-read": f"cannot be read ({problem.error})",
            "not-regular": "is not a regular file",
            "too-large": f"is larger than {_MAX_TEXT >> 20} MiB",
        }[problem.kind]
        return VersioningError(
            f"{path} {why}, so the hotfix version cannot be set in it; the sdist looks "
            "malformed (or a patch broke it)."
        )

    data = read_regular_file(path, _MAX_TEXT, failure)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VersioningError(
            f"{path} is not UTF-8 text ({exc}), so the hotfix version cannot be set in it."
        ) from exc


def write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def load_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VersioningError(
            f"{path} is not valid TOML ({exc}), so the package cannot be built."
        ) from exc


def load_pyproject_doc(root: Path) -> tomlkit.TOMLDocument:
    load_pyproject(root)  # validates, with a friendly error
    return tomlkit.parse((root / "pyproject.toml").read_text(encoding="utf-8"))


def write_pyproject(root: Path, doc: tomlkit.TOMLDocument) -> None:
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")


def table(doc: Any, *keys: str) -> dict[str, Any]:
    """A nested table of the document, or {} when any level is missing."""
    node = doc
    for key in keys:
        if not hasattr(node, "get"):
            return {}
        node = node.get(key, {})
    return node if hasattr(node, "get") else {}


def pkg_info_version(root: Path) -> str | None:
    path = root / "PKG-INFO"
    if not path.exists():
        return None
    headers = path.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
    m = re.search(r"^Version:[ \t]*(\S+)", headers, re.MULTILINE)
    return m[1] if m else None


def set_pkg_info(root: Path, version: str, *, required: bool) -> None:
    path = root / "PKG-INFO"
    if not path.exists():
        if required:
            raise VersioningError(
                f"{root.name} has no PKG-INFO, so its dynamic version cannot be set: pyhotfix "
                "hotfixes unpacked sdists, which always carry one."
            )
        return
    data = path.read_bytes().decode("utf-8", errors="surrogateescape")
    header, sep, rest = data.partition("\n\n")
    header, n = re.subn(
        r"^Version:[ \t]*.*?(\r?)$", rf"Version: {version}\1", header, count=1, flags=re.MULTILINE
    )
    if n != 1:
        raise VersioningError(f"{path} has no Version: header; the sdist is malformed.")
    path.write_bytes((header + sep + rest).encode("utf-8", errors="surrogateescape"))


def replace_version_in_file(path: Path, pattern: str, version: str, group: str = "version") -> bool:
    """Put `version` where `pattern` (its group `group`, else group 1) matches; False if no match."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    m = re.search(pattern, text, re.MULTILINE)
    if m is None:
        return False
    which: str | int = group if group in m.re.groupindex else 1
    start, end = m.span(which)
    path.write_text(text[:start] + version + text[end:], encoding="utf-8")
    return True


def inside(root: Path, relative: str) -> Path | None:
    """`root / relative` when it stays inside `root` (a config value naming a file), else None."""
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None
