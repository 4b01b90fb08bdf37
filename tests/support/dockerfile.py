"""Reading a Dockerfile snippet as Docker would: one instruction per logical line (backslash
continuations joined, comments and blank lines skipped). There is no Docker engine here, so the
tests run the instructions themselves."""

from __future__ import annotations

__all__ = ["dockerfile_instructions"]


def dockerfile_instructions(text: str) -> list[str]:
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        out.append(current + line)
        current = ""
    return out
