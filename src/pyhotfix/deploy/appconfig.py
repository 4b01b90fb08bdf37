"""What an application's install configuration says about the hotfixed packages.

`verify` installs for real; this module reads the same configuration statically, to explain a
failure (which pin let upstream through, which option merged indexes) and to warn about
configurations that install the hotfix today but would stop the day upstream releases again.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyhotfix.deploy import reqfile

# Files followed through -r/-c, at most: a guard against include cycles.
_MAX_FILES = 50


@dataclass(frozen=True)
class Pin:
    """One requirement or constraint that names a hotfixed package."""

    where: str  # "requirements.txt:3", "PIP_CONSTRAINT hotfix-constraints.txt:9", …
    text: str  # as written
    specifier: SpecifierSet
    url: str | None  # a direct reference (name @ URL)
    hashed: bool  # --hash options, or a #sha256= fragment on its URL
    constraint: bool

    def describe(self) -> str:
        return f"`{self.text}` ({self.where})"


@dataclass(frozen=True)
class AppConfig:
    pins: Mapping[str, tuple[Pin, ...]]  # by canonical name, hotfixed packages only
    merges: tuple[str, ...]  # options that add an index to pip's default one, and where
    uv_explicit: frozenset[str]  # names [tool.uv.sources] ties to an explicit index
    uv_project: bool  # a pyproject with [tool.uv] index or sources configuration

    def for_installer(self, installer: str) -> AppConfig:
        """What `installer` reads of it: uv ignores PIP_* variables (and pip.conf)."""
        if installer != "uv":
            return self
        return replace(
            self,
            pins={
                name: tuple(p for p in pins if not p.where.startswith("PIP_"))
                for name, pins in self.pins.items()
            },
            merges=tuple(m for m in self.merges if not m.startswith("PIP_")),
        )

    def pip_only(self) -> list[str]:
        """The PIP_* settings in it, which uv does not read."""
        names = {p.where.split(" ", 1)[0] for pins in self.pins.values() for p in pins}
        names |= {m.split("=", 1)[0] for m in self.merges}
        return sorted(n for n in names if n.startswith("PIP_"))

    def pins_for(self, name: str) -> tuple[Pin, ...]:
        return self.pins.get(canonicalize_name(name), ())

    def url_pinned(self, name: str) -> bool:
        return any(p.url for p in self.pins_for(name))

    def hashed(self, name: str) -> bool:
        return any(p.hashed for p in self.pins_for(name))

    def describe_pins(self, name: str) -> str:
        pins = self.pins_for(name)
        if not pins:
            return f"no requirement names {name} (a dependency pulls it in)"
        return ", ".join(p.describe() for p in pins)

    def allows_newer(self, name: str, version: str) -> Version | None:
        """An upstream release above `version` that every pin for `name` accepts, if any."""
        pins = self.pins_for(name)
        if any(p.url for p in pins):
            return None
        combined = SpecifierSet(",".join(str(p.specifier) for p in pins if str(p.specifier)))
        for probe in _newer_releases(version):
            if combined.contains(probe):
                return probe
        return None


def _newer_releases(version: str) -> list[Version]:
    base = Version(version)
    release = [*base.release, 0, 0][:3]
    probes = [
        f"{release[0]}.{release[1]}.{release[2] + 1}",
        f"{release[0]}.{release[1] + 1}",
        f"{release[0] + 1}",
    ]
    if base.post is None:
        probes.append(f"{base.base_version}.post1")
    return [Version(p) for p in probes]


def read_requirements_config(
    path: Path, env: Mapping[str, str], cwd: Path, hotfixed: set[str]
) -> AppConfig:
    """The config of `pip install -r path` run in `cwd` with `env`: the file, the files it
    includes, and the PIP_* variables that add constraints or indexes."""
    pins: dict[str, list[Pin]] = {}
    merges: list[str] = []
    seen: set[Path] = set()

    def walk(file: Path, constraint: bool, label: str) -> None:
        resolved = file.resolve()
        if resolved in seen or len(seen) >= _MAX_FILES or not file.is_file():
            return
        seen.add(resolved)
        parsed = reqfile.read(file, env)
        for line in parsed.logical:
            where = f"{label}{parsed.location(line)}"
            if line.requirement is not None:
                _add_pin(pins, hotfixed, line, where, constraint)
                continue
            for option in ("--extra-index-url", "--find-links"):
                for value in line.option_values(option):
                    merges.append(f"{option} {value} ({where})")
            for value in line.option_values("--requirement"):
                nested = reqfile.resolve_reference(value, file)
                if nested is not None:
                    walk(nested, constraint, label)
            for value in line.option_values("--constraint"):
                nested = reqfile.resolve_reference(value, file)
                if nested is not None:
                    walk(nested, True, label)

    walk(path, False, "")
    _env_config(env, cwd, merges, walk)
    return AppConfig(
        pins={k: tuple(v) for k, v in pins.items()},
        merges=tuple(merges),
        uv_explicit=frozenset(),
        uv_project=False,
    )


def read_project_config(project: Path, env: Mapping[str, str], hotfixed: set[str]) -> AppConfig:
    """The config of installing the project in `project` (pyproject.toml dependencies, uv's
    index and sources, and the PIP_* variables)."""
    pins: dict[str, list[Pin]] = {}
    merges: list[str] = []
    uv_explicit: set[str] = set()
    uv_project = False
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError):
            data = {}
        project_table = data.get("project", {})
        deps = project_table.get("dependencies", []) if isinstance(project_table, dict) else []
        for _, item, req in reqfile.dependency_requirements(deps):
            if canonicalize_name(req.name) in hotfixed:
                pins.setdefault(canonicalize_name(req.name), []).append(
                    Pin(
                        where="pyproject.toml [project] dependencies",
                        text=item,
                        specifier=req.specifier,
                        url=req.url,
                        hashed=bool(req.url and "#sha256=" in req.url),
                        constraint=False,
                    )
                )
        uv = data.get("tool", {}).get("uv", {})
        if isinstance(uv, dict) and ("index" in uv or "sources" in uv):
            uv_project = True
            explicit = {
                i.get("name")
                for i in uv.get("index", [])
                if isinstance(i, dict) and i.get("explicit") is True
            }
            for name, source in (uv.get("sources") or {}).items():
                if isinstance(source, dict) and source.get("index") in explicit:
                    uv_explicit.add(canonicalize_name(name))

    def walk(file: Path, constraint: bool, label: str) -> None:
        if not file.is_file():
            return
        parsed = reqfile.read(file, env)
        for line in parsed.logical:
            if line.requirement is not None:
                _add_pin(pins, hotfixed, line, f"{label}{parsed.location(line)}", constraint)

    _env_config(env, project, merges, walk)
    return AppConfig(
        pins={k: tuple(v) for k, v in pins.items()},
        merges=tuple(merges),
        uv_explicit=frozenset(uv_explicit),
        uv_project=uv_project,
    )


def _add_pin(
    pins: dict[str, list[Pin]],
    hotfixed: set[str],
    line: reqfile.LogicalLine,
    where: str,
    constraint: bool,
) -> None:
    req = line.requirement
    if req is None:
        return
    name = canonicalize_name(req.name)
    if name not in hotfixed:
        return
    pins.setdefault(name, []).append(
        Pin(
            where=where,
            text=line.requirement_text,
            specifier=req.specifier,
            url=req.url,
            hashed=bool(line.hashes) or bool(req.url and "#sha256=" in req.url),
            constraint=constraint,
        )
    )


def _env_config(
    env: Mapping[str, str], cwd: Path, merges: list[str], walk: Callable[[Path, bool, str], None]
) -> None:
    # pip reads a relative PIP_CONSTRAINT path from the directory it runs in.
    for value in env.get("PIP_CONSTRAINT", "").split():
        target = reqfile.resolve_reference(value, cwd / "-")
        if target is not None:
            walk(target, True, "PIP_CONSTRAINT → ")
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        for value in env.get(var, "").split():
            merges.append(f"{var}={value}")
