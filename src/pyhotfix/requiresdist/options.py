"""`pyhotfix add --requires-dist REQUIREMENT --remove-requires-dist NAME`: the command-line
spelling of [hotfix.NAME.requires-dist] edits, checked like the manifest's."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyhotfix.errors import UsageError
from pyhotfix.manifest import RequiresDistEdit, project_name_problem, shown_name

__all__ = ["requires_dist_edits"]


def requires_dist_edits(
    replacements: Sequence[str], removals: Sequence[str]
) -> tuple[RequiresDistEdit, ...]:
    """The edits the options ask for, in order (replacements first); UsageError for a value that
    is not a requirement or a name, or a name given twice."""
    edits: list[RequiresDistEdit] = []
    for value in replacements:
        try:
            requirement = Requirement(value)
        except InvalidRequirement as exc:
            raise UsageError(
                f"--requires-dist {value!r} is not a PEP 508 requirement ({exc}); give e.g. "
                '--requires-dist "urllib3>=1.21.1,<3".'
            ) from None
        edits.append(RequiresDistEdit(canonicalize_name(requirement.name), str(requirement)))
    for name in removals:
        problem = project_name_problem(name)
        if problem is not None:
            raise UsageError(f"--remove-requires-dist {shown_name(name)} {problem}.")
        edits.append(RequiresDistEdit(canonicalize_name(name), None))
    names = [e.name for e in edits]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(
            f"{', '.join(twice)} is given more than once in --requires-dist/--remove-requires-dist;"
            " give one edit per dependency."
        )
    return tuple(edits)
