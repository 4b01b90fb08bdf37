"""The tail of a failed tool's output, quoted in a BuildError (uv, the build backend)."""

from __future__ import annotations

__all__ = ["tail_block"]

_OUTPUT_TAIL = 30


def tail_block(label: str, output: str) -> str:
    lines = output.rstrip().splitlines()[-_OUTPUT_TAIL:]
    if not lines:
        return ""
    body = "\n".join("    " + line for line in lines)
    return f"\n\nLast {len(lines)} lines of output from {label}:\n{body}"
