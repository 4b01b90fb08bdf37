"""Metadata hotfixes without a build: the manifest key, METADATA/PKG-INFO edits, the sdist-side
editors of each backend's declaration, and the inputs key."""

from __future__ import annotations

import re
import tomllib
from email.parser import HeaderParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pyhotfix.errors import BuildError, ManifestError, UsageError
from pyhotfix.manifest import RequiresDistEdit, parse_manifest, upsert_hotfix
from pyhotfix.pipeline import inputs_key
from pyhotfix.requiresdist import edit_metadata, edit_sdist_requirements
from pyhotfix.requiresdist.options import requires_dist_edits

REQUESTS_METADATA = """\
Metadata-Version: 2.1
Name: requests
Version: 2.31.0
Requires-Python: >=3.7
Requires-Dist: charset-normalizer<4,>=2
Requires-Dist: idna<4,>=2.5
Requires-Dist: urllib3<3,>=1.21.1
Requires-Dist: certifi>=2017.4.17
Provides-Extra: socks
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"
Provides-Extra: use_chardet_on_py3
Requires-Dist: chardet<6,>=3.0.2; extra == "use_chardet_on_py3"

Requests
========
Requires-Dist: urllib3<2 (the body is not a header)
"""

LOOSEN = (
    RequiresDistEdit("urllib3", "urllib3<3,>=1.21.1,!=2.0.0"),
    RequiresDistEdit("chardet", None),
)


def requires_dist(text: str) -> list[str]:
    """The Requires-Dist headers as written (after checking the whole text is valid metadata)."""
    Metadata.from_email(text, validate=False)
    return HeaderParser().parsestr(text).get_all("Requires-Dist") or []


# --- the manifest key -----------------------------------------------------------------------


def manifest(tmp_path: Path, table: str, patches: str = "patches = []") -> str:
    return (
        '[hotfix.requests]\nversion = "2.31.0"\n'
        f"{patches}\n\n[hotfix.requests.requires-dist]\n{table}"
    )


def test_manifest_key_parses_in_order(tmp_path: Path) -> None:
    text = manifest(tmp_path, 'URLLib3 = "urllib3>=1.21.1,<3"\nchardet = false\n')
    spec = parse_manifest(text, tmp_path / "hotfixes.toml").get("requests")
    assert spec.patches == ()
    assert spec.requires_dist == (
        RequiresDistEdit("urllib3", str(Requirement("urllib3>=1.21.1,<3"))),
        RequiresDistEdit("chardet", None),
    )


def test_inline_table_and_missing_patches(tmp_path: Path) -> None:
    text = '[hotfix.requests]\nversion = "2.31.0"\nrequires-dist = { idna = "idna>=3" }\n'
    spec = parse_manifest(text, tmp_path / "hotfixes.toml").get("requests")
    assert spec.requires_dist == (RequiresDistEdit("idna", "idna>=3"),)


