"""The github-actions format: `.github/workflows/pyhotfix.yml`, which builds wheels of the locked
hotfix sdists with cibuildwheel on Linux, macOS and Windows runners and publishes them.

Why it looks the way it does:

- The sdist is the locked one, fetched from the hotfix index (or, for a directory index, taken
  from the checkout) and checked against hotfixes.lock's sha256; it is not rebuilt on the runner.
  A rebuild would only be accepted if it gave the locked bytes, and a runner's Python and compiler
  differ from the machine that made the lock; the locked sdist is what every wheel must come from.
- cibuildwheel (pinned, from PyPI, not a third-party action) builds in the manylinux/musllinux
  containers on Linux and repairs with auditwheel, delocate or delvewheel, with SOURCE_DATE_EPOCH
  from the lock. Only hotfixes with compiled wheels are built: a pure wheel already installs
  everywhere (and cibuildwheel refuses pure builds).
- Publishing: an upload registry (`upload = true`) gets `twine upload` with credentials from
  repository secrets named here (never a value). A directory or bucket index is not reachable from
  a runner, and `pyhotfix publish` publishes only locked files, so the wheels become the workflow
  artifact `hotfix-wheels` with instructions and their sha256 in the job summary.
- Values from the lock and the manifest reach the shell only single-quoted, never as `${{ }}`
  expressions, and the workflow asks for read-only repository access.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.export.common import header, shell_quote, text
from pyhotfix.deploy.export.values import ExportedFile, ExportOptions
from pyhotfix.errors import UsageError
from pyhotfix.lock import lock_path, read_lock
from pyhotfix.manifest import load_manifest

__all__ = [
    "ACTIONS",
    "CIBUILDWHEEL",
    "PASSWORD_SECRET",
    "TWINE",
    "USERNAME_SECRET",
    "WHEELS_ARTIFACT",
    "WORKFLOW_PATH",
    "github_actions",
]

WORKFLOW_PATH = ".github/workflows/pyhotfix.yml"
CIBUILDWHEEL = "cibuildwheel==4.3.5"
TWINE = "twine==6.2.0"
USERNAME_SECRET = "PYHOTFIX_UPLOAD_USERNAME"
PASSWORD_SECRET = "PYHOTFIX_UPLOAD_PASSWORD"
WHEELS_ARTIFACT = "hotfix-wheels"
RUNNERS = ("ubuntu-latest", "macos-latest", "windows-latest")
# Actions pinned by commit (a tag can be moved to other code), with the release as a comment.
ACTIONS = {
    "checkout": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    "setup-python": "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0",
    "upload-artifact": "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
    "download-artifact": (
        "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"
    ),
}
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class _Sdist:
    filename: str
    sha256: str
    source_date_epoch: int
    fetch: str  # the shell command that puts it at sdist/<filename>
    from_checkout: bool = False  # a directory index committed in the repository


def github_actions(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    compiled = [b for b in deployment.hotfixes if not b.wheel_is_pure and b.sdist is not None]
    if not compiled:
        raise UsageError(
            "No hotfix in hotfixes.lock has a compiled (platform) wheel, so there is nothing for "
            "cibuildwheel to build: the pure-Python wheels in the index install on every platform. "
            "Export a deployment format instead (e.g. --format constraints)."
        )
    lock = read_lock(lock_path(deployment.manifest_path))
    sdists = []
    for build in compiled:
        locked = lock.get(build.name)
        epoch = locked.source_date_epoch if locked is not None else 315532800
        sdists.append(_sdist(deployment, build, epoch))
    settings = load_manifest(deployment.manifest_path).settings
    upload_url = settings.index if settings.upload else None
    checkout = any(s.from_checkout for s in sdists)
    lines = header(
        "github-actions",
        "A GitHub Actions workflow: builds wheels of the locked hotfix sdists "
        f"({', '.join(b.name + ' ' + b.hotfix_version for b in compiled)})",
        "with cibuildwheel on Linux, macOS and Windows runners, from the sdist whose sha256",
        "hotfixes.lock records, then "
        + (
            f"uploads them to {upload_url} with the repository secrets"
            if upload_url
            else f"keeps them as the workflow artifact {WHEELS_ARTIFACT}."
        ),
        *(
            [
                f"{USERNAME_SECRET} and {PASSWORD_SECRET} (Settings → Secrets and variables → Actions)."
            ]
            if upload_url
            else [
                "The configured index is not reachable from GitHub's runners and pyhotfix publishes",
                "only the files hotfixes.lock records: download the wheels with",
                f"`gh run download RUN_ID --name {WHEELS_ARTIFACT} --dir wheelhouse`, check the",
                "sha256 the run's summary lists, and add them to the index you serve.",
            ]
        ),
        f"Write it to {WORKFLOW_PATH}; run it from the Actions tab (workflow_dispatch).",
    )
    lines += [
        "name: pyhotfix wheels",
        "",
        "on:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "concurrency:  # one publish at a time",
        "  group: pyhotfix-wheels",
        "  cancel-in-progress: false",
        "",
        "jobs:",
        "  sdist:",
        "    name: Locked hotfix sdists",
        "    runs-on: ubuntu-latest",
        "    steps:",
    ]
    if checkout:
        lines += [
            "      - uses: " + ACTIONS["checkout"],
            "        with:",
            "          persist-credentials: false",
        ]
    lines += [
        "      - name: Fetch the sdists and check them against hotfixes.lock",
        "        run: |",
        "          mkdir -p sdist",
    ]
    for sdist in sdists:
        lines += [
            f"          {sdist.fetch}",
            f"          echo {shell_quote(f'{sdist.sha256}  sdist/{sdist.filename}')} "
            "| sha256sum --check --strict",
        ]
    lines += [
        *_upload("hotfix-sdists", "sdist/"),
        "",
        "  wheels:",
        "    name: Wheels on ${{ matrix.os }}",
        "    needs: sdist",
        "    runs-on: ${{ matrix.os }}",
        "    strategy:",
        "      fail-fast: false",
        "      matrix:",
        "        # Linux aarch64: add ubuntu-24.04-arm (GitHub's Arm runners) where the plan has them.",
        f"        os: [{', '.join(RUNNERS)}]",
        "    steps:",
        "      - uses: " + ACTIONS["download-artifact"],
        "        with:",
        "          name: hotfix-sdists",
        "          path: sdist",
        "      - uses: " + ACTIONS["setup-python"],
        "        with:",
        '          python-version: "3.12"',
        "      - name: Build wheels with cibuildwheel",
        "        shell: bash",
        "        env:",
        "          CIBW_ARCHS_MACOS: x86_64 arm64",
        "          CIBW_ENVIRONMENT_PASS_LINUX: SOURCE_DATE_EPOCH",
        '          CIBW_BUILD_VERBOSITY: "1"',
        "        run: |",
        f"          python -m pip install {shell_quote(CIBUILDWHEEL)}",
    ]
    for sdist in sdists:
        lines.append(
            f"          SOURCE_DATE_EPOCH={sdist.source_date_epoch} python -m cibuildwheel "
            f"--output-dir wheelhouse {shell_quote('sdist/' + sdist.filename)}"
        )
    lines += _upload("wheels-${{ matrix.os }}", "wheelhouse/*.whl")
    lines += ["", *_publish(upload_url)]
    return (ExportedFile(WORKFLOW_PATH, text(lines)),)


def _sdist(deployment: Deployment, build: HotfixBuild, epoch: int) -> _Sdist:
    file = build.sdist
    assert file is not None  # filtered by the caller
    if not _FILENAME.fullmatch(file.filename) or not _SHA256.fullmatch(file.sha256):
        raise UsageError(
            f"hotfixes.lock records {build.name}'s sdist as {file.filename!r} with sha256 "
            f"{file.sha256!r}, which is not a distribution filename and hash; rebuild it with "
            f"`pyhotfix build {build.name}` instead of editing the lock."
        )
    scheme = urlsplit(deployment.index_url).scheme
    if scheme in ("http", "https"):
        url = deployment.file_url(build, file)
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise UsageError(
                "The index URL holds credentials; a workflow file must not. Give --index-url "
                "without them (a runner fetches the sdist anonymously; its sha256 is checked)."
            )
        fetch = (
            f"curl --fail --silent --show-error --location --proto '={scheme}' --max-time 600 "
            f"--output {shell_quote('sdist/' + file.filename)} {shell_quote(url)}"
        )
        return _Sdist(file.filename, file.sha256, epoch, fetch)
    # A directory index: the runner has the repository, so the index must be committed in it.
    local = deployment.local_file(build, file)
    relative = os.path.relpath(local, deployment.directory).replace(os.sep, "/") if local else None
    if relative is None or relative.startswith("../"):
        raise UsageError(
            f"The hotfix index {deployment.index_url} is a directory "
            + ("outside the directory of hotfixes.lock" if relative else "without the locked sdist")
            + f" ({file.filename}), which GitHub's runners cannot read. Pass --index-url with the "
            "http(s) URL the index is served at, or commit the index directory beside "
            "hotfixes.toml."
        )
    fetch = f"cp {shell_quote(relative)} {shell_quote('sdist/' + file.filename)}"
    return _Sdist(file.filename, file.sha256, epoch, fetch, from_checkout=True)


def _upload(name: str, path: str) -> list[str]:
    return [
        "      - uses: " + ACTIONS["upload-artifact"],
        "        with:",
        f"          name: {name}",
        f"          path: {path}",
        "          if-no-files-found: error",
    ]


def _publish(upload_url: str | None) -> list[str]:
    lines = [
        "  publish:",
        "    name: Publish the wheels",
        "    needs: wheels",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - uses: " + ACTIONS["download-artifact"],
        "        with:",
        "          pattern: wheels-*",
        "          path: wheelhouse",
        "          merge-multiple: true",
    ]
    if upload_url is None:
        return [
            *lines,
            "      - name: List the wheels with their sha256",
            "        run: |",
            "          {",
            "            echo '### Hotfix wheels (artifact " + WHEELS_ARTIFACT + ")'",
            "            echo",
            "            echo '```'",
            "            (cd wheelhouse && sha256sum -- *.whl)",
            "            echo '```'",
            '          } >> "$GITHUB_STEP_SUMMARY"',
            *_upload(WHEELS_ARTIFACT, "wheelhouse/*.whl"),
        ]
    parts = urlsplit(upload_url)
    if parts.username or parts.password:
        raise UsageError(
            "[settings] index holds credentials in its URL; a workflow file must not. Remove "
            f"them and set the repository secrets {USERNAME_SECRET} and {PASSWORD_SECRET}."
        )
    return [
        *lines,
        "      - uses: " + ACTIONS["setup-python"],
        "        with:",
        '          python-version: "3.12"',
        "      - name: Upload to the hotfix registry",
        "        env:",
        f"          TWINE_USERNAME: ${{{{ secrets.{USERNAME_SECRET} }}}}",
        f"          TWINE_PASSWORD: ${{{{ secrets.{PASSWORD_SECRET} }}}}",
        f"          TWINE_REPOSITORY_URL: {json.dumps(upload_url)}",
        "        run: |",
        f"          python -m pip install {shell_quote(TWINE)}",
        "          python -m twine upload --non-interactive wheelhouse/*.whl",
    ]
