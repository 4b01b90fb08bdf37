"""Upstream projects whose wheels are platform wheels, for the auditwheel repair tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.projects import make_c_extension_project, make_project, module_name

__all__ = ["make_compiled_project", "make_platform_project_without_elf"]


def make_compiled_project(dest: Path, name: str, version: str) -> Path:
    """`make_c_extension_project` with a relative source path: setuptools writes an absolute one
    into the sdist's SOURCES.txt, so that sdist would differ with the build directory."""
    make_c_extension_project(dest, name, version)
    setup_py = dest / "setup.py"
    mod = module_name(name)
    text = setup_py.read_text()
    absolute = f'os.path.abspath("{mod}/_speedup.c")'
    assert absolute in text
    setup_py.write_text(text.replace(absolute, f'"{mod}/_speedup.c"'))
    return dest


def make_platform_project_without_elf(dest: Path, name: str, version: str) -> Path:
    """A setuptools project that claims compiled code (`has_ext_modules`) but ships none: its
    wheel is tagged `cpXY-cpXY-linux_<arch>`, and auditwheel refuses to repair it (no ELF file)."""
    make_project(dest, name, version, "setuptools-setup.py")
    setup_py = dest / "setup.py"
    setup_py.write_text(
        setup_py.read_text()
        .replace(
            "from setuptools import setup",
            "from setuptools import setup\nfrom setuptools.dist import Distribution\n\n\n"
            "class BinaryDistribution(Distribution):\n"
            "    def has_ext_modules(self):\n"
            "        return True\n",
        )
        .replace("    python_requires", "    distclass=BinaryDistribution,\n    python_requires")
    )
    return dest
