"""HotfixVersion: the one place `X+label.N` is built and parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from pyhotfix.hotfixversion import HotfixVersion

labels = st.from_regex(r"\A[a-z][a-z0-9]{0,10}\Z")
bases = st.builds(
    lambda release, post: str(Version(".".join(map(str, release)) + post)),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    st.sampled_from(["", ".post1", "a1", "rc2", ".dev3", "b4.post5"]),
)
hotfix_versions = st.builds(HotfixVersion, base=bases, label=labels, number=st.integers(1, 10**9))


@given(hotfix_versions)
def test_parse_of_str_round_trips(version: HotfixVersion) -> None:
    assert HotfixVersion.parse(str(version)) == version


@given(st.text(max_size=300))
def test_parse_never_raises(text: str) -> None:
    parsed = HotfixVersion.parse(text)
    assert parsed is None or parsed.number >= 1


def test_str_and_parse_examples() -> None:
    assert str(HotfixVersion("2.31.0", "hotfix", 3)) == "2.31.0+hotfix.3"
    assert HotfixVersion.parse("2.31.0+hotfix.3") == HotfixVersion("2.31.0", "hotfix", 3)
    # packaging normalises: separators, case, leading zeros
    assert HotfixVersion.parse("1.0.POST1+Hotfix-07") == HotfixVersion("1.0.post1", "hotfix", 7)


@pytest.mark.parametrize(
    "text",
    [
        "1.0",
        "1.0+hotfix",
        "1.0+hotfix.0",
        "1.0+hotfix.1.2",
        "1.0+7.1",
        "1.0+hotfix.x",
        "not a version",
        "",
        "1.0+hotfix.\u0661",  # an Arabic-Indic digit one
        "1" * 300 + "+hotfix.1",
    ],
)
def test_parse_rejects(text: str) -> None:
    assert HotfixVersion.parse(text) is None


def test_next_and_with_number() -> None:
    first = HotfixVersion("1.0", "hotfix", 1)
    assert first.next() == HotfixVersion("1.0", "hotfix", 2)
    assert str(first.with_number(9)) == "1.0+hotfix.9"


def test_of_version() -> None:
    assert HotfixVersion.of(Version("3.1+corp.12")) == HotfixVersion("3.1", "corp", 12)
    assert HotfixVersion.of(Version("3.1")) is None
