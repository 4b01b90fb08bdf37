"""flit_core: the static [project] version; a literal `__version__` kept in step."""

from __future__ import annotations

import re
from pathlib import Path

from pyhotfix.errors import VersioningError
from pyhotfix.versioning._common import load_pyproject_doc, replace_version_in_file, table
from pyhotfix.versioning.pep621 import set_pep621_version

__all__ = ["set_flit_version"]

# A literal `__version__ = "..."`, the form flit reads without importing the module.
_DUNDER_VERSION = r"^__version__\s*(?::\s*str\s*)?=\s*([\'\"])(?P<version>[^\'\"]+)\1"


def set_flit_version(root: Path, name: str, version: str) -> None:
    doc = load_pyproject_doc(root)
    if doc.get("project") is None and "metadata" in table(doc, "tool", "flit"):
        raise VersioningError(
            f"{name} uses flit's old [tool.flit.metadata] format, which is not supported yet: "
            "only [project]-based flit projects can be hotfixed."
        )
    doc = set_pep621_version(root, name, version, "flit_core")
    # flit no longer imports or parses the module for the version; keep a literal __version__
    # there (or in the module it is imported from) in step, best effort.
    module = table(doc, "tool", "flit", "module").get("name")
    module = module if isinstance(module, str) else str(name).replace("-", "_")
    for base in (root, root / "src"):
        for path in (base / f"{module}.py", base / module / "__init__.py"):
            if path.is_file():
                _replace_dunder_version(path, version)
                return


def _replace_dunder_version(path: Path, version: str) -> None:
    """Set a literal `__version__ = "..."` in `path`, or in the sibling module it is imported
    from (`from .package_data import __version__`, `from ._version import __version__`)."""
    if replace_version_in_file(path, _DUNDER_VERSION, version):
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^from\s+\.(\w+)\s+import\s+[^\n]*\b__version__\b", text, re.MULTILINE)
    if m is not None:
        for source in (path.parent / f"{m[1]}.py", path.parent / m[1] / "__init__.py"):
            if source.is_file() and replace_version_in_file(source, _DUNDER_VERSION, version):
                return
