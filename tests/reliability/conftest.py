"""Fixtures of the reliability suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.results import FaultRecord, record


@pytest.fixture
def reliability() -> Callable[..., None]:
    """``reliability(area=, fault=, tried=, outcome=, lost="nothing")`` adds a table row."""

    def add(**fields: object) -> None:
        record(FaultRecord(**fields))  # type: ignore[arg-type]

    return add
