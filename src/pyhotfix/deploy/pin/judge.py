"""Whether a requirement the app wrote can take the hotfix build, and the refusal when it cannot:
the judgement requirements.txt and pyproject.toml pinning share."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import HotfixBuild, hotfix_number

__all__ = ["compatible", "is_exact_pin", "refusal"]


def compatible(specifier: SpecifierSet, build: HotfixBuild) -> bool:
    """Does the app's specifier allow this hotfix? An earlier hotfix pin of ours (==X+label.M)
    counts as asking for X: pin exists to move it to the current build."""
    base = Version(build.version)
    kept: list[str] = []
    for spec in specifier:
        if spec.operator == "==" and "*" not in spec.version:
            try:
                pinned = Version(spec.version)
            except InvalidVersion:
                kept.append(str(spec))
                continue
            ours = hotfix_number(spec.version, build.label) is not None
            if ours and pinned.public == base.public:
                continue  # one of our pins, perhaps stale
        kept.append(str(spec))
    return SpecifierSet(",".join(kept)).contains(Version(build.hotfix_version), prereleases=True)


def refusal(where: str, written: str, build: HotfixBuild, path: Path) -> str:
    # Every command named here must work as written: `rebase --to` takes a public release other
    # than the hotfix's own, and `retire` refuses unless status finds the fix upstream.
    head = (
        f"{where}: `{written}` asks for a version the hotfix cannot satisfy: the hotfix is "
        f"{build.hotfix_version}, a patched {build.name} {build.version}."
    )
    current = f"`{build.name}=={build.version}`"
    tail = f"{path.name} was not changed."
    wanted = _wanted_release(written)
    parsed = _parse_version(wanted) if wanted is not None else None
    if parsed is None:  # a range, or not a version
        return (
            f"{head} If the app needs another release, see whether it has the fix with "
            f"`pyhotfix status {build.name}`, then retire the hotfix (`pyhotfix retire "
            f"{build.name}`) or carry the patches onto that release (`pyhotfix rebase "
            f"{build.name} --to VERSION`, VERSION the release, e.g. 1.2.3). Otherwise ask for "
            f"{current} and run `pyhotfix pin` again. {tail}"
        )
    if parsed.local is not None:
        public = parsed.public
        if hotfix_number(str(parsed), build.label) is not None:
            what = f"an earlier hotfix build of {build.name} {public}"
        else:
            what = f"a local build of {build.name} {public}, not one of this hotfix's"
        moved = ""
        if Version(public) > Version(build.version):
            moved = (
                f" If the hotfix should follow the app to {public} instead, run `pyhotfix rebase "
                f"{build.name} --to {public}` and then pin."
            )
        return (
            f"{where}: `{written}` pins {what}, but hotfixes.lock now has {build.hotfix_version} "
            f"(for {build.name} {build.version}). Replace it with {current} and run `pyhotfix "
            f"pin` again: pin then writes the current build.{moved} {tail}"
        )
    if parsed == Version(build.version):  # e.g. ===X, which a local version never matches
        return f"{head} Ask for {current} instead (`==` accepts the hotfix build). {tail}"
    return (
        f"{head} If the app has moved on to {wanted}, check whether it contains the fix "
        f"(`pyhotfix status {build.name}`): if it does, retire the hotfix (`pyhotfix retire "
        f"{build.name}`); if not, carry the patches onto it (`pyhotfix rebase {build.name} --to "
        f"{parsed.public}`). Otherwise ask for {build.version} again ({current}). {tail}"
    )


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _wanted_release(written: str) -> str | None:
    """The release an `==X` requirement names, for the message; None for ranges."""
    try:
        specs = list(Requirement(written).specifier)
    except InvalidRequirement:
        specs = []
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def is_exact_pin(requirement: Requirement, build: HotfixBuild) -> bool:
    specs = list(requirement.specifier)
    return (
        len(specs) == 1
        and specs[0].operator == "=="
        and _same_version(specs[0].version, build.hotfix_version)
    )


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False
