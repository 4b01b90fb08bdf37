"""Benchmark: `pyhotfix status` for 200 hotfixes (targets ≤ 3 s: the warm run, and the full
re-analysis with cached sdists).

Fixture: N tiny projects with two releases each (1.0 with a bug; 1.1 with an unrelated change,
so every hotfix needs a real check: "rebase → 1.1"), sdists written directly with tarfile,
published with `pyhotfix.index.LocalIndex` and served by a stdlib HTTP/1.1 server on 127.0.0.1
(static files: Last-Modified / If-Modified-Since, as a static index or CDN does). One patch per
hotfix.

Cases (medians of --runs runs of the real CLI, `python -m pyhotfix status`):
  (cold)   once, empty cache: every page and sdist downloaded, every hotfix analysed;
  (warm)   the normal repeated run: pages revalidated (304), sdists and verdicts cached;
  (sdists) sdists cached but the verdict cache emptied before each run: every hotfix analysed
           again (unpack, git apply / merge-tree), the cost of a changed manifest.

Wall seconds, and the CPU seconds of pyhotfix and its git processes (user + system): on a shared
machine the wall time follows the load, the CPU time much less, so compare CPU time across runs.
`--case sdists` measures only the full re-analysis (after one cold run to fill the cache).

    python benchmarks/bench_status.py [--count 200] [--runs 5] [--case all|sdists]
"""

from __future__ import annotations

import argparse
import difflib
import functools
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pyhotfix.index import LocalIndex

TARGET_SECONDS = 3.0
BUGGY = 'def answer() -> int:\n    """Return the answer."""\n    return 41  # bug\n'
OTHER = '\n\ndef other() -> str:\n    return "{text}"\n'
FIXED = BUGGY.replace("return 41  # bug", "return 42  # fixed")


def patch_for(mod: str) -> str:
    before = (BUGGY + OTHER.format(text="other")).splitlines(keepends=True)
    after = (FIXED + OTHER.format(text="other")).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before, after, f"a/{mod}/__init__.py", f"b/{mod}/__init__.py")
    )


def write_sdist(dest: Path, name: str, version: str, module: str) -> Path:
    base = f"{name}-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n',
        f"{name.replace('-', '_')}/__init__.py": module,
    }
    path = dest / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


class _Quiet(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real indexes

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def make_fixture(root: Path, count: int) -> Path:
    dist = root / "dist"
    dist.mkdir()
    index = LocalIndex(root / "upstream", fsync=False)
    requests = []
    for i in range(count):
        name = f"proj{i:03d}"
        files = [
            write_sdist(dist, name, "1.0", BUGGY + OTHER.format(text="other")),
            write_sdist(dist, name, "1.1", BUGGY + OTHER.format(text=f"improved {i}")),
        ]
        requests.append((name, files))
    index.publish_many(requests)
    return root / "upstream"


def write_app(root: Path, url: str, count: int) -> Path:
    app = root / "app"
    (app / "patches").mkdir(parents=True)
    lines = [f'[settings]\nupstream = "{url}"\n']
    for i in range(count):
        name = f"proj{i:03d}"
        (app / "patches" / f"{name}.patch").write_text(patch_for(name))
        lines.append(f'[hotfix.{name}]\nversion = "1.0"\npatches = ["patches/{name}.patch"]\n')
    (app / "hotfixes.toml").write_text("\n".join(lines))
    return app


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: list[float] = []  # CPU seconds of each status run, in order


def status(app: Path, cache: Path) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "PYHOTFIX_CACHE_DIR": str(cache)}
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pyhotfix", "status", "--json"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    CPU.append(_children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"pyhotfix status failed ({done.returncode}):\n{done.stderr}")
    document: dict[str, Any] = json.loads(done.stdout)
    return elapsed, document


def drop_verdicts(cache: Path) -> int:
    dropped = 0
    for record in (cache / "records").rglob("*.json"):
        if '"status-verdict"' in json.loads(record.read_text())["key"]:
            record.unlink()
            dropped += 1
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--case", choices=("all", "sdists"), default="all")
    args = parser.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("git is needed")

    with tempfile.TemporaryDirectory(prefix="pyhotfix-bench-status-") as tmp:
        root = Path(tmp)
        upstream = make_fixture(root, args.count)
        with serve(upstream) as url:
            app = write_app(root, url, args.count)
            cache = root / "cache"
            cold, document = status(app, cache)
            cold_cpu = CPU[-1]
            advice = {h["recommendation"]["text"] for h in document["hotfixes"]}
            assert advice == {"rebase → 1.1"}, advice
            assert len(document["hotfixes"]) == args.count
            runs = args.runs if args.case == "all" else 0
            warm = [status(app, cache)[0] for _ in range(runs)]
            warm_cpu = CPU[len(CPU) - runs :]
            analysed = []
            for _ in range(args.runs):
                assert drop_verdicts(cache) == args.count
                analysed.append(status(app, cache)[0])
            analysed_cpu = CPU[len(CPU) - args.runs :]

    print(
        f"`pyhotfix status` for {args.count} hotfixes (2 releases each), local index on "
        f"127.0.0.1, {os.cpu_count()} CPUs; medians of {args.runs} runs"
    )
    print("| case | seconds | CPU seconds |\n|---|---|---|")
    print(f"| cold: empty cache (once) | {cold:.2f} | {cold_cpu:.2f} |")
    judged = [("sdists cached, every hotfix analysed again", analysed, analysed_cpu)]
    if warm:
        judged.insert(0, ("warm: pages revalidated, sdists + verdicts cached", warm, warm_cpu))
    for case, wall, cpu in judged:
        print(f"| {case} | {statistics.median(wall):.2f} | {statistics.median(cpu):.2f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    missed = False
    for case, wall, _cpu in judged:
        verdict = "meets" if statistics.median(wall) <= TARGET_SECONDS else "MISSES"
        missed = missed or verdict == "MISSES"
        print(
            f"{case.split(':')[0]}: median {statistics.median(wall):.2f} s {verdict} ≤ {TARGET_SECONDS} s"
        )
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
