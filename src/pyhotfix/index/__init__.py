"""A static "simple" package repository, served by anything that serves files.

`StaticIndex` (static.py) holds the operations and the write rules (transaction.py, pages.py); a
`Storage` holds the bytes: `DirStorage` (storage.py, a local directory, `LocalIndex`) or S3 (s3.py,
`ObjectIndex`). Same layout in both. integrity.py checks an index against the lock.

Layout (``<root>`` is ``hotfix-index/`` by default)::

    <root>/
      .pyhotfix.lock                    empty; flock()ed while pages change (safe to .gitignore)
      .pyhotfix.hashes/<project>.json   sha256 of each file by its stat: a cache (safe to .gitignore)
      simple/                           the index URL: file:///…/simple/ or https://host/…/simple/
        index.html  index.json          root page: one link per project in this index
        <canonical-name>/               PEP 503 normalised name, e.g. my-pkg-extra/
          index.html  index.json        project page: one link per file
          <filename>                    the sdists and wheels themselves, next to their pages
          <wheel filename>.metadata     the wheel's METADATA, byte for byte (PEP 658)
          <filename>.intoto.json        its in-toto provenance statement (pyhotfix.provenance)

Pages:

- HTML (PEP 503): ``<!DOCTYPE html>``, ``<meta name="pypi:repository-version">`` (PEP 629); each
  file is ``<a href="<percent-encoded filename>#sha256=<hex>">filename</a>`` with
  ``data-requires-python`` (html-escaped), ``data-core-metadata`` and ``data-dist-info-metadata``
  (PEP 658/714, wheels only) and ``data-yanked`` (PEP 592). Links are relative and percent-encoded
  (``+`` as ``%2B``: S3 and several CDNs decode a raw ``+`` in a path as a space).
- JSON (PEP 691/700): ``meta.api-version``, ``name``, ``versions``, ``files[]`` with ``filename``,
  ``url``, ``hashes.sha256``, ``requires-python`` (only when set), ``core-metadata``, ``size``,
  ``upload-time`` (UTC, ``…Z``) and ``yanked``. The JSON key ``dist-info-metadata`` is never
  written: PEP 714 forbids it there because pip 22.3 to 23.1 crash on it.
- ``tracks`` (PEP 708) becomes ``meta.tracks`` / ``<meta name="pypi:tracks">`` and points at the
  upstream project page. PEP 708 is API version 1.2, so a page that carries it says "1.2"; every
  other page says "1.1".

A static server returns ``index.html`` for a directory URL, which is what pip and uv read;
``index.json`` sits beside it for tools (and for servers configured to negotiate PEP 691).

State: a project's ``index.json`` is the source of truth (hashes, sizes, upload times, yanks,
tracks); publishing reads it, adds entries and rewrites both pages of that project only, plus the
root pages when the project is new to them. Existing files are never re-hashed. A corrupt
``index.json`` is an error, never silently replaced. Pages are a pure function of the JSON
(``regenerate()`` rewrites them all) and deterministic: files sorted by name, versions by PEP 440,
one file or project per JSON line, so a committed index diffs cleanly.

Safety: a filename is never overwritten with different bytes. All files of a call are checked
before anything is written; then dists and ``.metadata`` are stored, then each project's
``index.json`` (the record, and the commit point), then its ``index.html``, then the root pages;
so no page ever links to a missing or partial file. A crash between the steps leaves pages that
list less than is stored, and the next publish completes them (it compares each touched HTML
page with its record and rewrites it if they differ).

Locally, every write is atomic (temp file in the same directory, fsync, rename); a bulk step (more
than ``_BULK_SYNC`` files, e.g. ``publish_many``) makes one ``sync()`` instead of one fsync per
file, with the same ordering. ``LocalIndex(root, fsync=False)`` keeps the atomic renames but skips
flushing, for throwaway indexes. A file on disk but not listed in ``index.json`` is kept if it
has the bytes being published (an interrupted publish) and refused otherwise, never replaced; a
listed file deleted by hand is restored when the same bytes are published again, and a listed file
whose bytes changed is reported and refused, never called unchanged. ``.pyhotfix.hashes/``
(hashrecord.py) beside ``simple/`` records each written file's hash with its stat, so checks
against the lock need not re-read unchanged files. Concurrent publishers (processes or threads)
serialise on the lock file, which lives outside ``simple/`` so it is never served. Where nothing can be locked
(object storage), every ``index.json`` write is conditional on the version read and retried from a
fresh read when another publisher won, and whoever writes an HTML page re-reads the record after
and renders again if it moved on, so the last page written always shows the last record.
"""

from __future__ import annotations

from pyhotfix.index.static import LocalIndex, StaticIndex
from pyhotfix.index.storage import (
    LOCK_NAME,
    Blob,
    DirStorage,
    FileDigest,
    FileWrite,
    PageWrite,
    Storage,
)
from pyhotfix.index.transaction import PublishResult
from pyhotfix.simpleapi import IndexEntry

__all__ = [
    "LOCK_NAME",
    "Blob",
    "DirStorage",
    "FileDigest",
    "FileWrite",
    "IndexEntry",
    "LocalIndex",
    "PageWrite",
    "PublishResult",
    "StaticIndex",
    "Storage",
]
