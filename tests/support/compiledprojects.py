"""Upstream projects with compiled code, one per compiled-build backend (scikit-build-core,
meson-python, maturin), shaped like those in `tests.support.projects`.

Each project has the package `<module>` whose `__init__.py` is `DEFAULT_BODY` (so the usual fix
patch applies) and a compiled extension `<module>._native` whose `where()` (C) or docstring (Rust)
holds the path it was compiled from, so a build path that leaks into the binary is visible. The
Rust crate has no dependencies (it talks to CPython through a hand-written FFI), so it builds
offline. `make_project` writes the tree as upstream keeps it in version control; the upstream sdist
comes from `tests.support.projects.make_sdist`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyproject_hooks

from pyhotfix.building import EnvCache
from pyhotfix.building.environ import rustup_home
from pyhotfix.versioning import detect_backend
from tests.support.projects import DEFAULT_BODY, _git_init_and_tag, module_name
from tests.support.tools import tool_executable

__all__ = ["COMPILED_BACKENDS", "make_compiled_project", "make_compiled_sdist"]

COMPILED_BACKENDS = (
    "scikit-build-core",  # static [project] version
    "scikit-build-core-regex",  # dynamic: metadata.version provider regex, from __about__.py
    "scikit-build-core-scm",  # dynamic: setuptools_scm provider (upstream: a git tag)
    "meson-python",  # dynamic: project(version:) in meson.build
    "meson-python-static",  # static [project] version (meson.build says the same)
    "maturin",  # dynamic: [package] version in Cargo.toml
    "maturin-static",  # static [project] version
)

# A C extension whose where() returns the absolute path it was compiled from (__FILE__).
_C_SOURCE = """\
#include <Python.h>

