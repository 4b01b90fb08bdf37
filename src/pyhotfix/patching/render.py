"""A section placed onto the sdist (`Kept`: its sdist and repository paths) and its rendering
back into git's diff format, with sdist paths and content line endings fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyhotfix.patching.diff import Section, quote

__all__ = ["Kept", "render_section"]


@dataclass
class Kept:
    sec: Section
    old: str | None  # sdist paths; None is /dev/null
    new: str | None
    repo_old: str | None
    repo_new: str | None
    eol: str  # "keep", "lf" or "crlf": how to write the content lines


def _name_line(prefix: str, path: str | None, side: str) -> str:
    if path is None:
        return f"{prefix} /dev/null"
    return f"{prefix} {quote(side + path)}"


def render_section(item: Kept) -> bytes:
    """The section in git's format with sdist paths and content line endings fixed."""
    sec = item.sec
    a = item.old if item.old is not None else item.new
    b = item.new if item.new is not None else item.old
    assert a is not None and b is not None
    out = [f"diff --git {quote('a/' + a)} {quote('b/' + b)}"]
    renames = {
        "rename from ": item.old,
        "rename to ": item.new,
        "copy from ": item.old,
        "copy to ": item.new,
    }
    ext = sec.ext if sec.is_git else []
    for t in ext:
        key = next((k for k in renames if t.startswith(k)), None)
        out.append(t if key is None else key + quote(renames[key] or ""))
    # git needs these for /dev/null sides (plain diffs and hand-made git diffs lack them).
    if item.old is None and not sec.has_ext("new file mode "):
        out.append("new file mode 100644")
    if item.new is None and not sec.has_ext("deleted file mode "):
        out.append("deleted file mode 100644")
    if sec.has_minus_plus:
        out.append(_name_line("---", item.old, "a/"))
        out.append(_name_line("+++", item.new, "b/"))
    data = b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in out)
    for hunk in sec.hunks:
        data += hunk.header + b"\n" + _fix_eol(hunk.body, item.eol)
    if sec.binary:
        data += b"".join(line.rstrip(b"\r\n") + b"\n" for line in sec.binary)
    return data


def _fix_eol(body: list[bytes], eol: str) -> bytes:
    out: list[bytes] = []
    for i, line in enumerate(body):
        if line[:1] == b"\\":
            out.append(line.rstrip(b"\r\n") + b"\n")
            continue
        if eol == "keep" or not line.endswith(b"\n"):
            out.append(line)
            continue
        core = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        # The line before "\ No newline at end of file" has no real line ending to convert.
        no_newline = i + 1 < len(body) and body[i + 1][:1] == b"\\"
        out.append(core + (b"\r\n" if eol == "crlf" and not no_newline else b"\n"))
    return b"".join(out)
