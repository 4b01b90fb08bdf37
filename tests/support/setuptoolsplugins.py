"""Upstream projects whose setuptools version comes from a plugin: pbr (the `pbr.build` backend,
version from the git tag) and versioneer (`versioneer[toml]` as a build requirement, version from
the git tag through the `_version.py` it generates). Both are git repositories with the release
tagged, as upstream keeps them; their sdists come from `tests.support.projects.make_sdist`.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from pyhotfix.building import EnvCache
from tests.support.projects import DEFAULT_BODY, _git_init_and_tag, module_name

__all__ = ["PLUGIN_BACKENDS", "make_plugin_project"]

PLUGIN_BACKENDS = ("pbr", "versioneer")

_VERSIONEER_REQUIRES = ("setuptools>=64", "versioneer[toml]>=0.29")


def make_plugin_project(dest: Path, name: str, version: str, plugin: str, envs: EnvCache) -> Path:
    """Write a pbr or versioneer project into `dest`, commit it and tag `version`; its root."""
    mod = module_name(name)
    (dest / mod).mkdir(parents=True)
    (dest / mod / "__init__.py").write_text(DEFAULT_BODY)
    (dest / "README.md").write_text(f"# {name}\n\nA fixture project.\n")
    if plugin == "pbr":
        (dest / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["pbr>=6", "setuptools>=64"]\nbuild-backend = "pbr.build"\n'
        )
        (dest / "setup.py").write_text("import setuptools\n\nsetuptools.setup(pbr=True)\n")
        (dest / "setup.cfg").write_text(
            f"[metadata]\nname = {name}\nsummary = A fixture project\n"
            "description_file = README.md\n\n"
            f"[files]\npackages =\n    {mod}\n"
        )
        _git_init_and_tag(dest, version)
        # pbr reads plain tags (1.0), not v1.0.
        subprocess.run(["git", "tag", version], cwd=dest, check=True, capture_output=True)
        return dest
    if plugin != "versioneer":
        raise ValueError(f"unknown plugin {plugin!r}: one of {PLUGIN_BACKENDS}")
    (dest / "pyproject.toml").write_text(
        "[build-system]\n"
        f"requires = [{', '.join(f'{r!r}' for r in _VERSIONEER_REQUIRES)}]\n".replace("'", '"')
        + 'build-backend = "setuptools.build_meta"\n\n'
        + textwrap.dedent(
            f"""\
            [tool.versioneer]
            VCS = "git"
            style = "pep440"
            versionfile_source = "{mod}/_version.py"
            versionfile_build = "{mod}/_version.py"
            tag_prefix = "v"
            """
        )
    )
    (dest / "setup.py").write_text(
        "import versioneer\nfrom setuptools import setup\n\n"
        f"setup(name={name!r}, version=versioneer.get_version(), "
        f"cmdclass=versioneer.get_cmdclass(), packages=[{mod!r}])\n"
    )
    # What `versioneer install --no-vendor` writes: the _version.py template.
    python = envs.environment(list(_VERSIONEER_REQUIRES))
    subprocess.run(
        [str(python.parent / "versioneer"), "install", "--no-vendor"],
        cwd=dest,
        check=True,
        capture_output=True,
        timeout=120,
    )
    _git_init_and_tag(dest, version)
    return dest
