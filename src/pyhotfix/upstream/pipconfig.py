"""Which index pip would use: $PIP_INDEX_URL, then `index-url` in pip's configuration files
(found as pip finds them), then PyPI."""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

import platformdirs

from pyhotfix.errors import UpstreamError

__all__ = [
    "PYPI_SIMPLE_URL",
    "default_upstream_url",
    "global_config_files",
    "user_config_files",
]

PYPI_SIMPLE_URL = "https://pypi.org/simple/"


def default_upstream_url() -> str:
    """The index pip would use: $PIP_INDEX_URL, then `index-url` in pip's config, then PyPI."""
    env = os.environ.get("PIP_INDEX_URL", "").strip()
    if env:
        return env
    return _pip_config_index_url() or PYPI_SIMPLE_URL


def global_config_files() -> list[Path]:
    # Mirrors pip._internal.utils.appdirs.site_config_dirs.
    base = "pip.ini" if sys.platform == "win32" else "pip.conf"
    if sys.platform == "darwin":
        dirs = platformdirs.site_data_dir("pip", appauthor=False, multipath=True)
    else:
        dirs = platformdirs.site_config_dir("pip", appauthor=False, multipath=True)
    paths = [Path(d) for d in dirs.split(os.pathsep) if d]
    if sys.platform not in ("win32", "darwin"):
        paths.append(Path("/etc"))
    return [p / base for p in paths]


def user_config_files() -> list[Path]:
    # The legacy file first: pip lets the newer location override it.
    base = "pip.ini" if sys.platform == "win32" else "pip.conf"
    legacy = Path.home() / ("pip" if sys.platform == "win32" else ".pip") / base
    new_dir = Path(platformdirs.user_config_dir("pip", appauthor=False, roaming=True))
    if sys.platform == "darwin":
        app_support = Path(platformdirs.user_data_dir("pip", appauthor=False))
        new_dir = app_support if app_support.is_dir() else Path.home() / ".config" / "pip"
    return [legacy, new_dir / base]


def _pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first, as pip/_internal/configuration.py does:
    global, user (skipped when $PIP_CONFIG_FILE names an existing file), site, $PIP_CONFIG_FILE.
    """
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:  # pip's documented way to load no configuration at all
        return []
    files = global_config_files()
    if not (env_file and os.path.exists(env_file)):
        files += user_config_files()
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        # pip reads sys.prefix/pip.conf; pyhotfix often runs from its own tool environment, so
        # the user's active virtualenv is the one whose pip config matters.
        files.append(Path(venv) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def _pip_config_index_url() -> str | None:
    found: str | None = None
    for path in _pip_config_files():
        if not path.is_file():
            continue
        # Raw: URLs contain percent-encoded passwords, which interpolation would choke on.
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError) as exc:
            raise UpstreamError(
                f"pip's configuration file {path} could not be read ({exc}), so pyhotfix cannot "
                "tell which index pip uses. Fix the file, or set [settings] upstream in "
                "hotfixes.toml (or PIP_INDEX_URL)."
            ) from exc
        if not parser.has_section("global"):
            continue
        for key, value in parser.items("global"):
            # pip treats index_url and index-url alike.
            if key.replace("_", "-") == "index-url" and value.strip():
                found = value.strip()
    return found
