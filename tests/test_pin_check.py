"""`pyhotfix pin --check` for requirements files and Pipfiles, and `pin --pipfile`, as functions on
files made here (the real installs are in test_matrix_pip.py and test_matrix_pipenv.py)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.pin import pin_file
from pyhotfix.errors import PyhotfixError
from pyhotfix.lock import LockedFile

URL = "https://hotfixes.example/simple/"
WHEEL_SHA = "a" * 64
PIN_URL = f"{URL}python-magic/python_magic-0.4.3%2Bhotfix.1-py3-none-any.whl#sha256={WHEEL_SHA}"


def deployment(url: str = URL) -> Deployment:
    files = (
        LockedFile("python_magic-0.4.3+hotfix.1-py3-none-any.whl", WHEEL_SHA, 10),
        LockedFile("python_magic-0.4.3+hotfix.1.tar.gz", "b" * 64, 10),
    )
    build = HotfixBuild("python-magic", "0.4.3", "0.4.3+hotfix.1", "hotfix", files)
    return Deployment(Path("/app/hotfixes.toml"), url, None, None, (build,))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- requirements files ---------------------------------------------------------------------------


def test_a_hotfix_pinned_nowhere_fails_the_check(tmp_path: Path) -> None:
    """The transitive case: the file names only the package that pulls the hotfix in."""
    reqs = write(tmp_path / "requirements.txt", "flask==3.0.3\n")
    result = pin_file(reqs, deployment())
    assert not result.changed and not result.pinned
    (reason,) = result.unsafe
    assert "python-magic: no requirement names python-magic" in reason
    assert "`python-magic==0.4.3`" in reason and "-c hotfix-constraints.txt" in reason


@pytest.mark.parametrize(
    ("files", "pinned"),
    [
        # a constraints file of URL pins, included with -c
        ({"requirements.txt": "-c c.txt\nflask\n", "c.txt": f"python-magic @ {PIN_URL}\n"}, True),
        # the exact hotfix pin in a file included with -r
        (
            {
                "requirements.txt": "-r base.txt\nflask\n",
                "base.txt": "--extra-index-url https://h/\npython-magic==0.4.3+hotfix.1\n",
            },
            True,
        ),
        # s2i: PIP_CONSTRAINT in .s2i/environment, relative to the source directory
        (
            {
                "requirements.txt": "flask\n",
                ".s2i/environment": "PIP_CONSTRAINT=.s2i/hotfix-constraints.txt\n",
                ".s2i/hotfix-constraints.txt": f"python-magic @ {PIN_URL}\n",
            },
            True,
        ),
        # a URL pin whose sha256 is not the build's: another build
        (
            {
                "requirements.txt": "-c c.txt\nflask\n",
                "c.txt": f"python-magic @ {URL}x#sha256={'c' * 64}\n",
            },
            False,
        ),
        # a URL without sha256 proves nothing about the bytes
        ({"requirements.txt": "-c c.txt\nflask\n", "c.txt": f"python-magic @ {URL}x.whl\n"}, False),
        # ==0.4.3 is satisfied by upstream 0.4.3
        ({"requirements.txt": "-c c.txt\nflask\n", "c.txt": "python-magic==0.4.3\n"}, False),
        # an include cycle is followed once
        ({"requirements.txt": "-r requirements.txt\nflask\n"}, False),
    ],
)
def test_check_follows_includes_and_s2i_constraints(
    tmp_path: Path, files: dict[str, str], pinned: bool
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    result = pin_file(tmp_path / "requirements.txt", deployment())
    assert result.pinned is pinned, result.unsafe


# -- Pipfile ---------------------------------------------------------------------------------------


def pipfile(tmp_path: Path, packages: str, lock: Mapping[str, object] | None = None) -> Path:
    path = write(
        tmp_path / "Pipfile",
        '[[source]]\nname = "pypi"\nurl = "https://pypi.org/simple"\nverify_ssl = true\n\n'
        f"[packages]\n{packages}",
    )
    if lock is not None:
        write(tmp_path / "Pipfile.lock", json.dumps(lock))
    return path


def test_pin_pipfile_writes_a_file_url_and_keeps_markers(tmp_path: Path) -> None:
    path = pipfile(
        tmp_path,
        'flask = "*"  # web\npython_magic = {version = ">=0.4", markers = "os_name == \'posix\'"}\n',
    )
    result = pin_file(path, deployment())
    assert result.changed
    data = tomllib.loads(result.text)
    assert data["packages"]["python_magic"] == {"file": PIN_URL, "markers": "os_name == 'posix'"}
    assert 'flask = "*"  # web' in result.text, "other entries stay as written"
    path.write_text(result.text)
    again = pin_file(path, deployment())
    assert not again.changed and again.pinned


def test_pin_pipfile_refuses_what_it_cannot_pin(tmp_path: Path) -> None:
    path = pipfile(tmp_path, 'python-magic = {git = "https://x.example/m.git", ref = "main"}\n')
    with pytest.raises(PyhotfixError, match="installs python-magic from git"):
        pin_file(path, deployment())
    path = pipfile(tmp_path, 'python-magic = "==0.4.5"\n')
    with pytest.raises(PyhotfixError, match="asks for a version the hotfix cannot satisfy"):
        pin_file(path, deployment())
    path = pipfile(tmp_path, 'python-magic = "not a version"\n')
    with pytest.raises(PyhotfixError, match="not a version specifier"):
        pin_file(path, deployment())
    path.write_text("[packages\n")
    with pytest.raises(PyhotfixError, match="not valid TOML"):
        pin_file(path, deployment())


def test_pin_pipfile_adds_a_package_the_lock_shows_a_dependency_pulls_in(tmp_path: Path) -> None:
    default: dict[str, object] = {
        "flask": {"version": "==3.0.3"},
        "python-magic": {"version": "==0.4.3", "index": "pypi", "hashes": []},
    }
    lock: dict[str, object] = {"_meta": {}, "default": default, "develop": {}}
    path = pipfile(tmp_path, 'flask = "==3.0.3"\n', lock)
    result = pin_file(path, deployment())
    assert tomllib.loads(result.text)["packages"]["python-magic"] == {"file": PIN_URL}
    assert result.changes[0].before == "(pulled in by a dependency)"
    # and the lock is stale until `pipenv lock`: --check fails even after the Pipfile is pinned
    path.write_text(result.text)
    after = pin_file(path, deployment())
    assert not after.changed and not after.pinned
    assert "Pipfile.lock [default] installs python-magic ==0.4.3" in after.unsafe[0]
    default["python-magic"] = {"file": PIN_URL}
    write(tmp_path / "Pipfile.lock", json.dumps(lock))
    assert pin_file(path, deployment()).pinned


def test_pin_pipfile_without_a_lock_notes_what_it_cannot_see(tmp_path: Path) -> None:
    path = pipfile(tmp_path, 'flask = "*"\n')
    result = pin_file(path, deployment())
    assert not result.changed
    assert "no Pipfile.lock" in result.notes[0] and "pipenv lock" in result.notes[0]


def test_a_broken_pipfile_lock_is_a_clear_error(tmp_path: Path) -> None:
    path = pipfile(tmp_path, 'flask = "*"\n')
    write(tmp_path / "Pipfile.lock", "{not json")
    with pytest.raises(PyhotfixError, match="Regenerate it with `pipenv lock`"):
        pin_file(path, deployment())


def test_pin_pipfile_keeps_the_index_url_it_wrote(tmp_path: Path) -> None:
    from pyhotfix.deploy.pin import existing_index_url

    path = pipfile(tmp_path, f'python-magic = {{file = "{PIN_URL}"}}\n')
    assert existing_index_url(path) == URL


def test_pin_pipfile_reads_the_index_url_from_the_lock_too(tmp_path: Path) -> None:
    """A package only Pipfile.lock has (pulled in, not yet named): --check without --index-url
    still compares against the URL deployments use, not this machine's file:// path."""
    from pyhotfix.deploy.pin import existing_index_url

    lock = {"default": {"python-magic": {"file": PIN_URL}}, "develop": {}}
    path = pipfile(tmp_path, 'flask = "*"\n', lock)
    assert existing_index_url(path) == URL
    write(tmp_path / "Pipfile.lock", "{broken")
    assert existing_index_url(path) is None


