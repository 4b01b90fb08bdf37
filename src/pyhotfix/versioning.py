"""Set the hotfix version in an unpacked upstream sdist, the way its build backend will honour it.

Every backend reads its version from a different place, and several silently ignore the obvious
edit (docs/ARCHITECTURE.md has the table this module implements). `building.build` checks the
result, so an override a backend ignores is caught there, never shipped.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.version import InvalidVersion, Version

from pyhotfix.errors import VersioningError

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# PEP 517/518: a project without [build-system] is built by setuptools' legacy backend.
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)

# build-backend string -> the distribution that provides it.
_BACKENDS = {
    "setuptools.build_meta": "setuptools",
    LEGACY_BACKEND: "setuptools",
    "hatchling.build": "hatchling",
    "flit_core.buildapi": "flit-core",
    "poetry.core.masonry.api": "poetry-core",
    "pdm.backend": "pdm-backend",
}
SUPPORTED_DISTRIBUTIONS = ("setuptools", "hatchling", "flit-core", "poetry-core", "pdm-backend")

# hatchling's default pattern for [tool.hatch.version] path = ... (hatchling/version/source/regex).
_HATCH_DEFAULT_PATTERN = r"(?i)^(__version__|VERSION) *= *([\'\"])v?(?P<version>.+?)\2"
# pdm-backend's default pattern for [tool.pdm.version] source = "file".
_PDM_DEFAULT_PATTERN = r"^(?:__version__|VERSION)\s*=\s*[\"'](.+?)[\"']\s*(?:#.*)?$"
# A literal `__version__ = "..."`, the form flit reads without importing the module.
_DUNDER_VERSION = r"^__version__\s*(?::\s*str\s*)?=\s*([\'\"])(?P<version>[^\'\"]+)\1"


@dataclass(frozen=True)
class BackendInfo:
    """How a source tree is built (PEP 517 [build-system]) and which distribution does it."""

    backend: str
    requires: tuple[str, ...]
    backend_path: tuple[str, ...]
    distribution: str


def detect_backend(root: Path) -> BackendInfo:
    """Read the tree's [build-system]; VersioningError for a backend pyhotfix cannot version."""
    build_system = _load_pyproject(root).get("build-system")
    if not isinstance(build_system, dict):
        # No [build-system]: PEP 517's fallback is the legacy setuptools backend (setup.py).
        return BackendInfo(LEGACY_BACKEND, DEFAULT_REQUIRES, (), "setuptools")
    requires = build_system.get("requires", list(DEFAULT_REQUIRES))
    backend = build_system.get("build-backend", LEGACY_BACKEND)
    backend_path = build_system.get("backend-path", [])
    if not isinstance(backend, str) or not _is_str_list(requires) or not _is_str_list(backend_path):
        raise VersioningError(
            f"The [build-system] table in {root / 'pyproject.toml'} is malformed (build-backend "
            "must be a string, requires and backend-path lists of strings), so the package cannot "
            "be built."
        )
    distribution = _BACKENDS.get(backend.strip())
    if distribution is None:
        raise VersioningError(
            f"The build backend {backend!r} (requires: {', '.join(requires) or 'nothing'}) is not "
            "supported yet: pyhotfix only knows how to set the version for "
            f"{', '.join(SUPPORTED_DISTRIBUTIONS)}. Build this hotfix by hand, or ask for support "
            "for this backend."
        )
    return BackendInfo(backend.strip(), tuple(requires), tuple(backend_path), distribution)


def set_version(root: Path, name: str, version: str) -> BackendInfo:
    """Make the unpacked sdist at `root` build as `version` (e.g. "0.4.3+hotfix.1")."""
    try:
        Version(version)
    except InvalidVersion as exc:
        raise VersioningError(f"{version!r} is not a valid PEP 440 version for {name}.") from exc
    info = detect_backend(root)
    handler = {
        "setuptools": _set_setuptools,
        "hatchling": _set_hatchling,
        "flit-core": _set_flit,
        "poetry-core": _set_poetry,
        "pdm-backend": _set_pdm,
    }[info.distribution]
    handler(root, name, version)
    return info


