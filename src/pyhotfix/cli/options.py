"""Options several commands share, spelled once: the same flag has the same help everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import click
from click.decorators import FC

__all__ = [
    "DIR_HELP",
    "INDEX_URL_HELP",
    "dir_option",
    "index_url_option",
    "json_option",
    "names_argument",
    "reason_option",
    "sign_option",
    "strict_option",
    "to_index_option",
]


class Decorator(Protocol):
    """What click.option returns: a decorator that keeps the command function's type."""

    def __call__(self, function: FC, /) -> FC: ...


DIR_HELP = "The workspace (default: .pyhotfix/work/NAME beside the manifest)."
INDEX_URL_HELP = (
    "Where deployments reach the hotfix index (its simple/ URL). Default: the configured index "
    "directory as a file:// URL."
)


def json_option(help: str = "Print the report as JSON.") -> Decorator:
    """`--json` (the parameter `as_json`): the command prints one JSON document on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def names_argument() -> Decorator:
    """NAMES: the hotfixes to act on (none: all of them)."""
    return click.argument("names", nargs=-1)


def dir_option() -> Decorator:
    """`--dir` (the parameter `directory`): a lifecycle command's workspace."""
    return click.option("--dir", "directory", type=click.Path(path_type=Path), help=DIR_HELP)


def strict_option() -> Decorator:
    return click.option(
        "--strict", is_flag=True, help="Fail when a patch touches files absent from the sdist."
    )


def reason_option(help: str) -> Decorator:
    return click.option("--reason", help=help)


def to_index_option() -> Decorator:
    """`--to` of yank and unyank: the index to change."""
    return click.option(
        "--to", "to", metavar="TARGET", help="The index to change (default: [settings] index)."
    )


def sign_option() -> Decorator:
    """`--sign`: also publish signed PEP 740 provenance (needs a CI Sigstore identity)."""
    return click.option(
        "--sign",
        is_flag=True,
        help="Also sign each new file (PEP 740, Sigstore); needs the CI's OIDC identity and "
        "pyhotfix[sign].",
    )


def index_url_option() -> Decorator:
    return click.option("--index-url", metavar="URL", help=INDEX_URL_HELP)
