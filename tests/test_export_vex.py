"""`export --format vex` (CycloneDX 1.6 VEX, schema-validated) and `--format pip-audit` (checked
with the real pip-audit against a fake OSV service on 127.0.0.1): scanners stop flagging the
advisories a hotfix build fixes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pyhotfix.lock import Lock, lock_path, read_lock, render_lock
from pyhotfix.manifest import load_manifest
from pyhotfix.pipeline import inputs_key
from pyhotfix.sbom import hotfix_purl
from tests.conftest import Pyhotfix
from tests.support.cyclonedx import cyclonedx_problem
from tests.support.loopback import LoopbackServer
from tests.support.manifests import write_lock, write_manifest
from tests.support.tools import tool_executable

FIXES = {"alpha": ["CVE-2024-37891", "PYSEC-2024-12"], "beta": ["CVE-2024-37891"]}


def built_app(tmp_path: Path, fixes: dict[str, list[str]] = FIXES) -> Path:
    """hotfixes.toml with `fixes` per hotfix (and a third without), locked as built from it."""
    path = write_manifest(tmp_path, {"alpha": "1.0", "beta": "2.0", "gamma": "3.0"})
    text = path.read_text()
    for name, ids in fixes.items():
        listed = ", ".join(f'"{i}"' for i in ids)
        marker = f'[hotfix."{name}"]\n'
        text = text.replace(marker, f"{marker}fixes = [{listed}]\n")
    path.write_text(text)
    write_lock(
        path,
        {
            "alpha": ("1.0+hotfix.1", ("alpha-1.0+hotfix.1-py3-none-any.whl",)),
            "beta": ("2.0+hotfix.3", ("beta-2.0+hotfix.3.tar.gz",)),
            "gamma": ("3.0+hotfix.1", ("gamma-3.0+hotfix.1.tar.gz",)),
        },
    )
    # the lock's inputs are those of the manifest as it stands: built, not stale
    manifest = load_manifest(path)
    lock = read_lock(lock_path(path))
    entries = {
        name: dataclasses.replace(
            entry, inputs=inputs_key(manifest.get(name), "hotfix", manifest.directory)
        )
        for name, entry in lock.hotfixes.items()
    }
    lock_path(path).write_text(render_lock(Lock(entries)))
    return tmp_path


def test_vex_is_valid_cyclonedx_and_says_resolved(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = built_app(tmp_path)
    run = pyhotfix("export", "--format", "vex", cwd=app)
    assert run.code == 0, run.output
    assert cyclonedx_problem(run.stdout) is None
    document = json.loads(run.stdout)
    alpha = hotfix_purl("alpha", "1.0+hotfix.1")
    beta = hotfix_purl("beta", "2.0+hotfix.3")
    assert alpha == "pkg:pypi/alpha@1.0%2Bhotfix.1"  # the SBOM's bom-ref of that build
    assert [c["bom-ref"] for c in document["components"]] == [alpha, beta]  # not gamma
    cve, pysec = document["vulnerabilities"]
    assert cve["id"] == "CVE-2024-37891" and pysec["id"] == "PYSEC-2024-12"
    assert cve["analysis"]["state"] == "resolved"
    assert [a["ref"] for a in cve["affects"]] == [alpha, beta]
    assert cve["affects"][1]["versions"] == [{"version": "2.0+hotfix.3", "status": "unaffected"}]
    assert pysec["source"]["url"] == "https://osv.dev/vulnerability/PYSEC-2024-12"
    # the same statements give the same file (serial number included)
    again = pyhotfix("export", "--format", "vex", "-o", app / "vex.json", cwd=app)
    assert again.code == 0, again.output
    assert (app / "vex.json").read_text() == run.stdout
    assert "file://" not in run.stderr  # no note about the index: the VEX names none


def test_stale_or_missing_fixes_are_refused(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = built_app(tmp_path / "a")
    manifest = app / "hotfixes.toml"
    manifest.write_text(manifest.read_text().replace('"PYSEC-2024-12"', '"PYSEC-2024-13"'))
    stale = pyhotfix("export", "--format", "vex", cwd=app)
    assert stale.code == 1, stale.output
    assert "alpha: the manifest entry changed since the hotfix was built" in stale.stderr
    assert "Traceback" not in stale.output

    none = pyhotfix("export", "--format", "pip-audit", cwd=built_app(tmp_path / "b", {}))
    assert none.code == 2, none.output
    assert "lists the advisories it fixes" in none.stderr


def test_pip_audit_file_has_one_option_per_advisory(tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    app = built_app(tmp_path)
    run = pyhotfix("export", "--format", "pip-audit", cwd=app)
    assert run.code == 0, run.output
    options = [line for line in run.stdout.splitlines() if not line.startswith("#")]
    assert options == ["--ignore-vuln=CVE-2024-37891", "--ignore-vuln=PYSEC-2024-12"]
    assert "# fixed in beta 2.0+hotfix.3 (upstream 2.0)" in run.stdout


class _FakeOsv(BaseHTTPRequestHandler):
    """OSV's query API for one package: demo-vuln < 1.1 has PYSEC-2024-12 (alias a CVE)."""

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        vulns = []
        if query["package"]["name"] == "demo-vuln":
            vulns.append(
                {
                    "id": "PYSEC-2024-12",
                    "aliases": ["CVE-2024-37891"],
                    "summary": "answer() is wrong",
                    "affected": [
                        {
                            "package": {"name": "demo-vuln", "ecosystem": "PyPI"},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": "1.1"}],
                                }
                            ],
                        }
                    ],
                }
            )
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_osv() -> Iterator[str]:
    server = LoopbackServer(("127.0.0.1", 0), _FakeOsv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_real_pip_audit_ignores_what_the_hotfix_fixes(
    tmp_path: Path, pyhotfix: Pyhotfix, fake_osv: str
) -> None:
    app = built_app(tmp_path / "app", {"alpha": ["CVE-2024-37891"]})
    exported = pyhotfix("export", "--format", "pip-audit", "-o", app / "ignore.txt", cwd=app)
    assert exported.code == 0, exported.output
    options = [
        line for line in (app / "ignore.txt").read_text().splitlines() if not line.startswith("#")
    ]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("demo-vuln==1.0+hotfix.1\n")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "HTTP", "HTTPS", "ALL_"))
    }
    env |= {"PIP_AUDIT_OSV_URL": fake_osv, "HOME": str(tmp_path), "NO_PROXY": "127.0.0.1"}

    def audit(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(tool_executable("pip-audit")),
                *("--vulnerability-service", "osv", "--no-deps", "--disable-pip"),
                *("--progress-spinner", "off", "--cache-dir", str(tmp_path / "cache")),
                *("-r", str(requirements), *extra),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    flagged = audit()
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert "PYSEC-2024-12" in flagged.stdout
    # the CVE the manifest lists is an alias of the finding: ignored
    ignored = audit(*options)
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    assert "No known vulnerabilities found" in ignored.stdout + ignored.stderr