# --- setuptools ---------------------------------------------------------------------------------


def _set_setuptools(root: Path, name: str, version: str) -> None:
    # setuptools regenerates PKG-INFO from setup.py/setup.cfg/pyproject, so editing the version
    # where it is defined is fragile (attr:, file:, computed in setup.py). `[egg_info] tag_build`
    # is appended to whatever the version is, and only once (egg_info skips an already-tagged
    # version), so the sdist we build and the wheel built from it agree.
    base = _pkg_info_version(root)
    suffix = _suffix(name, base, version)
    cfg = root / "setup.cfg"
    text = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
    existing = _cfg_get(text, "egg_info", "tag_build") or ""
    if existing and base is not None and not base.endswith(existing):
        existing = ""  # a stale tag the sdist's own version does not carry
    cfg.write_text(_cfg_set(text, "egg_info", "tag_build", existing + suffix), encoding="utf-8")
    # setuptools-scm without .git reads PKG-INFO, so patching it makes scm's generated version file
    # (`version_file`/`write_to`) say the hotfix version too; plain setuptools ignores PKG-INFO.
    # setuptools-scm >= 10 prefers the tag stored in *.egg-info/scm_version.json over PKG-INFO, so
    # that file goes (the file list in scm_file_list.json stays).
    _set_pkg_info(root, version, required=False)
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


# --- PEP 621 backends: hatchling, flit_core, pdm-backend, poetry-core >= 2 ----------------------


def _set_project_version(doc: tomlkit.TOMLDocument, version: str) -> bool:
    """Make `version` the static [project] version (no longer in `dynamic`); False without [project].

    The one mechanism for backends that honour PEP 621 (checked with real builds: hatchling,
    flit_core >= 3.2, pdm-backend, poetry-core >= 2): a static version is used as is, and the
    backend's version source (a module's __version__, a regex, git) is no longer consulted.
    """
    project = doc.get("project")
    if project is None or not hasattr(project, "get"):
        return False
    dynamic = project.get("dynamic")
    if isinstance(dynamic, list) and "version" in dynamic:
        dynamic.remove("version")
        if not dynamic:
            del project["dynamic"]
    project["version"] = version
    return True


def _set_pep621(root: Path, name: str, version: str, backend: str) -> tomlkit.TOMLDocument:
    doc = _load_pyproject_doc(root)
    if not _set_project_version(doc, version):
        raise VersioningError(
            f"{name}'s pyproject.toml has no [project] table, which {backend} needs for its "
            "metadata; the sdist looks malformed."
        )
    _write_pyproject(root, doc)
    _set_pkg_info(root, version, required=False)
    return doc


def _set_hatchling(root: Path, name: str, version: str) -> None:
    doc = _set_pep621(root, name, version, "hatchling")
    # hatchling no longer reads the version file (regex/code source) once the version is static;
    # patch it anyway (best effort, hatchling's pattern) so the package's __version__ agrees.
    # hatch-vcs's build hook writes its version file from the (now static) metadata version.
    config = _table(doc, "tool", "hatch", "version")
    path = config.get("path")
    if config.get("source", "regex") in ("regex", "code") and isinstance(path, str):
        pattern = config.get("pattern")
        pattern = pattern if isinstance(pattern, str) else _HATCH_DEFAULT_PATTERN
        _replace_version_in_file(root / path, pattern, version)


