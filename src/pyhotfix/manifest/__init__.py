"""hotfixes.toml: what to hotfix. Loading validates strictly; editing (for `add`) keeps the user's format.

One concept a module: `values` (the typed manifest), `names` (project names), `read` (the file,
read safely, and TOML syntax), `locate` (key → line for errors), `validate` (strict checks into
values), `edit` (format-preserving writes; the only one that imports tomlkit, and only when called).
"""

from __future__ import annotations

from pyhotfix.manifest.edit import patch_to_toml, remove_hotfix, set_hotfix_patches, upsert_hotfix
from pyhotfix.manifest.names import MAX_NAME_LENGTH, project_name_problem, shown_name
from pyhotfix.manifest.read import (
    MAX_MANIFEST_BYTES,
    decode_manifest,
    find_manifest,
    read_manifest_text,
)
from pyhotfix.manifest.validate import load_manifest, parse_manifest
from pyhotfix.manifest.values import (
    DEFAULT_INDEX,
    DEFAULT_LABEL,
    MANIFEST_NAME,
    FilePatch,
    GitPatch,
    HotfixSpec,
    Manifest,
    PatchSource,
    RequiresDistEdit,
    Settings,
    SourceMode,
    UrlPatch,
)

__all__ = [
    "DEFAULT_INDEX",
    "DEFAULT_LABEL",
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "MAX_NAME_LENGTH",
    "FilePatch",
    "GitPatch",
    "HotfixSpec",
    "Manifest",
    "PatchSource",
    "RequiresDistEdit",
    "Settings",
    "SourceMode",
    "UrlPatch",
    "decode_manifest",
    "find_manifest",
    "load_manifest",
    "parse_manifest",
    "patch_to_toml",
    "project_name_problem",
    "read_manifest_text",
    "remove_hotfix",
    "set_hotfix_patches",
    "shown_name",
    "upsert_hotfix",
]
