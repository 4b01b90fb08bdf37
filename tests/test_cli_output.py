"""What people read: piped (CI logs) every renderer prints plain lines, one record per line,
never folded; on a terminal a table whose names, versions and filenames are never split."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from pyhotfix import cli as cli_module
from pyhotfix.cli import render, reports
from pyhotfix.cli.render import Column, print_table
from pyhotfix.deploy.pin import PinChange, PinResult
from pyhotfix.deploy.verify import Check, VerifyReport
from pyhotfix.pipeline import HotfixResult
from pyhotfix.publish import PublishedFile
from tests.support.manifests import write_lock, write_manifest

NAME = "a-very-long-project-name-for-checking-output"
VERSION = "10.20.30"
HOTFIX_VERSION = "10.20.30+hotfix.12"
WHEEL = "a_very_long_project_name_for_checking_output-10.20.30+hotfix.12-py2.py3-none-any.whl"
SDIST = "a_very_long_project_name_for_checking_output-10.20.30+hotfix.12.tar.gz"
REASON = "a reason long enough that a terminal table has to wrap it somewhere " * 2
TOKENS = (NAME, HOTFIX_VERSION, WHEEL, SDIST)
BOX = set("│┃━─┏┓└┘┡┩╇┳┴┬")


def render_build() -> None:
    reports.render_build(
        [HotfixResult(NAME, VERSION, HOTFIX_VERSION, (SDIST, WHEEL), 1.25, "built")]
    )


def render_pin() -> None:
    change = PinChange(NAME, "requirements.txt:3", f"{NAME}>=10", f"{NAME}=={HOTFIX_VERSION}")
    result = PinResult(Path("requirements.txt"), "", True, (change,), ())
    reports.render_pin(Path("requirements.txt"), result, False)


def render_verify() -> None:
    check = Check(NAME, "pip", "fresh", HOTFIX_VERSION, HOTFIX_VERSION, "ok", REASON)
    report = VerifyReport(f"requirements.txt ({SDIST})", (check,), (), ())
    reports.render_verify(report)


def render_yank() -> None:
    reports.render_yank("/srv/hotfix-index", NAME, HOTFIX_VERSION, [SDIST, WHEEL], True)


RENDERERS: dict[str, Callable[[], None]] = {
    "build": render_build,
    "pin": render_pin,
    "verify": render_verify,
    "yank": render_yank,
}


@pytest.fixture(autouse=True)
def no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(variable, raising=False)


def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make the CLI's stdout an 80-column terminal; returns what it prints."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system=None)
    monkeypatch.setattr(render, "stdout", console)
    return buffer


def assert_plain(text: str, records: int) -> list[str]:
    """Plain lines: a header and one line per record, no box drawing, tokens whole."""
    assert not BOX & set(text), text
    lines = text.splitlines()
    for token in TOKENS:
        if token in (SDIST, WHEEL) and token not in text:
            continue  # not every renderer shows filenames
        assert token in text
    assert any(len(line) > 80 for line in lines), "long records stay on one line"
    assert len(lines) >= records + 1
    return lines


@pytest.mark.parametrize("renderer", RENDERERS, ids=str)
def test_piped_output_is_plain_lines(renderer: str, capsys: pytest.CaptureFixture[str]) -> None:
    RENDERERS[renderer]()
    out = capsys.readouterr().out
    assert_plain(out, 1)
    assert HOTFIX_VERSION in out


@pytest.mark.parametrize("renderer", RENDERERS, ids=str)
def test_terminal_output_keeps_the_table_and_whole_tokens(
    renderer: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    RENDERERS[renderer]()
    shown_piped = [t for t in TOKENS if t in capsys.readouterr().out]
    buffer = terminal(monkeypatch)
    RENDERERS[renderer]()
    text = buffer.getvalue()
    assert BOX & set(text) or renderer == "yank", text  # yank prints lines, not a table
    assert shown_piped
    for token in shown_piped:
        assert token in text, (token, text)


def test_build_report_piped_is_one_record_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    render_build()
    header, record = capsys.readouterr().out.splitlines()
    assert header.split() == [
        *("name", "upstream", "hotfix", "version", "files", "platform", "seconds", "result")
    ]
    assert record.split() == [
        *(NAME, VERSION, HOTFIX_VERSION, f"{SDIST},", WHEEL, "source,", "any", "1.2", "built")
    ]


def test_list_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_manifest(tmp_path, {NAME: VERSION, "b": "1.0"}, reason=REASON.strip())
    write_lock(manifest, {NAME: (HOTFIX_VERSION, (SDIST, WHEEL))})
    monkeypatch.chdir(tmp_path)
    piped = CliRunner().invoke(cli_module.cli, ["list"], catch_exceptions=False)
    assert piped.exit_code == 0, piped.output
    header, first, second = assert_plain(piped.stdout, 2)
    assert header.split()[:3] == ["name", "upstream", "hotfix"]
    assert first.split()[:3] == [NAME, VERSION, HOTFIX_VERSION]
    assert first.endswith(REASON.strip())
    assert second.split()[:3] == ["b", "1.0", "not"]

    buffer = terminal(monkeypatch)
    shown = CliRunner().invoke(cli_module.cli, ["list"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    text = buffer.getvalue()
    assert "┃ name" in text and NAME in text and HOTFIX_VERSION in text


def test_publish_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_manifest(tmp_path, {NAME: VERSION})
    monkeypatch.chdir(tmp_path)
    published = [PublishedFile(NAME, SDIST, "added"), PublishedFile(NAME, WHEEL, "unchanged")]
    monkeypatch.setattr("pyhotfix.publish.publish_built", lambda *a, **k: published)
    piped = CliRunner().invoke(cli_module.cli, ["publish"], catch_exceptions=False)
    assert piped.exit_code == 0, piped.output
    lines = piped.stdout.splitlines()
    assert lines[0].startswith("Published to ")
    assert [line.split() for line in lines[2:]] == [
        [NAME, SDIST, "added"],
        [NAME, WHEEL, "unchanged"],
    ]
    assert not BOX & set(piped.stdout)


def test_print_table_plain_and_terminal() -> None:
    rows = [("[green]yes[/]", "\\[settings] literal", "one\ntwo", "")]
    columns = ("state", "text", "lines", Column("prose", prose=True))
    plain = io.StringIO()
    print_table(Console(file=plain, width=20), columns, rows)
    header, record = plain.getvalue().splitlines()
    assert header.split() == ["state", "text", "lines", "prose"]
    assert record.split() == ["yes", "[settings]", "literal", "one,", "two", "-"]

    shown = io.StringIO()
    long_rows = [(WHEEL, SDIST, "x", REASON)]
    console = Console(file=shown, force_terminal=True, width=80, color_system=None)
    print_table(console, columns, long_rows)
    text = shown.getvalue()
    assert WHEEL in text and SDIST in text
    assert "┃ state" in text


def test_every_cli_table_goes_through_the_shared_helper() -> None:
    package = Path(cli_module.__file__).parent
    modules = [p for p in package.glob("*.py") if p.name != "render.py"]  # render: the helper
    assert len(modules) >= 8
    for module in modules:
        source = module.read_text()
        assert "Table(" not in source and "rich.table" not in source, module.name
