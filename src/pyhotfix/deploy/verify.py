"""`pyhotfix verify`: install the application the way a deployment does, in fresh virtual
environments, and prove that every hotfix in the lock is what got installed.

For each installer (pip, uv) and each starting point — a fresh environment, and one that already
has the upstream release installed (an incremental build, a cached Heroku environment, a
long-lived server) — it installs the app's requirements or project with the configuration the
user ships, then checks each hotfix: the installed version is the lock's hotfix version, and every
file of the built wheel is installed with the wheel's hash, in the installed RECORD and on disk
(so the patched files are). A failure names what was installed, where it came from (pip's
`--report`, uv's index annotations or lock), and which requirement let it through.

The installs are isolated from the developer's own pip and uv configuration (config files and
PIP_*/UV_* variables), because a deployment does not have it; `use_user_config` keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import Deployment, HotfixBuild, hotfix_number
from pyhotfix.deploy.appconfig import AppConfig, read_project_config, read_requirements_config
from pyhotfix.errors import DeployError, UsageError
from pyhotfix.httpclient import redact

INSTALL_TIMEOUT = 900.0
VENV_TIMEOUT = 300.0
_ISOLATED_VARS = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")
_S2I_ROOT = "/opt/app-root/src"
_CONFIG_SUFFIXES = frozenset({".txt", ".in", ".conf", ".cfg", ".ini", ".toml"})
_MAX_SCANNED = 20_000  # files looked at when relocating a copy of the app
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist", "*.egg-info",
)  # fmt: skip

# Runs in the verified environment's own Python: what is installed, per RECORD and on disk.
_INSPECT = r"""
import base64, hashlib, json, sys
import importlib.metadata as md
out = {}
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out[name] = None
        continue
    files = {}
    for f in dist.files or ():
        record = f"{f.hash.mode}={f.hash.value}" if f.hash else None
        try:
            with open(f.locate(), "rb") as fh:
                digest = hashlib.sha256(fh.read()).digest()
            disk = "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        except OSError:
            disk = None
        files[str(f).replace("\\", "/")] = [record, disk]
    direct = dist.read_text("direct_url.json")
    out[name] = {"version": dist.version, "files": files,
                 "url": json.loads(direct).get("url") if direct else None}
