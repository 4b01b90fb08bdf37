"""The pip formats: requirements, constraints, pip.conf, s2i, Heroku, direct references."""

from __future__ import annotations

from pyhotfix.deploy import Deployment
from pyhotfix.deploy.export.common import (
    constraints_lines,
    header,
    index_pin,
    text,
    url_pins,
)
from pyhotfix.deploy.export.values import CONSTRAINTS_NAME, ExportedFile, ExportOptions

__all__ = ["constraints", "direct", "heroku", "pip_conf", "requirements", "s2i"]


def requirements(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    why = [
        "Lines for requirements.txt, in place of your own line for each package. pip merges",
        "--extra-index-url with its other indexes and takes the best version it finds, so each",
        "hotfix is pinned to its exact local version (PyPI refuses local versions: only this build",
        "matches)",
    ]
    if opts.hashes:
        why[-1] += " and to the sha256 of its files."
        why += [
            "One --hash turns on pip's hash-checking mode for the whole install: your other",
            "requirements then need == pins and hashes too (`uv pip compile --generate-hashes`).",
            "If they have none, export with --no-hashes, or use --format constraints.",
        ]
    else:
        why[-1] += "."
        why += [
            "Without hashes, an index that serves another build under the same version would be",
            "accepted: prefer hashes, or --format constraints (URL and sha256 pins).",
        ]
    lines = [*header("requirements", *why), f"--extra-index-url {deployment.index_url}"]
    lines.extend(index_pin(build, opts.hashes) for build in deployment.hotfixes)
    return (ExportedFile("requirements.txt", text(lines)),)


def constraints(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    return (ExportedFile(CONSTRAINTS_NAME, text(constraints_lines(deployment, "constraints"))),)


def pip_conf(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    why = [
        "For pip.conf (or PIP_CONFIG_FILE). pip.conf can only add indexes, which pip merges (best",
        "version wins), so it names a constraints file instead, written next to it: each hotfix",
        "pinned to its exact build by URL and sha256.",
    ]
    if opts.out is not None:
        constraint = str((opts.out.parent / CONSTRAINTS_NAME).absolute())
    else:
        constraint = CONSTRAINTS_NAME
        why.append("A relative path is read from the directory pip runs in: make it absolute.")
    lines = [*header("pip-conf", *why), "[install]", f"constraint = {constraint}"]
    return (
        ExportedFile("pip.conf", text(lines)),
        ExportedFile(CONSTRAINTS_NAME, text(constraints_lines(deployment, "pip-conf"))),
    )


def s2i(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = header(
        "s2i",
        "OpenShift s2i: .s2i/environment. The Python builder runs `pip install -r requirements.txt`",
        "(and `pip install .` for setup.py projects) in the source directory with these variables",
        "set, and pip reads any PIP_* variable. An index added with PIP_EXTRA_INDEX_URL would be",
        "merged with PyPI or the platform's mirror (best version wins), so PIP_CONSTRAINT names the",
        "constraints file beside this one instead: each hotfix pinned by URL and sha256. Commit both.",
    )
    lines.append(f"PIP_CONSTRAINT=.s2i/{CONSTRAINTS_NAME}")
    return (
        ExportedFile("environment", text(lines)),
        ExportedFile(CONSTRAINTS_NAME, text(constraints_lines(deployment, "s2i"))),
    )


def heroku(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = header(
        "heroku",
        "Lines for requirements.txt on Heroku. The Python buildpack runs `pip install -r",
        "requirements.txt` and passes on only PIP_EXTRA_INDEX_URL, which merges indexes (best",
        "version wins) and cannot pin; so each hotfix is named here by the URL of its exact build",
        "and its sha256, which pip checks (without hash-checking mode for your other lines). Your",
        "own line for the package (e.g. name==version) may stay: the build satisfies it.",
    )
    return (ExportedFile("requirements.txt", text(lines + url_pins(deployment))),)


def direct(deployment: Deployment, opts: ExportOptions) -> tuple[ExportedFile, ...]:
    lines = header(
        "direct",
        "PEP 508 direct references, today's form of setup.py's dependency_links (removed in pip",
        "19): for [project] dependencies, install_requires or requirements.txt. The installer",
        "downloads exactly this file and checks its sha256; no index is involved. PyPI refuses",
        "uploads whose dependencies are direct references: use them in applications.",
    )
    return (ExportedFile("requirements.txt", text(lines + url_pins(deployment))),)
