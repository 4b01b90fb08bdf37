"""`pin --pyproject`: which tool manages the project, the configuration written for it, and what
its lock file says (fast unit tests; the real tools run in tests/test_matrix_*.py)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.export import export
from pyhotfix.deploy.pin import pin_pyproject
from pyhotfix.deploy.pin.lockfiles import lock_problems
from pyhotfix.errors import DeployError, PyhotfixError, UsageError
from pyhotfix.lock import LockedFile

URL = "https://hotfixes.example/simple/"
WHEEL_SHA = "a" * 64
SDIST_SHA = "b" * 64


def deployment(url: str = URL) -> Deployment:
    files = (
        LockedFile("python_magic-0.4.3+hotfix.1-py3-none-any.whl", WHEEL_SHA, 10),
        LockedFile("python_magic-0.4.3+hotfix.1.tar.gz", SDIST_SHA, 10),
    )
    build = HotfixBuild("python-magic", "0.4.3", "0.4.3+hotfix.1", "hotfix", files)
    return Deployment(Path("/app/hotfixes.toml"), url, None, None, (build,))


def pin(tmp_path: Path, text: str, url: str = URL) -> tuple[str, dict[str, object]]:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    result = pin_pyproject(text, path, deployment(url))
    again = pin_pyproject(result.text, path, deployment(url))
    assert not again.changed, "pinning its own output changes nothing"
    return result.text, tomllib.loads(result.text)


PROJECT = '[project]\nname = "app"\nversion = "0"\ndependencies = ["flask"]\n'


def test_uv_project_gets_an_override_for_a_transitive_hotfix(tmp_path: Path) -> None:
    _, data = pin(tmp_path, PROJECT)
    uv = data["tool"]["uv"]  # type: ignore[index]
    assert uv["override-dependencies"] == ["python-magic==0.4.3+hotfix.1"]
    assert uv["sources"] == {"python-magic": {"index": "hotfix"}}
    assert uv["index"] == [{"name": "hotfix", "url": URL, "explicit": True}]


def test_uv_override_replaces_a_compatible_one_and_refuses_another_release(
    tmp_path: Path,
) -> None:
    old = PROJECT + '\n[tool.uv]\noverride-dependencies = ["python-magic>=0.4"]\n'
    _, data = pin(tmp_path, old)
    assert data["tool"]["uv"]["override-dependencies"] == ["python-magic==0.4.3+hotfix.1"]  # type: ignore[index]
    other = old.replace(">=0.4", "==0.4.5")
    with pytest.raises(DeployError, match="cannot satisfy"):
        pin(tmp_path, other)
    assert (tmp_path / "pyproject.toml").read_text() == other


def test_poetry_classic_lists_a_transitive_hotfix(tmp_path: Path) -> None:
    text = (
        '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'flask = "^3"\n'
    )
    raw, data = pin(tmp_path, text)
    poetry = data["tool"]["poetry"]  # type: ignore[index]
    assert poetry["dependencies"]["python-magic"] == {
        "version": "0.4.3+hotfix.1",
        "source": "hotfix",
    }
    assert poetry["source"] == [{"name": "hotfix", "url": URL, "priority": "explicit"}]
    assert "tool.uv" not in raw


def test_poetry_pep621_lists_the_hotfix_in_project_dependencies(tmp_path: Path) -> None:
    text = PROJECT + "\n[tool.poetry]\npackage-mode = false\n"
    raw, data = pin(tmp_path, text)
    assert data["project"]["dependencies"] == ["flask", "python-magic==0.4.3+hotfix.1"]  # type: ignore[index]
    assert data["tool"]["poetry"]["dependencies"] == {"python-magic": {"source": "hotfix"}}  # type: ignore[index]
    assert "tool.uv" not in raw


def test_poetry_lists_only_the_hotfixes_its_lock_uses(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "flask"\nversion = "3.0"\n')
    text = PROJECT + "\n[tool.poetry]\npackage-mode = false\n"
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    result = pin_pyproject(text, path, deployment())
    assert not result.changed and result.text == text
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "python-magic"\nversion = "0.4.27"\n'
    )
    _, data = pin(tmp_path, text)
    assert data["project"]["dependencies"] == ["flask", "python-magic==0.4.3+hotfix.1"]  # type: ignore[index]


def test_poetry_refuses_a_file_index(tmp_path: Path) -> None:
    text = '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython-magic = "*"\n'
    with pytest.raises(UsageError, match="Poetry cannot read an index at file://"):
        pin(tmp_path, text, url="file:///srv/hotfix-index/simple/")
    with pytest.raises(UsageError, match="pyhotfix serve"):
        export(deployment("file:///srv/hotfix-index/simple/"), "poetry")


def test_pdm_project_gets_an_exclusive_source_and_overrides(tmp_path: Path) -> None:
    text = PROJECT + "\n[tool.pdm]\ndistribution = false\n"
    _, data = pin(tmp_path, text)
    pdm = data["tool"]["pdm"]  # type: ignore[index]
    assert pdm["source"] == [{"name": "hotfix", "url": URL, "include_packages": ["python-magic"]}]
    assert pdm["resolution"]["overrides"] == {"python-magic": "==0.4.3+hotfix.1"}
    exported = tomllib.loads(export(deployment(), "pdm").files[0].content)
    assert {k: exported["tool"]["pdm"][k] for k in ("source", "resolution")} == {
        k: pdm[k] for k in ("source", "resolution")
    }


def test_pdm_refuses_another_source_that_includes_the_hotfixed_package(tmp_path: Path) -> None:
    text = (
        PROJECT + '\n[[tool.pdm.source]]\nname = "mirror"\nurl = "https://m.example/simple/"\n'
        'include_packages = ["python-*"]\n'
    )
    with pytest.raises(DeployError, match="'mirror' includes python-magic"):
        pin(tmp_path, text)


@pytest.mark.parametrize(
    ("files", "tables", "expected"),
    [
        ((), "", "uv"),
        (("pdm.lock",), "", "pdm"),
        ((), "\n[tool.pdm]\ndistribution = false\n", "pdm"),
        ((), "\n[tool.poetry]\npackage-mode = false\n\n[tool.uv]\nx = 1\n", "poetry"),
        (("poetry.lock",), "", "poetry"),
    ],
)
def test_the_tool_is_detected(
    tmp_path: Path, files: tuple[str, ...], tables: str, expected: str
) -> None:
    for name in files:  # a lock that uses the hotfixed package (so Poetry lists it)
        (tmp_path / name).write_text('[[package]]\nname = "python-magic"\nversion = "0.4.27"\n')
    raw, _ = pin(tmp_path, PROJECT + tables)
    markers = {
        "uv": "override-dependencies",
        "poetry": 'priority = "explicit"',
        "pdm": "include_packages",
    }
    assert {tool for tool, marker in markers.items() if marker in raw} == {expected}


def test_two_lock_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("")
    (tmp_path / "poetry.lock").write_text("")
    with pytest.raises(UsageError, match=r"uv\.lock and poetry\.lock"):
        pin(tmp_path, PROJECT)


UV_LOCK = """\
version = 1

