"""The PEP 517 hook runner: both hooks of a step (get_requires_for_build_X, build_X) in ONE
interpreter of a cached build environment, through pyproject-hooks' own in-process script.

Each hook call normally costs a process that imports the backend; sharing one halves a build's
time, and the wheel step's interpreter can be started (and import the backend) early. The hooks
run upstream's code, so they get only the environment of `pyhotfix.building.environ`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyhotfix.building._output import tail_block
from pyhotfix.building.environ import with_scripts_on_path
from pyhotfix.building.envs import EnvCache
from pyhotfix.errors import BuildError
from pyhotfix.versioning import BackendInfo

__all__ = ["HookResult", "StartedHooks", "run_step", "start_hooks"]

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
class HookResult:
    extra_requires: list[str] | None = None  # what get_requires_for_build_X returned
    built: Path | None = None  # the file build_X returned
    failed_hook: str | None = None
    detail: str = ""
    output: str = ""


def run_step(
    step: str,
    source_dir: Path,
    out: Path,
    name: str,
    version: str,
    backend: BackendInfo,
    envs: EnvCache,
    hook_env: Mapping[str, str],
    started: StartedHooks | None = None,
) -> tuple[Path, Path]:
    """Run get_requires_for_build_<step> and build_<step>; return (built file, env python).

    `started`, if given, is this step's first attempt already running in the base environment.

    build_<step> runs speculatively right after get_requires in the base environment; in the rare
    case the backend asks for requirements that environment lacks, the result is discarded and
    both hooks run again in an environment that has them.
    """
    first = started or start_hooks(step, out / "1", backend, envs, hook_env)
    result = first.finish(source_dir)
    env_python = first.env_python
    extra = result.extra_requires
    if extra and not _satisfied(extra, envs.installed(env_python)):
        retry = start_hooks(step, out / "2", backend, envs, hook_env, extra)
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
            "rebuild." + tail_block(backend.distribution, result.output)
        )
    return result.built, env_python


class StartedHooks:
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
        # The settings pyhotfix gives this backend (a fixed build directory), or None.
        settings = dict(backend.config_settings) or None
        self.hooks = [
            (f"get_requires_for_build_{step}", {"config_settings": settings}),
            (
                f"build_{step}",
                {f"{step}_directory": str(out), "config_settings": settings}
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
        # The whole environment is the scrubbed one (environ): nothing else is inherited.
        environ = {
            **with_scripts_on_path(self._hook_env, self.env_python.parent),
            "_PYPROJECT_HOOKS_BUILD_BACKEND": self.backend.backend,
        }
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

    def finish(self, source_dir: Path) -> HookResult:
        if self.proc is None:
            self._start(source_dir)
        assert self.proc is not None
        stdout, _ = self.proc.communicate(f"{source_dir}\n".encode())
        hooks, out, control = self.hooks, self.out, self.control
        result = HookResult()
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


def start_hooks(
    step: str,
    out: Path,
    backend: BackendInfo,
    envs: EnvCache,
    hook_env: Mapping[str, str],
    extra_requires: Sequence[str] = (),
) -> StartedHooks:
    env_python = envs.environment([*backend.requires, *extra_requires])
    return StartedHooks(step, out, backend, env_python, hook_env)


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
