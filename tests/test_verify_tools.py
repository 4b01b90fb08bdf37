"""`verify` runs the project's own tool (uv, Poetry, Pipenv, PDM) and its verdict agrees with what
that tool really installs.

Each project is written by hand the way the tool's documentation configures "this package from
that index", with the attacker's index as the project's main index. The ground truth comes from
running the tool here, outside pyhotfix, the way a deployment does (fresh, and over an environment
that already has upstream demo-six 1.0), and judging the installed build by its bytes
(`installed_origin`); verify must say ok exactly where that is the hotfix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

from pyhotfix.deploy import HotfixBuild
from pyhotfix.deploy.verify import VerifyOptions, resolve_tool
from pyhotfix.deploy.verify.lockfiles import LOCK_FILES, locked_package
from pyhotfix.deploy.verify.projects import ProjectTool, detect_tool
from pyhotfix.deploy.verify.tools import find_tool
from pyhotfix.deploy.verify.tools import tool_env as verify_tool_env
from pyhotfix.errors import DeployError, UsageError
from pyhotfix.lock import LockedFile
from tests.conftest import Run, clean_pip_env
from tests.support.deployworld import (
    HOTFIXED,
    PARENT,
    DeployWorld,
    Origin,
    installed_origin,
)
from tests.support.tools import tool_executable

TIMEOUT = 300


def tool_bin(tool: ProjectTool) -> Path:
    """The directory of the pinned tool's executable (uv: pyhotfix's own)."""
    if tool == "uv":
        return Path(find_uv_bin()).parent
    return tool_executable(tool).parent


# -- projects, configured by hand as each tool's documentation says ----------------------------


def write_project(
    root: Path, tool: ProjectTool, world: DeployWorld, tied: bool, pep621: bool = False
) -> Path:
    """An app that needs demo-six through demo-dateutil, with the attacker's index as its main
    index and the hotfix index configured. `tied`: demo-six is also a direct dependency pinned
    to the hotfix and tied to the hotfix index (the correct configuration); otherwise only the
    transitive dependency, which nothing ties to the hotfix index."""
    root.mkdir(parents=True)
    hotfix, main, pin = world.hotfix_url, world.attacker_url, world.hotfix_version
    if tool == "uv":
        deps = [f"{PARENT}==1.0"] + ([f"{HOTFIXED}=={pin}"] if tied else [])
        text = _pep621(deps) + (
            f'[[tool.uv.index]]\nname = "hotfix"\nurl = "{hotfix}"\nexplicit = true\n\n'
            f'[[tool.uv.index]]\nname = "main"\nurl = "{main}"\ndefault = true\n\n'
            f'[tool.uv.sources]\n{HOTFIXED} = {{ index = "hotfix" }}\n'
        )
        (root / "pyproject.toml").write_text(text)
    elif tool == "poetry" and pep621:
        # Poetry 2's [project] layout: the requirement in [project], its source in [tool.poetry]
        deps = [f"{PARENT}==1.0"] + ([f"{HOTFIXED}=={pin}"] if tied else [])
        six = (
            f'[tool.poetry.dependencies]\n{HOTFIXED} = {{ source = "hotfix" }}\n\n' if tied else ""
        )
        (root / "pyproject.toml").write_text(
            _pep621(deps) + f"[tool.poetry]\npackage-mode = false\n\n{six}"
            f'[[tool.poetry.source]]\nname = "hotfix"\nurl = "{hotfix}"\npriority = "explicit"\n\n'
            f'[[tool.poetry.source]]\nname = "main"\nurl = "{main}"\npriority = "primary"\n'
        )
    elif tool == "poetry":
        six = f'{HOTFIXED} = {{ version = "{pin}", source = "hotfix" }}\n' if tied else ""
        (root / "pyproject.toml").write_text(
            "[tool.poetry]\npackage-mode = false\n\n"
            f'[tool.poetry.dependencies]\npython = ">=3.9"\n{PARENT} = "1.0"\n{six}\n'
            f'[[tool.poetry.source]]\nname = "hotfix"\nurl = "{hotfix}"\npriority = "explicit"\n\n'
            f'[[tool.poetry.source]]\nname = "main"\nurl = "{main}"\npriority = "primary"\n'
        )
    elif tool == "pdm":
        deps = [f"{PARENT}==1.0"] + ([f"{HOTFIXED}=={pin}"] if tied else [])
        include = f'include_packages = ["{HOTFIXED}"]\n' if tied else ""
        (root / "pyproject.toml").write_text(
            _pep621(deps) + "[tool.pdm]\ndistribution = false\n\n"
            f'[[tool.pdm.source]]\nname = "pypi"\nurl = "{main}"\n\n'
            f'[[tool.pdm.source]]\nname = "hotfix"\nurl = "{hotfix}"\n{include}'
        )
    else:
        six = f'{HOTFIXED} = {{ version = "=={pin}", index = "hotfix" }}\n' if tied else ""
        (root / "Pipfile").write_text(
            f'[[source]]\nname = "main"\nurl = "{main}"\nverify_ssl = false\n\n'
            f'[[source]]\nname = "hotfix"\nurl = "{hotfix}"\nverify_ssl = false\n\n'
            f'[packages]\n{PARENT} = "==1.0"\n{six}'
        )
    return root


def _pep621(deps: list[str]) -> str:
    listed = "".join(f'  "{d}",\n' for d in deps)
    return (
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.9"\n'
        f"dependencies = [\n{listed}]\n\n"
    )


# -- the ground truth: the tool run here, outside pyhotfix -------------------------------------


def tool_env(tool: ProjectTool, home: Path) -> dict[str, str]:
    """The tool's configuration and caches in `home`; the machine's pip/uv config excluded."""
    for sub in ("home", "config", "cache", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return clean_pip_env(
        {
            "PATH": f"{tool_bin(tool)}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home / "home"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CONFIG_DIRS": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "PIPENV_VENV_IN_PROJECT": "1",
            "PIPENV_YES": "1",
            "PDM_CHECK_UPDATE": "false",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )


def run_tool(tool: ProjectTool, project: Path, home: Path, *args: str) -> None:
    exe = str(tool_bin(tool) / tool)
    done = subprocess.run(
        [exe, *args],
        cwd=project,
        env=tool_env(tool, home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{tool} {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def lock_and_commit(tool: ProjectTool, project: Path, work: Path) -> None:
    """What the user commits: the project and the tool's lock file (not the tool's .venv)."""
    copy = work / "project"
    shutil.copytree(project, copy)
    run_tool(tool, copy, work / "home", *LOCK[tool])
    for lock in copy.glob("*.lock"):
        shutil.copy2(lock, project / lock.name)


LOCK = {"uv": ("lock",), "poetry": ("lock",), "pdm": ("lock",), "pipenv": ("lock",)}
INSTALL = {
    "uv": ("sync", "--locked"),
    "poetry": ("install", "--no-root"),
    "pdm": ("install", "--prod"),
    "pipenv": ("install", "--deploy"),
}


def deploy_by_hand(
    tool: ProjectTool, project: Path, world: DeployWorld, work: Path, over_upstream: bool
) -> Origin:
    """What the tool really installs: a copy of the project, its .venv (with upstream demo-six
    1.0 in it when `over_upstream`), the tool's lock (when none is committed) and install."""
    copy = work / "project"
    shutil.copytree(project, copy)
    uv = find_uv_bin()
    env = clean_pip_env({"UV_NO_CONFIG": "1"})
    venv = copy / ".venv"
    subprocess.run(
        [uv, "venv", "-q", "--seed", "--python", sys.executable, str(venv)],
        check=True,
        env=env,
        timeout=TIMEOUT,
    )
    python = venv / "bin" / "python"
    if over_upstream:
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(python),
                "--no-deps",
                "--default-index",
                world.pypi_url,
                f"{HOTFIXED}==1.0",
            ],
            check=True,
            env=env,
            timeout=TIMEOUT,
        )
        assert installed_origin(python, world) == "upstream"
    if not any(copy.glob("*.lock")):
        run_tool(tool, copy, work / "home", *LOCK[tool])
    run_tool(tool, copy, work / "home", *INSTALL[tool])
    return installed_origin(python, world)


