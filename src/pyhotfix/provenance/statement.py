"""The provenance of a built file: an in-toto Statement v1 with a SLSA Provenance v1 predicate,
made from the lock entry alone, so anyone with the lock regenerates it byte for byte.

subject: the file's name and sha256. buildDefinition.externalParameters: the manifest entry
(name, version, label, source mode, patch sources in order). resolvedDependencies: the upstream
sdist, or in wheel mode each upstream wheel (URL, sha256), each patch (source, sha256), every
build requirement installed (``pkg:pypi/NAME@VERSION``) and the Python
(``pkg:generic/python@VERSION``). runDetails.builder: pyhotfix and its version.
No wall-clock time: the only date is SOURCE_DATE_EPOCH, which the sources fix. Keys are sorted,
so the same lock entry always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from packaging.requirements import InvalidRequirement, Requirement

from pyhotfix.lock import LockedFile, LockedHotfix

__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE_URI",
    "Dependency",
    "StatementFacts",
    "parse_statement",
    "render_statement",
    "statements_for",
]

STATEMENT_TYPE_URI: Final = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE: Final = "https://slsa.dev/provenance/v1"
# What the external parameters mean (documented in the README, "Provenance and audit").
BUILD_TYPE: Final = "https://pypi.org/project/pyhotfix/#buildtype-hotfix-v1"
BUILDER_ID: Final = "pkg:pypi/pyhotfix"
MAX_STATEMENT_BYTES: Final = 1 << 20  # a statement is a few KiB; anything larger is not ours


def render_statement(locked: LockedHotfix, file: LockedFile) -> bytes:
    """The statement of `file`, one of `locked`'s files, as UTF-8 JSON (sorted keys)."""
    document = {
        "_type": STATEMENT_TYPE_URI,
        "subject": [{"name": file.filename, "digest": {"sha256": file.sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "hotfix": {
                        "name": locked.name,
                        "version": locked.version,
                        "label": locked.label,
                        "source": "wheels" if locked.upstream_wheels else "sdist",
                        "patches": [p.source for p in locked.patches],
                    }
                },
                "internalParameters": {
                    "hotfixVersion": locked.hotfix_version,
                    "number": locked.number,
                    "inputs": locked.inputs,
                    "buildBackend": locked.backend,
                    "buildBackendVersion": locked.backend_version,
                    "sourceDateEpoch": locked.source_date_epoch,
                },
                "resolvedDependencies": _dependencies(locked),
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"pyhotfix": locked.pyhotfix}},
            },
        },
    }
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def statements_for(locked: LockedHotfix) -> dict[str, bytes]:
    """Filename -> statement bytes, for every file of `locked`."""
    return {f.filename: render_statement(locked, f) for f in locked.files}


def _dependencies(locked: LockedHotfix) -> list[dict[str, Any]]:
    deps: list[dict[str, Any]]
    if locked.upstream_wheels:  # wheel mode: every upstream wheel patched
        deps = [
            {"name": f"upstream-wheel:{w.filename}", "uri": w.url, "digest": {"sha256": w.sha256}}
            for w in sorted(locked.upstream_wheels, key=lambda w: w.filename)
        ]
    else:
        deps = [
            {
                "name": "upstream-sdist",
                "uri": locked.upstream_url,
                "digest": {"sha256": locked.upstream_sha256},
            }
        ]
    for patch in locked.patches:
        dep: dict[str, Any] = {"name": f"patch:{patch.source}", "digest": {"sha256": patch.sha256}}
        if patch.source.startswith(("https://", "http://")):
            dep["uri"] = patch.source
        deps.append(dep)
    for pin in locked.build_requires:
        deps.append({"name": f"build-requirement:{pin}", "uri": _purl(pin)})
    deps.append({"name": "python", "uri": f"pkg:generic/python@{locked.python}"})
    return deps


def _purl(pin: str) -> str:
    """``name==version`` as a package URL (``pkg:pypi/name@version``)."""
    try:
        req = Requirement(pin)
    except InvalidRequirement:
        return f"pkg:pypi/{pin}"
    version = next((s.version for s in req.specifier if s.operator == "=="), "")
    name = req.name.lower().replace("_", "-")
    return f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"


# -- reading one back (for audit's explanations) -----------------------------------------------


@dataclass(frozen=True)
class Dependency:
    name: str
    uri: str | None
    sha256: str | None


@dataclass(frozen=True)
class StatementFacts:
    """What a statement says, as far as audit compares it with the lock."""

    subject_name: str
    subject_sha256: str
    external: Mapping[str, Any]
    internal: Mapping[str, Any]
    dependencies: tuple[Dependency, ...]
    builder_version: str | None


def parse_statement(data: bytes) -> StatementFacts:
    """The facts of a statement; ValueError saying what is wrong when it is not one we write."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise ValueError(f"it is {len(data)} bytes, more than a statement can be")
    try:
        doc = json.loads(data.decode("utf-8"))
    except RecursionError as exc:  # nested deeper than the parser goes: not ours either
        raise ValueError("it is nested too deeply") from exc
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE_URI:
        raise ValueError("it is not an in-toto Statement v1")
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise ValueError(f"its predicate is {doc.get('predicateType')!r}, not SLSA Provenance v1")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise ValueError("it does not have exactly one subject")
    subject = subjects[0]
    digest = subject.get("digest")
    sha = digest.get("sha256") if isinstance(digest, dict) else None
    name = subject.get("name")
    if not isinstance(name, str) or not isinstance(sha, str):
        raise ValueError("its subject has no name or no sha256")
    predicate = _obj(doc.get("predicate"), "predicate")
    definition = _obj(predicate.get("buildDefinition"), "buildDefinition")
    run = _obj(predicate.get("runDetails"), "runDetails")
    builder = _obj(run.get("builder"), "builder")
    version = builder.get("version")
    deps = definition.get("resolvedDependencies", [])
    if not isinstance(deps, list):
        raise ValueError("resolvedDependencies is not a list")
    return StatementFacts(
        subject_name=name,
        subject_sha256=sha,
        external=_obj(definition.get("externalParameters"), "externalParameters"),
        internal=_obj(definition.get("internalParameters", {}), "internalParameters"),
        dependencies=tuple(_dependency(d) for d in deps),
        builder_version=(version.get("pyhotfix") if isinstance(version, dict) else None),
    )


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"its {what} is not an object")
    return value


def _dependency(item: object) -> Dependency:
    d = _obj(item, "resolved dependency")
    digest = d.get("digest")
    sha = digest.get("sha256") if isinstance(digest, dict) else None
    uri = d.get("uri")
    name = d.get("name")
    return Dependency(
        name=name if isinstance(name, str) else "",
        uri=uri if isinstance(uri, str) else None,
        sha256=sha if isinstance(sha, str) else None,
    )