static PyObject *where(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(__FILE__);
}
static PyMethodDef methods[] = {{"where", where, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
"""

# The same in Rust without pyo3 (no registry crates: the build needs no network); the module
# docstring is the source's path. Built with debug information (Cargo.toml), which records the
# build directory unless it is remapped.
_RUST_SOURCE = """\
use std::os::raw::{c_char, c_int, c_void};

#[repr(C)]
pub struct PyModuleDef {
    ob_refcnt: isize,
    ob_type: *mut c_void,
    m_init: *mut c_void,
    m_index: isize,
    m_copy: *mut c_void,
    m_name: *const c_char,
    m_doc: *const c_char,
    m_size: isize,
    m_methods: *mut c_void,
    m_slots: *mut c_void,
    m_traverse: *mut c_void,
    m_clear: *mut c_void,
    m_free: *mut c_void,
}

extern "C" {
    fn PyModule_Create2(def: *mut PyModuleDef, api_version: c_int) -> *mut c_void;
}

static mut MODULE: PyModuleDef = PyModuleDef {
    ob_refcnt: 1,
    ob_type: std::ptr::null_mut(),
    m_init: std::ptr::null_mut(),
    m_index: 0,
    m_copy: std::ptr::null_mut(),
    m_name: c"_native".as_ptr(),
    m_doc: concat!(file!(), "\\0").as_ptr() as *const c_char,
    m_size: -1,
    m_methods: std::ptr::null_mut(),
    m_slots: std::ptr::null_mut(),
    m_traverse: std::ptr::null_mut(),
    m_clear: std::ptr::null_mut(),
    m_free: std::ptr::null_mut(),
};

#[no_mangle]
pub unsafe extern "C" fn PyInit__native() -> *mut c_void {
    PyModule_Create2(std::ptr::addr_of_mut!(MODULE), 1013)
}
"""


def make_compiled_project(dest: Path, name: str, version: str, backend: str) -> Path:
    """Write a small upstream project with compiled code for `backend` into `dest`; its root.

    `version` is PEP 440; the Rust crate's version is its semver spelling (1.0 -> 1.0.0).
    """
    if backend not in COMPILED_BACKENDS:
        raise ValueError(f"unknown compiled backend {backend!r}: one of {COMPILED_BACKENDS}")
    mod = module_name(name)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / mod).mkdir(exist_ok=True)
    (dest / mod / "__init__.py").write_text(DEFAULT_BODY)
    (dest / "README.md").write_text(f"# {name}\n\nA fixture project with compiled code.\n")
    if backend.startswith("scikit-build-core"):
        _scikit_build_core(dest, name, version, mod, backend)
    elif backend.startswith("meson-python"):
        _meson_python(dest, name, version, mod, backend)
    else:
        _maturin(dest, name, version, mod, backend)
    return dest


def _project_table(name: str, version: str, *, static: bool) -> str:
    version_line = f'version = "{version}"' if static else 'dynamic = ["version"]'
    return textwrap.dedent(
        f"""\
        [project]
        name = "{name}"
        {version_line}
        description = "A fixture project with compiled code"
        readme = "README.md"
        requires-python = ">=3.8"
        """
    )


def _scikit_build_core(dest: Path, name: str, version: str, mod: str, backend: str) -> None:
    (dest / "src").mkdir(exist_ok=True)
    (dest / "src" / "native.c").write_text(_C_SOURCE)
    (dest / "CMakeLists.txt").write_text(
        textwrap.dedent(
            f"""\
            cmake_minimum_required(VERSION 3.15)
            project(${{SKBUILD_PROJECT_NAME}} VERSION ${{SKBUILD_PROJECT_VERSION}} LANGUAGES C)
            find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)
            # An absolute source path, as CMake always uses: __FILE__ is the build's path.
            python_add_library(_native MODULE ${{CMAKE_CURRENT_SOURCE_DIR}}/src/native.c WITH_SOABI)
            # Debug information records the build directory (DW_AT_comp_dir).
            target_compile_options(_native PRIVATE -g)
            install(TARGETS _native DESTINATION {mod})
            """
        )
    )
    requires = ['"scikit-build-core>=0.10"']
    tool = ""
    if backend == "scikit-build-core-regex":
        (dest / mod / "__about__.py").write_text(f'__version__ = "{version}"\n')
        tool = (
            "\n[tool.scikit-build.metadata.version]\n"
            'provider = "scikit_build_core.metadata.regex"\n'
            f'input = "{mod}/__about__.py"\n'
        )
    elif backend == "scikit-build-core-scm":
        requires.append('"setuptools-scm>=8"')
        tool = (
            "\n[tool.scikit-build]\n"
            'metadata.version.provider = "scikit_build_core.metadata.setuptools_scm"\n'
            f'sdist.include = ["{mod}/_version.py"]\n'
            "\n[tool.setuptools_scm]\n"
            f'version_file = "{mod}/_version.py"\n'
        )
        (dest / ".gitignore").write_text(f"{mod}/_version.py\n")
    (dest / "pyproject.toml").write_text(
        "[build-system]\n"
        f"requires = [{', '.join(requires)}]\n"
        'build-backend = "scikit_build_core.build"\n\n'
        + _project_table(name, version, static=backend == "scikit-build-core")
        + tool
    )
    if backend == "scikit-build-core-scm":
        _git_init_and_tag(dest, version)


def _meson_python(dest: Path, name: str, version: str, mod: str, backend: str) -> None:
    (dest / mod / "_native.c").write_text(_C_SOURCE)
    (dest / "meson.build").write_text(
        textwrap.dedent(
            f"""\
            project(
              '{name}',
              'c',
              version : '{version}',
              meson_version : '>= 1.1',
            )
            py = import('python').find_installation(pure : false)
            # -g: debug information records the build directory (DW_AT_comp_dir).
            py.extension_module(
              '_native', '{mod}/_native.c', c_args : ['-g'], install : true, subdir : '{mod}'
            )
            py.install_sources('{mod}/__init__.py', subdir : '{mod}')
            """
        )
    )
    (dest / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["meson-python>=0.15"]\n'
        'build-backend = "mesonpy"\n\n'
        + _project_table(name, version, static=backend == "meson-python-static")
    )
    _git_init_and_tag(dest, version)  # meson-python makes sdists with `meson dist`: git only


def _maturin(dest: Path, name: str, version: str, mod: str, backend: str) -> None:
    (dest / "src").mkdir(exist_ok=True)
    (dest / "src" / "lib.rs").write_text(_RUST_SOURCE)
    semver = ".".join([*version.split("."), "0", "0"][:3])
    # maturin recognises pyo3 bindings by a crate named pyo3-ffi (or pyo3) among the
    # dependencies; this local stand-in has no code and no dependencies of its own.
    (dest / "pyo3-ffi" / "src").mkdir(parents=True, exist_ok=True)
    (dest / "pyo3-ffi" / "src" / "lib.rs").write_text("")
    (dest / "pyo3-ffi" / "Cargo.toml").write_text(
        '[package]\nname = "pyo3-ffi"\nversion = "0.25.0"\nedition = "2021"\n'
    )
    (dest / "Cargo.toml").write_text(
        textwrap.dedent(
            f"""\
            [package]
            name = "{mod}"
            version = "{semver}"
            edition = "2021"

            [lib]
            name = "_native"
            crate-type = ["cdylib"]

            [dependencies]
            pyo3-ffi = {{ path = "pyo3-ffi" }}

            [profile.release]
            debug = 1
            """
        )
    )
    (dest / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["maturin>=1,<2"]\n'
        'build-backend = "maturin"\n\n'
        + _project_table(name, version, static=backend == "maturin-static")
        + f'\n[tool.maturin]\nbindings = "pyo3"\nmodule-name = "{mod}._native"\n'
    )


def make_compiled_sdist(project: Path, out_dir: Path, envs: EnvCache) -> Path:
    """The upstream sdist of `project`, as upstream makes it: `maturin sdist` (the pinned tool)
    for maturin, the PEP 517 hook in a cached environment (its scripts on PATH: meson-python
    runs `meson`) for the others."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if detect_backend(project).distribution == "maturin":
        with tempfile.TemporaryDirectory() as tmp:
            rustup = rustup_home(os.environ)  # the toolchain, whatever HOME the tests run with
            subprocess.run(
                [str(tool_executable("maturin")), "sdist", "--out", tmp],
                cwd=project,
                check=True,
                capture_output=True,
                timeout=300,
                env={**os.environ, **({"RUSTUP_HOME": rustup} if rustup else {})},
            )
            (built,) = Path(tmp).glob("*.tar.gz")
            return Path(shutil.move(built, out_dir / built.name))
    info = detect_backend(project)
    python = envs.environment(info.requires)
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def runner(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        subprocess.run(
            cmd, cwd=cwd, env={**env, **(extra_environ or {})}, check=True, capture_output=True
        )

    hooks = pyproject_hooks.BuildBackendHookCaller(
        str(project), info.backend, python_executable=str(python), runner=runner
    )
    with tempfile.TemporaryDirectory() as tmp:
        filename: str = hooks.build_sdist(tmp)
        target = out_dir / filename
        os.replace(Path(tmp) / filename, target)
    return target
