"""Benchmark: static index generation (issue #3).

  (A) 1,000 projects x 10 files (5 wheels + 5 sdists each) published from scratch into an empty
      directory index with one `publish_many` call (target: <= 2 s);
  (B) adding one wheel to that index with `publish` (target: <= 50 ms).

Both durable (fsync on, the default) on the disk holding --dir, and, for comparison, with fsync
off and on tmpfs (/dev/shm) when there is one. Prints medians; --profile prints where (A) spends
its time.

    python benchmarks/bench_index.py [--runs 3] [--adds 20] [--dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dists import make_sdist, make_wheel

from pyhotfix.index import LocalIndex

PROJECTS = 1000
VERSIONS = 5  # x (wheel + sdist) = 10 files per project


def make_dists(dest: Path) -> list[tuple[str, list[Path]]]:
    requests = []
    for i in range(PROJECTS):
        name = f"proj-{i:04d}"
        files: list[Path] = []
        for v in range(1, VERSIONS + 1):
            version = f"1.0+hotfix.{v}"
            files += [make_wheel(dest, name, version), make_sdist(dest, name, version)]
        requests.append((name, files))
    return requests


def from_scratch(
    requests: list[tuple[str, list[Path]]], base: Path, fsync: bool, runs: int
) -> tuple[float, Path]:
    times = []
    root = base
    for run in range(runs):
        root = base / f"scratch-{run}"
        index = LocalIndex(root, fsync=fsync)
        started = time.perf_counter()
        index.publish_many(requests)
        times.append(time.perf_counter() - started)
        if run < runs - 1:
            shutil.rmtree(root)
    return statistics.median(times), root


def add_one(root: Path, dists: Path, fsync: bool, adds: int) -> float:
    index = LocalIndex(root, fsync=fsync)
    wheels = [make_wheel(dists / "add", "proj-0500", f"1.0+hotfix.{100 + k}") for k in range(adds)]
    times = []
    for wheel in wheels:
        started = time.perf_counter()
        index.publish("proj-0500", [wheel])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="from-scratch runs per setting")
    parser.add_argument("--adds", type=int, default=20, help="single-file additions measured")
    parser.add_argument("--dir", type=Path, help="where to build the indexes (default: a temp dir)")
    parser.add_argument("--profile", action="store_true", help="profile one from-scratch run")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="pyhotfix-bench-index-", dir=args.dir))
    try:
        started = time.perf_counter()
        requests = make_dists(scratch / "dists")
        print(
            f"made {PROJECTS * VERSIONS * 2} distributions in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        if args.profile:
            profile(requests, scratch / "profile")
            return
        settings: list[tuple[str, Path, bool]] = [
            ("disk, fsync", scratch / "disk-fsync", True),
            ("disk, no fsync", scratch / "disk-nofsync", False),
        ]
        shm = Path("/dev/shm")
        tmpfs = Path(tempfile.mkdtemp(prefix="pyhotfix-bench-", dir=shm)) if shm.is_dir() else None
        if tmpfs is not None:
            settings.append(("tmpfs, fsync", tmpfs, True))
        rows = []
        try:
            for label, base, fsync in settings:
                scratch_s, root = from_scratch(requests, base, fsync, args.runs)
                add_s = add_one(root, scratch / "dists", fsync, args.adds)
                rows.append((label, scratch_s, add_s))
                shutil.rmtree(base)
        finally:
            if tmpfs is not None:
                shutil.rmtree(tmpfs, ignore_errors=True)
        print(f"{'setting':<16} {'1000x10 from scratch':>22} {'add one file':>14}")
        for label, scratch_s, add_s in rows:
            print(f"{label:<16} {scratch_s:>20.2f} s {add_s * 1000:>11.1f} ms")
        print(f"targets: from scratch <= 2 s, add one file <= 50 ms (medians; runs={args.runs})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def profile(requests: list[tuple[str, list[Path]]], base: Path) -> None:
    index = LocalIndex(base, fsync=True)
    run: Callable[[], object] = lambda: index.publish_many(requests)  # noqa: E731
    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
