"""The static simple repository: page conformance, safety rules, concurrency, real pip and uv."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyhotfix.errors import PublishError
from pyhotfix.index import LOCK_NAME, DirStorage, FileDigest, IndexEntry, LocalIndex
from pyhotfix.index.hashrecord import RECORD_NAME, HashRecord, stamp
from tests.support.dists import make_sdist, make_wheel
from tests.support.pages import Page

FIXED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
NAME = "My_Pkg.Extra"
CANON = "my-pkg-extra"


def fixed_now() -> datetime:
    return FIXED


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        (member,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(member)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (the lock file and the hash record, a cache, aside), for "nothing
    was written" checks."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME and RECORD_NAME not in p.parts
    }


# -- parsing pages ---------------------------------------------------------------------------------


def project_page(index: LocalIndex, canon: str = CANON) -> tuple[str, Page, dict[str, Any]]:
    text = (index.simple / canon / "index.html").read_text("utf-8")
    doc = json.loads((index.simple / canon / "index.json").read_bytes())
    return text, Page(text), doc


@pytest.fixture
def dists(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "dist"
    return {
        "wheel": make_wheel(d, NAME, "1.0+hotfix.1", requires_python=">=3.8, <4"),
        "sdist": make_sdist(d, NAME, "1.0+hotfix.1", requires_python=">=3.8, <4"),
    }


@pytest.fixture
def index(tmp_path: Path) -> LocalIndex:
    return LocalIndex(tmp_path / "hotfix-index")


# -- conformance -----------------------------------------------------------------------------------


def test_pages_conform_to_peps_503_629_658_691_700_708(
    index: LocalIndex, dists: dict[str, Path]
) -> None:
    upstream = "https://pypi.org/simple/my-pkg-extra/"
    result = index.publish(NAME, [dists["sdist"], dists["wheel"]], tracks=upstream, now=fixed_now)
    wheel, sdist = dists["wheel"].name, dists["sdist"].name
    assert result.project == CANON
    assert result.added == tuple(sorted([wheel, sdist]))
    assert result.unchanged == ()

    text, page, doc = project_page(index)
    assert text.startswith("<!DOCTYPE html>")
    assert ("pypi:repository-version", "1.2") in page.meta  # 1.2: the page carries PEP 708 tracks
    assert ("pypi:tracks", upstream) in page.meta
    anchors = page.by_text()
    assert [t for _, t in page.anchors] == sorted([wheel, sdist])
    project_dir = index.simple / CANON
    for filename, attrs in anchors.items():
        href = attrs["href"] or ""
        url, _, fragment = href.partition("#")
        assert "+" not in url and "%2B" in url  # S3/CDNs read a raw "+" as a space
        assert unquote(url) == filename
        published = project_dir / filename
        source = dists["wheel" if filename == wheel else "sdist"]
        assert published.read_bytes() == source.read_bytes()
        assert fragment == f"sha256={sha256(published)}"
        assert attrs["data-requires-python"] == ">=3.8, <4"  # html.parser unescaped &lt;
        assert "data-yanked" not in attrs
    assert "&lt;4" in text  # and it was escaped in the HTML

    metadata = (project_dir / f"{wheel}.metadata").read_bytes()
    assert metadata == wheel_metadata(dists["wheel"])
    meta_hash = f"sha256={hashlib.sha256(metadata).hexdigest()}"
    assert anchors[wheel]["data-core-metadata"] == meta_hash
    assert anchors[wheel]["data-dist-info-metadata"] == meta_hash
    assert "data-core-metadata" not in anchors[sdist]
    assert not (project_dir / f"{sdist}.metadata").exists()

    assert doc["meta"] == {"api-version": "1.2", "tracks": [upstream]}
    assert doc["name"] == CANON
    assert doc["versions"] == ["1.0+hotfix.1"]
    files = {f["filename"]: f for f in doc["files"]}
    assert [f["filename"] for f in doc["files"]] == sorted(files)
    for filename, f in files.items():
        published = project_dir / filename
        assert f["url"] == quote(filename, safe="")
        assert f["hashes"] == {"sha256": sha256(published)}
        assert f["size"] == published.stat().st_size
        assert f["requires-python"] == ">=3.8, <4"
        assert f["upload-time"] == "2024-05-01T12:30:00.000000Z"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", f["upload-time"])
        assert f["yanked"] is False
        assert "dist-info-metadata" not in f  # PEP 714: never in JSON
    assert files[wheel]["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    assert files[sdist]["core-metadata"] is False

    root_text = (index.simple / "index.html").read_text()
    root = Page(root_text)
    assert root_text.startswith("<!DOCTYPE html>")
    assert ("pypi:repository-version", "1.1") in root.meta
    assert [(a["href"], t) for a, t in root.anchors] == [(f"{CANON}/", CANON)]
    assert json.loads((index.simple / "index.json").read_bytes()) == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": CANON}],
    }
    assert index.simple_url() == (index.root.resolve() / "simple").as_uri() + "/"


def test_pages_without_tracks_say_1_1_and_sdist_without_requires_python(
    index: LocalIndex, tmp_path: Path
) -> None:
    sdist = make_sdist(tmp_path / "d", "plain", "2.0")
    index.publish("plain", [sdist], now=fixed_now)
    text, page, doc = project_page(index, "plain")
    assert ("pypi:repository-version", "1.1") in page.meta
    assert not [m for m in page.meta if m[0] == "pypi:tracks"]
    assert doc["meta"] == {"api-version": "1.1"}
    (entry,) = doc["files"]
    assert "requires-python" not in entry
    assert "data-requires-python" not in text
    assert index.project_entries("plain") == [
        IndexEntry(
            filename=sdist.name,
            sha256=sha256(sdist),
            size=sdist.stat().st_size,
            requires_python=None,
            core_metadata_sha256=None,
            upload_time="2024-05-01T12:30:00.000000Z",
            yanked=False,
        )
    ]


def test_output_is_deterministic_and_adding_touches_only_that_project(tmp_path: Path) -> None:
    d = tmp_path / "d"
    a1, b1 = make_wheel(d, "alpha", "1.0+hotfix.1"), make_wheel(d, "beta", "2.0+hotfix.1")
    x, y = LocalIndex(tmp_path / "x"), LocalIndex(tmp_path / "y")
    x.publish("alpha", [a1], now=fixed_now)
    x.publish("beta", [b1], now=fixed_now)
    y.publish("beta", [b1], now=fixed_now)  # other order, same result
    y.publish("alpha", [a1], now=fixed_now)
    assert snapshot(x.root) == snapshot(y.root)

    before = snapshot(x.root)
    a2 = make_wheel(d, "alpha", "1.0+hotfix.2")
    x.publish("alpha", [a2], now=fixed_now)
    after = snapshot(x.root)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {
        "simple/alpha/index.html",
        "simple/alpha/index.json",
        f"simple/alpha/{a2.name}",
        f"simple/alpha/{a2.name}.metadata",
    }
    json_text = after["simple/alpha/index.json"].decode()
    # One line per file: a yank or an addition shows up in a diff as one line.
    file_lines = [line for line in json_text.splitlines() if '"filename"' in line]
    assert len(file_lines) == 2 and a2.name in file_lines[1]
    assert json.loads(json_text)["versions"] == ["1.0+hotfix.1", "1.0+hotfix.2"]


def test_publish_many_in_bulk_and_regenerate(tmp_path: Path) -> None:
    # 40 projects x 2 wheels = 160 files and .metadata files: the bulk path (one sync for all).
    d = tmp_path / "d"
    requests = [
        (f"Bulk_{i}", [make_wheel(d, f"Bulk_{i}", f"1.{k}+hotfix.1") for k in (0, 1)])
        for i in range(40)
    ]
    index = LocalIndex(tmp_path / "idx")
    results = index.publish_many(requests, tracks={"bulk-3": "https://pypi.org/simple/bulk-3"})
    assert [r.project for r in results] == [f"bulk-{i}" for i in range(40)]
    assert all(len(r.added) == 2 for r in results)
    root = Page((index.simple / "index.html").read_text())
    assert [t for _, t in root.anchors] == sorted(f"bulk-{i}" for i in range(40))
    _, page, _ = project_page(index, "bulk-3")
    assert ("pypi:tracks", "https://pypi.org/simple/bulk-3/") in page.meta
    before = snapshot(index.root)
    assert index.regenerate() == sorted(f"bulk-{i}" for i in range(40))
    assert snapshot(index.root) == before  # pages are a pure function of index.json

    # A hand edit of index.json (here: a yank) reaches the HTML page through regenerate().
    page_json = index.simple / "bulk-0" / "index.json"
    page_json.write_text(page_json.read_text().replace('"yanked": false', '"yanked": "bad"', 1))
    index.regenerate()
    assert 'data-yanked="bad"' in (index.simple / "bulk-0" / "index.html").read_text()


# -- the safety rules ------------------------------------------------------------------------------


def test_same_bytes_is_a_no_op(index: LocalIndex, dists: dict[str, Path]) -> None:
    index.publish(NAME, [dists["wheel"]], now=fixed_now)
    before = snapshot(index.root)
    result = index.publish("my.pkg-extra", [dists["wheel"]])  # any spelling of the name
    assert result.added == () and result.unchanged == (dists["wheel"].name,)
    assert snapshot(index.root) == before


def test_same_name_different_bytes_is_refused_and_nothing_is_written(
    index: LocalIndex, dists: dict[str, Path], tmp_path: Path
) -> None:
    index.publish(NAME, [dists["wheel"]], now=fixed_now)
    before = snapshot(index.root)
    rebuilt = make_wheel(tmp_path / "rebuilt", NAME, "1.0+hotfix.1", body="FIXED = True\n")
    assert rebuilt.name == dists["wheel"].name
    with pytest.raises(PublishError, match=r"never overwritten.*Bump the hotfix number") as exc:
        # The new sdist is fine on its own, but the call is all or nothing.
        index.publish(NAME, [dists["sdist"], rebuilt])
    assert dists["wheel"].name in str(exc.value)
    assert snapshot(index.root) == before
    assert not [p for p in index.root.rglob("*.tmp")]

    # publish_many is all or nothing across projects too.
    other = make_wheel(tmp_path / "o", "other", "1.0")
    with pytest.raises(PublishError):
        index.publish_many([("other", [other]), (NAME, [rebuilt])])
    assert snapshot(index.root) == before


def test_unlisted_stray_file_is_refused_and_a_leftover_is_kept(
    index: LocalIndex, dists: dict[str, Path]
) -> None:
    # A stray file that no page lists but has the hotfix's filename: refused, never overwritten.
    stray = index.simple / CANON / dists["wheel"].name
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"someone else's bytes")
    before = snapshot(index.root)
    with pytest.raises(PublishError, match=r"other content, although no page lists it") as exc:
        index.publish(NAME, [dists["wheel"], dists["sdist"]])
    assert str(stray) in str(exc.value) and "delete it and publish again" in str(exc.value)
    assert snapshot(index.root) == before
    # A leftover of an interrupted publish (the same bytes, unlisted) is kept and listed.
    stray.write_bytes(dists["wheel"].read_bytes())
    result = index.publish(NAME, [dists["wheel"]])
    assert result.added == (dists["wheel"].name,)
    assert stray.read_bytes() == dists["wheel"].read_bytes()
    assert index.has_files(NAME, [dists["wheel"].name])


def test_listed_file_with_flipped_byte_is_reported_never_unchanged(
    index: LocalIndex, dists: dict[str, Path]
) -> None:
    index.publish(NAME, [dists["wheel"], dists["sdist"]], now=fixed_now)
    for name in (dists["wheel"].name, f"{dists['wheel'].name}.metadata", dists["sdist"].name):
        published = index.simple / CANON / name
        good = published.read_bytes()
        flipped = bytearray(good)
        flipped[len(flipped) // 2] ^= 0x01
        published.write_bytes(bytes(flipped))
        before = snapshot(index.root)
        with pytest.raises(PublishError, match="has other bytes than the index lists") as exc:
            index.publish(NAME, [dists["wheel"], dists["sdist"]])
        assert str(published) in str(exc.value) and "delete the changed file" in str(exc.value)
        assert snapshot(index.root) == before, "nothing written, nothing overwritten"
        # The advice works: delete it, publish the same build again, and it is restored.
        published.unlink()
        result = index.publish(NAME, [dists["wheel"], dists["sdist"]])
        assert published.read_bytes() == good
        assert set(result.added) | set(result.unchanged) == {
            dists["wheel"].name,
            dists["sdist"].name,
        }


def test_deleted_file_with_same_bytes_is_restored(
    index: LocalIndex, dists: dict[str, Path]
) -> None:
    index.publish(NAME, [dists["wheel"]], now=fixed_now)
    pages = snapshot(index.root)
    (index.simple / CANON / dists["wheel"].name).unlink()
    assert not index.has_files(NAME, [dists["wheel"].name])
    assert index.publish(NAME, [dists["wheel"]]).added == (dists["wheel"].name,)
    assert snapshot(index.root) == pages  # same upload time, same pages


def test_cheap_digests_use_the_record_and_notice_any_write(
    index: LocalIndex, dists: dict[str, Path]
) -> None:
    index.publish(NAME, [dists["wheel"]])
    key = f"simple/{CANON}/{dists['wheel'].name}"
    path = index.root / key
    good = sha256(dists["wheel"])
    storage = index.storage
    assert isinstance(storage, DirStorage)
    # The publish recorded the hash: a cheap look reads no byte of the file.
    recorded = storage.hashes.lookup(key, stamp(path.stat()))
    assert recorded == good
    assert storage.digests([key], cheap=True)[key] == FileDigest(path.stat().st_size, good)
    # Same size, mtime put back: the ctime still changed, so the file is hashed again.
    st = path.stat()
    flipped = bytearray(path.read_bytes())
    flipped[10] ^= 0x01
    path.write_bytes(bytes(flipped))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    fresh = DirStorage(index.root)  # another process: reads the record from disk
    seen = fresh.digests([key], cheap=True)[key]
    assert seen is not None and seen.sha256 == hashlib.sha256(flipped).hexdigest() != good
    assert fresh.digests(["simple/nope/x.whl"], cheap=True) == {"simple/nope/x.whl": None}


@pytest.mark.parametrize(
    "garbage",
    [
        b"{ not json",
        b"[]",
        b'{"format": 1, "files": []}',
        b'{"format": 1, "files": {"k": [1, 2, 3, 4, "short"]}}',
        b'{"format": 1, "files": {"k": [true, 2, 3, 4, "' + b"0" * 64 + b'"]}}',
        b'{"format": 99, "files": {}}',
        b"\xff\xfe",
    ],
)
def test_a_hostile_hash_record_is_an_empty_one(
    index: LocalIndex, dists: dict[str, Path], garbage: bytes
) -> None:
    index.publish(NAME, [dists["wheel"]])
    shard = index.root / RECORD_NAME / f"{CANON}.json"
    shard.write_bytes(garbage)
    key = f"simple/{CANON}/{dists['wheel'].name}"
    found = DirStorage(index.root).digests([key], cheap=True)[key]
    assert found is not None and found.sha256 == sha256(dists["wheel"])  # hashed, not trusted
    assert HashRecord(index.root).lookup(key, stamp((index.root / key).stat())) == found.sha256


def test_hash_record_keys_cannot_leave_its_directory(tmp_path: Path) -> None:
    record = HashRecord(tmp_path)
    st = (0, 0, 0, 0)
    record.update({"simple/../../escape/x": (st, "0" * 64), "../x": (st, "1" * 64)})
    assert sorted(p.name for p in (tmp_path / RECORD_NAME).iterdir()) == ["_.json"]
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: make_wheel(d, "someone-else", "1.0"), "not of 'my-pkg-extra'"),
        (lambda d: make_wheel(d, NAME, "1.0", meta_version="1.1"), "metadata says"),
        (lambda d: d / "notes.txt", "neither a wheel"),
        (lambda d: d / "my_pkg_extra-1.0-py3-none-any.whl", "not a valid wheel"),
        (lambda d: d / "my_pkg_extra-1.0.tar.gz", "not a valid sdist"),
        (lambda d: d / "my_pkg_extra-1.0-py3-none-any-extra-bits.whl", "valid wheel filename"),
    ],
)
def test_files_that_are_not_dists_of_the_project_are_refused(
    index: LocalIndex, tmp_path: Path, make: Any, message: str
) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    path: Path = make(d)
    if not path.exists():
        path.write_bytes(b"not an archive")
    with pytest.raises(PublishError, match=message):
        index.publish(NAME, [path])
    assert not (index.simple / CANON).exists()


def test_bad_names_and_empty_calls(index: LocalIndex, dists: dict[str, Path]) -> None:
    with pytest.raises(PublishError, match="not a valid project name"):
        index.publish("-bad name-", [dists["wheel"]])
    with pytest.raises(PublishError, match="Nothing to publish"):
        index.publish(NAME, [])
    with pytest.raises(PublishError, match="PEP 708"):
        index.publish(NAME, [dists["wheel"]], tracks="https://pypi.org/simple/other/")


def test_has_files_and_project_entries(index: LocalIndex, dists: dict[str, Path]) -> None:
    assert index.project_entries(NAME) == []
    assert not index.has_files(NAME, [dists["wheel"].name])
    index.publish(NAME, [dists["wheel"], dists["sdist"]])
    names = [dists["wheel"].name, dists["sdist"].name]
    assert index.has_files(NAME, names)
    assert index.has_files("my-pkg-extra", names, {dists["wheel"].name: sha256(dists["wheel"])})
    assert not index.has_files(NAME, names, {dists["wheel"].name: "0" * 64})
    assert not index.has_files(NAME, [*names, "my_pkg_extra-9.0.tar.gz"])
    entries = index.project_entries(NAME)
    assert [e.filename for e in entries] == sorted(names)
    wheel_entry = next(e for e in entries if e.filename.endswith(".whl"))
    assert (
        wheel_entry.core_metadata_sha256
        == hashlib.sha256(wheel_metadata(dists["wheel"])).hexdigest()
    )


def test_yank_and_unyank_show_in_both_pages(index: LocalIndex, tmp_path: Path) -> None:
    d = tmp_path / "d"
    files = [make_wheel(d, NAME, "1.0+hotfix.1"), make_wheel(d, NAME, "1.0+hotfix.2")]
    files.append(make_sdist(d, NAME, "1.0+hotfix.2"))
    index.publish(NAME, files)
    hf2 = sorted(f.name for f in files[1:])

    assert index.yank(NAME, "1.0+hotfix.2", 'crashes on <import> & "startup"') == hf2
    text, page, doc = project_page(index)
    anchors = page.by_text()
    for name in hf2:
        assert anchors[name]["data-yanked"] == 'crashes on <import> & "startup"'
    assert "data-yanked" not in anchors[files[0].name]
    assert "&lt;import&gt; &amp; &quot;startup&quot;" in text
    yanked = {f["filename"]: f["yanked"] for f in doc["files"]}
    assert yanked == {files[0].name: False, **dict.fromkeys(hf2, 'crashes on <import> & "startup"')}

    assert index.yank(NAME, "1.0+hotfix.2", None) == hf2  # no reason: a bare attribute
    _, page, doc = project_page(index)
    assert page.by_text()[hf2[0]]["data-yanked"] == ""
    assert {f["yanked"] for f in doc["files"] if f["filename"] in hf2} == {True}

    assert index.unyank(NAME, "1.0+hotfix.2") == hf2
    text, page, doc = project_page(index)
    assert "data-yanked" not in text
    assert {f["yanked"] for f in doc["files"]} == {False}

    with pytest.raises(PublishError, match=r"no files of version 1\.0 .*1\.0\+hotfix\.1"):
        index.yank(NAME, "1.0", None)  # a public version does not match its hotfixes
    with pytest.raises(PublishError, match="not in the index"):
        index.yank("absent", "1.0", None)


def test_corrupt_index_json_is_an_error_not_a_reset(
    index: LocalIndex, dists: dict[str, Path], tmp_path: Path
) -> None:
    index.publish(NAME, [dists["wheel"]])
    page = index.simple / CANON / "index.json"
    for corrupt in [b'{"meta": {"api-version": "1.1"}, "name": "my-pkg-ex', b'{"name": 1}']:
        page.write_bytes(corrupt)
        before = snapshot(index.root)
        with pytest.raises(PublishError, match=r"index\.json is corrupt.*git checkout") as exc:
            index.publish(NAME, [dists["sdist"]])
        assert str(page) in str(exc.value)
        assert snapshot(index.root) == before
        with pytest.raises(PublishError, match="corrupt"):
            index.project_entries(NAME)
        with pytest.raises(PublishError, match="corrupt"):
            index.yank(NAME, "1.0+hotfix.1", None)

    good = json.loads(json.dumps(_entry_doc(dists["wheel"])))
    del good["files"][0]["hashes"]
    page.write_text(json.dumps(good))
    with pytest.raises(PublishError, match=r"files\[0\] is missing a field"):
        index.publish(NAME, [dists["sdist"]])

    (index.simple / "index.json").write_text("[]")
    page.unlink()
    with pytest.raises(PublishError, match=r"simple/index\.json is corrupt.*delete it"):
        index.publish("other", [make_wheel(tmp_path / "o", "other", "1.0")])


def _entry_doc(wheel: Path) -> dict[str, Any]:
    return {
        "meta": {"api-version": "1.1"},
        "name": CANON,
        "files": [{"filename": wheel.name, "hashes": {"sha256": sha256(wheel)}, "size": 1}],
    }


def test_deleted_root_page_is_regenerated(index: LocalIndex, tmp_path: Path) -> None:
    d = tmp_path / "d"
    index.publish("alpha", [make_wheel(d, "alpha", "1.0")])
    index.publish("beta", [make_wheel(d, "beta", "1.0")])
    (index.simple / "index.json").unlink()
    (index.simple / "index.html").unlink()
    index.publish("alpha", [make_wheel(d, "alpha", "1.0")])  # a no-op for alpha itself
    assert [t for _, t in Page((index.simple / "index.html").read_text()).anchors] == [
        "alpha",
        "beta",
    ]


def test_unwritable_index_is_a_clear_error(tmp_path: Path, dists: dict[str, Path]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(PublishError, match="Could not write to the package index"):
        LocalIndex(blocker / "hotfix-index").publish(NAME, [dists["wheel"]])


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_index_is_a_clear_error(tmp_path: Path, dists: dict[str, Path]) -> None:
    index = LocalIndex(tmp_path / "idx")
    index.publish(NAME, [dists["wheel"]])
    for p in [index.root, index.simple, index.simple / CANON]:
        p.chmod(0o555)
    try:
        with pytest.raises(PublishError, match="writable"):
            index.publish(NAME, [dists["sdist"]])
    finally:
        for p in [index.root, index.simple, index.simple / CANON]:
            p.chmod(0o755)


# -- concurrency ---------------------------------------------------------------------------------


def _publish_worker(root: str, i: int, own: list[str], shared: str, barrier: Any) -> None:
    index = LocalIndex(Path(root))
    barrier.wait(timeout=60)  # all start together, to make the lock earn its keep
    for path in own:  # one call per file: many short, interleaved page updates
        index.publish(f"proj-{i}", [Path(path)])
    index.publish("shared", [Path(shared)])


def test_concurrent_publishers_lose_no_entry(tmp_path: Path) -> None:
    n = 8
    d = tmp_path / "d"
    own = {
        i: [str(make_wheel(d, f"proj-{i}", f"1.0+hotfix.{k}")) for k in range(1, 4)]
        for i in range(n)
    }
    shared = {i: str(make_wheel(d, "shared", f"1.0+hotfix.{i + 1}")) for i in range(n)}
    root = tmp_path / "hotfix-index"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    procs = [
        ctx.Process(target=_publish_worker, args=(str(root), i, own[i], shared[i], barrier))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * n

    index = LocalIndex(root)
    root_names = [t for _, t in Page((index.simple / "index.html").read_text()).anchors]
    assert root_names == sorted([*(f"proj-{i}" for i in range(n)), "shared"])
    root_json = json.loads((index.simple / "index.json").read_bytes())
    assert [p["name"] for p in root_json["projects"]] == root_names
    for i in range(n):
        expected = sorted(Path(p).name for p in own[i])
        _, page, doc = project_page(index, f"proj-{i}")
        assert [t for _, t in page.anchors] == expected
        assert [f["filename"] for f in doc["files"]] == expected
    _, page, doc = project_page(index, "shared")
    expected = sorted(Path(p).name for p in shared.values())
    assert [t for _, t in page.anchors] == expected
    assert [f["filename"] for f in doc["files"]] == expected
    assert not list(root.rglob("*.tmp"))


def test_concurrent_threads_lose_no_entry(tmp_path: Path) -> None:
    d = tmp_path / "d"
    wheels = [make_wheel(d, "threaded", f"1.0+hotfix.{k}") for k in range(1, 9)]
    index = LocalIndex(tmp_path / "idx", fsync=False)
    threads = [threading.Thread(target=index.publish, args=("threaded", [w])) for w in wheels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.filename for e in index.project_entries("threaded")] == sorted(w.name for w in wheels)


# -- real installers -------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    # This machine's global pip config adds indexes, find-links and constraints: keep them out.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
    )
    return env


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], env=_clean_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed")
    return found


def _installed(python: Path) -> str:
    code = (
        "import importlib.metadata as m, my_pkg_extra\n"
        "print(m.version('My_Pkg.Extra'), my_pkg_extra.VERSION)"
    )
    return _run(python, "-c", code).stdout.strip()


def _pip_install(venv: Path, index_url: str, spec: str) -> subprocess.CompletedProcess[str]:
    # pip's own --python: real pip (this interpreter's) installs into a venv that has none.
    return _run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--no-cache-dir", "--index-url", index_url, spec,
    )  # fmt: skip


@pytest.fixture
def published(tmp_path: Path) -> LocalIndex:
    """My_Pkg.Extra 1.0+hotfix.1 and +hotfix.2 (sdist and wheel each), 1.1 not published."""
    d = tmp_path / "dist"
    index = LocalIndex(tmp_path / "hotfix-index")
    for n in (1, 2):
        version = f"1.0+hotfix.{n}"
        index.publish(NAME, [make_wheel(d, NAME, version), make_sdist(d, NAME, version)])
    return index


def test_pip_installs_a_hotfix_from_the_file_index(published: LocalIndex, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _pip_install(venv, published.simple_url(), "My_Pkg.Extra==1.0")  # == matches +hotfix.N
    assert _installed(venv / "bin" / "python") == "1.0+hotfix.2 1.0+hotfix.2"


def test_uv_installs_a_hotfix_from_the_file_index(published: LocalIndex, tmp_path: Path) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    _run(
        uv, "pip", "install", "--python", venv / "bin" / "python", "--no-cache",
        "--index-url", published.simple_url(), "My_Pkg.Extra==1.0",
    )  # fmt: skip
    assert _installed(venv / "bin" / "python") == "1.0+hotfix.2 1.0+hotfix.2"


def test_pip_and_uv_skip_a_yanked_hotfix(published: LocalIndex, tmp_path: Path) -> None:
    published.yank(NAME, "1.0+hotfix.2", "broken")
    venv = tmp_path / "pip-venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _pip_install(venv, published.simple_url(), "my-pkg-extra>=1.0")
    assert _installed(venv / "bin" / "python") == "1.0+hotfix.1 1.0+hotfix.1"

    uv = _uv()
    uv_venv = tmp_path / "uv-venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, uv_venv)
    _run(
        uv, "pip", "install", "--python", uv_venv / "bin" / "python", "--no-cache",
        "--index-url", published.simple_url(), "my-pkg-extra>=1.0",
    )  # fmt: skip
    assert _installed(uv_venv / "bin" / "python") == "1.0+hotfix.1 1.0+hotfix.1"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.requested.append(self.path)


@pytest.fixture
def served(published: LocalIndex) -> Iterator[tuple[str, list[str]]]:
    """The index behind a real static web server (percent-decoding, index.html for dirs)."""
    requested: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(published.root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", requested
    finally:
        server.shutdown()
        server.server_close()


def test_pip_installs_over_http_and_uses_the_metadata_file(
    served: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requested = served
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _pip_install(venv, url, "My_Pkg.Extra==1.0+hotfix.1")
    assert _installed(venv / "bin" / "python") == "1.0+hotfix.1 1.0+hotfix.1"
    wheel = "/simple/my-pkg-extra/my_pkg_extra-1.0%2Bhotfix.1-py3-none-any.whl"
    assert wheel in requested
    assert f"{wheel}.metadata" in requested  # PEP 658: resolved from METADATA alone


# -- the hash record's parser: any bytes on disk are an (empty or partial) record, never an error --


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=70),
            lambda inner: (
                st.lists(inner, max_size=6)
                | st.dictionaries(st.text(max_size=20), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda doc: json.dumps({"format": 1, "files": doc}).encode()),
    ),
    key=st.text(max_size=60),
)
def test_any_record_file_reads_as_a_record(tmp_path: Path, raw: bytes, key: str) -> None:
    shard_dir = tmp_path / RECORD_NAME
    shard_dir.mkdir(exist_ok=True)
    for shard in ("_", "p"):
        (shard_dir / f"{shard}.json").write_bytes(raw)
    record = HashRecord(tmp_path)
    found = record.lookup(key, (1, 2, 3, 4))
    assert found is None or (isinstance(found, str) and len(found) == 64)
    record.update({key: ((1, 2, 3, 4), "a" * 64)})
    assert HashRecord(tmp_path).lookup(key, (1, 2, 3, 4)) == "a" * 64
    assert all(p.parent == shard_dir for p in shard_dir.rglob("*"))


# -- the project record's parser: any JSON is a record or CorruptRecord, and records round-trip --

_FIELDS = st.fixed_dictionaries(
    {
        "filename": st.sampled_from(
            ["demo-1.0.tar.gz", "demo-1.0+hotfix.1-py3-none-any.whl", "other-1.0.tar.gz", "x", ""]
        ),
        "url": st.text(max_size=20),
        "hashes": st.one_of(
            st.just({"sha256": "a" * 64}), st.dictionaries(st.text(max_size=6), st.text(max_size=6))
        ),
        "size": st.one_of(st.integers(-2, 10**6), st.booleans(), st.text(max_size=3)),
        "upload-time": st.one_of(st.just("2024-05-01T12:00:00.000000Z"), st.integers()),
        "yanked": st.one_of(st.booleans(), st.text(max_size=5), st.none()),
        "core-metadata": st.one_of(st.just(False), st.just({"sha256": "b" * 64}), st.integers()),
    },
    optional={"requires-python": st.one_of(st.none(), st.text(max_size=8), st.integers())},
)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.one_of(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=15,
        ),
        st.fixed_dictionaries(
            {
                "name": st.sampled_from(["demo", "other"]),
                "meta": st.one_of(
                    st.just({}),
                    st.just({"tracks": ["https://pypi.org/simple/demo/"]}),
                    st.integers(),
                ),
                "files": st.lists(_FIELDS, max_size=3),
            }
        ),
    )
)
def test_any_project_record_parses_or_is_reported_corrupt(doc: object) -> None:
    from packaging.utils import NormalizedName

    from pyhotfix.index.records import CorruptRecord, parse_project
    from pyhotfix.simpleapi import render_project_json

    canon = NormalizedName("demo")
    try:
        state = parse_project(doc, canon)
    except CorruptRecord:
        return
    entries = [state.entries[f] for f in sorted(state.entries)]
    text = render_project_json(canon, entries, sorted(set(state.versions.values())), state.tracks)
    again = parse_project(json.loads(text), canon)
    assert again.entries == state.entries and again.tracks == state.tracks
    assert again.versions == state.versions
