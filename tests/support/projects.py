"""Small but realistic upstream projects, one per supported build backend, for the whole test suite.

`make_project` writes a source tree the way its upstream would keep it in version control (for
setuptools-scm and hatch-vcs that includes a git repository with a release tag, because those
backends take the version from git); `make_sdist` builds the real upstream sdist from it, which is
what pyhotfix downloads and patches in production.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyproject_hooks

from pyhotfix.building import EnvCache
from pyhotfix.versioning import detect_backend

__all__ = [
    "BACKENDS",
    "DEFAULT_BODY",
    "make_c_extension_project",
    "make_env_probe_project",
    "make_project",
    "make_sdist",
    "make_wheel",
    "module_name",
    "strip_directory_entries",
]

BACKENDS = (
    "setuptools-setup.py",
    "setuptools-setup.cfg",
    "setuptools-pyproject",
    "setuptools-scm",
    "hatchling",
    "hatchling-dynamic",
    "hatch-vcs",
    "flit",
    "poetry",
    "pdm",
)

# The "bug" a test patch fixes: tests assert on `answer()` before and after patching.
DEFAULT_BODY = '''\
def answer() -> int:
    """Return the answer."""
    return 41  # bug: should be 42
'''

# Backends whose version lives in git: the fixture makes a repository and tags the release.
_VCS_BACKENDS = frozenset({"setuptools-scm", "hatch-vcs"})
# Backends whose version is read from module/__about__.py.
_ABOUT_BACKENDS = frozenset({"setuptools-setup.cfg", "hatchling-dynamic", "pdm"})


def module_name(name: str) -> str:
    """The import name a project called `name` uses by default ("demo-pkg" -> "demo_pkg")."""
    return re.sub(r"[-_.]+", "_", name).lower()


def make_project(
    dest: Path,
    name: str,
    version: str,
    backend: str,
    *,
    module: str | None = None,
    body: str = DEFAULT_BODY,
    src_layout: bool = False,
) -> Path:
    """Write a small upstream project for `backend` into `dest` (created) and return its root.

    The project has one package, `module` (default: derived from `name`), whose `__init__.py`
    is exactly `body`. Where the backend reads the version from a file, that file is
    `module/__about__.py`; flit uses a static [project].version.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown fixture backend {backend!r}; choose from {', '.join(BACKENDS)}")
    mod = module or module_name(name)
    dest.mkdir(parents=True, exist_ok=True)
    pkg_dir = dest / "src" / mod if src_layout else dest / mod
    pkg_dir.mkdir(parents=True, exist_ok=True)

    # __init__.py is exactly `body`, so one patch written against it applies to every backend
    # (git anchors a hunk at line 1 to the start of the file, and one without trailing context to
    # its end). Backends that read the version from a file read __about__.py, as in hatch's
    # project template; the scm backends generate _version.py at build time.
    (pkg_dir / "__init__.py").write_text(body)
    if backend in _ABOUT_BACKENDS:
        (pkg_dir / "__about__.py").write_text(f'__version__ = "{version}"\n')
    (dest / "README.md").write_text(f"# {name}\n\nA fixture project.\n")

    pkg_path = f"src/{mod}" if src_layout else mod
    writer = _WRITERS[backend]
    writer(dest, name, version, mod, pkg_path, src_layout)

    if backend in _VCS_BACKENDS:
        _git_init_and_tag(dest, version)
    return dest