def verify(world: DeployWorld, project: Path, tool: ProjectTool, *args: str) -> tuple[Run, Any]:
    path = f"{tool_bin(tool)}{os.pathsep}{os.environ['PATH']}"
    run = world.cli(
        "verify", "--project", project, "--json", *args, cwd=world.app, env={"PATH": path}
    )
    assert "Traceback" not in run.output, run.output
    return run, json.loads(run.stdout) if run.stdout.strip() else None


# -- the matrix: verify's verdict against the tool's real install ------------------------------

TOOLS: tuple[ProjectTool, ...] = ("uv", "poetry", "pdm", "pipenv")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tool", "pep621"),
    [("uv", False), ("poetry", False), ("poetry", True), ("pdm", False), ("pipenv", False)],
    ids=["uv", "poetry", "poetry-pep621", "pdm", "pipenv"],
)
def test_verify_agrees_with_the_tool_on_a_correct_project(
    tmp_path: Path, world: DeployWorld, tool: ProjectTool, pep621: bool
) -> None:
    """demo-six tied to the hotfix index, the attacker's index as the main one, the lock file
    committed: fresh installs get the hotfix; over an installed upstream, all but Pipenv do."""
    project = write_project(tmp_path / "app", tool, world, tied=True, pep621=pep621)
    lock_and_commit(tool, project, tmp_path / "locking")
    truth = {
        "fresh": deploy_by_hand(tool, project, world, tmp_path / "fresh", over_upstream=False),
        "had 1.0": deploy_by_hand(tool, project, world, tmp_path / "over", over_upstream=True),
    }
    run, report = verify(world, project, tool)
    rows = {c["environment"]: c for c in report["checks"]}
    assert set(rows) == set(truth), run.output
    for environment, origin in truth.items():
        row = rows[environment]
        assert row["installer"] == tool
        assert (row["result"] == "ok") == (origin == "hotfix"), (environment, origin, row)
    assert truth["fresh"] == "hotfix"
    assert rows["fresh"]["reason"].startswith("1 file matches the built wheel"), rows["fresh"]
    assert "the hotfix build's sha256" in rows["fresh"]["reason"]
    if tool == "pipenv":
        # pipenv compares versions without their +local part: it keeps an installed upstream
        assert truth["had 1.0"] == "upstream" and run.code == 1
        assert "Pipfile.lock says 1.0+hotfix.1" in rows["had 1.0"]["reason"]
        follow_pipenv_advice(rows["had 1.0"]["reason"], project, world, tmp_path)
    else:
        assert truth["had 1.0"] == "hotfix" and run.code == 0, run.output
    assert not any(project.glob(".venv")), "verify never touches the user's tree"


