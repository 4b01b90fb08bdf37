"""Manifests and locks written by tests, for CLI tests that need no upstream, build or network."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pyhotfix.lock import Lock, LockedFile, LockedHotfix, LockedPatch, lock_path, render_lock

__all__ = ["write_lock", "write_manifest"]


def write_manifest(
    directory: Path, hotfixes: Mapping[str, str], *, reason: str | None = None
) -> Path:
    """hotfixes.toml in `directory` with one [hotfix.NAME] per item (NAME → upstream version),
    each with one patch file (written too) and an upstream that is never contacted."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fix.patch").write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    text = '[settings]\nupstream = "http://127.0.0.1:9/simple/"\n'
    for name, version in hotfixes.items():
        text += f'\n[hotfix."{name}"]\nversion = "{version}"\npatches = ["fix.patch"]\n'
        if reason is not None:
            text += f'reason = "{reason}"\n'
    path = directory / "hotfixes.toml"
    path.write_text(text)
    return path


def write_lock(manifest: Path, hotfixes: Mapping[str, tuple[str, tuple[str, ...]]]) -> Path:
    """hotfixes.lock beside `manifest`: NAME → (hotfix version, built filenames)."""
    entries = {}
    for name, (hotfix_version, filenames) in hotfixes.items():
        version, _, local = hotfix_version.partition("+")
        entries[name] = LockedHotfix(
            name=name,
            version=version,
            hotfix_version=hotfix_version,
            number=int(local.rpartition(".")[2]),
            label="hotfix",
            inputs="0" * 64,
            upstream_url=f"http://127.0.0.1:9/files/{name}-{version}.tar.gz",
            upstream_sha256="1" * 64,
            patches=(LockedPatch("fix.patch", "2" * 64),),
            files=tuple(LockedFile(f, "3" * 64, 10) for f in filenames),
            backend="setuptools.build_meta",
            backend_version="80.0",
            python="3.11",
            pyhotfix="0",
            source_date_epoch=0,
        )
    path = lock_path(manifest)
    path.write_text(render_lock(Lock(entries)))
    return path