print(json.dumps(out))
"""

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class VerifyOptions:
    requirements: Path | None = None  # -r FILE
    project: Path | None = None  # --project DIR
    installers: tuple[str, ...] = ("pip",)
    python: str = sys.executable
    default_index: str = (
        "https://pypi.org/simple/"  # what deployments use when the config names none
    )
    env_files: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    use_user_config: bool = False
    existing: bool = True  # also install over the upstream release already installed
    deployed_at: str | None = None  # where the deployment puts the app (s2i: /opt/app-root/src)


CheckResult = Literal["ok", "FAIL", "error", "unused", "skipped"]


@dataclass(frozen=True)
class Check:
    hotfix: str
    installer: str
    environment: str  # "fresh" or "had <version>"
    expected: str
    installed: str | None
    result: CheckResult
    reason: str
    source: str | None = None  # where the installed file came from, when known


@dataclass(frozen=True)
class VerifyReport:
    target: str
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not any(c.result in ("FAIL", "error") for c in self.checks)


@dataclass(frozen=True)
class _Installed:
    version: str
    files: Mapping[str, tuple[str | None, str | None]]  # path -> (RECORD hash, hash on disk)
    url: str | None  # direct_url.json's URL, for direct-reference installs


@dataclass(frozen=True)
class _Run:
    """One install: its outcome per hotfixed name."""

    ok: bool
    error: str
    installed: Mapping[str, _Installed | None]
    sources: Mapping[str, str]  # canonical name -> URL the installer took it from


def default_installers(options: VerifyOptions) -> tuple[str, ...]:
    """pip for requirements files and plain projects (what platform builders run); uv for a
    project configured for uv."""
    if options.project is not None:
        pyproject = options.project / "pyproject.toml"
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return ("pip",)
        uv = data.get("tool", {}).get("uv", {})
        if isinstance(uv, dict) and ("index" in uv or "sources" in uv):
            return ("uv",)
    return ("pip",)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as OpenShift's s2i reads .s2i/environment: `#` at the start of a line is a
    comment, lines without `=` are skipped, both sides are trimmed, quotes are kept."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the environment file {path}: {exc.strerror}.") from exc
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip()
    return env


def verify(
    deployment: Deployment, options: VerifyOptions, runner: Runner = subprocess.run
) -> VerifyReport:
    if (options.requirements is None) == (options.project is None):
        raise UsageError("Give one of -r FILE or --project DIR.")
    with tempfile.TemporaryDirectory(prefix="pyhotfix-verify-") as tmp:
        work = Path(tmp)
        run_options = options if options.deployed_at is None else _relocate(options, work)
        return _verify(deployment, options, run_options, work, runner)


def _app_dir(options: VerifyOptions) -> Path:
    if options.project is not None:
        return options.project.absolute()
    assert options.requirements is not None
    return options.requirements.absolute().parent


def _deployed_pattern(options: VerifyOptions) -> re.Pattern[str] | None:
    if options.deployed_at is None:
        return None
    return re.compile(re.escape(options.deployed_at.rstrip("/")) + r"(?=/|\s|$)")


def _relocate(options: VerifyOptions, work: Path) -> VerifyOptions:
    """A copy of the app in which paths and file:// URLs under the deployment's app directory
    (e.g. s2i's /opt/app-root/src) point into the copy, so the install reads what the
    deployment would read there."""
    app = _app_dir(options)
    copy = work / "app"
    shutil.copytree(app, copy, ignore=_COPY_IGNORE, symlinks=True)
    pattern = _deployed_pattern(options)
    assert pattern is not None
    for n, path in enumerate(copy.rglob("*")):
        if n > _MAX_SCANNED:
            break
        is_config = path.suffix in _CONFIG_SUFFIXES or path.name == "environment"
        if not is_config or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new = pattern.sub(str(copy), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    requirements = (
        copy / options.requirements.absolute().relative_to(app)
        if options.requirements is not None
        else None
    )
    env_files = tuple(
        copy / f.absolute().relative_to(app) if f.absolute().is_relative_to(app) else f
        for f in options.env_files
    )
    return replace(
        options,
        requirements=requirements,
        project=copy if options.project is not None else None,
        env_files=env_files,
    )


def _verify(
    deployment: Deployment,
    options: VerifyOptions,
    run_options: VerifyOptions,
    work: Path,
    runner: Runner,
) -> VerifyReport:
    app_dir = _app_dir(run_options)
    target = (
        str(options.requirements) if options.requirements is not None else f"{options.project}/"
    )
    notes: list[str] = []
    deploy_env: dict[str, str] = {}
    s2i_env = app_dir / ".s2i" / "environment"
    env_files = list(run_options.env_files)
    if s2i_env.is_file() and s2i_env.absolute() not in {p.absolute() for p in env_files}:
        env_files.insert(0, s2i_env)
    for env_file in env_files:
        values = read_env_file(env_file)
        deploy_env.update(values)
        if values:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            name = env_file.relative_to(app_dir) if env_file.is_relative_to(app_dir) else env_file
            notes.append(f"environment from {name}: {shown}")
    deploy_env.update(options.env)
    pattern = _deployed_pattern(options)
    if pattern is not None:
        deploy_env = {k: pattern.sub(str(app_dir), v) for k, v in deploy_env.items()}
        notes.append(
            f"{options.deployed_at} (the deployed app) is read from a copy of {_app_dir(options)}"
        )

    base_env = _base_env(options)
    install_env = {**base_env, **_default_index_env(options.default_index), **deploy_env}
    hotfixed = {b.name for b in deployment.hotfixes}
    if run_options.requirements is not None:
        config = read_requirements_config(run_options.requirements, install_env, app_dir, hotfixed)
    else:
        config = read_project_config(app_dir, install_env, hotfixed)
    if options.use_user_config:
        notes.append("with your own pip/uv configuration (--use-user-config)")
    else:
        notes.append(
            "isolated from your own pip/uv configuration (a deployment does not have it; "
            "--use-user-config to include it)"
        )
    notes.append(f"default index: {redact(options.default_index)}")

    wheels = {b.name: _wheel_hashes(deployment, b) for b in deployment.hotfixes}
    for build in deployment.hotfixes:
        if wheels[build.name] is None:
            notes.append(
                f"{build.name}: the built wheel is not on this machine, so only the version is "
                "checked (run `pyhotfix build` here to compare files too)"
            )

    from uv import find_uv_bin

    uv = find_uv_bin()
    checks: list[Check] = []
    for installer in options.installers:
        scenarios: list[str] = ["fresh"] + (["existing"] if options.existing else [])
        for scenario in scenarios:
            checks.extend(
                _scenario(
                    deployment, run_options, config, wheels, installer, scenario, work, uv,
                    base_env, install_env, app_dir, runner, shown=options,
                )
            )  # fmt: skip
    if options.deployed_at is not None:
        # Report paths in the copy as the deployment sees them.
        copy, deployed = str(app_dir), options.deployed_at.rstrip("/")
        checks = [
            replace(
                c,
                reason=c.reason.replace(copy, deployed),
                source=c.source.replace(copy, deployed) if c.source else None,
            )
            for c in checks
        ]
    warnings = _warnings(deployment, options, config, checks)
    return VerifyReport(target, tuple(checks), tuple(warnings), tuple(notes))


# -- environments -------------------------------------------------------------------------------


def _base_env(options: VerifyOptions) -> dict[str, str]:
    if options.use_user_config:
        env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}
    else:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "UV_")) and k not in _ISOLATED_VARS
        }
        env["PIP_CONFIG_FILE"] = os.devnull
        env["UV_NO_CONFIG"] = "1"
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_NO_CACHE_DIR": "1"})
    return env


def _default_index_env(url: str) -> dict[str, str]:
    return {"PIP_INDEX_URL": url, "UV_DEFAULT_INDEX": url}


def _venv_env() -> dict[str, str]:
    # Creating the venv (and seeding pip into it) may use the developer's uv cache and settings.
    return {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _make_venv(
    uv: str, root: Path, python: str, seed: bool, runner: Runner
) -> tuple[Path | None, str]:
    cmd = [uv, "venv", "--quiet", "--python", python, str(root)]
    if seed:
        cmd.insert(2, "--seed")
    done = _call(runner, cmd, root.parent, _venv_env(), VENV_TIMEOUT)
    if done.returncode != 0:
        return None, f"could not create a virtual environment: {_last_lines(done.stderr)}"
    return _venv_python(root), ""


def _call(
    runner: Runner, cmd: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        result: subprocess.CompletedProcess[str] = runner(
            list(cmd), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"timed out after {timeout:.0f} s")
    except OSError as exc:
        return subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: {exc.strerror}")
    return result


def _last_lines(text: str, count: int = 2) -> str:
    """The installer's own error lines, shortened: what a user needs to see in a table cell."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [
        line
        for line in lines
        if line.startswith(("ERROR", "error", "\u00d7", "\u2570"))
        and "Ignored the following" not in line
    ]
    chosen = [
        re.sub(r"\(from versions: [^)]*\)", "(from versions: …)", line)
        for line in (errors or lines)[-count:]
    ]
    return " / ".join(chosen) or "no output"


