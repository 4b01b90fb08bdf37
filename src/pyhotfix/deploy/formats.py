"""The names of `pyhotfix export`'s formats: one list for the CLI's choices and the exporter.

A leaf module (no tomlkit), so the CLI can offer the choices without loading the exporter."""

from __future__ import annotations

__all__ = ["FORMATS"]

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