@pytest.mark.parametrize(
    ("table", "line", "expected"),
    [
        ('urllib3 = "requests>=1"\n', 6, "a requirement on requests; the key names the dependency"),
        ('urllib3 = "urllib3>=="\n', 6, "not a PEP 508 requirement"),
        ("urllib3 = true\n", 6, "or false (removes them)"),
        ('"bad name!" = false\n', 6, "is not a project name"),
        ("urllib3 = false\nURLLIB3 = false\n", 7, "names the same project as urllib3"),
    ],
)
def test_manifest_key_errors_name_file_line_key(
    tmp_path: Path, table: str, line: int, expected: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(manifest(tmp_path, table), tmp_path / "hotfixes.toml")
    message = str(caught.value)
    assert f"hotfixes.toml, line {line}: hotfix.requests.requires-dist." in message
    assert expected in message


def test_empty_patches_need_requires_dist(tmp_path: Path) -> None:
    text = '[hotfix.requests]\nversion = "2.31.0"\npatches = []\n'
    with pytest.raises(ManifestError, match=r"line 3: hotfix.requests.patches must be a non-empty"):
        parse_manifest(text, tmp_path / "hotfixes.toml")
    with pytest.raises(ManifestError, match="requires-dist must be a table"):
        parse_manifest(text + 'requires-dist = "urllib3"\n', tmp_path / "hotfixes.toml")


def test_inputs_key_changes_only_when_set(tmp_path: Path) -> None:
    (tmp_path / "fix.patch").write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    base = '[hotfix.requests]\nversion = "2.31.0"\npatches = ["fix.patch"]\n'
    path = tmp_path / "hotfixes.toml"
    plain = parse_manifest(base, path).get("requests")
    # A hotfix without the key keeps the key it had before the key existed (locks stay valid).
    assert inputs_key(plain, "hotfix", tmp_path) == _old_inputs_key("2.31.0", "hotfix", tmp_path)
    keys = {
        inputs_key(parse_manifest(base + extra, path).get("requests"), "hotfix", tmp_path)
        for extra in (
            "",
            '[hotfix.requests.requires-dist]\nurllib3 = "urllib3<3"\n',
            '[hotfix.requests.requires-dist]\nurllib3 = "urllib3<4"\n',
            "[hotfix.requests.requires-dist]\nurllib3 = false\n",
        )
    }
    assert len(keys) == 4


def _old_inputs_key(version: str, label: str, base_dir: Path) -> str:
    """The inputs key as pyhotfix computed it before requires-dist existed (one file patch)."""
    import hashlib
    import json

    content = (base_dir / "fix.patch").read_bytes()
    payload = json.dumps(
        {
            "version": version,
            "label": label,
            "patches": ["file:" + hashlib.sha256(content).hexdigest()],
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# --- METADATA / PKG-INFO ----------------------------------------------------------------------


def test_edit_metadata_replaces_in_place_removes_and_keeps_the_rest() -> None:
    edited = edit_metadata(REQUESTS_METADATA, (*LOOSEN, RequiresDistEdit("brotli", "brotli>=1")))
    assert requires_dist(edited) == [
        "charset-normalizer<4,>=2",
        "idna<4,>=2.5",
        "urllib3<3,>=1.21.1,!=2.0.0",
        "certifi>=2017.4.17",
        'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
        "brotli>=1",
    ]
    # Everything else byte for byte: other headers, their order, the body.
    removed = [line for line in REQUESTS_METADATA.split("\n") if line not in edited.split("\n")]
    assert removed == [
        "Requires-Dist: urllib3<3,>=1.21.1",
        'Requires-Dist: chardet<6,>=3.0.2; extra == "use_chardet_on_py3"',
    ]
    assert edited.endswith(
        "Requests\n========\nRequires-Dist: urllib3<2 (the body is not a header)\n"
    )


def test_edit_metadata_every_requirement_on_a_name_and_crlf() -> None:
    text = (
        "Metadata-Version: 2.1\r\nName: x\r\nVersion: 1\r\n"
        'Requires-Dist: urllib3[socks]<2; extra == "socks"\r\n'
        "Requires-Dist: URLLib3 <2\r\nRequires-Dist: idna\r\n"
    )
    edited = edit_metadata(text, [RequiresDistEdit("urllib3", "urllib3<3")])
    assert edited == (
        "Metadata-Version: 2.1\r\nName: x\r\nVersion: 1\r\n"
        "Requires-Dist: urllib3<3\r\nRequires-Dist: idna\r\n"
    )
    no_requirements = "Metadata-Version: 2.1\nName: x\nVersion: 1"
    assert requires_dist(edit_metadata(no_requirements, [RequiresDistEdit("a", "a>1")])) == ["a>1"]


_names = st.sampled_from(["a", "b-c", "B_C", "d.e", "urllib3"])
_lines = st.lists(
    st.tuples(_names, st.sampled_from(["", ">=1", "<2; extra == 'x'", "[y]>1"])), max_size=8
)
_edits = st.dictionaries(
    _names.map(canonicalize_name), st.sampled_from([None, ">=5", "<9,>2"]), max_size=4
)


@settings(max_examples=150, deadline=None)
@given(_lines, _edits)
def test_edit_metadata_property(
    lines: list[tuple[str, str]], wanted: dict[str, str | None]
) -> None:
    text = "Metadata-Version: 2.1\nName: x\nVersion: 1\n"
    text += "".join(f"Requires-Dist: {n}{rest}\n" for n, rest in lines)
    text += "\nbody\n"
    edits = [RequiresDistEdit(n, None if s is None else n + s) for n, s in wanted.items()]
    result = requires_dist(edit_metadata(text, edits))
    names: list[str] = [canonicalize_name(Requirement(r).name) for r in result]
    for edit in edits:
        if edit.requirement is None:
            assert edit.name not in names
        else:
            assert names.count(edit.name) == 1
            assert edit.requirement in result
    untouched = [f"{n}{rest}" for n, rest in lines if canonicalize_name(n) not in wanted]
    assert [r for r in result if canonicalize_name(Requirement(r).name) not in wanted] == untouched
    assert edit_metadata(edit_metadata(text, edits), edits) == edit_metadata(text, edits)


# --- the sdist's declaration ------------------------------------------------------------------


def sdist_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "requests-2.31.0"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


PKG_INFO = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nRequires-Dist: urllib3<2\n"


def test_pep621_dependencies_and_extras(tmp_path: Path) -> None:
    pyproject = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "requests"
version = "2.31.0"
# upstream's comment stays
dependencies = ["idna>=2.5", "urllib3>=1.21.1,<2", "chardet"]

[project.optional-dependencies]
socks = ["PySocks>=1.5.6", "urllib3[socks]<2"]
"""
    root = sdist_tree(tmp_path, {"pyproject.toml": pyproject, "PKG-INFO": PKG_INFO})
    where = edit_sdist_requirements(root, LOOSEN, "requests 2.31.0")
    assert where == "pyproject.toml [project] dependencies"
    text = (root / "pyproject.toml").read_text()
    project = tomllib.loads(text)["project"]
    assert project["dependencies"] == ["idna>=2.5", "urllib3<3,>=1.21.1,!=2.0.0"]
    assert project["optional-dependencies"] == {"socks": ["PySocks>=1.5.6"]}
    assert "# upstream's comment stays" in text
    assert requires_dist((root / "PKG-INFO").read_text()) == ["urllib3<3,>=1.21.1,!=2.0.0"]


def test_dynamic_dependencies_use_setup_cfg(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "requests"\nversion = "1"\ndynamic = ["dependencies"]\n'
    setup_cfg = """\
[metadata]
name = requests

[options]
packages = requests
install_requires =
    # pinned upstream
    urllib3>=1.21.1,<2
    chardet>=3; python_version < "3"
python_requires = >=3.7

[options.extras_require]
socks = PySocks>=1.5.6
security =
    urllib3[secure]<2
"""
    root = sdist_tree(tmp_path, {"pyproject.toml": pyproject, "setup.cfg": setup_cfg})
    assert edit_sdist_requirements(root, LOOSEN, "requests 2.31.0").startswith("setup.cfg")
    assert (root / "setup.cfg").read_text() == setup_cfg.replace(
        "    urllib3>=1.21.1,<2\n", "    urllib3<3,>=1.21.1,!=2.0.0\n"
    ).replace('    chardet>=3; python_version < "3"\n', "").replace("    urllib3[secure]<2\n", "")


def test_poetry_dependencies(tmp_path: Path) -> None:
    pyproject = """\
[tool.poetry]
name = "requests"
version = "2.31.0"

[tool.poetry.dependencies]
python = ">=3.8"
urllib3 = { version = ">=1.21.1,<2", optional = true }
chardet = "^3"

[tool.poetry.extras]
socks = ["urllib3", "pysocks"]

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""
    root = sdist_tree(tmp_path, {"pyproject.toml": pyproject})
    edits = (*LOOSEN, RequiresDistEdit("idna", 'idna[all]>=3; python_version >= "3.8"'))
    assert edit_sdist_requirements(root, edits, "requests 2.31.0").endswith(
        "[tool.poetry.dependencies]"
    )
    poetry = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["poetry"]
    assert poetry["dependencies"] == {
        "python": ">=3.8",
        "urllib3": str(Requirement("urllib3<3,>=1.21.1,!=2.0.0").specifier),
        "idna": {"version": ">=3", "extras": ["all"], "markers": 'python_version >= "3.8"'},
    }
    assert poetry["extras"] == {"socks": ["pysocks"]}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=REQS)\n"}, "setup.py"),
        ({"setup.py": "from setuptools import setup\nsetup()\n"}, "setup.py only"),
        (
            {
                "pyproject.toml": '[project]\nname = "x"\ndynamic = ["dependencies"]\n'
                '[tool.setuptools.dynamic]\ndependencies = { file = ["requirements.txt"] }\n'
            },
            "lists dependencies in [project] dynamic",
        ),
        (
            {"setup.cfg": "[options]\ninstall_requires = file: requirements.txt\n"},
            "is read from 'file: requirements.txt'",
        ),
    ],
)
def test_undeclared_requirements_are_refused(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    root = sdist_tree(tmp_path, files)
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    with pytest.raises(BuildError, match="cannot be applied") as caught:
        edit_sdist_requirements(root, LOOSEN, "requests 2.31.0")
    assert expected in str(caught.value)
    assert "patch" in str(caught.value)
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before


def test_removing_an_absent_dependency_is_an_error(tmp_path: Path) -> None:
    root = sdist_tree(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nversion = "1"\n'})
    with pytest.raises(BuildError, match=r"removes chardet, but pyproject\.toml"):
        edit_sdist_requirements(root, [RequiresDistEdit("chardet", None)], "x 1")


def test_symlinked_declaration_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["chardet"]\n')
    root = tmp_path / "x-1"
    root.mkdir()
    (root / "pyproject.toml").symlink_to(outside)
    with pytest.raises(BuildError, match="symbolic link"):
        edit_sdist_requirements(root, LOOSEN, "x 1")
    assert "chardet" in outside.read_text()


# --- `pyhotfix add --requires-dist / --remove-requires-dist` ----------------------------------


def test_upsert_writes_requires_dist_keeping_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hotfixes.toml"
    path.write_text(
        '# our hotfixes\n[hotfix.requests]\nversion = "2.31.0"\npatches = []\n\n'
        "[hotfix.requests.requires-dist]\nChardet = false  # not needed on py3\n"
    )
    edits = requires_dist_edits(["urllib3>=1.21.1,<3"], ["idna"])
    upsert_hotfix(path, "requests", "2.31.0", [], None, requires_dist=edits)
    upsert_hotfix(
        path, "requests", "2.31.0", [], None, requires_dist=requires_dist_edits(["chardet>=5"], [])
    )
    text = path.read_text()
    assert text.startswith("# our hotfixes\n")
    spec = parse_manifest(text, path).get("requests")
    assert spec.requires_dist == (
        RequiresDistEdit("urllib3", str(Requirement("urllib3>=1.21.1,<3"))),
        RequiresDistEdit("idna", None),
        RequiresDistEdit("chardet", "chardet>=5"),
    )
    assert "Chardet" not in text  # the other spelling of the same name was replaced


@pytest.mark.parametrize(
    ("replacements", "removals", "expected"),
    [
        (["urllib3>=="], [], "is not a PEP 508 requirement"),
        ([], ["bad name!"], "--remove-requires-dist"),
        (["urllib3<3"], ["URLLib3"], "urllib3 is given more than once"),
    ],
)
def test_requires_dist_options_are_checked(
    replacements: list[str], removals: list[str], expected: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(expected)):
        requires_dist_edits(replacements, removals)


def test_list_shows_the_edits_only_when_a_hotfix_has_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pyhotfix.cli import reports
    from pyhotfix.listing import ListedHotfix

    def row(name: str, edits: tuple[RequiresDistEdit, ...]) -> ListedHotfix:
        return ListedHotfix(name, "1.0", None, 0, False, "no", (), None, edits)

    reports.render_list([row("plain", ())])
    assert "requires-dist" not in capsys.readouterr().out
    reports.render_list([row("requests", LOOSEN), row("plain", ())])
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["name", "upstream", "hotfix", "version", "patches"]
    assert "requires-dist" in header
    assert "urllib3<3,>=1.21.1,!=2.0.0, chardet: removed" in first
    assert second.split()[:2] == ["plain", "1.0"]


def test_setup_cfg_one_line_values_are_split_as_setuptools_reads_them(tmp_path: Path) -> None:
    setup_cfg = (
        "[metadata]\nname = requests\n\n[options]\ninstall_requires = idna; urllib3<2\n"
        "\n[options.extras_require]\nsocks = PySocks; urllib3[socks]<2\nother = six\n"
    )
    root = sdist_tree(tmp_path, {"setup.cfg": setup_cfg})
    edit_sdist_requirements(root, [RequiresDistEdit("urllib3", "urllib3<3")], "requests 1")
    assert (root / "setup.cfg").read_text() == (
        "[metadata]\nname = requests\n\n[options]\ninstall_requires =\n    idna\n    urllib3<3\n"
        "\n[options.extras_require]\nsocks =\n    PySocks\nother = six\n"
    )


def test_poetry_2_with_project_table_and_poetry_dependencies(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "requests"\nversion = "1"\ndynamic = ["dependencies"]\n\n'
        '[tool.poetry.dependencies]\nurllib3 = "<2"\n'
    )
    root = sdist_tree(tmp_path, {"pyproject.toml": pyproject})
    where = edit_sdist_requirements(root, [RequiresDistEdit("urllib3", "urllib3<3")], "r 1")
    assert where == "pyproject.toml [tool.poetry.dependencies]"
    document = tomllib.loads((root / "pyproject.toml").read_text())
    assert document["tool"]["poetry"]["dependencies"] == {"urllib3": "<3"}
    assert "dependencies" not in document["project"]


@pytest.mark.parametrize(
    "pyproject",
    [
        '[project]\nname = "x"\nversion = "1"\ndependencies = "urllib3<2"\n',
        '[project]\nname = "x"\nversion = "1"\noptional-dependencies = { a = "urllib3" }\n',
        '[tool.poetry]\nname = "x"\ndependencies = ["urllib3"]\n',
        '[tool.poetry]\nname = "x"\nextras = { a = "urllib3" }\n',
    ],
)
def test_malformed_declarations_are_refused(tmp_path: Path, pyproject: str) -> None:
    root = sdist_tree(tmp_path, {"pyproject.toml": pyproject})
    with pytest.raises(BuildError, match=r"pyproject\.toml is malformed"):
        edit_sdist_requirements(root, LOOSEN, "x 1")
    assert (root / "pyproject.toml").read_text() == pyproject
