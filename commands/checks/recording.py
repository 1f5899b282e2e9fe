"""Check results into the audit log: one event per result, all of a report in one transaction."""

from __future__ import annotations

from audit.chain import Event
from audit.store import EventStore
from commands.checks.framework import CheckResult, Report
from commands.state.vocabulary import EventKind


def record_report(
    store: EventStore, report: Report, *, actor: str, request_id: str | None = None
) -> list[Event]:
    """Append a ``check_result`` event for each result (secrets are masked by the store)."""
    with store.transaction() as tx:
        return [
            tx.append(
                kind=EventKind.CHECK_RESULT,
                actor=actor,
                request_id=request_id,
                target=report.target,
                data=_event_data(report, result),
            )
            for result in report.results
        ]


def _event_data(report: Report, result: CheckResult) -> dict[str, object]:
    return {
        "phase": report.phase.value,
        "report_verdict": report.verdict.value,
        "started_at": report.started_at.isoformat(timespec="seconds"),
        **result.to_json(),
    }
