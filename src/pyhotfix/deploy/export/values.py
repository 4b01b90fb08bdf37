"""The values of `pyhotfix export`: the files it writes and its options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyhotfix.deploy.formats import DOCKER_INSTALLERS, DockerInstaller

__all__ = [
    "CONSTRAINTS_NAME",
    "DOCKER_DIR",
    "DOCKER_INSTALLERS",
    "INDEX_NAME",
    "DockerInstaller",
    "Export",
    "ExportOptions",
    "ExportedFile",
]


CONSTRAINTS_NAME = "hotfix-constraints.txt"
INDEX_NAME = "hotfix"  # the index/source name in uv, Poetry and Pipenv configuration
DOCKER_DIR = "/opt/pyhotfix"


@dataclass(frozen=True)
class ExportedFile:
    name: str  # the file's usual name; companions are written next to the main file
    content: str


@dataclass(frozen=True)
class Export:
    format: str
    files: tuple[ExportedFile, ...]  # files[0] is the main file


@dataclass(frozen=True)
class ExportOptions:
    hashes: bool = True  # --hash options on == pins (requirements)
    out: Path | None = None  # where the main file will be written (for paths that refer to it)
    installer: DockerInstaller = "pip"  # dockerfile: the image's install step