def make_sdist(project_root: Path, out_dir: Path, envs: EnvCache | None = None) -> Path:
    """Build the upstream sdist of `project_root` into `out_dir` and return its path.

    With `envs`, the PEP 517 `build_sdist` hook runs in a cached environment (fast, and what the
    test suite uses); without, `uv build --sdist` does a normal isolated build.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if envs is None:
        import uv

        subprocess.run(
            [uv.find_uv_bin(), "build", "--sdist", "--out-dir", str(out_dir), str(project_root)],
            check=True,
            capture_output=True,
        )
        (sdist,) = sorted(out_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1:]
        return sdist

    info = detect_backend(project_root)
    python = envs.environment(info.requires)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETUPTOOLS_SCM_PRETEND")}

    def runner(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        subprocess.run(
            cmd, cwd=cwd, env={**env, **(extra_environ or {})}, check=True, capture_output=True
        )

    hooks = pyproject_hooks.BuildBackendHookCaller(
        str(project_root),
        info.backend,
        backend_path=list(info.backend_path) or None,
        python_executable=str(python),
        runner=runner,
    )
    with tempfile.TemporaryDirectory() as tmp:
        filename: str = hooks.build_sdist(tmp)
        target = out_dir / filename
        os.replace(Path(tmp) / filename, target)
    return target


# --- one writer per backend -------------------------------------------------------------------


def _w_setup_py(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    # The classic layout: no pyproject.toml at all, so the legacy setuptools backend is used.
    package_dir = {"": "src"} if src else {}
    _write(
        root / "setup.py",
        f"""
        from setuptools import setup

        setup(
            name="{name}",
            version="{version}",
            description="A fixture project",
            long_description=open("README.md").read(),
            long_description_content_type="text/markdown",
            packages=["{mod}"],
            package_dir={package_dir!r},
            python_requires=">=3.8",
        )
        """,
    )


def _w_setup_cfg(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    # Declarative setup.cfg with the version read from the package (`attr:`), a common pattern.
    src_options = "package_dir =\n    = src\n" if src else ""
    src_find = "\n[options.packages.find]\nwhere = src\n" if src else ""
    _write(
        root / "pyproject.toml",
        """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        """,
    )
    _write(
        root / "setup.cfg",
        f"""
        [metadata]
        name = {name}
        version = attr: {mod}.__about__.__version__
        description = A fixture project
        long_description = file: README.md
        long_description_content_type = text/markdown

        [options]
        packages = find:
        python_requires = >=3.8
        """,
        src_options,
        src_find,
    )


def _w_setuptools_pyproject(
    root: Path, name: str, version: str, mod: str, pkg: str, src: bool
) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"
        """,
        _SETUPTOOLS_SRC if src else "",
    )


def _w_setuptools_scm(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["setuptools>=64", "setuptools-scm>=8"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        dynamic = ["version"]
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"

        [tool.setuptools_scm]
        version_file = "{pkg}/_version.py"
        """,
        _SETUPTOOLS_SRC if src else "",
    )
    (root / ".gitignore").write_text(f"{pkg}/_version.py\n")


def _w_hatchling(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        version = "{version}"
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"

        [tool.hatch.build.targets.wheel]
        packages = ["{pkg}"]
        """,
    )


def _w_hatchling_dynamic(
    root: Path, name: str, version: str, mod: str, pkg: str, src: bool
) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        dynamic = ["version"]
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"

        [tool.hatch.version]
        path = "{pkg}/__about__.py"

        [tool.hatch.build.targets.wheel]
        packages = ["{pkg}"]
        """,
    )


def _w_hatch_vcs(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling", "hatch-vcs"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        dynamic = ["version"]
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"

        [tool.hatch.version]
        source = "vcs"

        [tool.hatch.build.hooks.vcs]
        version-file = "{pkg}/_version.py"

        [tool.hatch.build.targets.wheel]
        packages = ["{pkg}"]
        """,
    )
    (root / ".gitignore").write_text(f"{pkg}/_version.py\n")


