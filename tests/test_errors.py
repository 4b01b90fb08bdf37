"""The exception tree: every failure says what kind it is, and keeps its exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pyhotfix
from pyhotfix import errors
from pyhotfix.errors import (
    DeployError,
    LifecycleError,
    PyhotfixError,
    ServeError,
    UsageError,
)

SRC = Path(pyhotfix.__file__).parent


def test_no_raise_of_the_base_class_in_src() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\braise\s+PyhotfixError\b", line)
    ]
    assert offenders == [], "raise a subclass that names the failure: " + ", ".join(offenders)


@pytest.mark.parametrize("cls", [DeployError, LifecycleError, ServeError])
def test_new_operation_errors_exit_1(cls: type[PyhotfixError]) -> None:
    assert issubclass(cls, PyhotfixError) and not issubclass(cls, UsageError)
    assert cls("x").exit_code == 1


def test_all_lists_every_error_class() -> None:
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, PyhotfixError)
    }
    assert classes == set(errors.__all__)
