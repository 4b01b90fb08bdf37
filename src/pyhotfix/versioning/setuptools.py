"""setuptools (setup.py, setup.cfg, [project], setuptools-scm, pbr, versioneer): `[egg_info]
tag_build`, which setuptools appends to whatever the version is; pbr and versioneer need a
little more (`_keep_pbr_setup_py`, `_set_versioneer_version`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from packaging.version import Version

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import (
    inside,
    load_pyproject,
    pkg_info_version,
    read_text,
    set_pkg_info,
    table,
    write_text,
)

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
    _keep_pbr_setup_py(root)
    _set_versioneer_version(root, version)


def _keep_pbr_setup_py(root: Path) -> None:
    """pbr lists an sdist's files with git; without .git (an unpacked sdist) its sdist lacks
    setup.py, and the wheel built from that sdist, without pbr, says version 0.0.0. MANIFEST.in
    keeps setup.py in it."""
    setup_py = root / "setup.py"
    if not setup_py.is_file() or not _PBR_SETUP.search(read_text(setup_py)):
        return
    manifest = root / "MANIFEST.in"
    text = read_text(manifest) if manifest.exists() else ""
    included = (line.split() for line in text.splitlines())
    if not any(words[:1] == ["include"] and "setup.py" in words[1:] for words in included):
        gap = "" if not text or text.endswith("\n") else "\n"
        write_text(manifest, f"{text}{gap}include setup.py\n")


def _set_versioneer_version(root: Path, version: str) -> None:
    """versioneer's `_version.py` in an sdist holds the version as JSON (`version_json`), which
    setup.py's `versioneer.get_version()` returns and the package's `__version__` reads: it gets
    the hotfix version (tag_build then sees an already tagged version and adds nothing)."""
    source = _versioneer_file(root)
    if source is None or not source.is_file():
        return
    text = read_text(source)
    block = _VERSION_JSON.search(text)
    if block is None:
        return
    try:
        data = json.loads(block["json"])
    except ValueError:
        return
    if not isinstance(data, dict) or "version" not in data:
        return
    data["version"] = version
    body = json.dumps(data, sort_keys=True, indent=1, separators=(",", ": "))
    write_text(source, text[: block.start("json")] + "\n" + body + "\n" + text[block.end("json") :])


def _versioneer_file(root: Path) -> Path | None:
    """`versionfile_source` of [tool.versioneer] (pyproject.toml) or [versioneer] (setup.cfg)."""
    configured = table(load_pyproject(root), "tool", "versioneer").get("versionfile_source")
    cfg = root / "setup.cfg"
    if not isinstance(configured, str) and cfg.is_file():
        configured = _cfg_get(read_text(cfg), "versioneer", "versionfile_source")
    return inside(root, configured) if isinstance(configured, str) and configured else None


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


# setup(..., pbr=True): the setup hook that makes a setuptools project a pbr one.
_PBR_SETUP = re.compile(r"\bpbr\s*=\s*True\b")
# versioneer's frozen _version.py: version_json = '''{...}'''  # END VERSION_JSON
_VERSION_JSON = re.compile(r"^version_json = '''(?P<json>.*?)'''", re.MULTILINE | re.DOTALL)
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
