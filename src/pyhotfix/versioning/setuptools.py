"""setuptools (setup.py, setup.cfg, [project], setuptools-scm, pbr, versioneer): `[egg_info]
tag_build`, which setuptools appends to whatever the version is."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import pkg_info_version, set_pkg_info

__all__ = ["set_setuptools_version"]


def set_setuptools_version(root: Path, name: str, version: str) -> None:
    # setuptools regenerates PKG-INFO from setup.py/setup.cfg/pyproject, so editing the version
    # where it is defined is fragile (attr:, file:, computed in setup.py, pbr from PKG-INFO or
    # git, versioneer from _version.py). `[egg_info] tag_build` is appended to whatever the
    # version is, and only once (egg_info skips an already-tagged version), so the sdist we build
    # and the wheel built from it agree.
    base = pkg_info_version(root)
    suffix = _suffix(name, base, version)
    cfg = root / "setup.cfg"
    text = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
    existing = _cfg_get(text, "egg_info", "tag_build") or ""
    if existing and base is not None and not base.endswith(existing):
        existing = ""  # a stale tag the sdist's own version does not carry
    cfg.write_text(_cfg_set(text, "egg_info", "tag_build", existing + suffix), encoding="utf-8")
    # setuptools-scm (and pbr) without .git read PKG-INFO, so patching it makes scm's generated
    # version file (`version_file`/`write_to`) say the hotfix version too; plain setuptools
    # ignores PKG-INFO. setuptools-scm >= 10 prefers the tag stored in
    # *.egg-info/scm_version.json over PKG-INFO, so that file goes (scm_file_list.json stays).
    set_pkg_info(root, version, required=False)
    for stored in [
        *root.glob("*.egg-info/scm_version.json"),
        *root.glob("*/*.egg-info/scm_version.json"),
    ]:
        stored.unlink()


def _suffix(name: str, base: str | None, version: str) -> str:
    if base is None:
        local = Version(version).local
        if local is None:
            raise VersioningError(
                f"{name} has no PKG-INFO to read its upstream version from, and {version!r} has no "
                "local label (+...) to add, so the hotfix version cannot be set with setuptools."
            )
        return "+" + local
    if not version.startswith(base) or version == base:
        raise VersioningError(
            f"The hotfix version {version} of {name} does not extend the upstream version {base} "
            "(from PKG-INFO); setuptools can only add a suffix to the version, e.g. "
            f"{base}+hotfix.1."
        )
    return version[len(base) :]


_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_OPTION = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*[=:]\s*(?P<value>.*)$")


def _cfg_get(text: str, section: str, key: str) -> str | None:
    current = None
    for line in text.splitlines():
        if m := _SECTION.match(line):
            current = m["name"].strip()
        elif (
            current == section and (m := _OPTION.match(line)) and m["key"].replace("-", "_") == key
        ):
            return m["value"].strip()
    return None


def _cfg_set(text: str, section: str, key: str, value: str) -> str:
    """Set one option in an ini file by editing its text, so comments and layout survive."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.endswith("\r\n") else "\n"
    start = None
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m and start is not None:
            end = i
            break
        if m and m["name"].strip() == section:
            start = i
    else:
        end = len(lines)
    entry = f"{key} = {value}{newline}"
    if start is None:
        prefix = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text.strip() else ""
        return text + prefix + gap + f"[{section}]{newline}" + entry
    for i in range(start + 1, end):
        m = _OPTION.match(lines[i])
        if m and m["key"].replace("-", "_") == key:
            # Drop continuation lines of a multi-line value, then replace the option.
            j = i + 1
            while j < end and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j += 1
            lines[i:j] = [entry]
            return "".join(lines)
    lines.insert(start + 1, entry)
    return "".join(lines)
