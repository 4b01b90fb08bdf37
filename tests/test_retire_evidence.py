"""`retire`'s reading of `status` (`lifecycle.retire.fix_evidence`): which release has the fix,
which later ones lack it, and why none is known."""

from __future__ import annotations

import pytest

from pyhotfix.errors import UpstreamError
from pyhotfix.lifecycle.retire import FixEvidence, fix_evidence
from pyhotfix.lifecycle.status import (
    Action,
    HotfixStatus,
    PatchVerdict,
    Recommendation,
    ReleaseCheck,
)

FIXED = (PatchVerdict("fix.patch", "contained"),)
NOT_FIXED = (PatchVerdict("fix.patch", "applies"),)


def status_of(
    recommendation: Recommendation, *releases: ReleaseCheck, **kw: object
) -> HotfixStatus:
    return HotfixStatus("alpha", "1.0", ("fix.patch",), releases, recommendation, **kw)  # type: ignore[arg-type]


def test_retire_names_the_release_and_the_later_ones_without_the_fix() -> None:
    found = status_of(
        Recommendation("retire", "1.1"),
        ReleaseCheck("1.1", FIXED),
        ReleaseCheck("1.2", NOT_FIXED),  # a regression: excluded from the advice
        ReleaseCheck("1.3", note="no sdist"),  # unchecked: not claimed either way
        ReleaseCheck("1.4", FIXED),
    )
    assert fix_evidence(lambda: found) == FixEvidence("1.1", ("1.2",), "status says retire → 1.1")


@pytest.mark.parametrize("action", ["keep", "rebase", "conflict", "unknown"])
def test_other_advice_names_no_release(action: Action) -> None:
    found = status_of(Recommendation(action, "2.0" if action != "keep" else None))
    evidence = fix_evidence(lambda: found)
    assert evidence.fixed_in is None and evidence.without_fix == ()
    assert evidence.unknown_because == f"status says {found.recommendation}"


def test_a_status_that_fails_is_unknown_not_an_error() -> None:
    def unreachable() -> HotfixStatus:
        raise UpstreamError("Could not reach the index.")

    assert fix_evidence(unreachable) == FixEvidence(
        None, (), "status could not check it: Could not reach the index."
    )
    broken = status_of(Recommendation("retire", "1.1"), error="no page")
    assert fix_evidence(lambda: broken).unknown_because == "status could not check it: no page"
    stale = status_of(Recommendation("retire", "1.1"), ReleaseCheck("1.1", FIXED), stale=True)
    assert fix_evidence(lambda: stale).fixed_in == "1.1"  # answers from the cache still count
