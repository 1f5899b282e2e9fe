"""The reliability table is generated from the suite's records, merged per fault."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.reliability.report import render
from tests.support.reliability.results import FaultRecord


def test_rows_of_one_fault_are_merged_and_every_outcome_kept() -> None:
    records = [
        FaultRecord("crash", "SIGKILL mid-dump", 3, "interrupted at backup"),
        FaultRecord("crash", "SIGKILL mid-dump", 2, "interrupted at backup; file gone"),
        FaultRecord("fault", "S3 unreachable", 1, "backup failed, no revision applied"),
    ]
    text = render(
        records, command="pytest --full tests/reliability", date=datetime(2026, 11, 22, tzinfo=UTC)
    )
    assert "- command: `pytest --full tests/reliability`" in text
    assert "| crash | SIGKILL mid-dump | 5 | interrupted at backup; file gone | nothing |" in text
    assert "| fault | S3 unreachable | 1 | backup failed, no revision applied | nothing |" in text
