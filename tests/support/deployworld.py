"""The world a deployment lives in, for the deploy matrix (issue 11): real indexes on 127.0.0.1 and a
way to tell, by bytes, which build of the hotfixed package an environment really got.

- a fake PyPI: `demo-six` 1.0 (the buggy release: answer() is 41) and a *higher* 1.1 (still 41),
  and `demo-dateutil` 1.0, which requires `demo-six>=1.0` (the transitive case);
- an attacker's index: `demo-six` 1.0+hotfix.1 (the hotfix's own version, other bytes: answer() is
  666) and 99.0 (a higher version), plus `demo-dateutil` 1.0 so that it looks like a full mirror;
- the app's hotfixes: `demo-six==1.0` hotfixed through the real CLI (1.0+hotfix.1, answer() is 42),
  its hotfix index served over HTTP.

`installed_origin(python, world)` reads the installed distribution's version and RECORD in that
environment, checks the files on disk against their RECORD hashes, and compares them with the
hotfix wheel's RECORD: "hotfix" only when every file of the built wheel is installed with its hash.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal

from pyhotfix.building import EnvCache
from pyhotfix.index import LocalIndex
from pyhotfix.lock import read_lock
from tests.conftest import Pyhotfix
from tests.support.apps import fix_patch
from tests.support.dists import make_wheel as make_bare_wheel
from tests.support.loopback import LoopbackServer
from tests.support.projects import make_project, make_sdist, make_wheel

__all__ = [
    "HOTFIXED",
    "MODULE",
    "PARENT",
    "DeployWorld",
    "Origin",
    "assert_verify_agrees",
    "deploy_world",
    "installed_origin",
    "requirement_for",
    "serve_directory",
]

HOTFIXED = "demo-six"
MODULE = "demo_six"
PARENT = "demo-dateutil"  # requires demo-six>=1.0
HOTFIX_VERSION = "1.0+hotfix.1"

Origin = Literal["hotfix", "upstream", "attacker", "absent", "other"]
"""hotfix: every file of the built wheel installed with its hash; upstream: a public release;
attacker: the hotfix's own version or 99.0 with other bytes; absent: not installed."""
Dependency = Literal["direct", "transitive"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """A static web server on 127.0.0.1 over `root`; yields its base URL (no trailing slash)."""
    server = LoopbackServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class DeployWorld:
    root: Path
    pypi_url: str  # the fake PyPI's simple URL (…/simple/)
    attacker_url: str  # the attacker's index (…/simple/)
    app: Path  # the directory of hotfixes.toml and hotfixes.lock; the hotfix index is app/hotfix-index
    hotfix_url: str  # the hotfix index over HTTP (…/simple/)
    hotfix_version: str
    hotfix_wheel: Path  # the built wheel in the hotfix index
    cli: Pyhotfix

    @property
    def manifest(self) -> Path:
        return self.app / "hotfixes.toml"


def requirement_for(dependency: Dependency) -> str:
    """The app's own requirement: the hotfixed package itself, or the package that pulls it in."""
    return f"{HOTFIXED}>=1.0" if dependency == "direct" else f"{PARENT}==1.0"


@contextmanager
def deploy_world(root: Path, envs: EnvCache, cli: Pyhotfix) -> Iterator[DeployWorld]:
    """Build the indexes (real builds of the upstream project, the hotfix through the real CLI) and
    serve them on 127.0.0.1 for the duration of the context."""
    dist = root / "dist"
    old = make_project(root / "up-1.0", HOTFIXED, "1.0", "hatchling")
    new = make_project(root / "up-1.1", HOTFIXED, "1.1", "hatchling")
    parent = make_bare_wheel(dist / "parent", PARENT, "1.0", requires=[f"{HOTFIXED}>=1.0"])
    LocalIndex(root / "pypi", fsync=False).publish(
        HOTFIXED,
        [make_sdist(old, dist, envs), make_wheel(old, dist, envs), make_wheel(new, dist, envs)],
    )
    LocalIndex(root / "pypi", fsync=False).publish(PARENT, [parent])
    evil = "def answer() -> int:\n    return 666\n"
    LocalIndex(root / "attacker", fsync=False).publish(
        HOTFIXED,
        [
            make_bare_wheel(dist / "attacker", HOTFIXED, HOTFIX_VERSION, body=evil),
            make_bare_wheel(dist / "attacker", HOTFIXED, "99.0", body=evil),
        ],
    )
    LocalIndex(root / "attacker", fsync=False).publish(PARENT, [parent])
    with ExitStack() as stack:
        pypi = stack.enter_context(serve_directory(root / "pypi")) + "/simple/"
        attacker = stack.enter_context(serve_directory(root / "attacker")) + "/simple/"
        app = root / "hotfixes"
        app.mkdir()
        (app / "hotfixes.toml").write_text(f'[settings]\nupstream = "{pypi}"\n')
        (app / "fix.patch").write_text(fix_patch(HOTFIXED))
        added = cli("add", f"{HOTFIXED}==1.0", "--patch", "fix.patch", cwd=app)
        if added.code != 0:
            raise RuntimeError(f"the deploy world's hotfix did not build:\n{added.output}")
        locked = read_lock(app / "hotfixes.lock").hotfixes[HOTFIXED]
        assert locked.hotfix_version == HOTFIX_VERSION, locked
        (wheel,) = [f.filename for f in locked.files if f.filename.endswith(".whl")]
        hotfix = stack.enter_context(serve_directory(app / "hotfix-index")) + "/simple/"
        yield DeployWorld(
            root=root,
            pypi_url=pypi,
            attacker_url=attacker,
            app=app,
            hotfix_url=hotfix,
            hotfix_version=HOTFIX_VERSION,
            hotfix_wheel=next((app / "hotfix-index").rglob(wheel)),
            cli=cli,
        )


_PROBE = """
import base64, hashlib, json, sys
from importlib import metadata
try:
    dist = metadata.distribution(sys.argv[1])
except metadata.PackageNotFoundError:
    print(json.dumps(None)); raise SystemExit
record, intact = {}, True
for entry in dist.files or ():
    if entry.hash is None:
        continue
    record[str(entry).replace("\\\\", "/")] = entry.hash.value
    data = entry.locate().read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    intact = intact and digest == entry.hash.value
print(json.dumps({"version": dist.version, "record": record, "intact": intact}))
"""


def _wheel_record(wheel: Path) -> dict[str, str]:
    """path -> urlsafe-b64 sha256 of every file in the wheel (computed, not read from RECORD)."""
    record: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir() or info.filename.endswith(".dist-info/RECORD"):
                continue
            digest = hashlib.sha256(zf.read(info)).digest()
            record[info.filename] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return record


def installed_origin(python: Path, world: DeployWorld) -> Origin:
    """Which build of the hotfixed package the environment of `python` has, judged by bytes."""
    done = subprocess.run(
        [str(python), "-c", _PROBE, HOTFIXED],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout)
    if found is None:
        return "absent"
    expected = _wheel_record(world.hotfix_wheel)
    installed: dict[str, str] = found["record"]
    if found["intact"] and all(installed.get(path) == digest for path, digest in expected.items()):
        return "hotfix"
    if found["version"] in ("1.0", "1.1"):
        return "upstream"
    if found["version"] in (HOTFIX_VERSION, "99.0"):
        return "attacker"
    return "other"


def assert_verify_agrees(
    world: DeployWorld, *args: str | Path, tool_dir: Path | None = None, cwd: Path | None = None
) -> None:
    """`pyhotfix verify ARGS --json` says ok in every environment it installs (fresh and over an
    installed upstream, when the default index has upstream's release), as the matrix cell that
    calls it found by the installed bytes; the project tool's own directory (`tool_dir`) first
    on PATH."""
    path = os.environ["PATH"] if tool_dir is None else f"{tool_dir}{os.pathsep}{os.environ['PATH']}"
    manifest = ("-m", world.manifest)
    run = world.cli(*manifest, "verify", *args, "--json", cwd=cwd or world.app, env={"PATH": path})
    assert "Traceback" not in run.output and run.stdout.strip(), run.output
    report = json.loads(run.stdout)
    results = {(c["installer"], c["environment"]): c for c in report["checks"]}
    assert any(env == "fresh" for _, env in results), run.output
    for (_installer, environment), check in results.items():
        # Over upstream needs upstream's release from the default index: the attacker's has none.
        unavailable = "could not install the upstream releases first" in check["reason"]
        assert check["result"] == "ok" or (environment != "fresh" and unavailable), run.output
    assert run.code == 0, run.output
