"""The names of `pyhotfix export`'s formats (and the Dockerfile's install steps): one list for the
CLI's choices and the exporter.

A leaf module (no tomlkit), so the CLI can offer the choices without loading the exporter."""

from __future__ import annotations

from typing import Literal

__all__ = ["DOCKER_INSTALLERS", "FORMATS", "DockerInstaller"]

DockerInstaller = Literal["pip", "uv-pip", "uv-sync"]
DOCKER_INSTALLERS: tuple[DockerInstaller, ...] = ("pip", "uv-pip", "uv-sync")

FORMATS = (
    "requirements",
    "constraints",
    "pip-conf",
    "uv",
    "poetry",
    "pdm",
    "pipenv",
    "s2i",
    "heroku",
    "dockerfile",
    "direct",
    "github-actions",
    "vex",
    "pip-audit",
)
