"""Benchmark: building a hotfix by hand vs with pyhotfix (issue #2).

On a python-magic-like fixture (one setuptools module, setup.py only) served from a local index:
  (A) the manual workflow: unpack, patch, edit the version, `python -m build`;
  (B) the same with `uv build`;
  (C) `pyhotfix build` of a new hotfix (a changed patch) with warm caches;
  (D) `pyhotfix build` with nothing changed.
Prints the medians of N runs and the ratios C/B and D/B (targets: ≤ 0.5 and ≤ 0.1).

    python benchmarks/bench_build.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from uv import find_uv_bin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fakeindex import FakeIndex
from tests.support.projects import make_project, make_sdist

from pyhotfix.building import EnvCache

NAME = "magicish"
PATCH = """\
--- a/magicish/__init__.py
+++ b/magicish/__init__.py
@@ -1,3 +1,3 @@
 def answer() -> int:
     \"\"\"Return the answer.\"\"\"
-    return 41  # bug: should be 42
+    return 42  # fixed {n}
"""


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def manual(sdist: Path, work: Path, builder: list[str], n: int) -> None:
    """What ORIGIN.md does by hand, with a modern builder."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    tree = next(work.iterdir())
    (work / "fix.patch").write_text(PATCH.format(n=n))
    run(["patch", "-p1", "-s", "-i", str(work / "fix.patch")], cwd=tree)
    setup_py = tree / "setup.py"
    setup_py.write_text(
        setup_py.read_text()
        .replace("version='1.0'", f"version='1.0+hotfix.{n}'")
        .replace('version="1.0"', f'version="1.0+hotfix.{n}"')
    )
    run([*builder, str(work / "dist"), str(tree)], cwd=work)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # Measure what users run: Python with its bytecode cache. With PYTHONDONTWRITEBYTECODE set
    # (some sandboxes and CI images set it), every run recompiles every module it imports, which
    # slows all four cases and hides where the time goes.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    with tempfile.TemporaryDirectory(prefix="pyhotfix-bench-") as tmp, FakeIndex() as index:
        root = Path(tmp)
        cache = root / "cache"
        project = make_project(root / "project", NAME, "1.0", "setuptools-setup.py")
        sdist = make_sdist(project, root / "upstream", EnvCache(cache / "envs"))
        index.add_file(sdist)
        app = root / "app"
        app.mkdir()
        (app / "hotfixes.toml").write_text(
            f'[settings]\nupstream = "{index.url}"\n\n[hotfix.{NAME}]\nversion = "1.0"\npatches = ["fix.patch"]\n'
        )
        env = {**os.environ, "PYHOTFIX_CACHE_DIR": str(cache)}
        pyhotfix = [sys.executable, "-m", "pyhotfix", "build"]

        def new_hotfix(n: int) -> None:
            (app / "fix.patch").write_text(PATCH.format(n=n))
            run(pyhotfix, cwd=app, env=env)

        new_hotfix(0)  # warm: the sdist cache and the build environment
        results: dict[str, list[float]] = {"A": [], "B": [], "C": [], "D": []}
        for n in range(1, args.runs + 1):
            python_build = [sys.executable, "-m", "build", "--outdir"]
            uv_build = [find_uv_bin(), "build", "-q", "--out-dir"]
            results["A"].append(timed(partial(manual, sdist, root / "manual", python_build, n)))
            results["B"].append(timed(partial(manual, sdist, root / "manual-uv", uv_build, n)))
            results["C"].append(timed(partial(new_hotfix, n)))
            results["D"].append(timed(partial(run, pyhotfix, app, env)))

    medians = {k: statistics.median(v) for k, v in results.items()}
    labels = {
        "A": "manual + python -m build",
        "B": "manual + uv build",
        "C": "pyhotfix build, new hotfix (warm caches)",
        "D": "pyhotfix build, nothing changed",
    }
    print(
        f"median of {args.runs} runs, python-magic-like setuptools fixture, local index on 127.0.0.1"
    )
    print("| case | median (s) |\n|---|---|")
    for key, label in labels.items():
        print(f"| ({key}) {label} | {medians[key]:.2f} |")
    print(f"\nC/B = {medians['C'] / medians['B']:.2f} (target ≤ 0.5)")
    print(f"D/B = {medians['D'] / medians['B']:.2f} (target ≤ 0.1)")


if __name__ == "__main__":
    main()
