"""The environment variables upstream's build code and the requirement installer get.

Building a hotfix runs upstream's build code (setup.py, a build backend and its plugins), exactly
as `pip install` of an sdist does. That code must not see the user's credentials, so it gets an
explicit ALLOW-list of variables (`BACKEND_ALLOWED`), never the whole environment; URLs in the
allowed values lose their userinfo, and a name that looks like a secret is dropped even if it
matches. HOME, TMPDIR and CARGO_HOME point into the build's own temporary directory (no
~/.netrc, ~/.pypirc, ~/.pydistutils.cfg, pip, git or cargo configuration), and compiler flags map
that directory to a fixed path so it cannot leak into compiled extensions.

uv, which installs the build requirements, is pyhotfix's own trusted tool: it also gets its own
configuration and index credentials (`UV_*`, `HOME` for uv.toml and ~/.netrc, proxy credentials),
but still none of the rest (upload tokens, cloud keys).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

__all__ = [
    "BACKEND_ALLOWED",
    "BACKEND_ALLOWED_PREFIXES",
    "INSTALLER_ALLOWED",
    "INSTALLER_ALLOWED_PREFIXES",
    "PrefixMapFlag",
    "backend_environment",
    "installer_environment",
    "prefix_map_flag",
    "rustup_home",
    "strip_userinfo",
    "with_scripts_on_path",
]

# Passed to upstream's build code, each only if the user set it.
BACKEND_ALLOWED = frozenset(
    {
        # the system: where programs are, language and time zone
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        # TLS trust roots, for backends or plugins that download (no secrets in them)
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        # proxies, credentials stripped from the URL
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        # compilers and their flags (C extensions, Fortran, Rust)
        "CC",
        "CXX",
        "CPP",
        "LD",
        "AR",
        "ARFLAGS",
        "RANLIB",
        "NM",
        "STRIP",
        "FC",
        "F77",
        "F90",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "FFLAGS",
        "LDFLAGS",
        "LDSHARED",
        "LDCXXSHARED",
        "CPATH",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "LIBRARY_PATH",
        "LD_LIBRARY_PATH",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "ARCHFLAGS",
        "MACOSX_DEPLOYMENT_TARGET",
        "MAKEFLAGS",
        "CMAKE_ARGS",
        "CMAKE_GENERATOR",
        "CMAKE_PREFIX_PATH",
        "RUSTFLAGS",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    }
)
BACKEND_ALLOWED_PREFIXES = ("LC_",)  # locale categories

# uv's own settings (indexes, find-links, its index credentials UV_INDEX_<NAME>_PASSWORD, cache)
# and what it reads its configuration and credentials from.
INSTALLER_ALLOWED = frozenset(
    {"HOME", "NETRC", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_CACHE_HOME", "XDG_DATA_HOME"}
)
INSTALLER_ALLOWED_PREFIXES = ("UV_",)

# Never passed to the backend, whatever the allow-list says; for uv only the upload ones.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|KEY|AUTH|COOKIE|SESSION|NETRC"
    r"|^AWS_|^TWINE_|^UV_PUBLISH_|^PYHOTFIX_|^GITHUB_|^GH_|^CI_JOB_",
    re.IGNORECASE,
)
_UPLOAD_NAME = re.compile(r"^(UV_PUBLISH_|TWINE_|PYHOTFIX_|AWS_)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s,;]*@")

# Compiled code must not carry the build's temporary paths (debug info, __FILE__).
_REMAPPED_PATH = "/pyhotfix-build"
_REMAPPED_ENVS = "/pyhotfix-envs"


def rustup_home(environ: Mapping[str, str]) -> str | None:
    """Where rustup keeps its toolchains for this user: RUSTUP_HOME, else ~/.rustup, else the
    `.rustup` beside the `.cargo/bin` that holds the cargo on PATH (a HOME changed by sudo, a CI
    job or a test still finds the toolchain rustup installed); None when there is no rustup."""
    if environ.get("RUSTUP_HOME"):
        return environ["RUSTUP_HOME"]
    home = environ.get("HOME")
    # rustup creates an empty ~/.rustup when it runs without finding one: look for toolchains.
    if home and (Path(home) / ".rustup" / "toolchains").is_dir():
        return str(Path(home) / ".rustup")
    cargo = shutil.which("cargo", path=environ.get("PATH"))
    if cargo is not None:
        beside = Path(cargo).parent.parent.parent / ".rustup"  # <X>/.cargo/bin/cargo -> <X>/.rustup
        if Path(cargo).parent.parent.name == ".cargo" and (beside / "toolchains").is_dir():
            return str(beside)
    return str(Path(home) / ".rustup") if home else None


def strip_userinfo(value: str) -> str:
    """`value` with `user:password@` removed from every URL in it (proxy variables, lists).

    Everything from `scheme://` to the last `@` of a URL goes: a password may hold `?`, `#` or
    `/`, and a mangled URL is better than a leaked password.
    """
    return _URL_USERINFO.sub(r"\g<scheme>", value)


def _backend_allowed(name: str) -> bool:
    allowed = name in BACKEND_ALLOWED or name.startswith(BACKEND_ALLOWED_PREFIXES)
    return allowed and not _SECRET_NAME.search(name)


PrefixMapFlag = Literal["-ffile-prefix-map", "-fdebug-prefix-map"]


def prefix_map_flag(environ: Mapping[str, str]) -> PrefixMapFlag:
    """The C compiler's flag that maps build paths: `-ffile-prefix-map` (gcc >= 8, clang >= 10:
    debug info and __FILE__), else `-fdebug-prefix-map` (older compilers: debug info only).

    The compiler is $CC, else the one Python was built with; asked once per process.
    """
    cc = environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return _prefix_map_flag(str(cc), environ.get("PATH", ""))


@functools.cache
def _prefix_map_flag(cc: str, path: str) -> PrefixMapFlag:
    try:
        command = shlex.split(cc)
        done = subprocess.run(
            [*command, "-ffile-prefix-map=/a=/b", "-E", "-x", "c", "-"],
            input=b"",
            capture_output=True,
            timeout=30,
            check=False,
            env={"PATH": path, "LC_ALL": "C"},
        )
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return "-ffile-prefix-map"  # no usable compiler: nothing will be compiled anyway
    return "-ffile-prefix-map" if done.returncode == 0 else "-fdebug-prefix-map"


def backend_environment(
    environ: Mapping[str, str],
    build_dir: Path,
    *,
    source_date_epoch: int,
    env_root: Path | None = None,
    c_prefix_map: PrefixMapFlag = "-ffile-prefix-map",
) -> dict[str, str]:
    """The whole environment of a build hook interpreter: allowed variables only.

    HOME and TMPDIR are `build_dir`/home and `build_dir`/tmp (the caller creates them), no
    bytecode is written (PYTHONDONTWRITEBYTECODE: it would land in the tree being packed), and C,
    C++ and Rust flags get prefix maps (`c_prefix_map`, see `prefix_map_flag`) that replace
    `build_dir` (and `env_root`, the build environments' cache) with fixed paths, so compiled
    extensions are byte-identical wherever they are built.
    """
    env = {k: strip_userinfo(v) for k, v in environ.items() if _backend_allowed(k)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    rustup = rustup_home(environ)
    if "RUSTUP_HOME" not in env and rustup is not None:
        # rustup's toolchains (no credentials), which it would look for under the new HOME.
        env["RUSTUP_HOME"] = rustup
    env |= {
        "HOME": str(build_dir / "home"),
        # cargo's own directory (registry cache, config) in that HOME: the user's one may hold
        # registry tokens (credentials.toml) and configuration the build must not depend on.
        "CARGO_HOME": str(build_dir / "home" / ".cargo"),
        "TMPDIR": str(build_dir / "tmp"),
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "PYTHONHASHSEED": "0",
        # An in-tree backend (backend-path, as poetry-core builds itself) is imported from the
        # tree being packed: bytecode written there would end up in the sdist, different each time.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    maps = [(build_dir, _REMAPPED_PATH)] + ([(env_root, _REMAPPED_ENVS)] if env_root else [])
    c_maps = " ".join(f"{c_prefix_map}={path}={fixed}" for path, fixed in maps)
    rust_maps = " ".join(f"--remap-path-prefix={path}={fixed}" for path, fixed in maps)
    for flags in ("CFLAGS", "CXXFLAGS"):
        env[flags] = f"{env[flags]} {c_maps}" if env.get(flags) else c_maps
    env["RUSTFLAGS"] = f"{env['RUSTFLAGS']} {rust_maps}" if env.get("RUSTFLAGS") else rust_maps
    return env


def with_scripts_on_path(env: Mapping[str, str], scripts: Path) -> dict[str, str]:
    """`env` with the build environment's scripts directory first on PATH, as pip and build
    give it to backends: meson-python runs `meson`, scikit-build-core `cmake` and `ninja`, maturin
    `cargo` wrappers, each installed there from PyPI."""
    path = env.get("PATH")
    return {**env, "PATH": f"{scripts}{os.pathsep}{path}" if path else str(scripts)}


def installer_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of the `uv` calls that create build environments and install requirements.

    What the backend may see, plus uv's own configuration and index credentials (uv needs them
    to fetch build requirements from a private index) and the real HOME (uv.toml, ~/.netrc);
    upload and cloud credentials stay out. Proxy URLs keep their credentials: uv needs them.
    """
    env: dict[str, str] = {}
    for name, value in environ.items():
        if name in INSTALLER_ALLOWED or name.startswith(INSTALLER_ALLOWED_PREFIXES):
            if not _UPLOAD_NAME.match(name):
                env[name] = value
        elif (name.lower().endswith("_proxy") and name in BACKEND_ALLOWED) or _backend_allowed(
            name
        ):
            env[name] = value
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env