# -- one installer, one starting point ----------------------------------------------------------


def _scenario(
    deployment: Deployment,
    options: VerifyOptions,
    config: AppConfig,
    wheels: Mapping[str, Mapping[str, str] | None],
    installer: str,
    scenario: str,
    work: Path,
    uv: str,
    base_env: Mapping[str, str],
    install_env: Mapping[str, str],
    app_dir: Path,
    runner: Runner,
    *,
    shown: VerifyOptions,  # the options as the user gave them, for messages
) -> list[Check]:
    root = work / f"{installer}-{scenario}"
    root.mkdir(parents=True)
    python, problem = _make_venv(uv, root / "venv", options.python, installer == "pip", runner)

    def rows(result: CheckResult, reason: str, environment: str = scenario) -> list[Check]:
        return [
            Check(b.name, installer, environment, b.hotfix_version, None, result, reason)
            for b in deployment.hotfixes
        ]

    if python is None:
        return rows("error", problem)
    before: dict[str, str] = {}
    environment = "fresh"
    if scenario == "existing":
        # The upstream releases, installed before the hotfix configuration existed.
        specs = [f"{b.name}=={b.version}" for b in deployment.hotfixes]
        if installer == "pip":
            cmd = [str(python), "-m", "pip", "install", "--no-deps"]
        else:
            cmd = [uv, "pip", "install", "--python", str(python), "--no-deps"]
        # The index goes through the environment, never argv: its URL may carry credentials,
        # and any local user can read a command line (ps, /proc).
        env = {**base_env, **_default_index_env(options.default_index)}
        done = _call(runner, [*cmd, *specs], root, env, INSTALL_TIMEOUT)
        if done.returncode != 0:
            return rows(
                "skipped",
                f"could not install the upstream releases first: {_last_lines(done.stderr)}",
                "had upstream",
            )
        found = _inspect(python, [b.name for b in deployment.hotfixes], runner, root)
        before = {name: i.version for name, i in found.items() if i is not None}
        environment = "had " + ", ".join(sorted(set(before.values()))) if before else "had upstream"

    names = [b.name for b in deployment.hotfixes]
    run = _install(options, installer, python, root, uv, install_env, app_dir, names, runner)
    rows_out: list[Check] = []
    for build in deployment.hotfixes:
        installed = run.installed.get(build.name)
        source = run.sources.get(build.name) or (installed.url if installed else None)
        result: CheckResult
        if not run.ok:
            result, reason = "error", f"{installer} failed: {run.error}"
            if installer == "pip" and config.uv_project:
                reason += (
                    " (pip does not read [tool.uv]: deployments that install with pip need the "
                    "hotfix index in their own configuration, e.g. `pyhotfix export --format "
                    "constraints`)"
                )
            if _S2I_ROOT in run.error and shown.deployed_at is None:
                reason += f" (s2i puts the app in {_S2I_ROOT}: add --deployed-at {_S2I_ROOT})"
        else:
            kept = before.get(build.name)
            wrong = installed is not None and installed.version not in (build.hotfix_version, kept)
            if installer == "uv" and source is None and wrong:
                # uv has no install report: ask its resolver where the package comes from.
                source = _uv_origin(options, python, uv, install_env, app_dir, root, build, runner)
            result, reason = _diagnose(
                build, installed, source, before.get(build.name), installer,
                config.for_installer(installer), deployment, shown, wheels.get(build.name),
                ignored=config.pip_only() if installer == "uv" else [],
            )  # fmt: skip
        rows_out.append(
            Check(
                build.name,
                installer,
                environment,
                build.hotfix_version,
                installed.version if installed else None,
                result,
                reason,
                redact(source) if source else None,
            )
        )
    return rows_out


