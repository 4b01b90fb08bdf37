"""`reqfile.dependency_requirements`, the one reader of TOML dependency arrays (pin, verify)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from pyhotfix.deploy.reqfile import dependency_requirements

_ITEMS = st.one_of(
    st.sampled_from(["demo==1.0", "demo[extra]>=1; python_version>'3'", "Demo @ https://h/d.whl"]),
    st.text(max_size=30),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=2),
)


def _parses(item: Any) -> bool:
    if not isinstance(item, str):
        return False
    try:
        Requirement(item)
    except InvalidRequirement:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(_ITEMS, max_size=8))
def test_yields_exactly_the_valid_requirement_strings_with_their_positions(
    items: list[Any],
) -> None:
    got = list(dependency_requirements(items))
    assert [(n, text) for n, text, _ in got] == [
        (n, item) for n, item in enumerate(items) if _parses(item)
    ]
    assert all(str(req) == str(Requirement(text)) for _, text, req in got)


@given(
    st.one_of(st.none(), st.integers(), st.text(max_size=20), st.dictionaries(st.text(), st.text()))
)
def test_anything_but_a_list_yields_nothing(value: Any) -> None:
    assert list(dependency_requirements(value)) == []


def test_skips_non_strings_and_invalid_requirements_in_place() -> None:
    got = list(dependency_requirements(["alpha==1.0", 3, "not a requirement!", "beta>=2"]))
    assert [(n, text, req.name) for n, text, req in got] == [
        (0, "alpha==1.0", "alpha"),
        (3, "beta>=2", "beta"),
    ]