def test_an_included_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-c c.txt\nflask\n")
    (tmp_path / "c.txt").write_bytes(b"python-magic==0.4.3\xff\n")
    with pytest.raises(PyhotfixError, match="not UTF-8"):
        pin_file(tmp_path / "requirements.txt", deployment())


def test_a_pipfile_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    from pyhotfix.deploy.pin import existing_index_url

    path = tmp_path / "Pipfile"
    path.write_bytes(b"[packages]\nflask = '\xff'\n")
    assert existing_index_url(path) is None
    with pytest.raises(PyhotfixError, match="not UTF-8"):
        pin_file(path, deployment())


def test_pin_pipfile_moves_an_earlier_pin_to_the_current_build(tmp_path: Path) -> None:
    old = f"https://old.example/simple/python-magic/python_magic-0.4.3%2Bhotfix.7-py3-none-any.whl#sha256={'0' * 64}"
    path = pipfile(tmp_path, f'python-magic = {{file = "{old}"}}\n')
    result = pin_file(path, deployment())
    assert tomllib.loads(result.text)["packages"]["python-magic"] == {"file": PIN_URL}
    # an earlier hotfix of another release is refused, with what to do
    older = old.replace("0.4.3%2Bhotfix.7", "0.4.2%2Bhotfix.3")
    path = pipfile(tmp_path, f'python-magic = {{file = "{older}"}}\n')
    with pytest.raises(
        PyhotfixError, match=r"pins an earlier hotfix build of python-magic 0\.4\.2"
    ):
        pin_file(path, deployment())
    # someone else's file is not ours to rewrite
    other = "https://x.example/python_magic-0.4.3-py3-none-any.whl"
    path = pipfile(tmp_path, f'python-magic = {{file = "{other}"}}\n')
    with pytest.raises(PyhotfixError, match="installs python-magic from file"):
        pin_file(path, deployment())