def follow_pipenv_advice(reason: str, project: Path, world: DeployWorld, work: Path) -> None:
    """The advice for Pipenv (pin by URL) installs the hotfix over upstream too."""
    match = re.search(rf"`({HOTFIXED} = {{file = \"[^\"]+\"}})`", reason)
    assert match, reason
    pipfile = project / "Pipfile"
    lines = [line for line in pipfile.read_text().splitlines() if not line.startswith(HOTFIXED)]
    # the index as deployments reach it (the advice names the local index, file://…/simple/)
    pin = re.sub(r"file://[^\"]*?/simple/", world.hotfix_url, match.group(1))
    pipfile.write_text("\n".join([*lines, pin]) + "\n")
    (project / "Pipfile.lock").unlink(missing_ok=True)
    lock_and_commit("pipenv", project, work / "advice-locking")
    truth = deploy_by_hand("pipenv", project, world, work / "advice", over_upstream=True)
    assert truth == "hotfix"


@pytest.mark.slow
@pytest.mark.parametrize("tool", TOOLS)
def test_verify_agrees_with_the_tool_on_a_transitive_unpinned_project(
    tmp_path: Path, world: DeployWorld, tool: ProjectTool
) -> None:
    """Only demo-dateutil is listed: every tool takes demo-six from the main index, here the
    attacker's (99.0). verify fails, names the lock's index and the pin that fixes it."""
    project = write_project(tmp_path / "app", tool, world, tied=False)
    truth = deploy_by_hand(tool, project, world, tmp_path / "fresh", over_upstream=False)
    run, report = verify(world, project, tool, "--fresh-only")
    (row,) = report["checks"]
    assert truth != "hotfix" and truth == "attacker"
    assert run.code == 1 and row["result"] == "FAIL", run.output
    assert row["installed"] == "99.0"
    assert world.attacker_url.rstrip("/") in (row["source"] or "") or tool == "pdm", row
    fix = "pin it by URL in the Pipfile" if tool == "pipenv" else "pyhotfix pin --pyproject"
    assert fix in row["reason"], row
    assert not any(project.glob("*.lock")), "the lock was made in a copy"
    # The advice, followed, installs the hotfix, and verify then agrees.
    if tool == "pipenv":
        follow_pipenv_advice(row["reason"], project, world, tmp_path)
        return
    pinned = world.cli(
        "pin", "--pyproject", project / "pyproject.toml", "--index-url", world.hotfix_url,
        cwd=world.app,
    )  # fmt: skip
    assert pinned.code == 0, pinned.output
    truth = deploy_by_hand(tool, project, world, tmp_path / "advice", over_upstream=False)
    assert truth == "hotfix"
    run, report = verify(world, project, tool, "--fresh-only")
    assert run.code == 0 and [c["result"] for c in report["checks"]] == ["ok"], run.output


