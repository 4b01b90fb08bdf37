"""Limits on binary hunks: git needs full object ids to apply them, and a small zlib-compressed
patch can declare a huge file, so the sizes each `literal`/`delta` block declares are checked
before git inflates anything.
"""

from __future__ import annotations

import base64
import re
import zlib

from pyhotfix.errors import PatchError
from pyhotfix.patching.render import Kept

__all__ = ["MAX_BINARY_FILE_BYTES", "MAX_BINARY_TOTAL_BYTES", "check_binary"]


# Binary patches are zlib-compressed: a small patch can declare a huge file. Each binary result
# (and all of one patch's together) must stay below these.
MAX_BINARY_FILE_BYTES = 64 * 1024 * 1024
MAX_BINARY_TOTAL_BYTES = 256 * 1024 * 1024
_BASE85_LENGTH = {
    c: i + 1 for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
}


def check_binary(item: Kept, label: str) -> int:
    """Refuse binary changes git cannot apply safely or that inflate too far; returns the
    declared size of the result (0 for a text change)."""
    path = item.new or item.old
    if item.sec.binary_without_data:
        raise PatchError(
            f"The patch {label} changes the binary file {path} but does not contain its data "
            "('Binary files ... differ'). Regenerate the patch with `git diff --binary` or "
            "`git format-patch`, which include binary changes."
        )
    if item.sec.binary:
        index = next((t for t in item.sec.ext if t.startswith("index ")), "")
        m = re.match(r"index ([0-9a-f]+)\.\.([0-9a-f]+)", index)
        if not m or min(len(m[1]), len(m[2])) < 40:
            raise PatchError(
                f"The patch {label} changes the binary file {path} without full object ids in "
                "its 'index' line, so git cannot apply it safely. Regenerate the patch with "
                "`git diff --binary` (which implies --full-index) or `git format-patch`."
            )
        largest = max(_binary_result_sizes(item.sec.binary), default=0)
        if largest > MAX_BINARY_FILE_BYTES:
            raise PatchError(
                f"The patch {label} changes the binary file {path} into {largest} bytes (as its "
                f"binary data declares), more than the limit of {MAX_BINARY_FILE_BYTES} bytes "
                "for a file made by a patch. Ship large files another way, or check the patch."
            )
        return largest
    return 0


def _binary_result_sizes(lines: list[bytes]) -> list[int]:
    """The sizes a `GIT binary patch` block declares for its results: `literal N` gives N; for
    `delta N` the delta's own header (the first bytes after inflating) gives the result size.
    Unreadable data counts as oversized (git would refuse it anyway)."""
    sizes: list[int] = []
    i = 1
    while i < len(lines):
        m = re.match(rb"(literal|delta) (\d+)", lines[i])
        i += 1
        if not m:
            continue
        data_start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        declared = int(m[2])
        if m[1] == b"literal" or declared > MAX_BINARY_FILE_BYTES:
            sizes.append(declared)
        else:
            sizes.append(_delta_result_size(lines[data_start:i]))
    return sizes


def _delta_result_size(data_lines: list[bytes]) -> int:
    compressed = b""
    try:
        for line in data_lines[:8]:  # a few lines hold far more than the two size varints
            line = line.rstrip(b"\r\n")
            length = _BASE85_LENGTH[line[0]]
            compressed += base64.b85decode(line[1:])[:length]
        head = zlib.decompressobj().decompress(compressed, 32)
    except (KeyError, IndexError, ValueError, zlib.error):
        return MAX_BINARY_FILE_BYTES + 1
    values: list[int] = []
    value = shift = 0
    for byte in head:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
            if len(values) == 2:
                return values[1]  # (source size, result size)
    return MAX_BINARY_FILE_BYTES + 1
