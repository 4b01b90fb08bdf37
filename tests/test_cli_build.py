"""End to end: `pyhotfix add` / `build` / `list` against a fake upstream index on 127.0.0.1,
then real pip installing the hotfix from the produced index into a fresh virtualenv."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhotfix.building import EnvCache
from tests.conftest import Pyhotfix, Venv
from tests.support.apps import FIX, app_dir, fix_patch, index_files
from tests.support.fakeindex import FakeIndex
from tests.support.projects import BACKENDS, make_project, make_sdist, module_name


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, envs: EnvCache) -> Iterator[FakeIndex]:
    """A fake PyPI with one buggy 1.0 sdist per backend, named demo-<backend>."""
    root = tmp_path_factory.mktemp("upstream")
    with FakeIndex() as index:
        for backend in BACKENDS:
            name = f"demo-{backend.replace('.', '-')}"
            project = make_project(root / name, name, "1.0", backend)
            index.add_file(make_sdist(project, root / "dist", envs))
        yield index


def install_and_check(venv: Venv, app: Path, name: str, version: str) -> None:
    done = venv.pip(
        "install",
        "--index-url",
        (app / "hotfix-index" / "simple").as_uri() + "/",
        f"{name}=={version}",
    )
    assert done.returncode == 0, done.stderr
    assert f"Version: {version}" in venv.pip("show", name).stdout
    assert venv.run(f"import {module_name(name)} as m; print(m.answer())") == "42"


# --- the main path, for every supported backend ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_add_build_install(
    backend: str, tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix, venv: Venv
) -> None:
    name = f"demo-{backend.replace('.', '-')}"
    app = app_dir(tmp_path, upstream)
    (app / "fix.patch").write_text(fix_patch(name))
    run = pyhotfix(
        "add", f"{name}==1.0", "--patch", "fix.patch", "--reason", "answer is 41", cwd=app
    )
    assert run.code == 0, run.output
    assert "1.0+hotfix.1" in run.stdout
    lock = (app / "hotfixes.lock").read_text()
    assert 'hotfix-version = "1.0+hotfix.1"' in lock
    install_and_check(venv, app, name, "1.0+hotfix.1")


# --- patch sources ------------------------------------------------------------------------------


def test_url_patch_pinned_and_checked(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = "demo-setuptools-setup-py"
    body = fix_patch(name).encode()
    upstream.add_raw("/patches/fix.patch", body)
    url = upstream.base_url + "/patches/fix.patch"
    app = app_dir(tmp_path, upstream)

    wrong = pyhotfix("add", f"{name}==1.0", "--patch", url, "--sha256", "0" * 64, cwd=app)
    assert wrong.code == 1, wrong.output
    assert "sha256" in wrong.stderr.lower() and "Traceback" not in wrong.output
    assert "[hotfix" not in (app / "hotfixes.toml").read_text(), (
        "a failed add leaves the manifest as it was"
    )
    assert index_files(app) == []

    good = pyhotfix(
        "add", f"{name}==1.0", "--patch", url, "--sha256", hashlib.sha256(body).hexdigest(), cwd=app
    )
    assert good.code == 0, good.output
    # add stores the checked download beside the manifest (see tests/test_cli_add.py).
    stored = app / "patches" / name / "0001-fix.patch"
    assert f'"{stored.relative_to(app).as_posix()}"' in (app / "hotfixes.toml").read_text()
    assert stored.read_bytes() == f"Origin: {url}\n\n".encode() + body
    assert len(index_files(app)) == 2


def test_url_patch_without_sha256_is_pinned_by_add(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = "demo-setuptools-setup-py"
    body = fix_patch(name).encode()
    upstream.add_raw("/patches/fix2.patch", body)
    app = app_dir(tmp_path, upstream)
    run = pyhotfix(
        "add", f"{name}==1.0", "--patch", upstream.base_url + "/patches/fix2.patch", cwd=app
    )
    assert run.code == 0, run.output
    stored = app / "patches" / name / "0001-fix2.patch"
    assert stored.read_bytes().endswith(body)
    assert "patches/demo-setuptools-setup-py/0001-fix2.patch" in (app / "hotfixes.toml").read_text()


def test_git_commit_patch(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix, venv: Venv
) -> None:
    name = "demo-hatchling"
    repo = make_project(tmp_path / "upstream-repo", name, "1.0", "hatchling")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "1.0"], cwd=repo, check=True)
    init = repo / module_name(name) / "__init__.py"
    init.write_text(init.read_text().replace("    return 41  # bug: should be 42\n", FIX))
    (repo / "tests").mkdir()
    (repo / "tests" / "test_answer.py").write_text("def test(): pass\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "Fix the answer"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()

    app = app_dir(tmp_path, upstream)
    run = pyhotfix("add", f"{name}==1.0", "--patch", f"git+{repo}@{commit}", cwd=app)
    assert run.code == 0, run.output
    assert "tests/test_answer.py" in run.stderr, "skipped test files are listed in a warning"
    assert commit in (app / "hotfixes.toml").read_text()
    install_and_check(venv, app, name, "1.0+hotfix.1")


# --- fail closed ---------------------------------------------------------------------------------


def test_patch_that_does_not_apply(tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix) -> None:
    name = "demo-flit"
    mod = module_name(name)
    bad = fix_patch(name).replace(
        "-    return 41  # bug: should be 42", "-    return 40  # something else"
    )
    app = app_dir(
        tmp_path, upstream, f'[hotfix.{name}]\nversion = "1.0"\npatches = ["bad.patch"]\n'
    )
    (app / "bad.patch").write_text(bad)
    run = pyhotfix("build", cwd=app)
    assert run.code == 1, run.output
    assert (
        "bad.patch" in run.stderr
        and f"{mod}/__init__.py" in run.stderr
        and "@@ -1,3 +1,3 @@" in run.stderr
    )
    assert "Traceback" not in run.output
    assert index_files(app) == []
    assert not (app / "hotfixes.lock").exists()


def test_sdist_hash_mismatch(tmp_path: Path, pyhotfix: Pyhotfix, envs: EnvCache) -> None:
    project = make_project(tmp_path / "src", "liar", "1.0", "setuptools-pyproject")
    sdist = make_sdist(project, tmp_path / "dist", envs)
    with FakeIndex() as lying:
        lying.add_file(sdist, sha256="f" * 64)
        app = app_dir(tmp_path, lying, '[hotfix.liar]\nversion = "1.0"\npatches = ["fix.patch"]\n')
        (app / "fix.patch").write_text(fix_patch("liar"))
        run = pyhotfix("build", cwd=app)
    assert run.code == 1, run.output
    assert "sha256" in run.stderr.lower() and "f" * 64 in run.stderr
    assert index_files(app) == []


@pytest.mark.parametrize("attack", ["dotdot", "absolute", "symlink", "hardlink"])
def test_malicious_sdist(attack: str, tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    import io
    import tarfile

    sdist = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        good = tarfile.TarInfo("evil-1.0/setup.py")
        payload = b"from setuptools import setup\nsetup(name='evil', version='1.0')\n"
        good.size = len(payload)
        tar.addfile(good, io.BytesIO(payload))
        info = tarfile.TarInfo(
            {
                "dotdot": "evil-1.0/../../pwned",
                "absolute": "/tmp/pwned",
                "symlink": "evil-1.0/l",
                "hardlink": "evil-1.0/h",
            }[attack]
        )
        if attack == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        elif attack == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        else:
            info.size = 5
        tar.addfile(info, io.BytesIO(b"pwned") if info.isfile() else None)
    with FakeIndex() as evil:
        evil.add_file(sdist)
        app = app_dir(tmp_path, evil, '[hotfix.evil]\nversion = "1.0"\npatches = ["p.patch"]\n')
        (app / "p.patch").write_text("--- a/setup.py\n+++ b/setup.py\n@@ -1 +1 @@\n-x\n+y\n")
        run = pyhotfix("build", cwd=app)
    assert run.code == 1, run.output
    assert "unsafe" in run.stderr.lower() or "outside" in run.stderr.lower()
    assert "Traceback" not in run.output
    assert index_files(app) == []
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        (
            '[hotfix.x]\nversion = "1.0"\npatches = ["p"]\nbogus = 1\n',
            "line 4: hotfix.x.bogus is not a known key",
        ),
        ('[hotfix.x]\nversion = "latest"\npatches = ["p"]\n', "line 2: hotfix.x.version"),
        (
            '[hotfix.x]\nversion = "1.0"\npatches = [{ url = "https://e.invalid/p" }]\n',
            "without sha256",
        ),
    ],
)
def test_manifest_errors_exit_2(
    manifest: str, words: str, tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix
) -> None:
    (tmp_path / "hotfixes.toml").write_text(manifest)
    run = fresh_cache_pyhotfix("build", cwd=tmp_path)
    assert run.code == 2, run.output
    assert words in run.stderr and "hotfixes.toml" in run.stderr
    assert "Traceback" not in run.output


def test_usage_errors(tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix) -> None:
    run = fresh_cache_pyhotfix("add", "pkg>=1.0", "--patch", "x.patch", cwd=tmp_path)
    assert run.code == 2 and "NAME==VERSION" in run.stderr
    run = fresh_cache_pyhotfix("build", cwd=tmp_path)
    assert run.code == 2 and "No hotfixes.toml found" in run.stderr
    run = fresh_cache_pyhotfix("add", "pkg==1.0", "--patch", "missing.patch", cwd=tmp_path)
    assert run.code == 2 and "missing.patch does not exist" in run.stderr
    assert not (tmp_path / "hotfixes.toml").exists()
    run = fresh_cache_pyhotfix("--version", cwd=tmp_path)
    assert run.code == 0 and "pyhotfix" in run.stdout


def test_unreachable_upstream_message_is_printed_whole(
    tmp_path: Path, fresh_cache_pyhotfix: Pyhotfix
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    (tmp_path / "hotfixes.toml").write_text(
        '[settings]\nupstream = "http://127.0.0.1:9/simple/"\n'
        '[hotfix.six]\nversion = "1.16.0"\npatches = ["p.patch"]\n'
    )
    (tmp_path / "p.patch").write_text("")
    run = fresh_cache_pyhotfix("build", cwd=tmp_path)
    assert run.code == 1, run.output
    # rich must not swallow "[settings]" as markup
    assert "Check the [settings] upstream URL" in run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "hotfix-index").exists()


def test_upstream_without_sdist_lists_files(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    import zipfile

    wheel = tmp_path / "wheelonly-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(
            "wheelonly-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: wheelonly\nVersion: 1.0\n",
        )
    with FakeIndex() as index:
        index.add_file(wheel)
        app = app_dir(
            tmp_path, index, '[hotfix.wheelonly]\nversion = "1.0"\npatches = ["p.patch"]\n'
        )
        (app / "p.patch").write_text("")
        run = pyhotfix("build", cwd=app)
    assert run.code == 1, run.output
    assert "no sdist" in run.stderr.lower() and wheel.name in run.stderr


# --- reproducibility, numbering, skipping ------------------------------------------------------


def test_reproducible_numbering_and_no_network_when_unchanged(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    name = "demo-setuptools-setup-cfg"
    spec = f'[hotfix.{name}]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    first = app_dir(tmp_path / "one", upstream, spec)
    (first / "fix.patch").write_text(fix_patch(name))
    second = tmp_path / "two" / "elsewhere"
    shutil.copytree(first, second)

    assert pyhotfix("build", cwd=first).code == 0
    assert pyhotfix("build", cwd=second).code == 0
    one, two = index_files(first), index_files(second)
    assert (
        one
        == two
        == sorted(
            [
                f"{module_name(name)}-1.0+hotfix.1.tar.gz",
                f"{module_name(name)}-1.0+hotfix.1-py3-none-any.whl",
            ]
        )
    )
    for filename in one:
        a = next((first / "hotfix-index").rglob(filename)).read_bytes()
        b = next((second / "hotfix-index").rglob(filename)).read_bytes()
        assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest(), filename

    # unchanged inputs: no rebuild and no network
    requests_before = len(upstream.requests)
    again = pyhotfix("build", "--json", cwd=first)
    assert again.code == 0, again.output
    assert json.loads(again.stdout)[0]["status"] == "up-to-date"
    assert len(upstream.requests) == requests_before
    # ... and none of the build machinery is even imported: a no-op build starts fast
    timed = pyhotfix("build", cwd=first, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert timed.code == 0, timed.output
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines()}
    assert "pyhotfix.cli" in imported and "pyhotfix.pipeline" in imported, timed.stderr[-2000:]
    slow = {"httpx", "tomlkit", "asyncio", "pyhotfix.building", "pyhotfix.upstream"}
    slow |= {"pyhotfix.unpack", "rich.progress", "pyhotfix.deploy.export"}
    # the patching package is a lazy facade: reading patch files for the inputs key is cheap
    slow |= {"pyhotfix.patching.apply", "pyhotfix.patching.diff", "pyhotfix.patching.sources"}
    assert not slow & imported, sorted(slow & imported)

    # a changed patch: N+1 and new files; the old files stay
    (first / "fix.patch").write_text(fix_patch(name).replace("# fixed", "# fixed again"))
    changed = pyhotfix("build", "--json", cwd=first)
    assert changed.code == 0, changed.output
    report = json.loads(changed.stdout)[0]
    assert report["hotfix_version"] == "1.0+hotfix.2" and report["status"] == "built"
    assert len(index_files(first)) == 4
    assert 'hotfix-version = "1.0+hotfix.2"' in (first / "hotfixes.lock").read_text()

    listed = json.loads(pyhotfix("list", "--json", cwd=first).stdout)
    assert listed == [
        {
            "name": name,
            "version": "1.0",
            "hotfix_version": "1.0+hotfix.2",
            "patches": 1,
            "published": True,
            "index": "yes",
            "problems": [],
            "reason": None,
            "patch_info": [  # a plain diff without DEP-3 fields
                {
                    "patch": "fix.patch",
                    "description": None,
                    "origin": None,
                    "bug": None,
                    "forwarded": None,
                    "applied_upstream": None,
                }
            ],
            "fixes": [],
        }
    ]


def test_jobs_and_two_processes_into_one_index(
    tmp_path: Path, upstream: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    names = ["demo-setuptools-pyproject", "demo-pdm", "demo-poetry"]
    shared = tmp_path / "shared-index"
    body = f'index = "{shared}"\n' + "".join(
        f'[hotfix.{n}]\nversion = "1.0"\npatches = ["{n}.patch"]\n\n' for n in names[:2]
    )
    app = app_dir(tmp_path, upstream)
    (app / "hotfixes.toml").write_text(f'[settings]\nupstream = "{upstream.url}"\n{body}')
    for n in names:
        (app / f"{n}.patch").write_text(fix_patch(n))
    run = pyhotfix("build", "--jobs", "2", "--json", cwd=app)
    assert run.code == 0, run.output
    assert sorted(r["name"] for r in json.loads(run.stdout)) == sorted(names[:2])

    # two processes at once, from two manifests, into the same index directory
    other = tmp_path / "other"
    other.mkdir()
    (other / "hotfixes.toml").write_text(
        f'[settings]\nupstream = "{upstream.url}"\nindex = "{shared}"\n'
        f'[hotfix.{names[2]}]\nversion = "1.0"\npatches = ["p.patch"]\n'
    )
    (other / "p.patch").write_text(fix_patch(names[2]))
    (app / "fix-again.patch").write_text(fix_patch(names[0]).replace("# fixed", "# fixed twice"))
    (app / "hotfixes.toml").write_text(
        (app / "hotfixes.toml").read_text().replace(f'"{names[0]}.patch"', '"fix-again.patch"')
    )
    env = {"PYHOTFIX_CACHE_DIR": str(pyhotfix.cache_dir)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pyhotfix", "build"],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for cwd in (app, other)
    ]
    for proc in procs:
        proc.wait(timeout=600)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    root_page = (shared / "simple" / "index.html").read_text()
    for n in names:
        assert module_name(n).replace("_", "-") in root_page
    files = sorted(p.name for p in shared.rglob("*") if p.suffix in (".whl", ".gz"))
    assert len(files) == 8  # 3 projects x (sdist + wheel), plus hotfix.2 of the first
