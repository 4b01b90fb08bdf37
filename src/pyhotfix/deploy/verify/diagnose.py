"""Explaining a check: which index and which pin let another build through, the fix to run,
and the configurations that install the hotfix today and would not tomorrow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import Deployment, HotfixBuild, hotfix_number
from pyhotfix.deploy.appconfig import AppConfig
from pyhotfix.deploy.verify.record import compare_files
from pyhotfix.deploy.verify.report import Check, CheckResult, Installed, VerifyOptions
from pyhotfix.httpclient import redact

__all__ = ["diagnose", "fix_hint", "fragile_warnings", "hash_pin_hint"]


def diagnose(
    build: HotfixBuild,
    installed: Installed | None,
    source: str | None,
    before: str | None,
    installer: str,
    config: AppConfig,
    deployment: Deployment,
    options: VerifyOptions,
    wheel: Mapping[str, str] | None,
    ignored: Sequence[str] = (),
) -> tuple[CheckResult, str]:
    pins = config.describe_pins(build.name)
    fix = fix_hint(options)
    # The PIP_* settings uv does not read, when they were meant to bring the hotfix.
    uv_note = f" (uv does not read {', '.join(ignored)}, which only pip reads)" if ignored else ""
    if installed is None:
        return "unused", f"not installed: the app does not depend on {build.name}"
    try:
        got = Version(installed.version)
    except InvalidVersion:
        return "FAIL", f"installed an unparseable version {installed.version!r}"
    expected = Version(build.hotfix_version)
    where = f" from {_index_of(source, deployment)}" if source else ""
    if got == expected:
        return _same_version(installed, wheel, where, options, deployment)
    number = hotfix_number(installed.version, build.label)
    if number is not None and got.public == expected.public:
        current = build.number() or 0
        age = "an older" if number < current else "another"
        return "FAIL", (
            f"{age} hotfix build, {installed.version}{where}: {pins} pins it, but the current build "
            f"is {build.hotfix_version} (hotfixes.lock). Pin again: {fix}."
        )
    if before is not None and installed.version == before and source is None:
        return "FAIL", (
            f"upstream {before} was already installed and {pins} accepts it{uv_note}, so "
            f"{installer} kept it without looking at any index. Pin the exact hotfix version "
            f"({fix}) or pin it by URL (`pyhotfix export --format constraints`)."
        )
    why = f"{pins} allows it{uv_note}{_let_through(build, installer, config)}"
    return "FAIL", f"got {_kind(installed.version)} {installed.version}{where}: {why}. Fix: {fix}."


def _same_version(
    installed: Installed,
    wheel: Mapping[str, str] | None,
    where: str,
    options: VerifyOptions,
    deployment: Deployment,
) -> tuple[CheckResult, str]:
    """The hotfix version is installed: ok when its files are the built wheel's."""
    problems = compare_files(installed, wheel) if wheel is not None else []
    if problems:
        return "FAIL", (
            f"{installed.version}{where} is not the build in hotfixes.lock: "
            f"{'; '.join(problems[:3])}. Another index or cache serves a different build "
            f"under this version: {hash_pin_hint(options, deployment)}."
        )
    if wheel is None:
        checked = "version matches"
    else:
        count = len(wheel)
        checked = f"{count} file{'s match' if count != 1 else ' matches'} the built wheel"
    return "ok", f"{checked}{where}"


def _let_through(build: HotfixBuild, installer: str, config: AppConfig) -> str:
    """What in the configuration let another version win over the hotfix index."""
    if installer == "pip" and config.merges and not config.url_pinned(build.name):
        return (
            f", and pip merges {'; '.join(config.merges)} with the default index and takes the "
            "best version"
        )
    if not config.merges and not config.url_pinned(build.name):
        return ", and nothing in the configuration points at the hotfix index"
    return ""


def _kind(version: str) -> str:
    return "a local build" if "+" in version else "upstream"


def fix_hint(options: VerifyOptions) -> str:
    if options.requirements is not None:
        return f"`pyhotfix pin -r {options.requirements}`"
    return f"`pyhotfix pin --pyproject {options.project}/pyproject.toml`"


