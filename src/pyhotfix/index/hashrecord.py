"""A record of the sha256 of each file in a local index, keyed by what `stat` says about it.

Checking a published file against the lock by hashing it costs a read of every byte; a no-op
`build` and `list` must not pay that each time. The record maps a file's key to the
(size, mtime_ns, ctime_ns, inode) it had when it was last hashed (or written by a publish) and
that sha256. While `stat` still says the same, the recorded hash stands; any write to the file,
even one that restores its mtime, changes its ctime, so the file is hashed again. It is a cache,
not a proof: `pyhotfix check` always hashes every byte.

The record is a directory beside ``simple/`` (never served) with one small JSON file per project,
so a large index costs no more per check than a small one; each file is rewritten atomically. A
missing, unreadable or malformed file is an empty record; one that cannot be written is simply not
kept.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from pyhotfix._atomic import write_atomic

__all__ = ["RECORD_NAME", "HashRecord", "Stamp", "stamp"]

RECORD_NAME = ".pyhotfix.hashes"
_FORMAT = 1
# A project's record larger than this is ignored (and rewritten): a hostile or runaway file must not
# cost memory or time. ~150 bytes a file: room for about 50,000 files of one project.
_MAX_BYTES = 8 << 20

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def stamp(st: os.stat_result) -> Stamp:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class HashRecord:
    """The record of the index rooted at `root`; each project's part is loaded on first use."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / RECORD_NAME
        self._shards: dict[str, dict[str, tuple[Stamp, str]]] = {}

    def lookup(self, key: str, current: Stamp) -> str | None:
        """The recorded sha256 of `key` if the file still has stamp `current`, else None."""
        found = self._load(_shard(key)).get(key)
        return found[1] if found is not None and found[0] == current else None

    def update(self, hashed: Mapping[str, tuple[Stamp, str]]) -> None:
        """Record these (stamp, sha256) and write the record; best effort (a cache)."""
        by_shard: dict[str, dict[str, tuple[Stamp, str]]] = {}
        for key, value in hashed.items():
            by_shard.setdefault(_shard(key), {})[key] = value
        for shard, values in by_shard.items():
            if all(self._load(shard).get(k) == v for k, v in values.items()):
                continue
            # Re-read first: another process may have recorded other files since we loaded.
            self._shards.pop(shard, None)
            entries = self._load(shard)
            entries.update(values)
            self._write(shard, entries)

    def _load(self, shard: str) -> dict[str, tuple[Stamp, str]]:
        if shard not in self._shards:
            self._shards[shard] = _read(self.path / f"{shard}.json")
        return self._shards[shard]

    def _write(self, shard: str, entries: Mapping[str, tuple[Stamp, str]]) -> None:
        doc = {
            "format": _FORMAT,
            "files": {k: [*entries[k][0], entries[k][1]] for k in sorted(entries)},
        }
        target = self.path / f"{shard}.json"
        with contextlib.suppress(OSError):  # a cache: failing to write one only costs a rehash
            self.path.mkdir(exist_ok=True)
            write_atomic(target, json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def _shard(key: str) -> str:
    """The project a key belongs to ("simple/<project>/<file>"), else "_"."""
    parts = key.split("/")
    name = parts[1] if len(parts) == 3 and parts[0] == "simple" else ""
    ok = name and name not in (".", "..") and all(c.isalnum() or c in "-_." for c in name)
    return name if ok else "_"


def _read(path: Path) -> dict[str, tuple[Stamp, str]]:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return {}
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    files = doc.get("files") if isinstance(doc, dict) and doc.get("format") == _FORMAT else None
    if not isinstance(files, dict):
        return {}
    entries: dict[str, tuple[Stamp, str]] = {}
    for key, value in files.items():
        if (
            isinstance(value, list)
            and len(value) == 5
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[:4])
            and isinstance(value[4], str)
            and len(value[4]) == 64
            and all(c in "0123456789abcdef" for c in value[4])
        ):
            entries[str(key)] = ((value[0], value[1], value[2], value[3]), value[4])
    return entries