def _install(
    options: VerifyOptions,
    installer: str,
    python: Path,
    root: Path,
    uv: str,
    env: Mapping[str, str],
    app_dir: Path,
    names: Sequence[str],
    runner: Runner,
) -> _Run:
    report = root / "pip-report.json"
    env = {**env, "UV_CACHE_DIR": str(root / "uv-cache")}  # a cold cache, like a deployment's
    cwd = app_dir
    if options.requirements is not None:
        req = str(options.requirements.absolute())
        if installer == "pip":
            cmd = [str(python), "-m", "pip", "install", "--report", str(report), "-r", req]
        else:
            cmd = [uv, "pip", "install", "--python", str(python), "-r", req]
    else:
        assert options.project is not None
        # Build from a copy: installing a project writes build/ and *.egg-info into its tree.
        cwd = root / "project"
        shutil.copytree(options.project, cwd, ignore=_COPY_IGNORE, symlinks=True)
        if installer == "pip":
            cmd = [str(python), "-m", "pip", "install", "--report", str(report), str(cwd)]
        elif _uses_uv(cwd):
            cmd = [uv, "sync", "--no-dev", "--python", str(python)]
            if (cwd / "uv.lock").is_file():
                cmd.append("--locked")
            env = {**env, "UV_PROJECT_ENVIRONMENT": str(root / "venv")}
        else:
            cmd = [uv, "pip", "install", "--python", str(python), str(cwd)]
    done = _call(runner, cmd, cwd, env, INSTALL_TIMEOUT)
    if done.returncode != 0:
        return _Run(False, _last_lines(done.stderr or done.stdout), {}, {})
    sources: dict[str, str] = {}
    if report.is_file():
        sources = _pip_sources(report)
    elif (cwd / "uv.lock").is_file() and options.project is not None:
        sources = _uv_lock_sources(cwd / "uv.lock")
    return _Run(True, "", _inspect(python, names, runner, root), sources)


