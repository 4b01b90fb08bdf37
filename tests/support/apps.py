"""Application directories as a user has them: a hotfixes.toml (with its patch), and for
`make_app` a matching hotfixes.lock and built hotfix-index/."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pyhotfix.index import LocalIndex
from pyhotfix.lock import LockedFile, LockedHotfix, lock_path, locked_update
from pyhotfix.manifest import load_manifest
from pyhotfix.pipeline import inputs_key
from tests.support.dists import make_sdist, make_wheel
from tests.support.fakeindex import FakeIndex
from tests.support.projects import module_name

__all__ = ["APP_CANON", "APP_NAME", "FIX", "app_dir", "fix_patch", "index_files", "make_app"]

FIX = "    return 42  # fixed\n"
"""The fixed line of answer() in the projects of tests.support.projects."""

APP_NAME = "My_Pkg.Extra"
APP_CANON = "my-pkg-extra"


def fix_patch(name: str, extra: str = "") -> str:
    """A git-style patch that fixes answer() in the project's package (`extra` is appended to the
    fixed line's comment, for a second, different fix)."""
    mod = module_name(name)
    return (
        f"diff --git a/{mod}/__init__.py b/{mod}/__init__.py\n"
        f"--- a/{mod}/__init__.py\n"
        f"+++ b/{mod}/__init__.py\n"
        "@@ -1,3 +1,3 @@\n"
        " def answer() -> int:\n"
        '     """Return the answer."""\n'
        "-    return 41  # bug: should be 42\n"
        f"+{FIX.rstrip()}{extra}\n"
    )


def app_dir(tmp_path: Path, upstream: FakeIndex, body: str = "") -> Path:
    app = tmp_path / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "hotfixes.toml").write_text(f'[settings]\nupstream = "{upstream.url}"\n\n{body}')
    return app


def index_files(app: Path) -> list[str]:
    """The names of the wheels and sdists in the app's hotfix-index/ (none if it is missing)."""
    root = app / "hotfix-index"
    found = root.rglob("*") if root.exists() else ()
    return sorted(p.name for p in found if p.name.endswith((".whl", ".tar.gz")))


def make_app(
    tmp_path: Path, settings: str = "", versions: Sequence[str] = ("1.0+hotfix.1",)
) -> Path:
    """hotfixes.toml + hotfixes.lock for My_Pkg.Extra 1.0, its built files in hotfix-index/; the
    lock's inputs match the manifest, so `pyhotfix build` finds it up to date."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "fix.patch").write_text("")
    (app / "hotfixes.toml").write_text(
        f'[settings]\n{settings}\n[hotfix."{APP_NAME}"]\nversion = "1.0"\npatches = ["fix.patch"]\n'
    )
    built = LocalIndex(app / "hotfix-index")
    dist = tmp_path / "dist"
    for version in versions:
        files = [make_wheel(dist, APP_NAME, version), make_sdist(dist, APP_NAME, version)]
        built.publish(APP_NAME, files, tracks=f"https://pypi.org/simple/{APP_CANON}/")
    number = int(versions[-1].rsplit(".", 1)[1])
    manifest = load_manifest(app / "hotfixes.toml")
    files = [make_wheel(dist, APP_NAME, versions[-1]), make_sdist(dist, APP_NAME, versions[-1])]
    entry = LockedHotfix(
        name=APP_CANON,
        version="1.0",
        hotfix_version=versions[-1],
        number=number,
        label="hotfix",
        inputs=inputs_key(manifest.get(APP_NAME), manifest.settings.label, app),
        upstream_url=f"https://files.example/{APP_CANON}-1.0.tar.gz",
        upstream_sha256="1" * 64,
        patches=(),
        files=tuple(
            LockedFile(f.name, hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_size)
            for f in files
        ),
        backend="setuptools",
        backend_version="70.0",
        python="3.11",
        pyhotfix="0",
        source_date_epoch=315532800,
    )
    with locked_update(lock_path(app / "hotfixes.toml")) as entries:
        entries[APP_CANON] = entry
    return app
