"""A project tool as a deployment runs it: the binary, its isolated environment, its commands.

The commands are the tool's own lock check and install, production dependencies only, without
building the project itself (its dependencies are what verify checks):
uv `uv lock` (no uv.lock) or `uv lock --check`, then `uv sync --locked --no-dev --no-install-project`;
Poetry `poetry lock` (no poetry.lock), then `poetry install --no-root --only main` (which
refuses a stale poetry.lock); Pipenv `pipenv lock` (no Pipfile.lock) or `pipenv verify`, then `pipenv install
--deploy`; PDM `pdm lock` (no pdm.lock) or `pdm lock --check`, then `pdm install --prod --check
--no-self`. Each installs into the project's
`.venv`, which verify creates first (with the upstream release in it, for the second scenario).

The tool's configuration and caches live in temporary directories (HOME, XDG_*, the tools' own
variables), so only the project's files shape the install; `--use-user-config` keeps the user's
configuration (caches stay cold, as on a deployment).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pyhotfix.deploy.verify.projects import ProjectTool, read_pyproject
from pyhotfix.deploy.verify.report import VerifyOptions
from pyhotfix.deploy.verify.venvs import install_base_env
from pyhotfix.errors import DeployError, UsageError

__all__ = ["ToolStep", "find_tool", "tool_env", "tool_steps"]

_INSTALL_HINT: dict[ProjectTool, str] = {
    "uv": "`pip install uv` (pyhotfix's own uv is used when none is on PATH)",
    "poetry": "`pipx install poetry` (https://python-poetry.org/docs/#installation)",
    "pipenv": "`pipx install pipenv` (or `pip install --user pipenv`)",
    "pdm": "`pipx install pdm` (https://pdm-project.org/en/latest/#installation)",
    "pip": "",
}
_TOOL_PREFIXES = ("PIP_", "UV_", "POETRY_", "PIPENV_", "PDM_")


@dataclass(frozen=True)
class ToolStep:
    argv: tuple[str, ...]  # argv[0] is the tool binary
    shown: str  # the command as the user would type it
    lock_check: bool  # a failure means the lock file is missing or out of date


def find_tool(tool: ProjectTool, tool_path: Path | None) -> str:
    """The tool's executable: --tool-path, else PATH (uv: else pyhotfix's own)."""
    if tool_path is not None:
        if not tool_path.is_file() or not os.access(tool_path, os.X_OK):
            raise UsageError(f"--tool-path {tool_path} is not an executable file.")
        return str(tool_path.absolute())
    found = shutil.which(tool)
    if found is not None:
        return found
    if tool == "uv":
        from uv import find_uv_bin

        return find_uv_bin()
    raise DeployError(
        f"This project is deployed with {tool} (its lock file or configuration says so), and "
        f"verify runs {tool} itself, but there is no `{tool}` on PATH. Install it: "
        f"{_INSTALL_HINT[tool]}, or give its path with --tool-path PATH."
    )


def tool_steps(tool: ProjectTool, exe: str, project: Path) -> list[ToolStep]:
    """The commands a deployment of `project` runs, in order."""

    def step(*args: str, lock_check: bool = False) -> ToolStep:
        return ToolStep((exe, *args), " ".join((tool, *args)), lock_check)

    if tool == "uv":
        first = (
            step("lock", "--check", lock_check=True) if _has(project, "uv.lock") else step("lock")
        )
        return [first, step("sync", "--locked", "--no-dev", "--no-install-project")]
    if tool == "poetry":
        # Not `poetry check --lock`: it also fails on pyproject warnings that do not stop a
        # deployment; `poetry install` itself refuses a poetry.lock out of date with the project.
        install = step("install", "--no-root", "--only", "main", "--no-interaction")
        return [install] if _has(project, "poetry.lock") else [step("lock"), install]
    if tool == "pipenv":
        locked = _has(project, "Pipfile.lock")
        first = step("verify", lock_check=True) if locked else step("lock")
        return [first, step("install", "--deploy")]
    if tool == "pdm":
        locked = _has(project, "pdm.lock")
        first = step("lock", "--check", lock_check=True) if locked else step("lock")
        return [first, step("install", "--prod", "--check", "--no-self")]
    raise AssertionError(tool)


def _has(project: Path, name: str) -> bool:
    return (project / name).is_file()


def tool_env(
    options: VerifyOptions,
    tool: ProjectTool,
    project: Path,
    root: Path,
    deploy_env: Mapping[str, str],
) -> dict[str, str]:
    """The environment the tool runs in: its configuration isolated unless --use-user-config,
    cold caches, the project's `.venv`, no prompts; then the deployment's own variables."""
    env = install_base_env(options)
    if not options.use_user_config:
        # Index credentials are the deployment's too: keep ~/.netrc while HOME is replaced.
        netrc = Path(env.get("HOME", "~")).expanduser() / ".netrc"
        if "NETRC" not in env and netrc.is_file():
            env["NETRC"] = str(netrc)
        env = {k: v for k, v in env.items() if not k.startswith(_TOOL_PREFIXES)}
        env["PIP_CONFIG_FILE"] = os.devnull
        for var, sub in (
            ("HOME", "home"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_CONFIG_DIRS", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_CACHE_HOME", "cache"),
        ):
            (root / sub).mkdir(exist_ok=True)
            env[var] = str(root / sub)
        env["POETRY_CONFIG_DIR"] = str(root / "config" / "pypoetry")
        env["POETRY_DATA_DIR"] = str(root / "data" / "pypoetry")
    cache = root / "cache"
    cache.mkdir(exist_ok=True)
    env.update(
        {
            "UV_CACHE_DIR": str(cache / "uv"),
            "UV_PYTHON_DOWNLOADS": "never",
            "POETRY_CACHE_DIR": str(cache / "pypoetry"),
            # over the project's poetry.toml: never install into Poetry's own environment
            "POETRY_VIRTUALENVS_CREATE": "true",
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "POETRY_NO_INTERACTION": "1",
            "PIPENV_VENV_IN_PROJECT": "1",
            "PIPENV_IGNORE_VIRTUALENVS": "1",
            "PIPENV_YES": "1",
            "PIPENV_NOSPIN": "1",
            "PDM_CACHE_DIR": str(cache / "pdm"),
            "PDM_CHECK_UPDATE": "false",
            "PDM_NON_INTERACTIVE": "1",
            # A keyring prompt or daemon must not hang the install.
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "NO_COLOR": "1",
        }
    )
    env.update(_default_index(options, tool, project))
    env.update(deploy_env)
    return env


def _default_index(options: VerifyOptions, tool: ProjectTool, project: Path) -> dict[str, str]:
    """--default-index, where the tool can take it and the project names no main index of its
    own; a lock file's indexes rule over it (Poetry and Pipenv name theirs in their files)."""
    data = read_pyproject(project) if (project / "pyproject.toml").is_file() else {}
    tables = data.get("tool", {})
    tables = tables if isinstance(tables, dict) else {}
    if tool == "uv" and not _has(project, "uv.lock"):
        indexes = _table(tables, "uv").get("index", [])
        if not any(isinstance(i, dict) and i.get("default") for i in _list(indexes)):
            return {"UV_DEFAULT_INDEX": options.default_index}
    if tool == "pdm" and not _has(project, "pdm.lock"):
        sources = _list(_table(tables, "pdm").get("source", []))
        if not any(isinstance(s, dict) and s.get("name") == "pypi" for s in sources):
            return {"PDM_PYPI_URL": options.default_index}
    return {}


def _table(tables: Mapping[str, object], key: str) -> dict[str, object]:
    value = tables.get(key)
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
