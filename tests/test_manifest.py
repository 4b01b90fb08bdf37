"""hotfixes.toml: strict loading with errors that point at file, line and key; format-preserving edits."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pyhotfix.errors import ManifestError, UsageError
from pyhotfix.manifest import (
    FilePatch,
    GitPatch,
    Manifest,
    UrlPatch,
    find_manifest,
    load_manifest,
    parse_manifest,
    upsert_hotfix,
)
from pyhotfix.manifest.read import deep_nesting_line
from tests.conftest import Pyhotfix

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
        # NUL and other control characters: Python's "embedded null byte" traceback before.
        ('[settings]\nindex = "a\\u0000b"\n', 2, "settings.index is 'a\\x00b', with the control"),
        (
            '[settings]\nupstream = "https://e.invalid/\\u001b[31m"\n',
            2,
            "control character '\\x1b'",
        ),
        ('[settings]\nlabel = "hot\\tfix"\n', 2, "settings.label is 'hot\\tfix'"),
        ('[hotfix.a]\nversion = "1.0"\npatches = ["a\\u0000b"]\n', 3, "hotfix.a.patches[0] is"),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [\n  "x.patch",\n  "a\\u0000b",\n]\n',
            5,
            "hotfix.a.patches[1] is 'a\\x00b'",
        ),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [{ url = "https://e.invalid/\\u0085", '
            'sha256 = "%s" }]\n' % ("a" * 64),
            3,
            "hotfix.a.patches[0] (url) is",
        ),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [{ git = "r\\n", commit = "abcdef1" }]\n',
            3,
            "(git) is 'r\\n'",
        ),
        (
            '[hotfix.a]\nversion = "1.0"\npatches = [{ git = "r", commit = "abcdef1\\n" }]\n',
            3,
            "(commit) is 'abcdef1\\n'",
        ),
        ('[hotfix.a]\nversion = "1.0\\n"\npatches = ["x"]\n', 2, "hotfix.a.version is '1.0\\n'"),
        (
            '[hotfix.a]\nversion = "1.0"\nreason = "x\\u0000"\npatches = ["x"]\n',
            3,
            "only tabs and line breaks",
        ),
        ('[hotfix."a\\u0000"]\nversion = "1.0"\npatches = ["x"]\n', None, "name 'a\\x00'"),
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


# --- hostile manifests: clean ManifestErrors, never a traceback or a hang ---------------------


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "hotfixes.toml"
    path.write_bytes(data)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", 1),
        ("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n", 1),
        ('[hotfix.a]\nreason = """\n[[[\n"""\npatches = ' + "[" * 100_000 + "\n", 5),
    ],
    ids=["arrays", "inline-tables", "unclosed-arrays"],
)
def test_deep_nesting_is_a_clean_error(tmp_path: Path, text: str, line: int) -> None:
    message = load_error(write(tmp_path, text))
    assert f"line {line}: arrays or inline tables are nested too deeply" in message


def test_non_utf8_byte_reports_its_line(tmp_path: Path) -> None:
    data = b'[hotfix.a]\nversion = "1.0"\nreason = "caf\xe9"\npatches = ["x"]\n'
    message = load_error(write_bytes(tmp_path, data))
    assert "line 3, column 14" in message and "0xe9" in message and "UTF-8" in message


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, '[hotfix.a]\nversion = "1.0"\npatches = ["x" "y"]\n'))
    assert "line 3, column 16:" in message
    assert "not valid TOML" in message


def test_oversized_manifest_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "hotfixes.toml"
    with path.open("wb") as file:
        file.truncate(10 * 1024 * 1024 + 1)  # sparse: costs no disk
    assert "limited to 10 MiB" in load_error(path)


def test_fifo_and_directory_are_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "hotfixes.toml"
    os.mkfifo(fifo)  # no writer: a blocking open would wait forever
    assert "not a regular file" in load_error(fifo)
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(ManifestError, match=r"not a regular file|Cannot read"):
        load_manifest(directory)


def test_missing_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    assert "Cannot read the manifest" in load_error(tmp_path / "hotfixes.toml")


@pytest.mark.parametrize("text", ["", "\n\n# only comments\n", "[settings]\nlabel = 'fix'\n"])
def test_empty_manifest_loads_with_no_hotfixes(tmp_path: Path, text: str) -> None:
    assert load_manifest(write(tmp_path, text)).hotfixes == ()


@pytest.mark.parametrize(
    "name",
    ["", "/", "..", "../x", "/etc/passwd", "a/b", "-a", "a-", "a b", "ä", "x" * 201, "a\\b"],
)
def test_invalid_hotfix_names_are_refused(tmp_path: Path, name: str) -> None:
    quoted = '"' + name.replace("\\", "\\\\") + '"'
    text = f'[settings]\nlabel = "hotfix"\n\n[hotfix.{quoted}]\nversion = "1.0"\npatches = ["x"]\n'
    message = load_error(write(tmp_path, text))
    if "\\" not in name:  # the locator matches names as written, without TOML escapes
        assert "line 4:" in message
    assert "hotfix name" in message
    assert len(message) < 600  # a huge name is shortened, not echoed


@pytest.mark.parametrize("name", ["a", "A1", "zope.interface", "Python_Magic", "x" * 200])
def test_valid_hotfix_names_load(tmp_path: Path, name: str) -> None:
    text = f'[hotfix."{name}"]\nversion = "1.0"\npatches = ["x"]\n'
    assert load_manifest(write(tmp_path, text)).hotfixes[0].name == canonicalize_name(name)


def test_editing_a_hostile_manifest_is_a_clean_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a = " + "[" * 5000 + "\n")
    before = path.read_bytes()
    with pytest.raises(ManifestError, match="nested too deeply"):
        upsert_hotfix(path, "pkg", "1.0", [FilePatch("p.patch")], None)
    path.write_bytes(b"[hotfix.a]\nversion = \xff\n")
    with pytest.raises(ManifestError, match="line 2"):
        upsert_hotfix(path, "pkg", "1.0", [FilePatch("p.patch")], None)
    assert before != path.read_bytes() == b"[hotfix.a]\nversion = \xff\n"


_TOML_PIECES = st.sampled_from(
    [
        "[settings]\n",
        "[hotfix.a]\n",
        "[hotfix.'b']\n",
        "[[hotfix]]\n",
        "[hotfix]\n",
        'version = "1.0"\n',
        "version = 1\n",
        'patches = ["x.patch"]\n',
        "patches = [{ url = 'https://e.invalid/p' }]\n",
        "patches = [{ git = 'r', commit = 'abcdef1' }, 3]\n",
        "patches = [\n",
        "]\n",
        'reason = "r"\n',
        'label = "Hot"\n',
        "upload = true\n",
        'index = ""\n',
        "upstream = 'ftp://x'\n",
        "hotfix = 1\n",
        "settings = []\n",
        "= \n",
        "a.b.c = {}\n",
        "[hotfix.a.patches]\n",
        "[",
        "{",
        '"',
        "\x00",
        "\u2028",
        'index = "a\\u0000b"\n',
        'patches = ["a\\u0000b", "c\\u0085"]\n',
        "patches = [{ git = 'r', commit = 'abcdef1\\n' }]\n",
        'reason = "two\\nlines\\tand a tab"\n',
        'reason = "bell\\u0007"\n',
        'version = "1.0\\r"\n',
        "\r\n",
    ]
)


def _strings(manifest: Manifest) -> list[str]:
    """Every string a manifest holds except free text (reason)."""
    found = [manifest.settings.index, manifest.settings.label]
    found += [v for v in (manifest.settings.upstream, manifest.settings.endpoint_url) if v]
    for spec in manifest.hotfixes:
        found += [spec.name, spec.version]
        for patch in spec.patches:
            found += [v for k, v in vars(patch).items() if isinstance(v, str) and k != "where"]
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(_TOML_PIECES, max_size=12).map("".join)))
def test_parser_raises_only_manifest_errors_on_any_text(text: str) -> None:
    manifest = None
    with contextlib.suppress(ManifestError):
        manifest = parse_manifest(text, Path("/nowhere/hotfixes.toml"))
    if manifest is not None:  # what loads holds no control character (reason: tabs, newlines)
        for value in _strings(manifest):
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value), value
        for spec in manifest.hotfixes:
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", spec.reason or "")
    line = deep_nesting_line(text, limit=3)  # the fallback locator terminates on any text
    assert line is None or 1 <= line <= text.count("\n") + 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_loader_raises_only_manifest_errors_on_any_bytes(tmp_path: Path, data: bytes) -> None:
    with contextlib.suppress(ManifestError):
        load_manifest(write_bytes(tmp_path, data))


@pytest.mark.parametrize(
    "text",
    [
        "\n" * 200_000 + "[other]\nx = 1\n",
        '[hotfix.a]\nversion = "1.0"\n' + "#\n" * 200_000 + 'patches = ["x"]\ncolour = 1\n',
    ],
    ids=["unknown-table", "unknown-key"],
)
def test_errors_in_long_manifests_are_found_in_linear_time(tmp_path: Path, text: str) -> None:
    started = time.monotonic()
    message = load_error(write(tmp_path, text))
    assert "line 20000" in message
    assert time.monotonic() - started < 20  # it was quadratic: minutes for 20,000 lines


@pytest.mark.parametrize(
    "text",
    [
        '[settings]\nindex = "a\\u0000b"\n',
        '[hotfix.a]\nversion = "1.0"\npatches = ["a\\u0000b"]\n',
    ],
)
def test_cli_reports_a_nul_in_the_manifest_as_a_usage_error(
    tmp_path: Path, pyhotfix: Pyhotfix, text: str
) -> None:
    """As the red team met it: `pyhotfix build` died with "ValueError: embedded null byte"."""
    write(tmp_path, text)
    run = pyhotfix("build", cwd=tmp_path)
    assert run.code == 2, run.output
    assert "Traceback" not in run.output
    assert "hotfixes.toml, line" in run.output and "control character '\\x00'" in run.output
