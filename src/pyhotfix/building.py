"""Build a hotfixed sdist and wheel through PEP 517, fast and reproducibly.

Speed comes from two things. `python -m build` and `uv build` create a fresh environment for every
build, which dominates the time of a small build: `EnvCache` keeps one environment per (build
requirements, interpreter). And each PEP 517 hook call normally costs a process that imports the
backend: here get_requires_for_build_X and build_X share one process (pyproject-hooks' own
in-process script, driven twice). Reproducibility comes from SOURCE_DATE_EPOCH plus a deterministic
re-pack of the sdist (setuptools and pdm-backend tarballs vary) and re-zip of the wheel (setuptools
wheels carry umask-dependent file modes), with build paths mapped out of compiled code. The hooks
run upstream's code, so they get only the allow-listed environment of `pyhotfix.buildenv`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import IO, Any

from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pyhotfix._atomic import open_atomic
from pyhotfix.buildenv import backend_environment, installer_environment, prefix_map_flag
from pyhotfix.distfile import file_sha256_size, sdist_pkg_info
from pyhotfix.errors import BuildError
from pyhotfix.treeremove import remove_tree, temporary_directory
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import BackendInfo

_MARKER = ".pyhotfix-env.json"
_OUTPUT_TAIL = 30


@dataclass(frozen=True)
class BuiltFile:
    path: Path
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BuiltDists:
    sdist: BuiltFile
    wheel: BuiltFile
    backend: str
    backend_version: str
    python: str


class EnvCache:
    """Build environments kept under `root`, one per (sorted build requirements, interpreter).

    Environments are created with uv in a temporary directory and renamed into place under an
    exclusive file lock, with a marker written last, so concurrent processes never share a
    half-built environment and an interrupted creation is simply redone. Requirements are resolved
    once, when the environment is created; clear `root` to pick up newer backends.
    """

    def __init__(
        self,
        root: Path,
        python: str = sys.executable,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # Absolute: uv and the hooks run in other working directories.
        self.root = Path(os.path.abspath(root))
        # uv gets its own settings and index credentials, nothing else secret (buildenv).
        self.environ = installer_environment(os.environ if environ is None else environ)
        self.python = shutil.which(python) or python
        self._python_version: str | None = None
        self._uv: str | None = None

    @property
    def python_version(self) -> str:
        """The interpreter's version, e.g. "3.11.7" (asked once; it is part of the cache key)."""
        if self._python_version is None:
            if os.path.realpath(self.python) == os.path.realpath(sys.executable):
                self._python_version = platform.python_version()
            else:
                out = self._run(
                    [self.python, "-c", "import platform; print(platform.python_version())"],
                    what=f"ask {self.python} for its version",
                    advice="Check that this Python interpreter exists and runs.",
                )
                self._python_version = out.strip()
        return self._python_version

    def environment(self, requires: Sequence[str]) -> Path:
        """Return the python executable of an environment with `requires` installed."""
        reqs = _normalize_requirements(requires)
        material = json.dumps(
            {
                "requires": reqs,
                "python": self.python_version,
                "interpreter": os.path.realpath(self.python),
            },
            sort_keys=True,
        )
        key = hashlib.sha256(material.encode()).hexdigest()[:32]
        env_dir = self.root / key
        python = env_dir / "bin" / "python"
        if self._ready(env_dir):
            return python
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / f"{key}.lock"):
            if self._ready(env_dir):  # another process finished it while we waited
                return python
            if env_dir.exists():  # unfinished or broken: start over
                remove_tree(env_dir)
            staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
            try:
                self._create(staging / "env", reqs)
                os.rename(staging / "env", env_dir)
            finally:
                with contextlib.suppress(OSError):
                    remove_tree(staging)
        return python

    def installed(self, env_python: Path) -> dict[str, str]:
        """Canonical distribution name -> version of what an environment of this cache holds."""
        marker = env_python.parent.parent / _MARKER
        data: dict[str, Any] = json.loads(marker.read_text())
        installed: dict[str, str] = data["installed"]
        return installed

    # -- internals --

    def _ready(self, env_dir: Path) -> bool:
        # The marker is written last and the interpreter link must still resolve.
        return (env_dir / _MARKER).is_file() and (env_dir / "bin" / "python").exists()

    def _create(self, env_dir: Path, reqs: list[str]) -> None:
        uv = self._uv_bin()
        # --relocatable: the environment is renamed into place after creation.
        self._run(
            [uv, "venv", "--quiet", "--relocatable", "--python", self.python, str(env_dir)],
            what=f"create a build environment for {self.python}",
            advice="Check that this Python interpreter exists and that uv can use it.",
            cwd=env_dir.parent,
        )
        env_python = env_dir / "bin" / "python"
        if reqs:
            # Bytecode compiled now saves every later hook call from compiling the backend.
            # --no-build: wheels only. uv would build an sdist with its own environment (index
            # credentials, the real HOME), so no third-party build code runs in it.
            self._run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--no-build",
                    "--compile-bytecode",
                    "--python",
                    str(env_python),
                    *reqs,
                ],
                what=f"install the build requirements {', '.join(reqs)}",
                advice="Check that the package index is reachable and that these requirements "
                "exist for this Python, then retry.",
                cwd=env_dir.parent,
                advice_if=(
                    ("building from source is disabled", _NO_WHEEL_ADVICE),
                    ("no usable wheels", _NO_WHEEL_ADVICE),
                ),
            )
        marker = {
            "requires": reqs,
            "python": self.python_version,
            "installed": _installed_distributions(env_dir),
        }
        (env_dir / _MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True))

    def _uv_bin(self) -> str:
        if self._uv is None:
            import uv  # the uv PyPI package ships the binary

            self._uv = uv.find_uv_bin()
        return self._uv

    def _run(
        self,
        cmd: list[str],
        *,
        what: str,
        advice: str,
        cwd: Path | None = None,
        advice_if: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Run `cmd`; on failure a BuildError with `advice`, or the advice of the first
        (text, advice) pair of `advice_if` whose text is in the output."""
        proc = subprocess.run(
            cmd, cwd=cwd, env=self.environ, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            advice = next((a for text, a in advice_if if text in output), advice)
            raise BuildError(
                f"Could not {what} (exit code {proc.returncode}). {advice}"
                + _tail_block(Path(cmd[0]).name, proc.stdout + proc.stderr)
            )
        return proc.stdout


def build(
    root: Path,
    name: str,
    version: str,
    out_dir: Path,
    *,
    source_date_epoch: int,
    envs: EnvCache,
    backend: BackendInfo,
    environ: Mapping[str, str] | None = None,
) -> BuiltDists:
    """Build the sdist of the tree at `root`, then the wheel from that sdist (as pip would).

    Both files are checked to carry `name` and `version` in their filenames and metadata before
    they are written to `out_dir`; the same inputs always give byte-identical files. The hooks
    run upstream's code with only the allowed variables of `environ` (default: os.environ), see
    `pyhotfix.buildenv`.
    """
    # Removed at any depth: the backend writes what it likes under HOME and TMPDIR in there.
    with temporary_directory("pyhotfix-build-") as tmp:
        (tmp / "home").mkdir()  # the backend's HOME and TMPDIR (buildenv)
        (tmp / "tmp").mkdir()
        user_environ = os.environ if environ is None else environ
        hook_env = backend_environment(
            user_environ,
            tmp,
            source_date_epoch=source_date_epoch,
            env_root=envs.root,
            c_prefix_map=prefix_map_flag(user_environ),
        )
        raw_sdist_dir, sdist_dir, wheel_dir = tmp / "sdist-raw", tmp / "sdist", tmp / "wheel"
        sdist_dir.mkdir()

        # The wheel step's interpreter starts now and imports the backend while the sdist is
        # built, so the two backend start-ups overlap (they are most of a small build's time).
        warm_wheel = _start_hooks("wheel", wheel_dir / "1", backend, envs, hook_env)
        try:
            raw_sdist, _ = _run_step(
                "sdist", root, raw_sdist_dir, name, version, backend, envs, hook_env
            )
            sdist_path = sdist_dir / raw_sdist.name
            _repack_sdist(raw_sdist, sdist_path, source_date_epoch)

            # The wheel is built from the sdist, as pip and uv would build it on a user's machine.
            tree = unpack_sdist(sdist_path, tmp / "unpacked")
            wheel_path, env_python = _run_step(
                "wheel", tree.root, wheel_dir, name, version, backend, envs, hook_env, warm_wheel
            )
        finally:
            warm_wheel.close()
        _rezip_wheel(wheel_path, source_date_epoch)

        _verify(name, version, backend, sdist_path, wheel_path)

        out_dir.mkdir(parents=True, exist_ok=True)
        sdist = _publish_file(sdist_path, out_dir)
        wheel = _publish_file(wheel_path, out_dir)

    installed = envs.installed(env_python)
    return BuiltDists(
        sdist=sdist,
        wheel=wheel,
        backend=backend.backend,
        backend_version=installed.get(canonicalize_name(backend.distribution), "unknown"),
        python=envs.python_version,
    )


# --- running the hooks --------------------------------------------------------------------------

# Runs pyproject-hooks' own in-process hook script (the one BuildBackendHookCaller runs, so backend
# loading, backend-path and missing-hook fallbacks behave identically) for several hooks in ONE
# interpreter: get_requires_for_build_X then build_X. Importing the backend is most of a hook
# call's cost (setuptools: ~0.14 s of ~0.2 s), so this halves the time of a build.
_DRIVER = """\
import importlib, importlib.util, os, sys

# Like pyproject-hooks: keep this script's directory off the backend's import path.
here = os.path.realpath(os.path.dirname(__file__))
sys.path[:] = [p for p in sys.path if not p or os.path.realpath(p) != here]
try:  # warm up while the caller prepares the source tree; the hook script reports failures
    importlib.import_module(os.environ["_PYPROJECT_HOOKS_BUILD_BACKEND"].partition(":")[0])
except Exception:
    pass
os.chdir(sys.stdin.readline().rstrip("\\n"))
script = sys.argv[1]
spec = importlib.util.spec_from_file_location("_pyproject_hooks_in_process", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for hook, control_dir in zip(sys.argv[2::2], sys.argv[3::2]):
    sys.argv = [script, hook, control_dir]
    module.main()
"""


@dataclass
class _HookResult:
    extra_requires: list[str] | None = None  # what get_requires_for_build_X returned
    built: Path | None = None  # the file build_X returned
    failed_hook: str | None = None
    detail: str = ""
    output: str = ""


def _run_step(
    step: str,
    source_dir: Path,
    out: Path,
    name: str,
    version: str,
    backend: BackendInfo,
    envs: EnvCache,
    hook_env: Mapping[str, str],
    started: _StartedHooks | None = None,
) -> tuple[Path, Path]:
    """Run get_requires_for_build_<step> and build_<step>; return (built file, env python).

    `started`, if given, is this step's first attempt already running in the base environment.

    build_<step> runs speculatively right after get_requires in the base environment; in the rare
    case the backend asks for requirements that environment lacks, the result is discarded and
    both hooks run again in an environment that has them.
    """
    first = started or _start_hooks(step, out / "1", backend, envs, hook_env)
    result = first.finish(source_dir)
    env_python = first.env_python
    extra = result.extra_requires
    if extra and not _satisfied(extra, envs.installed(env_python)):
        retry = _start_hooks(step, out / "2", backend, envs, hook_env, extra)
        result = retry.finish(source_dir)
        env_python = retry.env_python
    if result.failed_hook is not None or result.built is None:
        what = "sdist from the patched source" if step == "sdist" else "wheel from the hotfix sdist"
        hook = result.failed_hook or f"build_{step}"
        raise BuildError(
            f"Building the {what} of {name} {version} failed in {hook} of the build backend "
            f"{backend.backend} ({backend.distribution}).{result.detail} A patch may have broken "
            "the build, or the project needs a build dependency or system library its backend "
            "does not declare: read the output below, fix the patch or the build machine, and "
            "rebuild." + _tail_block(backend.distribution, result.output)
        )
    return result.built, env_python


class _StartedHooks:
    """One interpreter of the build environment running get_requires_for_build_X and build_X.

    It starts, imports the backend, then waits for the source directory (`finish`), so it can be
    started before that directory exists.
    """

    def __init__(
        self,
        step: str,
        out: Path,
        backend: BackendInfo,
        env_python: Path,
        hook_env: Mapping[str, str],
    ) -> None:
        self.step, self.out, self.backend, self.env_python = step, out, backend, env_python
        out.mkdir(parents=True)
        self.hooks = [
            (f"get_requires_for_build_{step}", {"config_settings": None}),
            (
                f"build_{step}",
                {f"{step}_directory": str(out), "config_settings": None}
                | ({"metadata_directory": None} if step == "wheel" else {}),
            ),
        ]
        self._control = tempfile.TemporaryDirectory(prefix="pyhotfix-hooks-")
        self.control = Path(self._control.name)
        self._hook_env = hook_env
        self.proc: subprocess.Popen[bytes] | None = None
        if not backend.backend_path:  # an in-tree backend needs the source dir to be imported
            self._start(None)

    def _start(self, source_dir: Path | None) -> None:
        # The whole environment is the scrubbed one (buildenv): nothing else is inherited.
        environ = {**self._hook_env, "_PYPROJECT_HOOKS_BUILD_BACKEND": self.backend.backend}
        if source_dir is not None and self.backend.backend_path:
            environ["_PYPROJECT_HOOKS_BACKEND_PATH_JSON"] = json.dumps(
                _backend_path(source_dir, self.backend.backend_path)
            )
        driver = self.control / "driver.py"
        driver.write_text(_DRIVER)
        args: list[str] = []
        for i, (hook, kwargs) in enumerate(self.hooks):
            hook_dir = self.control / str(i)
            hook_dir.mkdir()
            (hook_dir / "input.json").write_text(json.dumps({"kwargs": kwargs}))
            args += [hook, str(hook_dir)]
        with as_file(files("pyproject_hooks._in_process") / "_in_process.py") as script:
            # the script is a real file inside the installed pyproject_hooks package
            self.proc = subprocess.Popen(
                [str(self.env_python), str(driver), str(script), *args],
                cwd=self.control,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )

    def finish(self, source_dir: Path) -> _HookResult:
        if self.proc is None:
            self._start(source_dir)
        assert self.proc is not None
        stdout, _ = self.proc.communicate(f"{source_dir}\n".encode())
        hooks, out, control = self.hooks, self.out, self.control
        result = _HookResult()
        result.output = stdout.decode("utf-8", errors="replace")
        for i, (hook, _) in enumerate(hooks):
            output = control / str(i) / "output.json"
            if not output.is_file():  # the backend raised (or the process died) in this hook
                result.failed_hook = hook
                result.detail = f" The backend exited with code {self.proc.returncode}."
                break
            data = json.loads(output.read_text())
            if data.get("no_backend"):
                result.failed_hook = hook
                error = data.get("backend_error") or "unknown error"
                result.detail = f" The backend could not be imported: {error}."
                break
            if data.get("unsupported") or data.get("hook_missing"):
                result.failed_hook = hook
                result.detail = " The backend does not support this hook."
                break
            value = data.get("return_val")
            if hook.startswith("get_requires"):
                if not _is_str_list(value):
                    result.failed_hook = hook
                    result.detail = f" It returned {value!r} instead of a list of requirements."
                    break
                result.extra_requires = list(value)
            elif isinstance(value, str) and (out / value).is_file():
                result.built = out / value
            else:
                result.failed_hook = hook
                result.detail = f" It returned {value!r}, which is not a file it built."
        self._control.cleanup()
        return result

    def close(self) -> None:
        """Stop the interpreter if it was never used (the sdist step failed) and clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self._control.cleanup()


def _start_hooks(
    step: str,
    out: Path,
    backend: BackendInfo,
    envs: EnvCache,
    hook_env: Mapping[str, str],
    extra_requires: Sequence[str] = (),
) -> _StartedHooks:
    env_python = envs.environment([*backend.requires, *extra_requires])
    return _StartedHooks(step, out, backend, env_python, hook_env)


def _backend_path(source_dir: Path, backend_path: Sequence[str]) -> list[str]:
    # PEP 517: backend-path entries are relative to the source tree and must stay inside it.
    root = os.path.realpath(source_dir)
    paths = []
    for entry in backend_path:
        path = os.path.realpath(os.path.join(root, entry))
        if os.path.commonpath([root, path]) != root:
            raise BuildError(
                f"The build-system backend-path entry {entry!r} points outside the source tree; "
                "refusing to build."
            )
        paths.append(path)
    return paths


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _satisfied(extra: Sequence[str], installed: Mapping[str, str]) -> bool:
    """Whether the environment already fulfils the requirements a get_requires hook returned."""
    for text in extra:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            return False
        if req.marker is not None and not req.marker.evaluate():
            continue
        have = installed.get(canonicalize_name(req.name))
        if req.url or req.extras or have is None:
            return False
        if not req.specifier.contains(have, prereleases=True):
            return False
    return True


_NO_WHEEL_ADVICE = (
    "A build requirement has no wheel for this Python and platform (see below). pyhotfix "
    "installs build requirements from wheels only, so that no third-party build code runs with "
    "uv's index credentials: build a wheel of it yourself and put it on your package index (or "
    "in a directory named by UV_FIND_LINKS), then retry."
)


def _normalize_requirements(requires: Sequence[str]) -> list[str]:
    """The requirements, normalized and sorted; invalid ones and direct references refused."""
    normalized = set()
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise BuildError(
                f"The build requirement {text!r} is not a valid PEP 508 requirement ({exc}); "
                "fix [build-system] requires in pyproject.toml with a patch."
            ) from exc
        if req.url is not None:
            # A local path or URL would be fetched, and an sdist there built, by uv with its
            # own environment; upstream build requirements name index packages.
            raise BuildError(
                f"The build requirement {text[:200]!r} is a direct reference (a path or URL, "
                "not a package on an index); pyhotfix refuses those, as they make the build "
                "fetch and run code from wherever they point. Replace it in [build-system] "
                "requires of pyproject.toml with a patch (name the package and a version), and "
                "make that package's wheel available on your index."
            )
        normalized.add(str(req))
    return sorted(normalized)


def _installed_distributions(env_dir: Path) -> dict[str, str]:
    installed: dict[str, str] = {}
    for dist_info in env_dir.glob("lib/python*/site-packages/*.dist-info"):
        dist, _, ver = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[canonicalize_name(dist)] = ver
    return installed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail_block(label: str, output: str) -> str:
    lines = output.rstrip().splitlines()[-_OUTPUT_TAIL:]
    if not lines:
        return ""
    body = "\n".join("    " + line for line in lines)
    return f"\n\nLast {len(lines)} lines of output from {label}:\n{body}"


# --- deterministic archives ---------------------------------------------------------------------


def _normal_mode(mode: int, is_dir: bool) -> int:
    return 0o755 if is_dir or mode & 0o111 else 0o644


def _repack_sdist(src: Path, dest: Path, sde: int) -> None:
    """Rewrite a .tar.gz sdist so its bytes depend only on its contents and SOURCE_DATE_EPOCH."""
    with tarfile.open(src, "r:*") as tin:
        members = sorted(tin.getmembers(), key=lambda m: m.name)
        with (
            open(dest, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=sde, compresslevel=9) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tout,
        ):
            for member in members:
                info = tarfile.TarInfo(member.name)
                info.type = member.type
                info.mode = _normal_mode(member.mode, member.isdir())
                info.mtime = sde
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.linkname = member.linkname
                fileobj: IO[bytes] | None = None
                if member.isfile():
                    info.size = member.size
                    fileobj = tin.extractfile(member)
                elif not (member.isdir() or member.issym() or member.islnk()):
                    raise BuildError(
                        f"The backend's sdist {src.name} contains {member.name!r}, which is not a "
                        "regular file, directory or link; it cannot be published."
                    )
                tout.addfile(info, fileobj)


def _rezip_wheel(path: Path, sde: int) -> None:
    """Rewrite a wheel with fixed timestamps and modes, keeping the backend's member order.

    The backends all honour SOURCE_DATE_EPOCH for timestamps, but setuptools writes file modes
    from the umask (0o664 vs 0o644), so the same build differs between machines without this.
    RECORD stays valid: it hashes contents, which are unchanged.
    """
    t = time.gmtime(max(sde, 315532800))  # zip cannot store dates before 1980
    date_time = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    with (
        zipfile.ZipFile(path) as zin,
        open_atomic(path, durable=False) as out,  # a build-tree file; _publish_file syncs the copy
        zipfile.ZipFile(out, "w") as zout,
    ):
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=date_time)
            is_dir = item.filename.endswith("/")
            mode = (item.external_attr >> 16) & 0o777
            kind = 0o040000 if is_dir else 0o100000
            info.external_attr = (kind | _normal_mode(mode, is_dir)) << 16
            info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr modes are honoured
            zout.writestr(info, zin.read(item.filename))


# --- verification -------------------------------------------------------------------------------


def _verify(name: str, version: str, backend: BackendInfo, sdist: Path, wheel: Path) -> None:
    """Every place a version shows must be the one asked for; a backend may silently ignore it."""
    want_name, want_version = canonicalize_name(name), Version(version)
    problems: list[str] = []

    def check(where: str, got_name: str | None, got_version: str | Version | None) -> None:
        if got_name is None or canonicalize_name(got_name) != want_name:
            problems.append(f"{where} names the project {got_name!r}")
        try:
            ok = got_version is not None and Version(str(got_version)) == want_version
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{where} says version {got_version}")

    try:
        s_name, s_version = parse_sdist_filename(sdist.name)
        check(f"the sdist filename {sdist.name}", s_name, s_version)
    except InvalidSdistFilename:
        problems.append(f"the sdist filename {sdist.name} cannot be parsed")
    try:
        w_name, w_version, _, _ = parse_wheel_filename(wheel.name)
        check(f"the wheel filename {wheel.name}", w_name, w_version)
    except InvalidWheelFilename:
        problems.append(f"the wheel filename {wheel.name} cannot be parsed")

    check("the sdist's PKG-INFO", *_metadata(sdist_pkg_info(sdist, sdist.name) or b""))
    with zipfile.ZipFile(wheel) as zf:
        metas = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        data = zf.read(metas[0]) if len(metas) == 1 else b""
    check("the wheel's METADATA", *_metadata(data))

    if problems:
        raise BuildError(
            f"The build of {name} {version} produced files with the wrong name or version: "
            f"{'; '.join(problems)}. The build backend {backend.backend} ({backend.distribution}) "
            "ignored the version pyhotfix set, so nothing was written; pip and uv would refuse "
            "these files. Report this as a pyhotfix bug with the package name, or set the version "
            "with a patch."
        )


def _metadata(data: bytes) -> tuple[str | None, str | None]:
    if not data:
        return None, None
    try:
        meta = Metadata.from_email(data, validate=False)
        return meta.name, str(meta.version)
    except Exception:  # packaging raises ExceptionGroup/InvalidMetadata for bad fields
        return None, None


def _publish_file(src: Path, out_dir: Path) -> BuiltFile:
    sha256, size = file_sha256_size(src)
    target = out_dir / src.name
    # Copy under a temporary name first: a reader never sees a half-written file.
    with src.open("rb") as inp, open_atomic(target) as out:
        shutil.copyfileobj(inp, out, 1 << 20)
    return BuiltFile(path=target, filename=src.name, sha256=sha256, size=size)