def _uses_uv(project: Path) -> bool:
    return default_installers(VerifyOptions(project=project)) == ("uv",)


def _inspect(
    python: Path, names: Sequence[str], runner: Runner, cwd: Path
) -> dict[str, _Installed | None]:
    done = _call(runner, [str(python), "-c", _INSPECT, *names], cwd, _venv_env(), 120)
    if done.returncode != 0:
        raise DeployError(
            f"Could not inspect the verification environment ({_last_lines(done.stderr)})."
        )
    data = json.loads(done.stdout)
    out: dict[str, _Installed | None] = {}
    for name in names:
        item = data.get(name)
        out[name] = (
            None
            if item is None
            else _Installed(
                version=item["version"],
                files={k: (v[0], v[1]) for k, v in item["files"].items()},
                url=item.get("url"),
            )
        )
    return out


def _pip_sources(report: Path) -> dict[str, str]:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    sources: dict[str, str] = {}
    for item in data.get("install", []):
        name = item.get("metadata", {}).get("name")
        url = item.get("download_info", {}).get("url")
        if name and url:
            sources[canonicalize_name(name)] = url
    return sources


def _uv_lock_sources(lock: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(lock.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    sources: dict[str, str] = {}
    for package in data.get("package", []):
        source = package.get("source", {})
        where = source.get("registry") or source.get("url") or source.get("path")
        if where:
            sources[canonicalize_name(package["name"])] = str(where)
    return sources


def _uv_origin(
    options: VerifyOptions,
    python: Path,
    uv: str,
    env: Mapping[str, str],
    app_dir: Path,
    root: Path,
    build: HotfixBuild,
    runner: Runner,
) -> str | None:
    """Which index uv resolves `build.name` from, by its index annotations (requirements only)."""
    if options.requirements is None:
        return None
    cmd = [
        uv, "pip", "compile", "--quiet", "--no-header", "--emit-index-annotation",
        "--python", str(python), str(options.requirements.absolute()),
    ]  # fmt: skip
    done = _call(runner, cmd, app_dir, {**env, "UV_CACHE_DIR": str(root / "uv-cache")}, 300)
    lines = done.stdout.splitlines()
    for n, line in enumerate(lines):
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[.*\])?==", line)
        if match and canonicalize_name(match.group(1)) == build.name:
            for follow in lines[n + 1 : n + 6]:
                found = re.match(r"^\s+# from (\S+)", follow)
                if found:
                    return found.group(1)
    return None


# -- the checks ---------------------------------------------------------------------------------


def _wheel_hashes(deployment: Deployment, build: HotfixBuild) -> dict[str, str] | None:
    """Every file the built wheel installs (dist-info excluded), as RECORD-style hashes."""
    wheel = build.wheel
    path = deployment.local_file(build, wheel) if wheel is not None else None
    if path is None or wheel is None:
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != wheel.sha256:
        raise DeployError(
            f"{path} does not match hotfixes.lock (sha256). The index was changed by hand: rebuild "
            f"with `pyhotfix build --force {build.name}`."
        )
    hashes: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = info.filename
            top = member.split("/", 1)[0]
            if top.endswith(".dist-info"):
                continue
            if top.endswith(".data"):
                parts = member.split("/", 2)
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers and data install outside site-packages
                member = parts[2]
            digest = hashlib.sha256(archive.read(info)).digest()
            hashes[member] = "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hashes


def _diagnose(
    build: HotfixBuild,
    installed: _Installed | None,
    source: str | None,
    before: str | None,
    installer: str,
    config: AppConfig,
    deployment: Deployment,
    options: VerifyOptions,
    wheel: Mapping[str, str] | None,
    ignored: Sequence[str] = (),
) -> tuple[CheckResult, str]:
    pins = config.describe_pins(build.name)
    fix = _fix_hint(options)
    # The PIP_* settings uv does not read, when they were meant to bring the hotfix.
    uv_note = f" (uv does not read {', '.join(ignored)}, which only pip reads)" if ignored else ""
    if installed is None:
        return "unused", f"not installed: the app does not depend on {build.name}"
    try:
        got = Version(installed.version)
    except InvalidVersion:
        return "FAIL", f"installed an unparseable version {installed.version!r}"
    expected = Version(build.hotfix_version)
    where = f" from {_index_of(source, deployment)}" if source else ""
    if got == expected:
        problems = _compare_files(installed, wheel) if wheel is not None else []
        if problems:
            return "FAIL", (
                f"{installed.version}{where} is not the build in hotfixes.lock: "
                f"{'; '.join(problems[:3])}. Another index or cache serves a different build "
                f"under this version: {_hash_pin_hint(options, deployment)}."
            )
        if wheel is None:
            checked = "version matches"
        else:
            count = len(wheel)
            checked = f"{count} file{'s match' if count != 1 else ' matches'} the built wheel"
        return "ok", f"{checked}{where}"
    number = hotfix_number(installed.version, build.label)
    if number is not None and got.public == expected.public:
        current = build.number() or 0
        age = "an older" if number < current else "another"
        return "FAIL", (
            f"{age} hotfix build, {installed.version}{where}: {pins} pins it, but the current build "
            f"is {build.hotfix_version} (hotfixes.lock). Pin again: {fix}."
        )
    if before is not None and installed.version == before and source is None:
        return "FAIL", (
            f"upstream {before} was already installed and {pins} accepts it{uv_note}, so "
            f"{installer} kept it without looking at any index. Pin the exact hotfix version "
            f"({fix}) or pin it by URL (`pyhotfix export --format constraints`)."
        )
    why = f"{pins} allows it{uv_note}"
    if installer == "pip" and config.merges and not config.url_pinned(build.name):
        why += (
            f", and pip merges {'; '.join(config.merges)} with the default index and takes the "
            "best version"
        )
    elif not config.merges and not config.url_pinned(build.name):
        why += ", and nothing in the configuration points at the hotfix index"
    return "FAIL", f"got {_kind(installed.version)} {installed.version}{where}: {why}. Fix: {fix}."


def _kind(version: str) -> str:
    return "a local build" if "+" in version else "upstream"


def _fix_hint(options: VerifyOptions) -> str:
    if options.requirements is not None:
        return f"`pyhotfix pin -r {options.requirements}`"
    return f"`pyhotfix pin --pyproject {options.project}/pyproject.toml`"


def _hash_pin_hint(options: VerifyOptions, deployment: Deployment) -> str:
    """How to pin the build by its sha256 without breaking the install: `pin --hashes` only when
    every other requirement of the file has hashes already (one hash makes pip demand them all),
    else the URL + sha256 constraints, which do not turn hash-checking on."""
    from pyhotfix.deploy.pin import hashes_would_hold

    constraints = (
        "pin it by URL and sha256: `pyhotfix export --format constraints -o "
        "hotfix-constraints.txt` and install with `-c hotfix-constraints.txt` (or "
        "PIP_CONSTRAINT / UV_CONSTRAINT)"
    )
    if options.requirements is not None and hashes_would_hold(options.requirements, deployment):
        return (
            f"pin it by hash (`pyhotfix pin -r {options.requirements} --hashes`), or {constraints}"
        )
    return constraints


def _compare_files(installed: _Installed, wheel: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    for path, expected in sorted(wheel.items()):
        record, disk = installed.files.get(path, (None, None))
        if path not in installed.files:
            problems.append(f"{path} is not installed")
        elif disk != expected:
            problems.append(f"{path} on disk differs from the built wheel")
        elif record is not None and record != expected:
            problems.append(f"{path} has another hash in the installed RECORD")
    return problems


def _index_of(url: str, deployment: Deployment) -> str:
    """The index part of a file URL; "the hotfix index" when the file is one of our builds."""
    base = url.split("#", 1)[0]
    filename = unquote(base.rsplit("/", 1)[-1])
    directory = base.rsplit("/", 1)[0] + "/" if "/" in base else base
    ours = {f.filename for b in deployment.hotfixes for f in b.files}
    if filename in ours or _same_place(base, deployment.index_url, prefix=True):
        return "the hotfix index"  # its URL is in the report's `source`
    parts = urlsplit(base)
    if parts.scheme in ("http", "https") and parts.netloc:
        return redact(f"{parts.scheme}://{parts.netloc}")  # e.g. files.pythonhosted.org
    return redact(directory if filename.endswith((".whl", ".tar.gz", ".zip")) else base)


def _same_place(url: str, index_url: str, prefix: bool = False) -> bool:
    """Whether `url` is `index_url` (or under it, with `prefix`), comparing file:// URLs and
    plain paths (uv.lock records a local index as a path)."""

    def norm(value: str) -> str:
        if value.startswith("file:"):
            value = unquote(urlsplit(value).path)
        return value.rstrip("/")

    a, b = norm(url), norm(index_url)
    return a == b or (prefix and a.startswith(b + "/"))


def _warnings(
    deployment: Deployment, options: VerifyOptions, config: AppConfig, checks: Sequence[Check]
) -> list[str]:
    """Configurations that install the hotfix today and would not tomorrow."""
    warnings: list[str] = []
    fix = _fix_hint(options)
    for build in deployment.hotfixes:
        rows = [c for c in checks if c.hotfix == build.name]
        # Only installers whose every install got the hotfix: failures speak for themselves.
        passed = {c.installer for c in rows} - {c.installer for c in rows if c.result != "ok"}
        if "pip" in passed and config.merges and not config.url_pinned(build.name):
            newer = config.allows_newer(build.name, build.version)
            merges = "; ".join(config.merges)
            if newer is not None:
                warnings.append(
                    f"{build.name} (pip): safe today, unsafe tomorrow. "
                    f"{config.describe_pins(build.name)} also accepts an upstream release such "
                    f"as {newer}, and pip merges {merges} with the default index and takes the "
                    f"best version: the day upstream publishes one, deployments install it "
                    f"instead of the hotfix. Pin the exact build: {fix}, or `pyhotfix export "
                    "--format constraints`."
                )
            elif not config.hashed(build.name):
                warnings.append(
                    f"{build.name} (pip): pip merges {merges} and "
                    f"{config.describe_pins(build.name)} has no hash, so any index that serves "
                    f"another build numbered {build.hotfix_version} would be accepted: "
                    f"{_hash_pin_hint(options, deployment)}."
                )
        if "uv" in passed and config.uv_project and build.name not in config.uv_explicit:
            warnings.append(
                f"{build.name} (uv): not tied to an explicit hotfix index in [tool.uv.sources], "
                "so uv takes it from the first index that has it and the order of "
                f"[[tool.uv.index]] decides. Pin it: {fix}."
            )
    return warnings
