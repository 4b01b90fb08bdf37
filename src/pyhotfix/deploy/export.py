"""`pyhotfix export`: configuration that makes one kind of deployment install the hotfix builds.

Why each format looks the way it does (the installers' behaviour, checked with real pip and uv):

- pip has no index priority: `--extra-index-url`, `--find-links` and pip.conf merge every index and
  the best version wins, so an unpinned hotfix loses to a newer upstream release; and pip keeps an
  installed release that satisfies the requirement without looking at any index.
- `==0.4.3+hotfix.1` (a local version) can only be satisfied by that build: PyPI refuses local
  versions. A `--hash` anywhere turns on pip's hash-checking mode for *every* requirement.
- A direct reference `name @ URL#sha256=…` (as a requirement or as a constraint) makes pip and uv take
  exactly that file and check its hash, merges no index, and does not turn hash-checking mode on.
- uv takes a package from the first index that has it; `explicit = true` plus `[tool.uv.sources]`
  ties a package to one index. Poetry: `priority = "explicit"` plus `source =`. Pipenv: `index =`.

So formats that can only add indexes (pip.conf, s2i's PIP_* variables, Docker) point the installer
at a constraints file of URL pins, and the formats that must stay on an index pin exact local
versions with hashes. None emits a bare `--extra-index-url`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit

from pyhotfix._atomic import write_atomic
from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.formats import FORMATS
from pyhotfix.errors import UsageError

CONSTRAINTS_NAME = "hotfix-constraints.txt"
INDEX_NAME = "hotfix"  # the index/source name in uv, Poetry and Pipenv configuration
DOCKER_DIR = "/opt/pyhotfix"


@dataclass(frozen=True)
class ExportedFile:
    name: str  # the file's usual name; companions are written next to the main file
    content: str


@dataclass(frozen=True)
class Export:
    format: str
    files: tuple[ExportedFile, ...]  # files[0] is the main file


@dataclass(frozen=True)
class ExportOptions:
    hashes: bool = True  # --hash options on == pins (requirements)
    out: Path | None = None  # where the main file will be written (for paths that refer to it)


def export(deployment: Deployment, fmt: str, options: ExportOptions | None = None) -> Export:
    opts = options or ExportOptions()
    writers: dict[str, Callable[[Deployment, ExportOptions], tuple[ExportedFile, ...]]] = {
        "requirements": _requirements,
        "constraints": _constraints,
        "pip-conf": _pip_conf,
        "uv": _uv,
        "poetry": _poetry,
        "pipenv": _pipenv,
        "s2i": _s2i,
        "heroku": _heroku,
        "dockerfile": _dockerfile,
        "direct": _direct,
    }
    if fmt not in writers:
        raise UsageError(f"Unknown export format {fmt!r}; choose from {', '.join(FORMATS)}.")
    return Export(format=fmt, files=writers[fmt](deployment, opts))


def write_export(result: Export, out: Path) -> list[Path]:
    """Write the main file to `out` and any companion next to it; returns the paths written."""
    written: list[Path] = []
    for n, file in enumerate(result.files):
        path = out if n == 0 else out.parent / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, file.content.encode("utf-8"))
        written.append(path)
    return written


# -- shared pieces ------------------------------------------------------------------------------


def _header(fmt: str, *why: str) -> list[str]:
    lines = [
        f"# Written by `pyhotfix export --format {fmt}` from hotfixes.lock; "
        "export again after `pyhotfix build`."
    ]
    lines.extend(f"# {line}" if line else "#" for line in why)
    return lines


def _hotfix_list(deployment: Deployment) -> str:
    return ", ".join(f"{h.name} {h.hotfix_version}" for h in deployment.hotfixes)


def _url_pins(deployment: Deployment) -> list[str]:
    lines: list[str] = []
    for build in deployment.hotfixes:
        if not build.wheel_is_pure and build.sdist is not None and build.wheel is not None:
            lines.append(
                f"# {build.name}: its wheel is platform-specific, so the sdist is pinned (it "
                "builds on the target)."
            )
        lines.append(f"{build.name} @ {deployment.pinned_url(build)}")
    return lines


def _index_pin(build: HotfixBuild, hashes: bool) -> str:
    if not hashes:
        return f"{build.name}=={build.hotfix_version}"
    parts = [f"{build.name}=={build.hotfix_version}"]
    parts.extend(f"    --hash=sha256:{h}" for h in sorted(f.sha256 for f in build.files))
    return " \\\n".join(parts)


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _constraints_lines(deployment: Deployment, fmt: str) -> list[str]:
    return [
        *_header(
            fmt,
            "Constraints for pip install -c / PIP_CONSTRAINT and uv pip install -c / UV_CONSTRAINT;",
            "your requirements stay as they are. Each hotfix is pinned to its exact build by URL and",
            "sha256: the installer takes that file and checks it, merges no index (no newer upstream",
            "release or mirror can win; an installed release is replaced), and pip's hash-checking",
            "mode stays off for your other requirements.",
        ),
        *_url_pins(deployment),
    ]


# -- the formats --------------------------------------------------------------------------------


def _requirements(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    why = [
        "Lines for requirements.txt, in place of your own line for each package. pip merges",
        "--extra-index-url with its other indexes and takes the best version it finds, so each",
        "hotfix is pinned to its exact local version (PyPI refuses local versions: only this build",
        "matches)",
    ]
    if opts.hashes:
        why[-1] += " and to the sha256 of its files."
        why += [
            "One --hash turns on pip's hash-checking mode for the whole install: your other",
            "requirements then need == pins and hashes too (`uv pip compile --generate-hashes`).",
            "If they have none, export with --no-hashes, or use --format constraints.",
        ]
    else:
        why[-1] += "."
        why += [
            "Without hashes, an index that serves another build under the same version would be",
            "accepted: prefer hashes, or --format constraints (URL and sha256 pins).",
        ]
    lines = [*_header("requirements", *why), f"--extra-index-url {deployment.index_url}"]
    lines.extend(_index_pin(build, opts.hashes) for build in deployment.hotfixes)
    return (ExportedFile("requirements.txt", _text(lines)),)


def _constraints(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    return (ExportedFile(CONSTRAINTS_NAME, _text(_constraints_lines(deployment, "constraints"))),)


def _pip_conf(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    why = [
        "For pip.conf (or PIP_CONFIG_FILE). pip.conf can only add indexes, which pip merges (best",
        "version wins), so it names a constraints file instead, written next to it: each hotfix",
        "pinned to its exact build by URL and sha256.",
    ]
    if opts.out is not None:
        constraint = str((opts.out.parent / CONSTRAINTS_NAME).absolute())
    else:
        constraint = CONSTRAINTS_NAME
        why.append("A relative path is read from the directory pip runs in: make it absolute.")
    lines = [*_header("pip-conf", *why), "[install]", f"constraint = {constraint}"]
    return (
        ExportedFile("pip.conf", _text(lines)),
        ExportedFile(CONSTRAINTS_NAME, _text(_constraints_lines(deployment, "pip-conf"))),
    )


def _s2i(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = _header(
        "s2i",
        "OpenShift s2i: .s2i/environment. The Python builder runs `pip install -r requirements.txt`",
        "(and `pip install .` for setup.py projects) in the source directory with these variables",
        "set, and pip reads any PIP_* variable. An index added with PIP_EXTRA_INDEX_URL would be",
        "merged with PyPI or the platform's mirror (best version wins), so PIP_CONSTRAINT names the",
        "constraints file beside this one instead: each hotfix pinned by URL and sha256. Commit both.",
    )
    lines.append(f"PIP_CONSTRAINT=.s2i/{CONSTRAINTS_NAME}")
    return (
        ExportedFile("environment", _text(lines)),
        ExportedFile(CONSTRAINTS_NAME, _text(_constraints_lines(deployment, "s2i"))),
    )


def _heroku(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = _header(
        "heroku",
        "Lines for requirements.txt on Heroku. The Python buildpack runs `pip install -r",
        "requirements.txt` and passes on only PIP_EXTRA_INDEX_URL, which merges indexes (best",
        "version wins) and cannot pin; so each hotfix is named here by the URL of its exact build",
        "and its sha256, which pip checks (without hash-checking mode for your other lines). Your",
        "own line for the package (e.g. name==version) may stay: the build satisfies it.",
    )
    return (ExportedFile("requirements.txt", _text(lines + _url_pins(deployment))),)


def _direct(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = _header(
        "direct",
        "PEP 508 direct references, today's form of setup.py's dependency_links (removed in pip",
        "19): for [project] dependencies, install_requires or requirements.txt. The installer",
        "downloads exactly this file and checks its sha256; no index is involved. PyPI refuses",
        "uploads whose dependencies are direct references: use them in applications.",
    )
    return (ExportedFile("requirements.txt", _text(lines + _url_pins(deployment))),)


def _dockerfile(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    target = deployment
    copy: list[str] = []
    scheme = urlsplit(deployment.index_url).scheme
    root = deployment.target_root
    if scheme == "file" and root is not None and deployment.index_url == _file_url(root):
        # The host's file:// URL means nothing inside the image: copy the index into it.
        source = Path(os.path.relpath(root, deployment.directory)).as_posix()
        if source.startswith(".."):
            copy.append(
                f"# {root} is outside the directory of hotfixes.lock: make it part of the "
                "Docker build context."
            )
        copy.append(f"COPY {source}/ {DOCKER_DIR}/hotfix-index/")
        target = Deployment(
            manifest_path=deployment.manifest_path,
            index_url=f"file://{DOCKER_DIR}/hotfix-index/simple/",
            local_root=deployment.local_root,
            target_root=root,
            hotfixes=deployment.hotfixes,
        )
    pins = [p for p in _url_pins(target) if not p.startswith("#")]
    lines = _header(
        "dockerfile",
        "For a Dockerfile, before your own `pip install`. pip merges indexes (best version wins)",
        "and keeps an installed release that satisfies your pin, so a constraints file names each",
        "hotfix's exact build by URL and sha256, and PIP_CONSTRAINT / UV_CONSTRAINT apply it to",
        "every later pip or uv install in the image.",
    )
    lines += copy
    run = [f"RUN mkdir -p {DOCKER_DIR} && printf '%s\\n' \\"]
    run += [f"      {_shell_quote(pin)} \\" for pin in pins]
    run.append(f"      > {DOCKER_DIR}/constraints.txt")
    lines += run
    lines.append(
        f"ENV PIP_CONSTRAINT={DOCKER_DIR}/constraints.txt UV_CONSTRAINT={DOCKER_DIR}/constraints.txt"
    )
    lines += [
        "# your install step, unchanged:",
        "RUN pip install --no-cache-dir -r requirements.txt",
    ]
    return (ExportedFile("Dockerfile", _text(lines)),)


def _file_url(root: Path) -> str:
    return root.joinpath("simple").resolve().as_uri() + "/"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _toml_block(fmt: str, why: list[str], document: tomlkit.TOMLDocument) -> str:
    return _text(_header(fmt, *why)) + tomlkit.dumps(document)


def _uv(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    index = tomlkit.table()
    index.add("name", INDEX_NAME)
    index.add("url", deployment.index_url)
    index.add("explicit", True)
    indexes = tomlkit.aot()
    indexes.append(index)
    sources = tomlkit.table()
    for build in deployment.hotfixes:
        source = tomlkit.inline_table()
        source.add("index", INDEX_NAME)
        sources.add(build.name, source)
    uv = tomlkit.table(is_super_table=True)
    uv.add("index", indexes)
    uv.add("sources", sources)
    tool = tomlkit.table(is_super_table=True)
    tool.add("uv", uv)
    doc.add("tool", tool)
    why = [
        "For pyproject.toml (uv). uv takes a package from the first index that has it; an",
        "explicit index is used only by the packages [tool.uv.sources] ties to it, so the hotfixed",
        "packages come from the hotfix index alone and nothing else does. Merge it into existing",
        "[tool.uv] tables, or let `pyhotfix pin --pyproject pyproject.toml` do it (and pin the exact",
        f"versions: {_hotfix_list(deployment)}).",
    ]
    return (ExportedFile("pyproject.toml", _toml_block("uv", why, doc)),)


def _poetry(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    source = tomlkit.table()
    source.add("name", INDEX_NAME)
    source.add("url", deployment.index_url)
    source.add("priority", "explicit")
    sources = tomlkit.aot()
    sources.append(source)
    deps = tomlkit.table()
    for build in deployment.hotfixes:
        dep = tomlkit.inline_table()
        dep.add("version", build.hotfix_version)
        dep.add("source", INDEX_NAME)
        deps.add(build.name, dep)
    poetry = tomlkit.table(is_super_table=True)
    poetry.add("source", sources)
    poetry.add("dependencies", deps)
    tool = tomlkit.table(is_super_table=True)
    tool.add("poetry", poetry)
    doc.add("tool", tool)
    why = [
        'For pyproject.toml (Poetry). A source with priority = "explicit" is searched only for',
        "the dependencies that name it, so these packages come from the hotfix index alone, at",
        "their exact hotfix versions, and nothing else comes from it. Merge the dependency lines",
        "into your [tool.poetry.dependencies], then `poetry lock`.",
    ]
    return (ExportedFile("pyproject.toml", _toml_block("poetry", why, doc)),)


def _pipenv(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    doc = tomlkit.document()
    source = tomlkit.table()
    source.add("name", INDEX_NAME)
    source.add("url", deployment.index_url)
    source.add("verify_ssl", urlsplit(deployment.index_url).scheme == "https")
    sources = tomlkit.aot()
    sources.append(source)
    doc.add("source", sources)
    packages = tomlkit.table()
    for build in deployment.hotfixes:
        dep = tomlkit.inline_table()
        dep.add("version", f"=={build.hotfix_version}")
        dep.add("index", INDEX_NAME)
        packages.add(build.name, dep)
    doc.add("packages", packages)
    why = [
        "For a Pipfile. Pipenv installs a package that names an index only from that index, so",
        "these packages come from the hotfix index alone, at their exact hotfix versions. Merge",
        "the lines into your [packages], then `pipenv lock` (Pipfile.lock records the hashes).",
    ]
    return (ExportedFile("Pipfile", _toml_block("pipenv", why, doc)),)
