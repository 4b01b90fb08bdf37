"""CycloneDX 1.6 schema validation for the SBOM and VEX tests (cyclonedx-python-lib's validator,
from the test extra `cyclonedx-python-lib[json-validation]`)."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["cyclonedx_problem"]


@functools.cache
def _validator() -> Any:
    """Loading the schema takes seconds: once per test process."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def cyclonedx_problem(text: str) -> str | None:
    """None when `text` is a valid CycloneDX 1.6 JSON document (strict: no unknown properties),
    else the schema's complaint and where (a short line, not the whole schema)."""
    error = _validator().validate_str(text)
    if error is None:
        return None
    data = getattr(error, "data", None)
    if data is None:
        return str(error)[:500]
    return f"{data.message} at {'/'.join(map(str, data.absolute_path))}"
