"""The content-addressed download cache: blobs by sha256 and small JSON records, written
atomically so concurrent builds can share it."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs

from pyhotfix._atomic import store_atomic, write_atomic
from pyhotfix.errors import UpstreamError

__all__ = ["HEX64", "Cache", "WriteFn", "default_cache_dir"]

HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    """$PYHOTFIX_CACHE_DIR, else the per-user cache directory of the platform."""
    env = os.environ.get("PYHOTFIX_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    # appauthor=False: otherwise Windows nests the name twice (pyhotfix\pyhotfix\Cache).
    return Path(platformdirs.user_cache_dir("pyhotfix", appauthor=False))


WriteFn = Callable[[BinaryIO], str]


class Cache:
    """A content-addressed store of downloads plus small JSON records, safe for concurrent use.

    Blobs live at root/blobs/sha256/<hex[:2]>/<hex>; records at root/records/<h[:2]>/<h>.json
    where h hashes the record key. Every write is a temp file plus os.replace.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def _record_path(self, key: str) -> Path:
        h = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "records" / h[:2] / f"{h}.json"

    def get(self, sha256: str) -> Path | None:
        """The cached blob with this sha256, or None (also for anything that is not a sha256)."""
        sha256 = sha256.lower()
        if not HEX64.fullmatch(sha256):
            return None
        path = self._blob_path(sha256)
        return path if path.is_file() else None

    def put_bytes(self, data: bytes) -> tuple[str, Path]:
        digest = hashlib.sha256(data).hexdigest()
        existing = self.get(digest)
        if existing is not None:
            return digest, existing

        def write(fh: BinaryIO) -> str:
            fh.write(data)
            return digest

        return digest, self.store(write)

    def put_file(self, src: Path) -> tuple[str, Path]:
        with src.open("rb") as source:

            def write(fh: BinaryIO) -> str:
                h = hashlib.sha256()
                while chunk := source.read(_CHUNK):
                    h.update(chunk)
                    fh.write(chunk)
                return h.hexdigest()

            path = self.store(write)
        return path.name, path

    def store(self, write: WriteFn) -> Path:
        """Store what `write` writes under the sha256 it returns; it may raise to store nothing."""
        try:
            return store_atomic(self.root / "tmp", write, self._blob_path)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def get_record(self, key: str) -> dict[str, Any] | None:
        try:
            raw = json.loads(self._record_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: a cache miss, never an error
        if isinstance(raw, dict) and raw.get("key") == key and isinstance(raw.get("value"), dict):
            value: dict[str, Any] = raw["value"]
            return value
        return None

    def put_record(self, key: str, value: dict[str, Any]) -> None:
        path = self._record_path(key)
        data = json.dumps({"key": key, "value": value}, indent=2, sort_keys=True).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: OSError) -> UpstreamError:
        return UpstreamError(
            f"could not write to the pyhotfix cache at {self.root} ({exc.strerror or exc}). "
            "Check free disk space and permissions, or set PYHOTFIX_CACHE_DIR to a writable "
            "directory."
        )
