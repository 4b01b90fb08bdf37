"""Pieces every export format shares: the header, URL pins, index pins, TOML blocks."""

from __future__ import annotations

from pathlib import Path

import tomlkit

from pyhotfix.deploy import Deployment, HotfixBuild

__all__ = [
    "constraints_lines",
    "file_url",
    "header",
    "hotfix_list",
    "index_pin",
    "shell_quote",
    "text",
    "toml_block",
    "url_pins",
]


def header(fmt: str, *why: str) -> list[str]:
    lines = [
        f"# Written by `pyhotfix export --format {fmt}` from hotfixes.lock; "
        "export again after `pyhotfix build`."
    ]
    lines.extend(f"# {line}" if line else "#" for line in why)
    return lines


def hotfix_list(deployment: Deployment) -> str:
    return ", ".join(f"{h.name} {h.hotfix_version}" for h in deployment.hotfixes)


def url_pins(deployment: Deployment) -> list[str]:
    lines: list[str] = []
    for build in deployment.hotfixes:
        if not build.wheel_is_pure and build.sdist is not None and build.wheel is not None:
            lines.append(
                f"# {build.name}: its wheel is platform-specific, so the sdist is pinned (it "
                "builds on the target)."
            )
        lines.append(f"{build.name} @ {deployment.pinned_url(build)}")
    return lines


def index_pin(build: HotfixBuild, hashes: bool) -> str:
    if not hashes:
        return f"{build.name}=={build.hotfix_version}"
    parts = [f"{build.name}=={build.hotfix_version}"]
    parts.extend(f"    --hash=sha256:{h}" for h in sorted(f.sha256 for f in build.files))
    return " \\\n".join(parts)


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def constraints_lines(deployment: Deployment, fmt: str) -> list[str]:
    return [
        *header(
            fmt,
            "Constraints for pip install -c / PIP_CONSTRAINT and uv pip install -c / UV_CONSTRAINT;",
            "your requirements stay as they are. Each hotfix is pinned to its exact build by URL and",
            "sha256: the installer takes that file and checks it, merges no index (no newer upstream",
            "release or mirror can win; an installed release is replaced), and pip's hash-checking",
            "mode stays off for your other requirements.",
        ),
        *url_pins(deployment),
    ]


def file_url(root: Path) -> str:
    return root.joinpath("simple").resolve().as_uri() + "/"


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def toml_block(fmt: str, why: list[str], document: tomlkit.TOMLDocument) -> str:
    return text(header(fmt, *why)) + tomlkit.dumps(document)