def hash_pin_hint(options: VerifyOptions, deployment: Deployment) -> str:
    """How to pin the build by its sha256 without breaking the install: `pin --hashes` only when
    every other requirement of the file has hashes already (one hash makes pip demand them all),
    else the URL + sha256 constraints, which do not turn hash-checking on."""
    from pyhotfix.deploy.pin import hashes_would_hold

    constraints = (
        "pin it by URL and sha256: `pyhotfix export --format constraints -o "
        "hotfix-constraints.txt` and install with `-c hotfix-constraints.txt` (or "
        "PIP_CONSTRAINT / UV_CONSTRAINT)"
    )
    if options.requirements is not None and hashes_would_hold(options.requirements, deployment):
        return (
            f"pin it by hash (`pyhotfix pin -r {options.requirements} --hashes`), or {constraints}"
        )
    return constraints


def _index_of(url: str, deployment: Deployment) -> str:
    """The index part of a file URL; "the hotfix index" when the file is one of our builds."""
    base = url.split("#", 1)[0]
    filename = unquote(base.rsplit("/", 1)[-1])
    directory = base.rsplit("/", 1)[0] + "/" if "/" in base else base
    ours = {f.filename for b in deployment.hotfixes for f in b.files}
    if filename in ours or _same_place(base, deployment.index_url, prefix=True):
        return "the hotfix index"  # its URL is in the report's `source`
    parts = urlsplit(base)
    if parts.scheme in ("http", "https") and parts.netloc:
        return redact(f"{parts.scheme}://{parts.netloc}")  # e.g. files.pythonhosted.org
    return redact(directory if filename.endswith((".whl", ".tar.gz", ".zip")) else base)


def _same_place(url: str, index_url: str, prefix: bool = False) -> bool:
    """Whether `url` is `index_url` (or under it, with `prefix`), comparing file:// URLs and
    plain paths (uv.lock records a local index as a path)."""

    def norm(value: str) -> str:
        if value.startswith("file:"):
            value = unquote(urlsplit(value).path)
        return value.rstrip("/")

    a, b = norm(url), norm(index_url)
    return a == b or (prefix and a.startswith(b + "/"))


def fragile_warnings(
    deployment: Deployment, options: VerifyOptions, config: AppConfig, checks: Sequence[Check]
) -> list[str]:
    """Configurations that install the hotfix today and would not tomorrow."""
    warnings: list[str] = []
    fix = fix_hint(options)
    for build in deployment.hotfixes:
        rows = [c for c in checks if c.hotfix == build.name]
        # Only installers whose every install got the hotfix: failures speak for themselves.
        passed = {c.installer for c in rows} - {c.installer for c in rows if c.result != "ok"}
        if "pip" in passed and config.merges and not config.url_pinned(build.name):
            newer = config.allows_newer(build.name, build.version)
            merges = "; ".join(config.merges)
            if newer is not None:
                warnings.append(
                    f"{build.name} (pip): safe today, unsafe tomorrow. "
                    f"{config.describe_pins(build.name)} also accepts an upstream release such "
                    f"as {newer}, and pip merges {merges} with the default index and takes the "
                    f"best version: the day upstream publishes one, deployments install it "
                    f"instead of the hotfix. Pin the exact build: {fix}, or `pyhotfix export "
                    "--format constraints`."
                )
            elif not config.hashed(build.name):
                warnings.append(
                    f"{build.name} (pip): pip merges {merges} and "
                    f"{config.describe_pins(build.name)} has no hash, so any index that serves "
                    f"another build numbered {build.hotfix_version} would be accepted: "
                    f"{hash_pin_hint(options, deployment)}."
                )
        if "uv" in passed and config.uv_project and build.name not in config.uv_explicit:
            warnings.append(
                f"{build.name} (uv): not tied to an explicit hotfix index in [tool.uv.sources], "
                "so uv takes it from the first index that has it and the order of "
                f"[[tool.uv.index]] decides. Pin it: {fix}."
            )
    return warnings
