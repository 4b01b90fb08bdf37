"""Benchmark: wheel mode on a release of ~60 small platform wheels (issue 12, item 2).

One fixture release, served from a local index on 127.0.0.1: 60 platform wheels (the same
Python files, a fake compiled module each) and its sdist (a setuptools src-layout project with the
same package). Warm caches (the wheels and sdist downloaded, the build environment made); each
run uses a changed patch, so every run makes a new hotfix number:
  (W) `pyhotfix build` of the wheel-mode hotfix: all 60 wheels patched, re-versioned, published,
      locked (target ≤ 3 s);
  (S) `pyhotfix build` of the same hotfix from the sdist (one sdist and one wheel).
Prints the medians of N runs.

    python benchmarks/bench_wheelmode.py [--runs 5] [--wheels 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fakeindex import FakeIndex
from tests.support.platformwheels import FIXED, fix_patch, make_platform_release
from tests.support.projects import make_project, make_sdist

from pyhotfix.building import EnvCache

NAME, MODULE, VERSION = "wheelish", "wheelish", "2.1.4"
INIT = (
    "from .helpers import double\n\n\n"
    "def answer() -> int:\n"
    '    """Return the answer."""\n'
    "    return 41  # bug: should be 42\n"
)


def build(app: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pyhotfix", "build"],
        cwd=app,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wheels", type=int, default=60)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure Python as users run it

    with tempfile.TemporaryDirectory(prefix="pyhotfix-bench-") as tmp, FakeIndex() as index:
        root = Path(tmp)
        cache = root / "cache"
        for wheel in make_platform_release(root / "upstream", NAME, VERSION, args.wheels):
            index.add_file(wheel)
        project = make_project(
            root / "project", NAME, VERSION, "setuptools-pyproject", body=INIT, src_layout=True
        )
        index.add_file(make_sdist(project, root / "upstream", EnvCache(cache / "envs")))
        env = {**os.environ, "PYHOTFIX_CACHE_DIR": str(cache)}
        apps = {}
        for case, extra in (("W", 'from = "wheels"\n'), ("S", "")):
            app = apps[case] = root / f"app-{case}"
            app.mkdir()
            (app / "hotfixes.toml").write_text(
                f'[settings]\nupstream = "{index.url}"\n\n[hotfix.{NAME}]\n'
                f'version = "{VERSION}"\npatches = ["fix.patch"]\n{extra}'
            )

        def new_hotfix(case: str, n: int) -> float:
            patch = fix_patch(MODULE).replace(FIXED.rstrip(), f"{FIXED.rstrip()} {n}")
            (apps[case] / "fix.patch").write_text(patch)
            return build(apps[case], env)

        for case in apps:
            new_hotfix(case, 0)  # warm: downloads, the build environment
        results: dict[str, list[float]] = {"W": [], "S": []}
        for n in range(1, args.runs + 1):
            for case in results:
                results[case].append(new_hotfix(case, n))
        published = len(list((apps["W"] / "hotfix-index").rglob("*.whl")))

    medians = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"median of {args.runs} runs; {args.wheels} platform wheels and their sdist on 127.0.0.1; "
        f"{published} wheels published in wheel mode over all runs"
    )
    print("| case | median (s) |\n|---|---:|")
    print(
        f"| (W) wheel mode: {args.wheels} wheels patched, re-versioned, published | {medians['W']:.2f} |"
    )
    print(f"| (S) sdist mode: one sdist and one wheel built | {medians['S']:.2f} |")
    print(
        f"\nW ≤ 3 s: {'met' if medians['W'] <= 3 else 'NOT met'}; W/S = {medians['W'] / medians['S']:.2f}"
    )


if __name__ == "__main__":
    main()
