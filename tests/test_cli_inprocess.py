"""Argument handling and error → exit code mapping of every command, in process (click's
CliRunner): no builds, no network, fast. A PyhotfixError is one `error: ...` line with its exit
code (2 usage/manifest, 1 operation failed); a bug is not swallowed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from pyhotfix.cli import cli, main
from pyhotfix.errors import PublishError, UsageError
from tests.support.manifests import write_manifest

COMMANDS_NEEDING_A_MANIFEST = [
    ["build"],
    ["list"],
    ["status"],
    ["publish"],
    ["edit", "alpha"],
    ["commit", "alpha"],
    ["rebase", "alpha", "--to", "2.0"],
    ["retire", "alpha"],
    ["export", "-f", "uv"],
]

COMMANDS_NAMING_A_HOTFIX = [
    ["build", "nosuch"],
    ["status", "nosuch"],
    ["publish", "nosuch"],
    ["edit", "nosuch"],
    ["commit", "nosuch"],
    ["rebase", "nosuch", "--to", "2.0"],
    ["rebase", "nosuch", "--abort"],
    ["retire", "nosuch"],
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the current directory; caches kept inside tmp_path."""
    directory = tmp_path / "app"
    directory.mkdir()
    monkeypatch.chdir(directory)
    monkeypatch.setenv("PYHOTFIX_CACHE_DIR", str(tmp_path / "cache"))
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(variable, raising=False)
    return directory


