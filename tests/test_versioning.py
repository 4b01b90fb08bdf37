"""set_version edits the file each backend really reads (fast: no builds, see test_building.py).

The trees here imitate unpacked upstream sdists: a fixture project plus what its backend adds to
an sdist (PKG-INFO; setuptools' [egg_info] and egg-info dir; pdm's frozen version). The real
sdists go through the same code in test_building.py, where the built files are checked.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from pyhotfix.errors import VersioningError
from pyhotfix.versioning import (
    LEGACY_BACKEND,
    SUPPORTED_DISTRIBUTIONS,
    BackendInfo,
    detect_backend,
    set_version,
)
from tests.support.projects import BACKENDS, make_project, module_name

NAME = "demo-pkg"
NEW = "1.0+hotfix.1"


def as_unpacked_sdist(root: Path, backend: str, version: str = "1.0") -> Path:
    """Add to a fixture project what its backend writes into an sdist."""
    (root / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: A fixture project\n\n"
        "# demo-pkg\n\nVersion: this line is the description, not a header.\n"
    )
    if backend.startswith("setuptools"):
        (root / "setup.cfg").open("a").write("\n[egg_info]\ntag_build = \ntag_date = 0\n\n")
        egg_info = root / f"{module_name(NAME)}.egg-info"
        egg_info.mkdir()
        (egg_info / "PKG-INFO").write_text((root / "PKG-INFO").read_text())
        if backend == "setuptools-scm":
            (egg_info / "scm_version.json").write_text(
                json.dumps({"tag": version, "distance": 0, "node": "g1234567", "dirty": False})
            )
            (egg_info / "scm_file_list.json").write_text(json.dumps({"files": []}))
    if backend == "pdm":  # pdm-backend freezes a dynamic version into [project] in its sdists
        doc = tomlkit.parse((root / "pyproject.toml").read_text())
        doc["project"]["dynamic"].remove("version")
        doc["project"]["version"] = version
        (root / "pyproject.toml").write_text(tomlkit.dumps(doc))
    return root


def pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text())


def pkg_info_version(root: Path) -> str:
    headers = (root / "PKG-INFO").read_text().split("\n\n")[0]
    return next(line for line in headers.splitlines() if line.startswith("Version:")).split()[1]


def about_text(root: Path) -> str:
    return (root / module_name(NAME) / "__about__.py").read_text()


def flit_dynamic(root: Path, init: Path | None = None) -> Path:
    """Turn the flit fixture into the common form: version = `__version__` in the module."""
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('version = "1.0"', 'dynamic = ["version"]'))
    init = init or root / module_name(NAME) / "__init__.py"
    init.write_text(init.read_text() + '\n__version__ = "1.0"\n')
    return root


EXPECTED_DISTRIBUTION = {
    "setuptools-setup.py": "setuptools",
    "setuptools-setup.cfg": "setuptools",
    "setuptools-pyproject": "setuptools",
    "setuptools-scm": "setuptools",
    "hatchling": "hatchling",
    "hatchling-dynamic": "hatchling",
    "hatch-vcs": "hatchling",
    "flit": "flit-core",
    "poetry": "poetry-core",
    "pdm": "pdm-backend",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_version_edits_what_the_backend_reads(tmp_path: Path, backend: str) -> None:
    root = as_unpacked_sdist(make_project(tmp_path / "p", NAME, "1.0", backend), backend)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}

    info = set_version(root, NAME, NEW)

    assert info == detect_backend(root)
    assert info.distribution == EXPECTED_DISTRIBUTION[backend]
    # Every backend's sdist metadata says the new version (hatchling/scm read it; others ignore it).
    assert pkg_info_version(root) == NEW
    changed = {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts and before.get(p) != p.read_bytes()
    }
    removed = {str(p.relative_to(root)) for p in before if not p.exists()}

    if backend.startswith("setuptools"):
        cfg = (root / "setup.cfg").read_text()
        assert "tag_build = +hotfix.1\n" in cfg
        assert "tag_date = 0" in cfg
        expected = {"PKG-INFO", "setup.cfg"}
        if backend == "setuptools-scm":
            assert removed == {"demo_pkg.egg-info/scm_version.json"}
    elif backend in ("hatchling", "flit"):
        assert pyproject(root)["project"]["version"] == NEW
        expected = {"PKG-INFO", "pyproject.toml"}
    elif backend == "hatchling-dynamic":
        # PEP 621: the version becomes static; the file hatchling read is kept in step.
        assert pyproject(root)["project"]["version"] == NEW
        assert "dynamic" not in pyproject(root)["project"]
        assert about_text(root) == f'__version__ = "{NEW}"\n'
        expected = {"PKG-INFO", "pyproject.toml", "demo_pkg/__about__.py"}
    elif backend == "hatch-vcs":
        assert pyproject(root)["project"]["version"] == NEW
        assert "dynamic" not in pyproject(root)["project"]
        expected = {"PKG-INFO", "pyproject.toml"}  # the vcs hook writes _version.py from it
    elif backend == "poetry":
        assert pyproject(root)["tool"]["poetry"]["version"] == NEW
        expected = {"PKG-INFO", "pyproject.toml"}
    else:
        assert backend == "pdm"
        assert pyproject(root)["project"]["version"] == NEW
        assert about_text(root) == f'__version__ = "{NEW}"\n'  # pdm ignores it now; kept in step
        expected = {"PKG-INFO", "pyproject.toml", "demo_pkg/__about__.py"}
    assert changed == expected
    if backend != "setuptools-scm":
        assert removed == set()


def test_setup_py_only_project_gets_no_pyproject(tmp_path: Path) -> None:
    # setuptools crashes on a [project] table without name/version; never add one.
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-setup.py"), "setuptools-setup.py"
    )
    info = set_version(root, NAME, NEW)
    assert info == BackendInfo(LEGACY_BACKEND, ("setuptools>=40.8.0",), (), "setuptools")
    assert not (root / "pyproject.toml").exists()


def test_pkg_info_body_is_untouched(tmp_path: Path) -> None:
    root = as_unpacked_sdist(make_project(tmp_path / "p", NAME, "1.0", "hatch-vcs"), "hatch-vcs")
    set_version(root, NAME, NEW)
    text = (root / "PKG-INFO").read_text()
    assert text.count(f"Version: {NEW}") == 1
    assert "Version: this line is the description" in text


def test_pyproject_formatting_is_preserved(tmp_path: Path) -> None:
    root = as_unpacked_sdist(make_project(tmp_path / "p", NAME, "1.0", "hatchling"), "hatchling")
    original = (root / "pyproject.toml").read_text()
    commented = original.replace('version = "1.0"', 'version   =   "1.0"   # keep me')
    (root / "pyproject.toml").write_text("# top comment\n" + commented)
    set_version(root, NAME, NEW)
    text = (root / "pyproject.toml").read_text()
    assert text.startswith("# top comment\n")
    assert "# keep me" in text
    assert text.replace(NEW, "1.0") == "# top comment\n" + commented


def test_setup_cfg_edit_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-setup.cfg"), "setuptools-setup.cfg"
    )
    cfg = root / "setup.cfg"
    # Upstream's own [egg_info] first, with a comment, a dashed key and a stale multi-line value.
    text = cfg.read_text().replace("\n[egg_info]\ntag_build = \ntag_date = 0\n", "")
    cfg.write_text(
        "# upstream comment\n[egg_info]\ntag-build =\n    leftover\ntag_date = 0\n\n" + text
    )
    set_version(root, NAME, NEW)
    new = cfg.read_text()
    assert new == ("# upstream comment\n[egg_info]\ntag_build = +hotfix.1\ntag_date = 0\n\n" + text)


def test_setup_cfg_is_created_when_missing(tmp_path: Path) -> None:
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-pyproject"), "setuptools-pyproject"
    )
    (root / "setup.cfg").unlink()
    set_version(root, NAME, NEW)
    assert (root / "setup.cfg").read_text() == "[egg_info]\ntag_build = +hotfix.1\n"


def test_setup_cfg_without_egg_info_gets_a_section(tmp_path: Path) -> None:
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-setup.cfg"), "setuptools-setup.cfg"
    )
    cfg = root / "setup.cfg"
    text = cfg.read_text().replace("\n[egg_info]\ntag_build = \ntag_date = 0\n\n", "").rstrip("\n")
    cfg.write_text(text)  # no trailing newline
    set_version(root, NAME, NEW)
    assert cfg.read_text() == text + "\n\n[egg_info]\ntag_build = +hotfix.1\n"


def test_existing_upstream_tag_is_kept(tmp_path: Path) -> None:
    # An upstream sdist built with tag_build = .dev0 says 1.0.dev0 in PKG-INFO.
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-pyproject"),
        "setuptools-pyproject",
        "1.0.dev0",
    )
    cfg = root / "setup.cfg"
    cfg.write_text(cfg.read_text().replace("tag_build = \n", "tag_build = .dev0\n"))
    set_version(root, NAME, "1.0.dev0+hotfix.1")
    assert "tag_build = .dev0+hotfix.1\n" in cfg.read_text()


def test_setuptools_version_must_extend_the_upstream_one(tmp_path: Path) -> None:
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "setuptools-pyproject"), "setuptools-pyproject"
    )
    with pytest.raises(VersioningError, match=r"does not extend the upstream version 1\.0"):
        set_version(root, NAME, "2.0+hotfix.1")


def test_setuptools_without_pkg_info_uses_the_local_label(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", NAME, "1.0", "setuptools-pyproject")
    set_version(root, NAME, NEW)
    assert "tag_build = +hotfix.1" in (root / "setup.cfg").read_text()
    with pytest.raises(VersioningError, match="no local label"):
        set_version(root, NAME, "1.0.post1")


def test_invalid_version(tmp_path: Path) -> None:
    root = as_unpacked_sdist(make_project(tmp_path / "p", NAME, "1.0", "hatchling"), "hatchling")
    with pytest.raises(VersioningError, match="not a valid PEP 440 version"):
        set_version(root, NAME, "1.0+hot fix")


@pytest.mark.parametrize(
    ("build_system", "named"),
    [
        ('requires = ["sip>=6"]\nbuild-backend = "sipbuild.api"', "sipbuild.api"),
        ('requires = ["enscons"]\nbuild-backend = "enscons.api"', "enscons.api"),
        (
            'requires = ["setuptools"]\nbuild-backend = "backend"\nbackend-path = ["_build"]',
            "'backend'",
        ),
    ],
)
def test_unsupported_backend(tmp_path: Path, build_system: str, named: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[build-system]\n{build_system}\n")
    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\n")
    with pytest.raises(VersioningError) as excinfo:
        set_version(tmp_path, "x", NEW)
    message = str(excinfo.value)
    assert named in message
    assert "not supported yet" in message
    for supported in SUPPORTED_DISTRIBUTIONS:
        assert supported in message
    assert (tmp_path / "PKG-INFO").read_text().endswith("Version: 1.0\n")  # nothing was edited


def test_detect_backend_defaults(tmp_path: Path) -> None:
    # PEP 517/518: no [build-system] -> legacy setuptools; requires without build-backend too.
    assert detect_backend(tmp_path).backend == LEGACY_BACKEND
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert detect_backend(tmp_path).requires == ("setuptools>=40.8.0",)
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=70", "wheel"]\n'
    )
    assert detect_backend(tmp_path) == BackendInfo(
        LEGACY_BACKEND, ("setuptools>=70", "wheel"), (), "setuptools"
    )


def test_malformed_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(VersioningError, match="not valid TOML"):
        detect_backend(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = "setuptools"\n')
    with pytest.raises(VersioningError, match="malformed"):
        detect_backend(tmp_path)


def test_flit_dynamic_version_in_module(tmp_path: Path) -> None:
    root = flit_dynamic(make_project(tmp_path / "p", NAME, "1.0", "flit"))
    as_unpacked_sdist(root, "flit")
    set_version(root, NAME, NEW)
    # The static [project] version is what flit builds; the literal __version__ is kept in step.
    assert pyproject(root)["project"]["version"] == NEW
    assert "dynamic" not in pyproject(root)["project"]
    assert f'__version__ = "{NEW}"' in (root / "demo_pkg" / "__init__.py").read_text()


def test_flit_version_imported_from_another_module(tmp_path: Path) -> None:
    # `from .package_data import __version__` (idna, and many more): the literal is followed there.
    root = make_project(tmp_path / "p", NAME, "1.0", "flit")
    doc = tomlkit.parse((root / "pyproject.toml").read_text())
    del doc["project"]["version"]
    doc["project"]["dynamic"] = ["description", "version"]
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc))
    init = root / "demo_pkg" / "__init__.py"
    init.write_text('"""Demo."""\nfrom .package_data import __version__\n' + init.read_text())
    (root / "demo_pkg" / "package_data.py").write_text("__version__ = '1.0'\n")
    as_unpacked_sdist(root, "flit")
    set_version(root, NAME, NEW)
    assert pyproject(root)["project"]["version"] == NEW
    assert pyproject(root)["project"]["dynamic"] == ["description"]
    assert (root / "demo_pkg" / "package_data.py").read_text() == f"__version__ = '{NEW}'\n"


def test_flit_computed_version_is_set_statically(tmp_path: Path) -> None:
    root = flit_dynamic(make_project(tmp_path / "p", NAME, "1.0", "flit"))
    as_unpacked_sdist(root, "flit")
    init = root / "demo_pkg" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "1.0"', "__version__ = get_version()"))
    before = init.read_text()
    set_version(root, NAME, NEW)
    assert pyproject(root)["project"]["version"] == NEW
    assert init.read_text() == before  # nothing literal to keep in step


def test_flit_src_layout_and_module_name(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", NAME, "1.0", "flit", module="other_mod", src_layout=True)
    init = root / "src" / "other_mod" / "__init__.py"
    as_unpacked_sdist(flit_dynamic(root, init), "flit")
    set_version(root, NAME, NEW)
    assert f'__version__ = "{NEW}"' in init.read_text()


def test_flit_old_metadata_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core<3"]\nbuild-backend = "flit_core.buildapi"\n\n'
        '[tool.flit.metadata]\nmodule = "demo_pkg"\n'
    )
    with pytest.raises(VersioningError, match=r"old \[tool.flit.metadata\] format"):
        set_version(tmp_path, NAME, NEW)


def test_pep621_backend_without_project_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    with pytest.raises(VersioningError, match=r"no \[project\] table, which hatchling needs"):
        set_version(tmp_path, NAME, NEW)


def test_hatchling_version_file_without_match_is_left_alone(tmp_path: Path) -> None:
    # The static version is what hatchling builds; the file is only kept in step when it can be.
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "hatchling-dynamic"), "hatchling-dynamic"
    )
    about = root / "demo_pkg" / "__about__.py"
    about.write_text(about.read_text().replace("__version__", "version_string"))
    set_version(root, NAME, NEW)
    assert about.read_text() == 'version_string = "1.0"\n'
    assert pyproject(root)["project"]["version"] == NEW


def test_hatchling_custom_pattern(tmp_path: Path) -> None:
    root = as_unpacked_sdist(
        make_project(tmp_path / "p", NAME, "1.0", "hatchling-dynamic"), "hatchling-dynamic"
    )
    about = root / "demo_pkg" / "__about__.py"
    about.write_text('RELEASE = ("1.0")\n')
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml")
        .read_text()
        .replace(
            "[tool.hatch.version]\n",
            '[tool.hatch.version]\npattern = \'RELEASE = \\("(?P<version>[^"]+)"\\)\'\n',
        )
    )
    set_version(root, NAME, NEW)
    assert about.read_text() == f'RELEASE = ("{NEW}")\n'


def test_poetry_pep621_project(tmp_path: Path) -> None:
    # poetry-core 2 reads [project].version when it is there.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo-pkg"\nversion = "1.0"\n\n'
        '[build-system]\nrequires = ["poetry-core>=2"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )
    as_unpacked_sdist(tmp_path, "poetry")
    set_version(tmp_path, NAME, NEW)
    assert pyproject(tmp_path)["project"]["version"] == NEW


def test_pdm_unfrozen_dynamic_version_is_frozen(tmp_path: Path) -> None:
    # An sdist whose [project] still has a dynamic version (not made by pdm-backend itself).
    root = make_project(tmp_path / "p", NAME, "1.0", "pdm")
    (root / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: 1.0\n")
    set_version(root, NAME, NEW)
    project = pyproject(root)["project"]
    assert project["version"] == NEW
    assert "dynamic" not in project


@pytest.mark.parametrize(("backend", "table"), [("hatchling-dynamic", "hatch"), ("pdm", "pdm")])
def test_version_file_outside_the_tree_is_never_written(
    tmp_path: Path, backend: str, table: str
) -> None:
    root = as_unpacked_sdist(make_project(tmp_path / "p", NAME, "1.0", backend), backend)
    outside = tmp_path / "outside.py"
    outside.write_text('__version__ = "1.0"\n')
    doc = tomlkit.parse((root / "pyproject.toml").read_text())
    for hostile in ("../outside.py", str(outside)):
        doc["tool"][table]["version"]["path"] = hostile
        (root / "pyproject.toml").write_text(tomlkit.dumps(doc))
        set_version(root, NAME, NEW)
        assert outside.read_text() == '__version__ = "1.0"\n'
        assert pyproject(root)["project"]["version"] == NEW
