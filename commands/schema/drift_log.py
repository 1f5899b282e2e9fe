"""Drift checks in the audit log: each database's last state, since when, and whether a
check changed it.

Every check run with no request (the scheduled sweep, ``migrate-bot drift``)
is a ``drift_checked`` event on the database's target name (``tenants.acme``
for a fleet member) holding the state, the digest of the differences and
since when the state has been what it is; ``changed`` says it differs from
the check before, so the ops channel is told once per change, whoever ran the
check. App Home and the metrics read the last event of each database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.chain import Event
from audit.store import EventStore
from commands.schema.drift_report import DriftReport, DriftState
from commands.state.vocabulary import EventKind

LINES_RECORDED = 50
"""Difference lines an event keeps (the digest covers them all)."""


@dataclass(frozen=True)
class DriftCheck:
    """One database's check as the log keeps it: the report, since when its state holds,
    and whether it changed from the check before (``previous``)."""

    report: DriftReport
    since: datetime
    changed: bool
    previous: DriftStatus | None
    event_seq: int | None = None


@dataclass(frozen=True)
class DriftStatus:
    """A database's last recorded drift: for App Home, metrics and the next comparison."""

    target: str
    state: DriftState
    count: int
    digest: str
    since: datetime
    checked_at: datetime
    lines: tuple[str, ...] = ()
    error: str | None = None

    @classmethod
    def from_event(cls, event: Event) -> DriftStatus:
        data = event.data
        return cls(
            target=event.target or "",
            state=DriftState(data["state"]),
            count=int(data["count"]),
            digest=data["digest"],
            since=datetime.fromisoformat(data["since"]),
            checked_at=datetime.fromisoformat(event.ts),
            lines=tuple(data.get("lines", ())),
            error=data.get("error"),
        )


def record_checks(
    store: EventStore, reports: Iterable[DriftReport], *, actor: str
) -> list[DriftCheck]:
    """Append a ``drift_checked`` event per report, each compared with the one before it."""
    return [record_check(store, report, actor=actor) for report in reports]


def record_check(store: EventStore, report: DriftReport, *, actor: str) -> DriftCheck:
    """Append ``report`` as a ``drift_checked`` event, in one transaction with reading the
    check before it (two sweeps at once cannot both see the change)."""
    with store.transaction() as tx:
        found = tx.events(
            target=report.target, kinds=[EventKind.DRIFT_CHECKED], newest_first=True, limit=1
        )
        previous = DriftStatus.from_event(found[0]) if found else None
        changed = previous is None or previous.digest != report.digest
        since = report.checked_at if changed or previous is None else previous.since
        event = tx.append(
            kind=EventKind.DRIFT_CHECKED,
            actor=actor,
            target=report.target,
            data=_event_data(report, since, changed),
        )
    return DriftCheck(report, since, changed, previous, event.seq)


def _event_data(report: DriftReport, since: datetime, changed: bool) -> dict[str, Any]:
    return {
        "state": report.state.value,
        "count": len(report.differences),
        "digest": report.digest,
        "since": since.isoformat(),
        "changed": changed,
        "revisions": list(report.revisions),
        "lines": report.lines[:LINES_RECORDED],
        "error": report.error,
        "cached": report.cached,
    }


def drift_statuses(store: EventStore, *, recent: int = 2000) -> dict[str, DriftStatus]:
    """Each database's last recorded drift check, by target name, from the ``recent``
    newest checks (a year of daily sweeps of a few targets)."""
    statuses: dict[str, DriftStatus] = {}
    for event in store.iter_events(
        kinds=[EventKind.DRIFT_CHECKED], newest_first=True, limit=recent
    ):
        statuses.setdefault(event.target or "", DriftStatus.from_event(event))
    return statuses
