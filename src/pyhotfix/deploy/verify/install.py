"""Running pip or uv the way a deployment does, and reading what got installed: versions and
files per RECORD and on disk (inspected in the environment's own Python), and where each package
came from (pip's `--report`, uv.lock, uv's index annotations)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from pyhotfix.deploy import HotfixBuild
from pyhotfix.deploy.verify.relocate import COPY_IGNORE
from pyhotfix.deploy.verify.report import Installed, InstallRun, Runner, VerifyOptions
from pyhotfix.deploy.verify.venvs import INSTALL_TIMEOUT, last_lines, run_command, venv_env
from pyhotfix.errors import DeployError

__all__ = ["default_installers", "inspect_installed", "install_app", "uv_origin"]

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


def install_app(
    options: VerifyOptions,
    installer: str,
    python: Path,
    root: Path,
    uv: str,
    env: Mapping[str, str],
    app_dir: Path,
    names: Sequence[str],
    runner: Runner,
) -> InstallRun:
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
        shutil.copytree(options.project, cwd, ignore=COPY_IGNORE, symlinks=True)
        if installer == "pip":
            cmd = [str(python), "-m", "pip", "install", "--report", str(report), str(cwd)]
        elif _uses_uv(cwd):
            cmd = [uv, "sync", "--no-dev", "--python", str(python)]
            if (cwd / "uv.lock").is_file():
                cmd.append("--locked")
            env = {**env, "UV_PROJECT_ENVIRONMENT": str(root / "venv")}
        else:
            cmd = [uv, "pip", "install", "--python", str(python), str(cwd)]
    done = run_command(runner, cmd, cwd, env, INSTALL_TIMEOUT)
    if done.returncode != 0:
        return InstallRun(False, last_lines(done.stderr or done.stdout), {}, {})
    sources: dict[str, str] = {}
    if report.is_file():
        sources = _pip_sources(report)
    elif (cwd / "uv.lock").is_file() and options.project is not None:
        sources = _uv_lock_sources(cwd / "uv.lock")
    return InstallRun(True, "", inspect_installed(python, names, runner, root), sources)


def _uses_uv(project: Path) -> bool:
    return default_installers(VerifyOptions(project=project)) == ("uv",)


def inspect_installed(
    python: Path, names: Sequence[str], runner: Runner, cwd: Path
) -> dict[str, Installed | None]:
    done = run_command(runner, [str(python), "-c", _INSPECT, *names], cwd, venv_env(), 120)
    if done.returncode != 0:
        raise DeployError(
            f"Could not inspect the verification environment ({last_lines(done.stderr)})."
        )
    data = json.loads(done.stdout)
    out: dict[str, Installed | None] = {}
    for name in names:
        item = data.get(name)
        out[name] = (
            None
            if item is None
            else Installed(
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


def uv_origin(
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
    done = run_command(runner, cmd, app_dir, {**env, "UV_CACHE_DIR": str(root / "uv-cache")}, 300)
    lines = done.stdout.splitlines()
    for n, line in enumerate(lines):
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[.*\])?==", line)
        if match and canonicalize_name(match.group(1)) == build.name:
            for follow in lines[n + 1 : n + 6]:
                found = re.match(r"^\s+# from (\S+)", follow)
                if found:
                    return found.group(1)
    return None
