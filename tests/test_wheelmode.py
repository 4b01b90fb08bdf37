"""Wheel mode (`from = "wheels"`): patching the wheels upstream published.

The manifest keys and the inputs key, choosing wheels by platform glob, the patched and
re-versioned wheels (RECORD, METADATA, deterministic zip), the refusals (compiled modules,
non-Python sources, hostile wheels), and the CLI end to end against a fake index on 127.0.0.1.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import stat
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhotfix.errors import BuildError, ManifestError, PatchError, UnsafeArchiveError, UpstreamError
from pyhotfix.lock import Lock, LockedUpstreamWheel, read_lock, render_lock
from pyhotfix.manifest import parse_manifest
from pyhotfix.patching import PatchInput
from pyhotfix.pipeline import inputs_key
from pyhotfix.simpleapi import DistFile
from pyhotfix.wheelmode import PatchedWheels, UpstreamWheel, choose_wheels, patch_wheels
from pyhotfix.wheelmode.archive import open_wheel
from pyhotfix.wheelmode.rewrite import set_metadata_version
from tests.conftest import Pyhotfix, Venv
from tests.support.dists import make_listing_sdist
from tests.support.fakeindex import FakeIndex
from tests.support.manifests import write_lock
from tests.support.platformwheels import (
    BUG,
    FIXED,
    fix_patch,
    make_platform_release,
    make_platform_wheel,
    package_files,
)

NAME, MODULE, VERSION = "markup-safe", "markup_safe", "2.1.4"


def patch_input(text: str, label: str = "fix.patch") -> PatchInput:
    data = text.encode()
    return PatchInput(label, data, hashlib.sha256(data).hexdigest())


def upstream(paths: list[Path]) -> list[UpstreamWheel]:
    return [
        UpstreamWheel(
            p.name, f"http://127.0.0.1:9/{p.name}", hashlib.sha256(p.read_bytes()).hexdigest(), p
        )
        for p in paths
    ]


def run_patch(tmp_path: Path, wheels: list[Path], *patches: str, **kwargs: object) -> PatchedWheels:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    return patch_wheels(
        upstream(wheels),
        [patch_input(p, f"{i:04}.patch") for i, p in enumerate(patches)],
        f"{VERSION}+hotfix.1",
        work / "out",
        work / "trees",
        target=f"{NAME} {VERSION}",
        **kwargs,  # type: ignore[arg-type]
    )


def read_record(zf: zipfile.ZipFile) -> dict[str, tuple[str, str]]:
    name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    return {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(zf.read(name).decode()))}


def assert_valid_record(zf: zipfile.ZipFile) -> None:
    """RECORD lists every member once, with its true sha256 and size (itself without)."""
    record = read_record(zf)
    assert sorted(record) == sorted(zf.namelist())
    for member, (digest, size) in record.items():
        if member.endswith(".dist-info/RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = zf.read(member)
        b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, size) == (f"sha256={b64}", str(len(data))), member


# --- manifest keys and the inputs key ----------------------------------------------------------


def manifest_text(extra: str) -> str:
    return f'[hotfix.{NAME}]\nversion = "{VERSION}"\npatches = ["fix.patch"]\n{extra}'


def test_from_and_platforms_are_parsed(tmp_path: Path) -> None:
    text = manifest_text('from = "wheels"\nplatforms = ["manylinux*", "macosx*", "manylinux*"]\n')
    spec = parse_manifest(text, tmp_path / "hotfixes.toml").get(NAME)
    assert (spec.source, spec.platforms) == ("wheels", ("manylinux*", "macosx*"))
    default = parse_manifest(manifest_text(""), tmp_path / "hotfixes.toml").get(NAME)
    assert (default.source, default.platforms) == ("sdist", ())


@pytest.mark.parametrize(
    ("extra", "key", "said"),
    [
        ('from = "binary"\n', "from", 'must be "sdist"'),
        ("from = 1\n", "from", 'must be "sdist"'),
        ('platforms = ["manylinux*"]\n', "platforms", 'needs from = "wheels"'),
        ('from = "wheels"\nplatforms = []\n', "platforms", "non-empty list"),
        ('from = "wheels"\nplatforms = "manylinux*"\n', "platforms", "non-empty list"),
        ('from = "wheels"\nplatforms = ["../x"]\n', "platforms[0]", "platform glob"),
        ('from = "wheels"\nplatforms = ["ok", 3]\n', "platforms[1]", "platform glob"),
    ],
)
def test_bad_source_keys_name_file_line_and_key(
    tmp_path: Path, extra: str, key: str, said: str
) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(manifest_text(extra), tmp_path / "hotfixes.toml")
    message = str(err.value)
    assert "hotfixes.toml, line " in message
    assert f"hotfix.{NAME}.{key} " in message and said in message


def test_inputs_key_changes_only_when_wheel_mode_is_set(tmp_path: Path) -> None:
    (tmp_path / "fix.patch").write_text("the patch")
    path = tmp_path / "hotfixes.toml"

    def key(extra: str) -> str:
        return inputs_key(parse_manifest(manifest_text(extra), path).get(NAME), "hotfix", tmp_path)

    # Without the keys, the key is the one pyhotfix computed before wheel mode existed.
    identity = "file:" + hashlib.sha256(b"the patch").hexdigest()
    old = json.dumps({"version": VERSION, "label": "hotfix", "patches": [identity]})
    assert key("") == hashlib.sha256(old.encode()).hexdigest()
    assert key('from = "sdist"\n') == key("")
    keys = {
        key(""),
        key('from = "wheels"\n'),
        key('from = "wheels"\nplatforms = ["manylinux*"]\n'),
        key('from = "wheels"\nplatforms = ["macosx*"]\n'),
    }
    assert len(keys) == 4
    assert key('from = "wheels"\nplatforms = ["macosx*", "win*"]\n') == key(
        'from = "wheels"\nplatforms = ["win*", "macosx*"]\n'
    )


def test_lock_keeps_upstream_wheels_and_reads_old_locks(tmp_path: Path) -> None:
    manifest = tmp_path / "hotfixes.toml"
    old = read_lock(write_lock(manifest, {NAME: ("2.1.4+hotfix.1", ("a.whl",))}))
    assert old.hotfixes[NAME].upstream_wheels == ()
    wheels = (LockedUpstreamWheel("http://h/b.whl", "b" * 64, "b.whl"),)
    entry = old.hotfixes[NAME].__class__(
        **{**old.hotfixes[NAME].__dict__, "upstream_wheels": wheels}
    )
    (tmp_path / "hotfixes.lock").write_text(render_lock(Lock({NAME: entry})))
    assert read_lock(tmp_path / "hotfixes.lock").hotfixes[NAME].upstream_wheels == wheels


# --- choosing wheels ---------------------------------------------------------------------------


def dist(filename: str) -> DistFile:
    return DistFile(filename, f"http://idx/files/{filename}", None, None, False)


FILES = [
    dist(f"{MODULE}-{VERSION}.tar.gz"),
    dist(f"{MODULE}-{VERSION}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    dist(f"{MODULE}-{VERSION}-cp311-cp311-macosx_11_0_arm64.whl"),
    dist(f"{MODULE}-{VERSION}-cp311-cp311-win_amd64.whl"),
    dist(f"{MODULE}-{VERSION}-py3-none-any.whl"),
    dist(f"{MODULE}-2.1.5-cp311-cp311-win_amd64.whl"),
]


@pytest.mark.parametrize(
    ("platforms", "count"),
    [((), 4), (("manylinux*",), 1), (("manylinux2014_*", "macosx*"), 2), (("any",), 1)],
)
def test_choose_wheels_by_platform_glob(platforms: tuple[str, ...], count: int) -> None:
    chosen = choose_wheels(FILES, NAME, VERSION, platforms, "http://idx/simple/")
    assert len(chosen) == count
    assert all(f.filename.endswith(".whl") and f"-{VERSION}-" in f.filename for f in chosen)


def test_choose_wheels_explains_what_is_there() -> None:
    with pytest.raises(UpstreamError, match="platform tags are: any, macosx_11_0_arm64, "):
        choose_wheels(FILES, NAME, VERSION, ["musllinux*"], "http://idx/simple/")
    with pytest.raises(UpstreamError, match="has none"):
        choose_wheels(FILES[:1], NAME, VERSION, [], "http://idx/simple/")


# --- patching and rewriting --------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_platform_release(tmp_path_factory.mktemp("release"), NAME, VERSION, 12)


def test_every_wheel_patched_reversioned_with_valid_record(
    tmp_path: Path, release: list[Path]
) -> None:
    result = run_patch(tmp_path, release, fix_patch(MODULE))
    assert len(result.files) == 12 and result.warnings == ()
    # The twelve wheels install the same Python files: the series was applied once.
    assert [p.name for p in (tmp_path / "work-0" / "trees").iterdir()] == ["tree-0"]
    info = f"{MODULE}-{VERSION}+hotfix.1.dist-info"
    for built, original in zip(result.files, release, strict=True):
        assert built.filename == original.name.replace(f"-{VERSION}-", f"-{VERSION}+hotfix.1-")
        assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()
        with zipfile.ZipFile(built.path) as zf, zipfile.ZipFile(original) as up:
            assert zf.read(f"{MODULE}/__init__.py").decode().endswith(FIXED)
            so = next(n for n in up.namelist() if n.endswith(".so"))
            assert zf.read(so) == up.read(so)  # compiled modules untouched
            assert f"Version: {VERSION}+hotfix.1\n" in zf.read(f"{info}/METADATA").decode()
            assert not [n for n in zf.namelist() if f"-{VERSION}.dist-info" in n]
            assert_valid_record(zf)
            assert {i.date_time for i in zf.infolist()} == {(2024, 5, 6, 7, 8, 10)}
            assert {stat.S_IMODE(i.external_attr >> 16) for i in zf.infolist()} == {0o644}


def test_same_inputs_give_the_same_bytes_and_metadata_can_be_edited(
    tmp_path: Path, release: list[Path]
) -> None:
    first = run_patch(tmp_path, release[:2], fix_patch(MODULE))
    second = run_patch(tmp_path, release[:2], fix_patch(MODULE))
    assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files]
    edited = run_patch(
        tmp_path,
        release[:1],
        fix_patch(MODULE),
        edit_metadata=lambda text: text.replace("Summary:", "Requires-Dist: six\nSummary:"),
    )
    with zipfile.ZipFile(edited.files[0].path) as zf:
        assert_valid_record(zf)
        meta = zf.read(f"{MODULE}-{VERSION}+hotfix.1.dist-info/METADATA").decode()
    assert "Requires-Dist: six\n" in meta and f"Version: {VERSION}+hotfix.1" in meta


def test_skipped_files_warn_and_strict_refuses(tmp_path: Path, release: list[Path]) -> None:
    tests_patch = (
        "diff --git a/tests/test_answer.py b/tests/test_answer.py\n"
        "--- a/tests/test_answer.py\n+++ b/tests/test_answer.py\n"
        "@@ -1 +1 @@\n-assert answer() == 41\n+assert answer() == 42\n"
    )
    result = run_patch(tmp_path, release[:2], fix_patch(MODULE) + tests_patch)
    assert result.warnings == (
        "0000.patch: skipped changes to files not in the wheels: tests/test_answer.py",
    )
    with pytest.raises(PatchError, match=r"--strict: .* tests/test_answer\.py"):
        run_patch(tmp_path, release[:2], fix_patch(MODULE) + tests_patch, strict=True)


def test_a_py_shadowed_by_a_compiled_module_is_refused(tmp_path: Path) -> None:
    wheels = make_platform_release(tmp_path / "up", NAME, VERSION, 2, mypyc=True)
    md_patch = (
        f"diff --git a/src/{MODULE}/md.py b/src/{MODULE}/md.py\n"
        f"--- a/src/{MODULE}/md.py\n+++ b/src/{MODULE}/md.py\n"
        "@@ -1,2 +1,2 @@\n def detect() -> str:\n-    return 'bug'\n+    return 'fixed'\n"
    )
    with pytest.raises(PatchError) as err:
        run_patch(tmp_path, wheels, md_patch)
    message = str(err.value)
    assert f"src/{MODULE}/md.py" in message and f"{MODULE}/md.cp" in message and ".so" in message
    assert "from the sdist" in message
    # Not shadowed: the same wheels take a patch of __init__.py.
    assert len(run_patch(tmp_path, wheels, fix_patch(MODULE)).files) == 2


def test_a_py_compiled_without_its_source_in_the_wheel_is_refused(tmp_path: Path) -> None:
    files = package_files(MODULE, mypyc=True)
    del files[f"{MODULE}/md.py"]
    wheel = make_platform_wheel(tmp_path, NAME, VERSION, "cp311-cp311-win_amd64", files)
    md_patch = (
        f"--- a/src/{MODULE}/md.py\n+++ b/src/{MODULE}/md.py\n"
        "@@ -1,2 +1,2 @@\n def detect() -> str:\n-    return 'bug'\n+    return 'fixed'\n"
    )
    with pytest.raises(PatchError, match=r"runs the compiled module .*md\.cpython-311"):
        run_patch(tmp_path, [wheel], fix_patch(MODULE) + md_patch)


def test_non_python_sources_are_refused(tmp_path: Path, release: list[Path]) -> None:
    c_patch = (
        f"diff --git a/src/{MODULE}/_speedups.c b/src/{MODULE}/_speedups.c\n"
        f"--- a/src/{MODULE}/_speedups.c\n+++ b/src/{MODULE}/_speedups.c\n"
        "@@ -1 +1 @@\n-int x = 41;\n+int x = 42;\n"
    )
    with pytest.raises(PatchError, match=rf"changes src/{MODULE}/_speedups\.c, a source compiled"):
        run_patch(tmp_path, release[:2], fix_patch(MODULE) + c_patch)


@pytest.mark.parametrize(
    ("member", "data", "said"),
    [
        ("../evil.py", b"x", "not a safe relative path"),
        ("/etc/evil.py", b"x", "not a safe relative path"),
        (f"{MODULE}\\evil.py", b"x", "not a safe relative path"),
        (f"{MODULE}/__init__.py", b"again", "listed twice"),
        ("link", b"/etc/passwd", "a link, device or fifo"),
        (f"Markup_Safe-{VERSION}.dist-info/METADATA", b"Name: x\n", "found 2"),
    ],
)
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_hostile_wheels_are_refused(tmp_path: Path, member: str, data: bytes, said: str) -> None:
    info = zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0))
    if member == "link":
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
    wheel = make_platform_wheel(
        tmp_path,
        NAME,
        VERSION,
        "cp311-cp311-win_amd64",
        package_files(MODULE),
        extra_members=[(info, data)],
    )
    with pytest.raises(UnsafeArchiveError, match=said):
        run_patch(tmp_path, [wheel], fix_patch(MODULE))


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / f"{MODULE}-{VERSION}-py3-none-any.whl"
    fake.write_bytes(b"not a zip")
    with (
        pytest.raises(UnsafeArchiveError, match="could not be read as a wheel"),
        open_wheel(fake, fake.name),
    ):
        pass


# --- the CLI, end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, release: list[Path]) -> Iterator[FakeIndex]:
    """A fake PyPI: markup-safe 2.1.4 as twelve platform wheels and no sdist; a mypyc one too."""
    root = tmp_path_factory.mktemp("index")
    with FakeIndex() as fake:
        for wheel in release:
            fake.add_file(wheel)
        for wheel in make_platform_release(root, "char-det", "3.0", 2, mypyc=True):
            fake.add_file(wheel)
        yield fake


def app(tmp_path: Path, index: FakeIndex, name: str, extra: str, patch: str) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "fix.patch").write_text(patch)
    (directory / "hotfixes.toml").write_text(
        f'[settings]\nupstream = "{index.url}"\n\n'
        f'[hotfix.{name}]\nversion = "{"3.0" if name == "char-det" else VERSION}"\n'
        f'patches = ["fix.patch"]\n{extra}'
    )
    return directory


def published(directory: Path) -> list[str]:
    root = directory / "hotfix-index"
    return sorted(p.name for p in root.rglob("*.whl")) if root.exists() else []


def test_cli_build_lock_rebuild_and_up_to_date(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    directory = app(
        tmp_path,
        index,
        NAME,
        'from = "wheels"\nplatforms = ["manylinux*", "macosx*"]\n',
        fix_patch(MODULE),
    )
    run = pyhotfix("build", "--json", cwd=directory)
    assert run.code == 0, run.output
    [result] = json.loads(run.stdout)
    files = published(directory)
    assert result["status"] == "built" and sorted(result["files"]) == files
    assert len(files) == 8 and all("+hotfix.1-" in f for f in files)
    assert all(("manylinux" in f) or ("macosx" in f) for f in files)
    lock = tomllib.loads((directory / "hotfixes.lock").read_text())["hotfix"][NAME]
    assert sorted(f["filename"] for f in lock["files"]) == files
    wheels = lock["upstream-wheels"]
    assert len(wheels) == 8
    assert all(w["url"].startswith(index.files_url) and len(w["sha256"]) == 64 for w in wheels)
    assert lock["build"]["backend"] == "pyhotfix.wheelmode"
    # check and export treat the eight wheels like any hotfix's files.
    assert pyhotfix("check", cwd=directory).code == 0
    exported = pyhotfix("export", "--format", "requirements", cwd=directory)
    assert exported.code == 0, exported.output
    assert f"{NAME}=={VERSION}+hotfix.1" in exported.stdout
    assert all(f"--hash=sha256:{f['sha256']}" in exported.stdout for f in lock["files"])
    # Nothing changed: settled from the lock and the index; forced: the same bytes again.
    again = pyhotfix("build", "--json", cwd=directory)
    assert json.loads(again.stdout)[0]["status"] == "up-to-date"
    forced = pyhotfix("build", "--force", "--json", cwd=directory)
    assert forced.code == 0, forced.output
    assert json.loads(forced.stdout)[0]["hotfix_version"] == f"{VERSION}+hotfix.1"
    # Other platforms: another inputs key, so another N.
    toml = directory / "hotfixes.toml"
    toml.write_text(toml.read_text().replace('"macosx*"', '"win*"'))
    other = pyhotfix("build", "--json", cwd=directory)
    assert json.loads(other.stdout)[0]["hotfix_version"] == f"{VERSION}+hotfix.2", other.output


def test_cli_no_sdist_says_use_from_wheels(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    run = pyhotfix("build", cwd=app(tmp_path, index, NAME, "", fix_patch(MODULE)))
    assert run.code == 1
    assert "--from wheels" in run.output and 'from = "wheels"' in run.output


def test_cli_shadowed_module_publishes_nothing(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    md_patch = (
        "--- a/src/char_det/md.py\n+++ b/src/char_det/md.py\n"
        "@@ -1,2 +1,2 @@\n def detect() -> str:\n-    return 'bug'\n+    return 'fixed'\n"
    )
    directory = app(tmp_path, index, "char-det", 'from = "wheels"\n', md_patch)
    run = pyhotfix("build", cwd=directory)
    assert run.code == 1 and "compiled module" in run.output and "md.cp" in run.output
    assert published(directory) == [] and not (directory / "hotfixes.lock").exists()


def test_cli_add_from_wheels_with_platforms(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "hotfixes.toml").write_text(f'[settings]\nupstream = "{index.url}"\n')
    (directory / "fix.patch").write_text(fix_patch(MODULE))
    refused = pyhotfix(
        "add", f"{NAME}=={VERSION}", "--patch", "fix.patch", "--platform", "win*", cwd=directory
    )
    assert refused.code == 2 and "--from wheels" in refused.output
    run = pyhotfix(
        "add", f"{NAME}=={VERSION}", "--patch", "fix.patch", "--from", "wheels",
        "--platform", "win*", cwd=directory,
    )  # fmt: skip
    assert run.code == 0, run.output
    table = tomllib.loads((directory / "hotfixes.toml").read_text())["hotfix"][NAME]
    assert table["from"] == "wheels" and table["platforms"] == ["win*"]
    assert [f.split("-")[-1] for f in published(directory)] == ["win32.whl", "win_amd64.whl"]


@pytest.mark.slow
def test_pip_installs_the_patched_wheel(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix, venv: Venv
) -> None:
    directory = app(tmp_path, index, NAME, 'from = "wheels"\n', fix_patch(MODULE))
    assert pyhotfix("build", cwd=directory).code == 0
    done = venv.pip(
        "install", "--index-url", (directory / "hotfix-index" / "simple").as_uri() + "/",
        f"{NAME}=={VERSION}+hotfix.1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert venv.run(f"import {MODULE} as m; print(m.answer())") == "42"
    assert BUG not in FIXED


def test_status_judges_against_newer_releases_wheels(
    tmp_path: Path, release: list[Path], pyhotfix: Pyhotfix
) -> None:
    """2.1.5 ships the fix in its wheels: retire; 2.1.6 has no wheel for the platforms."""
    with FakeIndex() as fake:
        for wheel in release[:3]:
            fake.add_file(wheel)
        for wheel in make_platform_release(tmp_path / "up", NAME, "2.1.5", 3, fixed=True):
            fake.add_file(wheel)
        fake.add_file(make_listing_sdist(tmp_path / "up", NAME, "2.1.6"))
        directory = app(
            tmp_path, fake, NAME, 'from = "wheels"\nplatforms = ["manylinux*"]\n', fix_patch(MODULE)
        )
        run = pyhotfix("status", "--json", cwd=directory)
    assert run.stdout, run.output
    [hotfix] = json.loads(run.stdout)["hotfixes"]
    releases = {r["version"]: r for r in hotfix["releases"]}
    assert [p["state"] for p in releases["2.1.5"]["patches"]] == ["contained"], run.stdout
    assert "no wheels matching platforms" in releases["2.1.6"]["note"]
    assert hotfix["recommendation"]["action"] == "retire", run.stdout
    assert hotfix["recommendation"]["version"] == "2.1.5"


def test_rebase_and_edit_work_on_the_wheels(
    tmp_path: Path, release: list[Path], pyhotfix: Pyhotfix
) -> None:
    """2.1.5 still has the bug (its helpers changed): rebase moves the hotfix there."""
    with FakeIndex() as fake:
        for wheel in release[:2]:
            fake.add_file(wheel)
        for tag in ("cp311-cp311-manylinux_2_17_x86_64", "cp312-cp312-win_amd64"):
            files = package_files(MODULE)
            files[f"{MODULE}/helpers.py"] += b"\n\ndef triple(x: int) -> int:\n    return 3 * x\n"
            fake.add_file(make_platform_wheel(tmp_path / "up", NAME, "2.1.5", tag, files))
        directory = app(tmp_path, fake, NAME, 'from = "wheels"\n', fix_patch(MODULE))
        edit = pyhotfix("edit", NAME, cwd=directory)
        assert edit.code == 0, edit.output
        work = directory / ".pyhotfix" / "work" / NAME
        assert (work / MODULE / "__init__.py").read_text().endswith(FIXED)
        shutil.rmtree(directory / ".pyhotfix")  # done looking: rebase makes its own workspace
        run = pyhotfix("rebase", NAME, "--to", "2.1.5", cwd=directory)
        assert run.code == 0, run.output
        table = tomllib.loads((directory / "hotfixes.toml").read_text())["hotfix"][NAME]
    assert table["version"] == "2.1.5" and table["from"] == "wheels"
    assert published(directory) == [
        f"{MODULE}-2.1.5+hotfix.1-cp311-cp311-manylinux_2_17_x86_64.whl",
        f"{MODULE}-2.1.5+hotfix.1-cp312-cp312-win_amd64.whl",
    ]
    [win] = (directory / "hotfix-index").rglob("*win_amd64.whl")
    with zipfile.ZipFile(win) as zf:
        assert zf.read(f"{MODULE}/__init__.py").decode().endswith(FIXED)
        assert b"triple" in zf.read(f"{MODULE}/helpers.py")


def test_a_member_colliding_with_the_new_dist_info_is_refused(tmp_path: Path) -> None:
    clash = zipfile.ZipInfo(
        f"{MODULE}-{VERSION}+hotfix.1.dist-info/METADATA", (2024, 1, 1, 0, 0, 0)
    )
    wheel = make_platform_wheel(
        tmp_path,
        NAME,
        VERSION,
        "py3-none-any",
        package_files(MODULE),
        extra_members=[(clash, b"x")],
    )
    with pytest.raises(BuildError, match=r"would store .*METADATA twice"):
        run_patch(tmp_path, [wheel], fix_patch(MODULE))


_HEADER_TEXT = st.text(
    st.characters(
        codec="utf-8",
        blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=40,
)


@given(
    before=st.lists(_HEADER_TEXT.map(lambda t: f"X-Before: {t}"), max_size=4),
    after=st.lists(_HEADER_TEXT.map(lambda t: f"X-After: {t}"), max_size=4),
    old=_HEADER_TEXT,
    body=st.text(max_size=200),
)
def test_set_metadata_version_changes_only_the_version_header(
    before: list[str], after: list[str], old: str, body: str
) -> None:
    head = [*before, f"Version: {old}", *after]
    text = "\n".join(["Metadata-Version: 2.1", "Name: x", *head]) + "\n\n" + body
    new = set_metadata_version(text, "1.0+hotfix.3", "x.whl")
    new_head, _, new_body = new.partition("\n\n")
    assert new_body == body
    expected = ["Metadata-Version: 2.1", "Name: x", *before, "Version: 1.0+hotfix.3", *after]
    assert new_head.split("\n") == expected


def test_cli_metadata_hotfix_in_wheel_mode_edits_every_wheels_metadata(
    tmp_path: Path, index: FakeIndex, pyhotfix: Pyhotfix
) -> None:
    """[hotfix.NAME.requires-dist] reaches the METADATA of every patched wheel (and RECORD)."""
    directory = app(
        tmp_path,
        index,
        NAME,
        'from = "wheels"\nplatforms = ["win*"]\n\n'
        f'[hotfix.{NAME}.requires-dist]\nurllib3 = "urllib3>=1.21.1,<3"\n',
        fix_patch(MODULE),
    )
    run = pyhotfix("build", cwd=directory)
    assert run.code == 0, run.output
    wheels = sorted((directory / "hotfix-index").rglob("*.whl"))
    assert len(wheels) == 2
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
            text = zf.read(metadata).decode()
            record = zf.read(metadata.replace("METADATA", "RECORD")).decode()
        requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
        assert requires == ["Requires-Dist: urllib3<3,>=1.21.1"], text  # packaging's form
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        assert f"{metadata},sha256={digest.decode()}," in record