@pytest.mark.slow
def test_a_same_version_build_from_another_index_is_a_fail(
    tmp_path: Path, world: DeployWorld
) -> None:
    """The exact hotfix version, but nothing ties it to the hotfix index: uv takes the attacker's
    1.0+hotfix.1 (other bytes). Same version, so only the bytes tell; the lock names the index."""
    project = write_project(tmp_path / "app", "uv", world, tied=True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().split("[tool.uv.sources]")[0])
    truth = deploy_by_hand("uv", project, world, tmp_path / "fresh", over_upstream=False)
    run, report = verify(world, project, "uv", "--fresh-only")
    (row,) = report["checks"]
    assert truth == "attacker"
    assert run.code == 1 and row["result"] == "FAIL", run.output
    assert row["installed"] == world.hotfix_version
    assert "is not the build in hotfixes.lock" in row["reason"], row
    assert "not the hotfix build's sha256" in row["reason"], row
    assert row["source"] == world.attacker_url, row


@pytest.mark.slow
def test_a_poetry_project_whose_lock_fails_is_a_fail(tmp_path: Path, world: DeployWorld) -> None:
    """A PEP 621 Poetry project pinned to the hotfix version without a source for it: `poetry
    lock` cannot resolve it, so a deployment fails; verify says FAIL with Poetry's message."""
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        _pep621([f"{HOTFIXED}=={world.hotfix_version}"]) + "[tool.poetry]\npackage-mode = false\n\n"
        f'[[tool.poetry.source]]\nname = "main"\nurl = "{world.pypi_url}"\npriority = "primary"\n'
    )
    run, report = verify(world, project, "poetry", "--fresh-only")
    (row,) = report["checks"]
    assert run.code == 1 and row["result"] == "FAIL", run.output
    assert row["reason"].startswith("`poetry lock` failed:"), row
    assert "version solving failed" in row["reason"] or "doesn't match" in row["reason"], row


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["uv", "poetry"])
def test_a_stale_lock_is_a_clear_fail(
    tmp_path: Path, world: DeployWorld, tool: ProjectTool
) -> None:
    """The lock file no longer matches the project: the deployment's locked install fails, and
    so does verify, with the tool's own words."""
    project = write_project(tmp_path / "app", tool, world, tied=True)
    lock_and_commit(tool, project, tmp_path / "locking")
    pyproject = project / "pyproject.toml"
    dropped = f'"{PARENT}==1.0",\n' if tool == "uv" else f'{PARENT} = "1.0"\n'
    assert dropped in pyproject.read_text()
    pyproject.write_text(pyproject.read_text().replace(dropped, ""))
    run, report = verify(world, project, tool, "--fresh-only")
    (row,) = report["checks"]
    assert run.code == 1 and row["result"] == "FAIL", run.output
    if tool == "uv":
        assert row["reason"].startswith("`uv lock --check` failed"), row
        assert "uv.lock is missing or does not match the project" in row["reason"]
        assert "run `uv lock` and commit uv.lock" in row["reason"]
    else:
        assert row["reason"].startswith("`poetry install --no-root"), row
        assert "Run `poetry lock`" in row["reason"], row