[[package]]
name = "python-magic"
version = "{version}"
source = {{ registry = "{index}" }}
wheels = [{{ url = "{index}python-magic/x.whl", hash = "sha256:{sha}" }}]
"""


@pytest.mark.parametrize(
    ("version", "index", "sha", "wrong"),
    [
        ("0.4.3+hotfix.1", URL, WHEEL_SHA, ""),
        ("0.4.27", "https://pypi.org/simple/", "c" * 64, "0.4.27 from https://pypi.org/simple/"),
        ("0.4.3+hotfix.1", "https://evil.example/simple/", WHEEL_SHA, "from https://evil"),
        ("0.4.3+hotfix.1", URL, "c" * 64, "with files that are not the hotfix build"),
    ],
)
def test_uv_lock_is_judged(tmp_path: Path, version: str, index: str, sha: str, wrong: str) -> None:
    (tmp_path / "uv.lock").write_text(UV_LOCK.format(version=version, index=index, sha=sha))
    problems = lock_problems(tmp_path, "uv", deployment())
    if not wrong:
        assert problems == ()
    else:
        assert len(problems) == 1 and wrong in problems[0] and "`uv lock`" in problems[0]


def test_poetry_lock_records_the_source(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "python-magic"\nversion = "0.4.3+hotfix.1"\n'
        f'files = [{{file = "x.whl", hash = "sha256:{WHEEL_SHA}"}}]\n\n'
        f'[package.source]\ntype = "legacy"\nurl = "{URL.rstrip("/")}"\nreference = "hotfix"\n'
    )
    assert lock_problems(tmp_path, "poetry", deployment()) == ()
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "python-magic"\nversion = "0.4.3+hotfix.1"\n'
        f'files = [{{file = "x.whl", hash = "sha256:{WHEEL_SHA}"}}]\n'
    )
    (problem,) = lock_problems(tmp_path, "poetry", deployment())
    assert "from the default index" in problem


@pytest.mark.parametrize("content", ["[[package]\n", "\xff"])
def test_a_broken_lock_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "pdm.lock").write_bytes(content.encode("latin-1"))
    with pytest.raises(UsageError, match=r"pdm\.lock is not a valid lock file"):
        lock_problems(tmp_path, "pdm", deployment())


def test_a_lock_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "uv.lock")
    with pytest.raises(PyhotfixError, match="Cannot read"):
        lock_problems(tmp_path, "uv", deployment())


@pytest.mark.parametrize(
    "tables",
    [
        "tool = 1\n",
        "[tool]\nuv = 'x'\n",
        "[tool.uv]\nsources = 3\n",
        "[tool.uv]\nindex = 'x'\n",
        "[tool.uv]\nindex = [1, 2]\noverride-dependencies = 'x'\n",
        "[tool.uv]\noverride-dependencies = [1, 'not a requirement ((']\n",
        "[tool.poetry]\ndependencies = []\n",
        "[tool.poetry]\nsource = {}\n",
        "[tool.pdm]\nresolution = 1\n",
        "[tool.pdm.resolution]\noverrides = []\n",
        "[tool.pdm]\nsource = [{include_packages = 'python-magic'}, 1]\n",
        "[build-system]\nbuild-backend = 3\n",
        "[build-system]\nbuild-backend = 'poetry.core.masonry.api'\n",
    ],
)
def test_a_hostile_pyproject_gets_a_clear_error_or_a_pin(tmp_path: Path, tables: str) -> None:
    path = tmp_path / "pyproject.toml"
    text = 'dynamic = 3\n[project]\nname = "app"\ndependencies = ["python-magic"]\n' + tables
    try:
        result = pin_pyproject(text, path, deployment())
    except PyhotfixError as exc:
        assert "pyproject.toml" in str(exc)
    else:
        assert "python-magic==0.4.3+hotfix.1" in result.text


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_PACKAGE = st.fixed_dictionaries(
    {"name": st.sampled_from(["python-magic", "Python_Magic", "flask"]) | _TEXT},
    optional={
        "version": st.sampled_from(["0.4.3+hotfix.1", "0.4.3", "99"]) | _TEXT,
        "source": _VALUE,
        "wheels": _VALUE,
        "sdist": _VALUE,
        "files": _VALUE,
    },
)


@settings(max_examples=150, deadline=None)
@given(packages=st.lists(_PACKAGE, max_size=4), tool=st.sampled_from(["uv", "poetry", "pdm"]))
def test_any_lock_content_is_judged_without_crashing(
    tmp_path_factory: pytest.TempPathFactory, packages: list[dict[str, object]], tool: str
) -> None:
    import tomlkit

    directory = tmp_path_factory.mktemp("lock")
    name = {"uv": "uv.lock", "poetry": "poetry.lock", "pdm": "pdm.lock"}[tool]
    clean = [{k: v for k, v in p.items() if v is not None} for p in packages]
    try:
        text = tomlkit.dumps({"package": clean})
    except Exception:  # a shape TOML cannot hold (None inside lists): nothing to judge
        return
    (directory / name).write_text(text)
    problems = lock_problems(directory, tool, deployment())  # type: ignore[arg-type]
    assert all(isinstance(p, str) and name in p for p in problems)


@settings(max_examples=150, deadline=None)
@given(version=_TEXT)
def test_any_poetry_constraint_is_pinned_or_refused(version: str) -> None:
    import tomlkit

    doc = tomlkit.document()
    doc["tool"] = {"poetry": {"dependencies": {"python-magic": version}}}
    text = tomlkit.dumps(doc)
    try:
        result = pin_pyproject(text, Path("/nonexistent/pyproject.toml"), deployment())
    except PyhotfixError:
        return
    assert "0.4.3+hotfix.1" in result.text


def test_poetry_group_dependencies_are_pinned_too(tmp_path: Path) -> None:
    """Poetry resolves every group in one lock: a hotfixed package in a group is pinned there,
    and not added to the main dependencies as well."""
    text = (
        '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n\n'
        '[tool.poetry.group.dev.dependencies]\npython-magic = "^0.4"\n'
    )
    _, data = pin(tmp_path, text)
    poetry = data["tool"]["poetry"]  # type: ignore[index]
    assert poetry["group"]["dev"]["dependencies"]["python-magic"] == {
        "version": "0.4.3+hotfix.1",
        "source": "hotfix",
    }
    assert "python-magic" not in poetry["dependencies"]
    assert poetry["source"][0]["name"] == "hotfix"
