"""The scrubbed environment of upstream's build code: unit tests and a real build that looks."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhotfix.building import EnvCache, build
from pyhotfix.building.environ import (
    backend_environment,
    installer_environment,
    prefix_map_flag,
    strip_userinfo,
)
from pyhotfix.errors import BuildError
from pyhotfix.unpack import unpack_sdist
from pyhotfix.versioning import set_version
from tests.support.projects import make_env_probe_project, make_sdist

SECRET = "s3cr3t-do-not-leak"
SDE = 1_700_000_000

# What a developer's or CI machine's environment typically holds.
HOSTILE_ENVIRON = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/dev",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "CFLAGS": "-O2",
    "PKG_CONFIG_PATH": "/opt/lib/pkgconfig",
    "HTTPS_PROXY": f"http://dev:{SECRET}@proxy.example:3128",
    "TWINE_PASSWORD": SECRET,
    "TWINE_USERNAME": "__token__",
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "GITHUB_TOKEN": SECRET,
    "UV_PUBLISH_TOKEN": SECRET,
    "UV_PUBLISH_PASSWORD": SECRET,
    "PYHOTFIX_UPLOAD_PASSWORD": SECRET,
    "NETRC": "/home/dev/.netrc",
    "UV_INDEX_URL": f"https://ci:{SECRET}@private.example/simple/",
    "UV_INDEX_PRIVATE_PASSWORD": SECRET,
    "PIP_INDEX_URL": f"https://ci:{SECRET}@private.example/simple/",
    "SETUPTOOLS_SCM_PRETEND_VERSION": "9.9",
    "PYTHONPATH": "/home/dev/hacks",
    "MY_SERVICE_API_KEY": SECRET,
    "DATABASE_URL": f"postgres://app:{SECRET}@db/app",
}


def test_backend_gets_only_the_allow_list(tmp_path: Path) -> None:
    env = backend_environment(HOSTILE_ENVIRON, tmp_path, source_date_epoch=SDE)
    assert not [k for k, v in env.items() if SECRET in k or SECRET in v]
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8"
    assert env["PKG_CONFIG_PATH"] == "/opt/lib/pkgconfig"
    assert env["HTTPS_PROXY"] == "http://proxy.example:3128"  # the proxy, without its password
    assert env["RUSTUP_HOME"] == "/home/dev/.rustup"  # toolchains stay where rustup put them
    # HOME and TMPDIR are fresh directories of the build, not the user's.
    assert env["HOME"] == str(tmp_path / "home")
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    assert (env["SOURCE_DATE_EPOCH"], env["PYTHONHASHSEED"]) == (str(SDE), "0")
    # The user's flags are kept; the build directory is mapped to a fixed path after them.
    assert env["CFLAGS"] == f"-O2 -ffile-prefix-map={tmp_path}=/pyhotfix-build"
    assert env["CXXFLAGS"] == f"-ffile-prefix-map={tmp_path}=/pyhotfix-build"
    assert env["RUSTFLAGS"] == f"--remap-path-prefix={tmp_path}=/pyhotfix-build"
    for dropped in ("SETUPTOOLS_SCM_PRETEND_VERSION", "PYTHONPATH", "PIP_INDEX_URL", "NETRC"):
        assert dropped not in env


def test_installer_gets_its_index_credentials_but_no_upload_or_cloud_secrets() -> None:
    env = installer_environment(HOSTILE_ENVIRON)
    # uv may need these to install build requirements from a private index.
    assert env["UV_INDEX_URL"] == HOSTILE_ENVIRON["UV_INDEX_URL"]
    assert env["UV_INDEX_PRIVATE_PASSWORD"] == SECRET
    assert env["HTTPS_PROXY"] == HOSTILE_ENVIRON["HTTPS_PROXY"]
    assert (env["HOME"], env["NETRC"]) == ("/home/dev", "/home/dev/.netrc")
    leaked = {k for k, v in env.items() if SECRET in v} - {
        "UV_INDEX_URL",
        "UV_INDEX_PRIVATE_PASSWORD",
        "HTTPS_PROXY",
    }
    assert leaked == set()
    assert "UV_PUBLISH_TOKEN" not in env and "TWINE_PASSWORD" not in env


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://u:p@proxy:3128", "http://proxy:3128"),
        ("http://proxy:3128", "http://proxy:3128"),
        ("https://tok@host/simple/ https://a:b@other/x", "https://host/simple/ https://other/x"),
        ("localhost,127.0.0.1", "localhost,127.0.0.1"),
        ("not a url but has @ sign", "not a url but has @ sign"),
    ],
)
def test_strip_userinfo(value: str, expected: str) -> None:
    assert strip_userinfo(value) == expected


@given(
    user=st.from_regex(r"[A-Za-z0-9._~%!$&'()*+=-]{1,20}", fullmatch=True),
    password=st.from_regex(r"[A-Za-z0-9._~%!$&'()*+=:?#/\[\]-]{4,20}", fullmatch=True),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
)
def test_strip_userinfo_never_keeps_the_password(user: str, password: str, host: str) -> None:
    stripped = strip_userinfo(f"https://{user}:{password}@{host}/simple/")
    assert stripped == f"https://{host}/simple/"


@given(
    name=st.from_regex(r"[A-Z_]{0,8}(PASSWORD|TOKEN|SECRET|KEY|AUTH)[A-Z_]{0,8}", fullmatch=True)
)
def test_secret_looking_names_never_reach_the_backend(name: str) -> None:
    hostile = {name: "x", "LC_" + name: "x"}
    env = backend_environment(hostile, Path("/nonexistent"), source_date_epoch=0)
    assert name not in env and "LC_" + name not in env


def test_build_backend_never_sees_secrets(
    tmp_path: Path, envs: EnvCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real build of a project whose setup.py records os.environ into the wheel and fails if any
    # variable holds the secret; the variables are really set in this process's environment.
    project = make_env_probe_project(tmp_path / "project", "probe-pkg", "1.0", SECRET)
    sdist = make_sdist(project, tmp_path / "dist", envs)
    root = unpack_sdist(sdist, tmp_path / "src").root
    info = set_version(root, "probe-pkg", "1.0+hotfix.1")
    for name, value in HOSTILE_ENVIRON.items():
        if name not in ("PATH", "HOME"):
            monkeypatch.setenv(name, value)

    built = build(
        root,
        "probe-pkg",
        "1.0+hotfix.1",
        tmp_path / "out",
        source_date_epoch=SDE,
        envs=envs,
        backend=info,
    )

    with zipfile.ZipFile(built.wheel.path) as zf:
        seen: dict[str, str] = json.loads(zf.read("probe_pkg/build_env.json"))
    assert not [k for k, v in seen.items() if SECRET in k or SECRET in v]
    assert seen["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert seen["SOURCE_DATE_EPOCH"] == str(SDE)
    assert seen["HOME"] != os.environ["HOME"] and seen["HOME"].endswith("/home")
    assert seen["CFLAGS"].startswith("-O2 -ffile-prefix-map=")
    assert "SETUPTOOLS_SCM_PRETEND_VERSION" not in seen
    # The only variables the backend got are the allowed ones and those the hook runner sets.
    assert set(seen) <= set(
        backend_environment(os.environ, tmp_path / "x", source_date_epoch=0)
    ) | {
        "_PYPROJECT_HOOKS_BUILD_BACKEND",
        "_PYPROJECT_HOOKS_BACKEND_PATH_JSON",
        "PLAT",  # set by setuptools' bdist_wheel itself
    }


def test_env_cache_runs_uv_with_the_installer_environment(tmp_path: Path) -> None:
    # uv's own settings reach uv: a bogus UV_INDEX_URL makes installing a requirement fail, and
    # the error shows uv used it (credentials are not printed: uv redacts them itself).
    cache = EnvCache(
        tmp_path / "envs",
        environ={**os.environ, "UV_INDEX_URL": "http://127.0.0.1:9/simple/"},
    )
    assert cache.environ["UV_INDEX_URL"] == "http://127.0.0.1:9/simple/"
    assert "TWINE_PASSWORD" not in EnvCache(tmp_path / "e2", environ=HOSTILE_ENVIRON).environ
    with pytest.raises(BuildError, match=r"127\.0\.0\.1:9"):
        cache.environment(["no-such-package-pyhotfix-test"])


def test_old_compilers_get_the_debug_prefix_map(tmp_path: Path) -> None:
    # A compiler that rejects -ffile-prefix-map (gcc < 8) still gets its debug info mapped.
    old_cc = tmp_path / "old-cc"
    old_cc.write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in -ffile-prefix-map=*) exit 1;; esac; done\n'
    )
    old_cc.chmod(0o755)
    environ = {"PATH": os.environ["PATH"], "CC": f"{old_cc} -pthread"}
    flag = prefix_map_flag(environ)
    assert flag == "-fdebug-prefix-map"
    env = backend_environment(environ, tmp_path, source_date_epoch=SDE, c_prefix_map=flag)
    assert env["CFLAGS"] == f"-fdebug-prefix-map={tmp_path}=/pyhotfix-build"
    # gcc here understands the full map; a missing compiler changes nothing.
    assert prefix_map_flag({"PATH": os.environ["PATH"], "CC": "gcc"}) == "-ffile-prefix-map"
    assert prefix_map_flag({"PATH": "", "CC": str(tmp_path / "no-cc")}) == "-ffile-prefix-map"


def test_rustup_home_is_found_beside_the_cargo_on_path_when_home_has_none(tmp_path: Path) -> None:
    """A HOME changed by sudo, a CI job or a test: the toolchain rustup installed is still found
    (cargo on PATH is rustup's shim in <X>/.cargo/bin; its toolchains are in <X>/.rustup)."""
    from pyhotfix.building.environ import rustup_home

    owner = tmp_path / "owner"
    (owner / ".cargo" / "bin").mkdir(parents=True)
    (owner / ".rustup" / "toolchains").mkdir(parents=True)
    cargo = owner / ".cargo" / "bin" / "cargo"
    cargo.write_text("#!/bin/sh\n")
    cargo.chmod(0o755)
    empty_home = tmp_path / "home"
    (empty_home / ".rustup").mkdir(parents=True)  # as rustup leaves it when it found nothing
    path = str(owner / ".cargo" / "bin")
    assert rustup_home({"HOME": str(empty_home), "PATH": path}) == str(owner / ".rustup")
    assert rustup_home({"HOME": str(empty_home), "PATH": path, "RUSTUP_HOME": "/x"}) == "/x"
    (empty_home / ".rustup" / "toolchains").mkdir()
    assert rustup_home({"HOME": str(empty_home), "PATH": path}) == str(empty_home / ".rustup")
    assert rustup_home({"PATH": str(tmp_path)}) is None  # no HOME, no cargo: no rustup
