"""hotfixes.toml: strict loading with errors that point at file, line and key; format-preserving edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyhotfix.errors import ManifestError, UsageError
from pyhotfix.manifest import (
    FilePatch,
    GitPatch,
    UrlPatch,
    find_manifest,
    load_manifest,
    upsert_hotfix,
)

GOOD = """\
# team hotfixes
[settings]
upstream = "https://pypi.org/simple/"
index = "hotfix-index"
label = "hotfix"

[hotfix.Python_Magic]  # written name kept, canonical name used
version = "0.4.3"
patches = [
  "patches/python-magic/0001-use-lexists.patch",
  { url = "https://example.invalid/31.patch", sha256 = "%s" },
  { git = "../python-magic", commit = "abcdef1234" },
]
reason = "dangling symlinks"
""" % ("ab" * 32)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotfixes.toml"
    path.write_text(text)
    return path


def test_good_manifest_loads(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, GOOD))
    assert manifest.settings.upstream == "https://pypi.org/simple/"
    assert manifest.settings.label == "hotfix"
    (spec,) = manifest.hotfixes
    assert spec.name == "python-magic"
    assert spec.version == "0.4.3"
    assert spec.reason == "dangling symlinks"
    assert spec.patches == (
        FilePatch("patches/python-magic/0001-use-lexists.patch"),
        UrlPatch("https://example.invalid/31.patch", "ab" * 32),
        GitPatch("../python-magic", "abcdef1234"),
    )
    assert manifest.get("PYTHON.MAGIC") is spec


def test_defaults(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(tmp_path, '[hotfix.a]\nversion = "1.0"\npatches = ["x.patch"]\n')
    )
    assert manifest.settings.upstream is None
    assert manifest.settings.index == "hotfix-index"
    assert manifest.settings.label == "hotfix"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[settings]\nlabl = "x"\n', 2, "settings.labl is not a known key"),
        ("[settings]\nlabel = 3\n", 2, "settings.label must be a non-empty string"),
        ('[settings]\nlabel = "Hot-Fix"\n', 2, "lowercase"),
        ('[hotfix.a]\nversion = ">=1.0"\npatches = ["x"]\n', 2, "not a version"),
        ('[hotfix.a]\nversion = "1.0+local"\npatches = ["x"]\n', 2, "without a local part"),
        ('[hotfix.a]\nversion = 1.0\npatches = ["x"]\n', 2, "version must be a string"),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = ["x"]\ncolour = "red"\n',
            4,
            "hotfix.a.colour is not a known key",
        ),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [{ url = "https://e.invalid/p" }]\n',
            3,
            "without sha256",
        ),
        ('[hotfix.a]\nversion = "1.0"\npatches = ["https://e.invalid/p"]\n', 3, "pin it as"),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [\n  "x.patch",\n  { url = "https://e.invalid/p" },\n]\n',
            5,
            "patches[1] is a URL patch without sha256",
        ),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [{ git = "r", commit = "main" }]\n',
            3,
            "commit hash",
        ),
        ('[hotfix.a]\nversion = "1.0"\npatches = []\n', 3, "non-empty list"),
        ('[hotfix.a]\npatches = ["x"]\n', 1, "has no version"),
        (
            '[hotfix.my_pkg]\nversion = "1.0"\npatches = ["x"]\n\n[hotfix.My-Pkg]\nversion = "1.0"\npatches = ["x"]\n',
            5,
            "names the same project",
        ),
        ("[hotfix.a\n", None, "not valid TOML"),
        ("[other]\nx = 1\n", 1, "not a known table"),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert str(path) in message
    assert words in message
    if line is not None:
        assert f"line {line}:" in message


def test_find_manifest_walks_up(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_manifest(deep) == path
    with pytest.raises(UsageError, match=r"No hotfixes\.toml found"):
        find_manifest(Path("/proc/self"))


def test_upsert_keeps_comments_and_order(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    upsert_hotfix(path, "python-magic", "0.4.3", [FilePatch("patches/second.patch")], None)
    upsert_hotfix(path, "other", "2.0", [GitPatch("../other", "1234567")], "why")
    text = path.read_text()
    assert text.startswith(GOOD.split("patches = [")[0])  # untouched head
    assert "# team hotfixes" in text and "# written name kept" in text
    manifest = load_manifest(path)
    assert [s.name for s in manifest.hotfixes] == ["python-magic", "other"]
    assert manifest.get("python-magic").patches[-1] == FilePatch("patches/second.patch")
    # adding the same patch again changes nothing
    before = path.read_text()
    upsert_hotfix(path, "python-magic", "0.4.3", [FilePatch("patches/second.patch")], None)
    assert path.read_text() == before


def test_upsert_creates_and_refuses_bad_version(tmp_path: Path) -> None:
    path = tmp_path / "hotfixes.toml"
    upsert_hotfix(path, "pkg", "1.0", [FilePatch("p.patch")], None)
    assert load_manifest(path).get("pkg").version == "1.0"
    with pytest.raises(UsageError, match="not a version"):
        upsert_hotfix(path, "pkg", "latest", [FilePatch("p.patch")], None)
    assert load_manifest(path).get("pkg").version == "1.0"