def _w_flit(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    # flit finds `mod` (or src/`mod`) itself; [tool.flit.module] is needed only when the import
    # name differs from the distribution name. A static version keeps __init__.py == body (the
    # dynamic `__version__` form is covered by tests that add it).
    module_table = f'\n[tool.flit.module]\nname = "{mod}"\n' if mod != module_name(name) else ""
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["flit_core>=3.4,<4"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "{name}"
        version = "{version}"
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"
        """,
        module_table,
    )


def _w_poetry(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    # The classic [tool.poetry] layout, which most poetry projects on PyPI still use.
    from_src = ', from = "src"' if src else ""
    _write(
        root / "pyproject.toml",
        f"""
        [tool.poetry]
        name = "{name}"
        version = "{version}"
        description = "A fixture project"
        authors = ["Fixture Author <fixture@example.invalid>"]
        readme = "README.md"
        packages = [{{ include = "{mod}"{from_src} }}]

        [tool.poetry.dependencies]
        python = ">=3.8"

        [build-system]
        requires = ["poetry-core>=1.0.0"]
        build-backend = "poetry.core.masonry.api"
        """,
    )


def _w_pdm(root: Path, name: str, version: str, mod: str, pkg: str, src: bool) -> None:
    # A dynamic version read from the package: pdm-backend freezes it into [project] in the sdist.
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["pdm-backend"]
        build-backend = "pdm.backend"

        [project]
        name = "{name}"
        dynamic = ["version"]
        description = "A fixture project"
        readme = "README.md"
        requires-python = ">=3.8"

        [tool.pdm.version]
        source = "file"
        path = "{pkg}/__about__.py"
        """,
    )


_SETUPTOOLS_SRC = '\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'


def _write(path: Path, template: str, *tails: str) -> None:
    """Write a dedented template, then unindented tails (optional config for a variant)."""
    path.write_text(textwrap.dedent(template).lstrip("\n") + "".join(tails))


_WRITERS = {
    "setuptools-setup.py": _w_setup_py,
    "setuptools-setup.cfg": _w_setup_cfg,
    "setuptools-pyproject": _w_setuptools_pyproject,
    "setuptools-scm": _w_setuptools_scm,
    "hatchling": _w_hatchling,
    "hatchling-dynamic": _w_hatchling_dynamic,
    "hatch-vcs": _w_hatch_vcs,
    "flit": _w_flit,
    "poetry": _w_poetry,
    "pdm": _w_pdm,
}


def _git_init_and_tag(root: Path, version: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Fixture",
        "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
        "GIT_COMMITTER_NAME": "Fixture",
        "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "commit.gpgsign=false", "add", "-A"],
        ["-c", "commit.gpgsign=false", "commit", "-q", "-m", f"Release {version}"],
        ["-c", "tag.gpgsign=false", "tag", f"v{version}"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


# --- special-purpose projects -----------------------------------------------------------------


def make_c_extension_project(dest: Path, name: str, version: str) -> Path:
    """A setuptools project with one tiny C extension, `<module>._speedup`, compiled with -g.

    Debug information records the directory it was compiled in, so two builds in different
    directories differ unless the build maps those paths away.
    """
    mod = module_name(name)
    make_project(dest, name, version, "setuptools-setup.py")
    (dest / mod / "_speedup.c").write_text(
        textwrap.dedent(
            """\
            #include <Python.h>

            static PyObject *where(PyObject *self, PyObject *args) {
                return PyUnicode_FromString(__FILE__);
            }
            static PyMethodDef methods[] = {{"where", where, METH_NOARGS, NULL}, {NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedup", NULL, -1,
                                                methods};
            PyMODINIT_FUNC PyInit__speedup(void) { return PyModule_Create(&module); }
            """
        )
    )
    (dest / "MANIFEST.in").write_text(f"include {mod}/_speedup.c\n")
    setup_py = dest / "setup.py"
    setup_py.write_text(
        setup_py.read_text()
        .replace(
            "from setuptools import setup", "import os\nfrom setuptools import Extension, setup"
        )
        .replace(
            "    python_requires",
            # An absolute source path, as CMake-style builds use: __FILE__ is then absolute too.
            f'    ext_modules=[Extension("{mod}._speedup", '
            f'[os.path.abspath("{mod}/_speedup.c")], extra_compile_args=["-g"])],\n'
            "    python_requires",
        )
    )
    return dest


def make_env_probe_project(dest: Path, name: str, version: str, secret: str) -> Path:
    """A setuptools project whose setup.py records its environment in `<module>/build_env.json`
    (shipped in the wheel) and fails the build if any variable contains `secret`."""
    mod = module_name(name)
    make_project(dest, name, version, "setuptools-setup.py")
    setup_py = dest / "setup.py"
    probe = textwrap.dedent(
        f"""\
        import json, os, sys
        with open(os.path.join("{mod}", "build_env.json"), "w") as fh:
            json.dump(dict(os.environ), fh, sort_keys=True)
        if any({secret!r} in name or {secret!r} in value for name, value in os.environ.items()):
            sys.exit("the build backend saw a secret")
        """
    )
    setup_py.write_text(
        probe
        + setup_py.read_text().replace(
            "    python_requires",
            f'    package_data={{"{mod}": ["build_env.json"]}},\n    python_requires',
        )
    )
    return dest


def strip_directory_entries(sdist: Path, dest: Path, *, mtime_step: int = 0) -> Path:
    """Rewrite the .tar.gz `sdist` as `dest` without directory members (as some tools write them:
    extraction then creates the directories with the current time), keeping files and links.

    With `mtime_step`, every file's mtime is spread out by that many seconds, so the newest member
    is not the first one.
    """
    import tarfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        for i, member in enumerate(tin.getmembers()):
            if member.isdir():
                continue
            member.mtime += i * mtime_step
            tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
    return dest


def make_wheel(project: Path, out_dir: Path, envs: EnvCache) -> Path:
    """The upstream wheel (PyPI serves wheels too), built through the PEP 517 hook."""
    info = detect_backend(project)
    hooks = pyproject_hooks.BuildBackendHookCaller(
        str(project), info.backend, python_executable=str(envs.environment(info.requires))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir / hooks.build_wheel(str(out_dir))