def run(*args: str | Path) -> Result:
    # catch_exceptions=False: anything but a clean exit (a bug) fails the test with its traceback
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_error(result: Result, code: int, *words: str) -> str:
    """Exit `code`, exactly one `error:` line on stderr, naming `words`, no traceback."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def snapshot(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


# --- general ----------------------------------------------------------------------------------


def test_help_and_version() -> None:
    assert run("--help").exit_code == 0
    version = run("--version")
    assert version.exit_code == 0 and "pyhotfix" in version.stdout


def test_every_command_has_help() -> None:
    assert isinstance(cli, click.Group)
    for name in cli.list_commands(click.Context(cli)):
        result = run(name, "--help")
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.stdout


def test_unknown_command_and_option_are_usage_errors(project: Path) -> None:
    assert run("bild").exit_code == 2
    assert "No such command" in run("bild").stderr
    assert run("build", "--jobz", "2").exit_code == 2


# --- missing and bad manifests ------------------------------------------------------------------


@pytest.mark.parametrize("args", COMMANDS_NEEDING_A_MANIFEST, ids=" ".join)
def test_missing_manifest_is_exit_2(project: Path, args: list[str]) -> None:
    assert_error(run(*args), 2, "No hotfixes.toml found")
    assert_error(run("-m", "nope.toml", *args), 2, "nope.toml does not exist")
    assert snapshot(project) == set(), "nothing is written"


@pytest.mark.parametrize("args", COMMANDS_NEEDING_A_MANIFEST, ids=" ".join)
def test_bad_manifest_is_exit_2_with_its_line(project: Path, args: list[str]) -> None:
    (project / "hotfixes.toml").write_text('[hotfix.alpha]\nversion = "1.0"\npatches = ["x" 1]\n')
    assert_error(run(*args), 2, "hotfixes.toml, line 3, column 16", "not valid TOML")


@pytest.mark.parametrize("args", COMMANDS_NEEDING_A_MANIFEST, ids=" ".join)
def test_manifest_with_a_hostile_hotfix_name_is_exit_2(project: Path, args: list[str]) -> None:
    outside = project.parent / "outside"
    (project / "hotfixes.toml").write_text(
        f'[hotfix."{outside}"]\nversion = "1.0"\npatches = ["x.patch"]\n'
    )
    assert_error(run(*args), 2, "line 1", "not a valid project name")
    assert not outside.exists()


def test_non_utf8_manifest_is_exit_2(project: Path) -> None:
    (project / "hotfixes.toml").write_bytes(b'[hotfix.a]\nreason = "\xff"\n')
    assert_error(run("list"), 2, "line 2", "not UTF-8")


def test_fifo_manifest_is_exit_2_without_hanging(project: Path) -> None:
    os.mkfifo(project / "fifo.toml")
    assert_error(run("-m", "fifo.toml", "list"), 2, "not a regular file")


# --- empty manifest ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["list"], ["build"]], ids=" ".join)
def test_empty_manifest_says_so_and_exits_0(project: Path, args: list[str]) -> None:
    (project / "hotfixes.toml").write_text("# nothing yet\n")
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "No hotfixes in" in result.stderr
    assert "pyhotfix add NAME==VERSION --patch FILE" in result.stderr
    as_json = run(*args, "--json")
    assert as_json.exit_code == 0 and as_json.stdout.strip() == "[]"


# --- hotfix names -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", COMMANDS_NAMING_A_HOTFIX, ids=" ".join)
def test_unknown_hotfix_name_is_exit_2(project: Path, args: list[str]) -> None:
    write_manifest(project, {"alpha": "1.0"})
    before = snapshot(project)
    assert_error(run(*args), 2, "no hotfix named 'nosuch'", "hotfixes: alpha")
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "name", ["/tmp/pyhotfix-edit-escape", "../x", "x" * 5000, "../../etc", "a/../../b", ""]
)
def test_edit_with_a_hostile_name_writes_nothing(project: Path, name: str) -> None:
    write_manifest(project, {"alpha": "1.0"})
    parent = project.parent
    before = snapshot(parent)
    error = assert_error(run("edit", name), 2, "no hotfix named")
    assert len(error) < 400, "a huge name is shortened in the message"
    assert snapshot(parent) == before
    assert not Path("/tmp/pyhotfix-edit-escape").exists()


def test_edit_workspace_is_checked_to_stay_inside_the_work_directory(project: Path) -> None:
    from pyhotfix.lifecycle.workspace import checked_workspace
    from pyhotfix.manifest import load_manifest

    manifest = load_manifest(write_manifest(project, {"Alpha_Beta": "1.0"}))
    work = project / ".pyhotfix" / "work"
    assert checked_workspace(manifest, "ALPHA.beta") == work / "alpha-beta"
    for hostile in ("/etc", "..", "../x", "a/b", "x" * 5000):
        with pytest.raises(UsageError, match=r"not a valid project name|characters long"):
            checked_workspace(manifest, hostile)
    work.mkdir(parents=True)
    (work / "alpha-beta").symlink_to(project.parent)
    with pytest.raises(UsageError, match="refusing to write there"):
        checked_workspace(manifest, "alpha-beta")
    assert not (project.parent / ".pyhotfix").exists()


# --- bad and conflicting options --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["build", "--jobs", "0"], "Invalid value"),
        (["build", "--no-publish"], "--no-publish needs --out"),
        (["rebase", "alpha"], "exactly one of --to VERSION, --continue and --abort"),
        (["rebase", "alpha", "--to", "2.0", "--abort"], "exactly one of"),
        (["rebase", "alpha", "--continue", "--abort"], "exactly one of"),
        (["export"], "Missing option"),
        (["export", "-f", "zip"], "Invalid value"),
        (["serve", "--port", "70000"], "Invalid value"),
        (["add", "alpha==1.0"], "Give at least one --patch"),
        (["add", "alpha", "--patch", "fix.patch"], "is not NAME==VERSION"),
        (["add", "alpha>=1.0", "--patch", "fix.patch"], "is not NAME==VERSION"),
        (["add", "alpha==1.0", "--patch", "missing.patch"], "does not exist"),
        (["add", "alpha==1.0", "--patch", "git+repo"], "is not git+REPO@COMMIT"),
        (["add", "alpha==1.0", "--patch", "fix.patch", "--sha256", "ab"], "--sha256 was given 1"),
        (["yank", "alpha"], "Missing argument"),
        (["unyank"], "Missing argument"),
        (["pin", "-r", "requirements.txt", "--pyproject", "pyproject.toml"], "Give one of -r FILE"),
        (["pin", "-r", "missing.txt"], "missing.txt does not exist"),
        (["verify", "--installer", "conda"], "Invalid value"),
        (["verify", "-r", "missing.txt"], "does not exist"),
        (["verify"], "Nothing to verify here"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_bad_options_are_exit_2(project: Path, args: list[str], words: str) -> None:
    write_manifest(project, {"alpha": "1.0"})
    before = (project / "hotfixes.toml").read_bytes()
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert (project / "hotfixes.toml").read_bytes() == before, "the manifest is unchanged"


def test_conflicting_verify_inputs_are_exit_2(project: Path) -> None:
    write_manifest(project, {"alpha": "1.0"})
    (project / "requirements.txt").write_text("alpha\n")
    assert_error(run("verify", "-r", "requirements.txt", "--project", "."), 2, "not both")
    assert_error(run("verify", "-r", "requirements.txt", "--env", "NOEQUALS"), 2, "KEY=VALUE")


# --- operation failures (exit 1) and bugs -----------------------------------------------------


def test_s3_target_without_s3fs_says_how_to_install(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if the s3 extra were not installed
    write_manifest(project, {"alpha": "1.0"})
    for args in (
        ["publish", "--to", "s3://bucket/prefix"],
        ["yank", "alpha", "1.0+hotfix.1", "--to", "s3://bucket/prefix"],
    ):
        assert_error(run(*args), 1, "pip install 'pyhotfix[s3]'")


def test_main_prints_one_error_line_and_exits_with_the_code(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["pyhotfix", "list"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No hotfixes.toml found") and err.count("\n") == 1

    monkeypatch.setattr(sys, "argv", ["pyhotfix", "build", "--jobs", "0"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2


def test_an_operation_failure_is_exit_1(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_manifest(project, {"alpha": "1.0"})

    def refuse(*args: object, **kwargs: object) -> object:
        raise PublishError("The index refused it. Try again.")

    monkeypatch.setattr("pyhotfix.publish.publish_built", refuse)
    assert_error(run("publish"), 1, "The index refused it. Try again.")


def test_a_bug_is_not_swallowed(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(project, {"alpha": "1.0"})

    def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("pyhotfix.listing.read_lock", broken)
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)
    monkeypatch.setattr(sys, "argv", ["pyhotfix", "list"])
    with pytest.raises(ZeroDivisionError):  # main lets it through: Python prints the traceback
        main()