# -- detection and errors (no tool runs) -------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"requirements.txt": "six\n", "pyproject.toml": "[project]\nname='a'\n"}, "pip"),
        ({"pyproject.toml": "[project]\nname='a'\n", "uv.lock": ""}, "uv"),
        ({"pyproject.toml": "[tool.uv]\npackage = false\n"}, "uv"),
        ({"pyproject.toml": "[tool.poetry]\nname = 'a'\n"}, "poetry"),
        (
            {"pyproject.toml": "[build-system]\nbuild-backend = 'poetry.core.masonry.api'\n"},
            "poetry",
        ),
        ({"pyproject.toml": "[project]\nname='a'\n", "poetry.lock": ""}, "poetry"),
        ({"pyproject.toml": "[tool.pdm]\ndistribution = false\n"}, "pdm"),
        ({"pyproject.toml": "[project]\nname='a'\n", "pdm.lock": ""}, "pdm"),
        ({"Pipfile": "[packages]\n"}, "pipenv"),
        ({"Pipfile.lock": "{}", "pyproject.toml": "[tool.uv]\n"}, "pipenv"),
        ({"pyproject.toml": "tool = 3\nbuild-system = 'x'\n"}, "pip"),
    ],
)
def test_the_project_tool_is_detected(
    tmp_path: Path, files: dict[str, str], expected: ProjectTool
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert detect_tool(tmp_path) == expected


def test_detection_refuses_what_it_cannot_decide(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("")
    (tmp_path / "poetry.lock").write_text("")
    with pytest.raises(UsageError, match=r"several lock files \(uv.lock, poetry.lock\).*--tool"):
        detect_tool(tmp_path)
    (tmp_path / "uv.lock").unlink()
    (tmp_path / "poetry.lock").unlink()
    (tmp_path / "pyproject.toml").write_text("[tool.poetry\n")
    with pytest.raises(UsageError, match="is not valid TOML"):
        detect_tool(tmp_path)


def test_a_missing_tool_is_named_with_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError) as caught:
        find_tool("poetry", None)
    message = str(caught.value)
    assert "there is no `poetry` on PATH" in message and "pipx install poetry" in message
    assert "--tool-path" in message
    (tmp_path / "poetry").write_text("not executable")
    with pytest.raises(UsageError, match="is not an executable file"):
        find_tool("poetry", tmp_path / "poetry")
    with pytest.raises(UsageError, match="give --project DIR"):
        resolve_tool(VerifyOptions(requirements=tmp_path / "requirements.txt", tool="pdm"))
    with pytest.raises(UsageError, match="is not one of"):
        resolve_tool(VerifyOptions(project=tmp_path, tool="conda"))


BUILD = HotfixBuild(
    name="demo-six",
    version="1.0",
    hotfix_version="1.0+hotfix.1",
    label="hotfix",
    files=(LockedFile("demo_six-1.0+hotfix.1-py3-none-any.whl", "ab" * 32, 10),),
)


@pytest.mark.parametrize(
    ("tool", "text", "expected"),
    [
        (
            "uv",
            '[[package]]\nname = "Demo_Six"\nversion = "1.0+hotfix.1"\n'
            'source = { registry = "https://u:p@hotfix.example/simple/" }\n'
            f'wheels = [{{ url = "x", hash = "sha256:{"ab" * 32}" }}]\n',
            ("1.0+hotfix.1", "https://u:p@hotfix.example/simple/", True),
        ),
        (
            "poetry",
            '[[package]]\nname = "demo-six"\nversion = "99.0"\n'
            'files = [{file = "a.whl", hash = "sha256:00"}]\n',
            ("99.0", "https://pypi.org/simple/", False),
        ),
        (
            "pdm",
            '[[package]]\nname = "demo-six"\nversion = "1.0+hotfix.1"\n'
            f'files = [{{file = "a.whl", hash = "sha256:{"ab" * 32}"}}]\n',
            ("1.0+hotfix.1", None, True),
        ),
        (
            "pipenv",
            '{"_meta": {"sources": [{"name": "main", "url": "https://evil.example/simple/"}]},'
            ' "default": {"demo-six": {"version": "==99.0", "hashes": ["sha256:00"]}}}',
            ("99.0", "https://evil.example/simple/", False),
        ),
        # hostile or foreign shapes: no entry, never an exception
        ("uv", 'package = "demo-six"\n', None),
        ("poetry", "[[package]]\nname = 3\nfiles = 7\n", None),
        ("pdm", "not toml = = =", None),
        ("pipenv", '{"_meta": [], "default": {"demo-six": "==1.0"}}', None),
        ("pipenv", '["default"]', None),
    ],
)
def test_the_lock_file_names_where_a_package_comes_from(
    tmp_path: Path, tool: ProjectTool, text: str, expected: tuple[str, str | None, bool] | None
) -> None:
    assert tool != "pip"
    (tmp_path / LOCK_FILES[tool]).write_text(text)
    found = locked_package(tool, tmp_path, BUILD)
    got = None if found is None else (found.version, found.where, found.ours)
    assert got == expected
    if found is not None and found.where is not None:
        assert "u:p@" not in found.describe(), "credentials are redacted in messages"


def test_the_tool_runs_without_the_users_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "user"
    home.mkdir()
    (home / ".netrc").write_text("machine hotfix.example login u password p\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("POETRY_VIRTUALENVS_CREATE", "false")  # would install into Poetry's env
    monkeypatch.setenv("PDM_PYPI_URL", "https://mirror.example/simple/")
    monkeypatch.setenv("UV_INDEX_URL", "https://mirror.example/simple/")
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.pdm]\ndistribution = false\n")
    root = tmp_path / "run"
    root.mkdir()
    options = VerifyOptions(project=project, default_index="https://deploy.example/simple/")
    env = verify_tool_env(options, "pdm", project, root, {"PDM_PYPI_URL": "https://s2i.example/"})
    assert env["HOME"] == str(root / "home") and env["XDG_CONFIG_HOME"] == str(root / "config")
    assert env["NETRC"] == str(home / ".netrc")
    assert env["POETRY_VIRTUALENVS_CREATE"] == "true" and "UV_INDEX_URL" not in env
    assert env["PDM_PYPI_URL"] == "https://s2i.example/", "the deployment's own variables win"
    env = verify_tool_env(options, "pdm", project, root, {})
    assert env["PDM_PYPI_URL"] == "https://deploy.example/simple/"
    (project / "pdm.lock").write_text("")
    assert "PDM_PYPI_URL" not in verify_tool_env(options, "pdm", project, root, {}), (
        "the lock rules"
    )
    kept = verify_tool_env(replace(options, use_user_config=True), "uv", project, root, {})
    assert kept["HOME"] == str(home) and kept["UV_INDEX_URL"] == "https://mirror.example/simple/"
    assert kept["UV_CACHE_DIR"].startswith(str(root)), "caches stay cold either way"