def _set_flit(root: Path, name: str, version: str) -> None:
    doc = _load_pyproject_doc(root)
    if doc.get("project") is None and "metadata" in _table(doc, "tool", "flit"):
        raise VersioningError(
            f"{name} uses flit's old [tool.flit.metadata] format, which is not supported yet: "
            "only [project]-based flit projects can be hotfixed."
        )
    doc = _set_pep621(root, name, version, "flit_core")
    # flit no longer imports or parses the module for the version; keep a literal __version__
    # there (or in the module it is imported from) in step, best effort.
    module = _table(doc, "tool", "flit", "module").get("name")
    module = module if isinstance(module, str) else str(name).replace("-", "_")
    for base in (root, root / "src"):
        for path in (base / f"{module}.py", base / module / "__init__.py"):
            if path.is_file():
                _replace_dunder_version(path, version)
                return


def _replace_dunder_version(path: Path, version: str) -> None:
    """Set a literal `__version__ = "..."` in `path`, or in the sibling module it is imported
    from (`from .package_data import __version__`, `from ._version import __version__`)."""
    if _replace_version_in_file(path, _DUNDER_VERSION, version):
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^from\s+\.(\w+)\s+import\s+[^\n]*\b__version__\b", text, re.MULTILINE)
    if m is not None:
        for source in (path.parent / f"{m[1]}.py", path.parent / m[1] / "__init__.py"):
            if source.is_file() and _replace_version_in_file(source, _DUNDER_VERSION, version):
                return


def _set_pdm(root: Path, name: str, version: str) -> None:
    doc = _set_pep621(root, name, version, "pdm-backend")
    # pdm no longer reads the version file once the version is static; patch it anyway (best
    # effort, with pdm's own pattern) so the package's __version__ agrees with its metadata.
    config = _table(doc, "tool", "pdm", "version")
    path = config.get("path")
    if config.get("source", "file") == "file" and isinstance(path, str):
        pattern = config.get("pattern")
        _replace_version_in_file(
            root / path, pattern if isinstance(pattern, str) else _PDM_DEFAULT_PATTERN, version
        )


def _set_poetry(root: Path, name: str, version: str) -> None:
    # poetry-core >= 2 reads [project] (PEP 621) first; 1.x and classic projects [tool.poetry].
    doc = _load_pyproject_doc(root)
    found = _set_project_version(doc, version)
    poetry = _table(doc, "tool", "poetry")
    if "version" in poetry:
        doc["tool"]["poetry"]["version"] = version
        found = True
    if not found:
        raise VersioningError(
            f"{name}'s pyproject.toml has neither [project] nor [tool.poetry].version (a version "
            "plugin computes it?), which is not supported yet for poetry-core."
        )
    _write_pyproject(root, doc)
    _set_pkg_info(root, version, required=False)


# --- shared helpers -----------------------------------------------------------------------------


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _load_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VersioningError(
            f"{path} is not valid TOML ({exc}), so the package cannot be built."
        ) from exc


def _load_pyproject_doc(root: Path) -> tomlkit.TOMLDocument:
    _load_pyproject(root)  # validates, with a friendly error
    return tomlkit.parse((root / "pyproject.toml").read_text(encoding="utf-8"))


def _write_pyproject(root: Path, doc: tomlkit.TOMLDocument) -> None:
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")


def _table(doc: Any, *keys: str) -> dict[str, Any]:
    """A nested table of the document, or {} when any level is missing."""
    node = doc
    for key in keys:
        if not hasattr(node, "get"):
            return {}
        node = node.get(key, {})
    return node if hasattr(node, "get") else {}


def _pkg_info_version(root: Path) -> str | None:
    path = root / "PKG-INFO"
    if not path.exists():
        return None
    headers = path.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
    m = re.search(r"^Version:[ \t]*(\S+)", headers, re.MULTILINE)
    return m[1] if m else None


def _set_pkg_info(root: Path, version: str, *, required: bool) -> None:
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


def _replace_version_in_file(path: Path, pattern: str, version: str) -> bool:
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    m = re.search(pattern, text, re.MULTILINE)
    if m is None:
        return False
    group = "version" if "version" in m.re.groupindex else 1
    start, end = m.span(group)
    path.write_text(text[:start] + version + text[end:], encoding="utf-8")
    return True
