"""A run's outcome from its request as the log folded it: a fleet's as its run ends, and
any run's after the fact (an outcome a restart must still announce).

A fleet run's state: ``aborted`` when it was stopped on purpose (Stop, a
freeze, the window's end), ``failed`` when any member failed (or was aborted
by its own deadline), else ``succeeded`` — members skipped because they moved
are listed, and offered a retry, but are not failures.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from audit.store import EventStore
from commands.backup.listing import find_backup
from commands.backup.records import UnknownBackupError
from commands.pipeline.progress import FleetOutcome, MemberOutcome, RunOutcome
from commands.requests.members import MemberRun
from commands.requests.model import Request
from commands.state.vocabulary import EventKind, MemberState, RequestState

FAILED_STATES = (MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)


def member_outcome(member: MemberRun, now: datetime) -> MemberOutcome:
    """How ``member``'s turn ended (a member still pending did not start)."""
    state = member.state
    if state is MemberState.PENDING:
        state = MemberState.NOT_STARTED
    return MemberOutcome(
        name=member.name,
        state=state,
        wave=member.wave,
        from_revisions=member.from_revisions,
        database_revisions=member.revision_now,
        failed_step=member.failed_step if state in FAILED_STATES else None,
        error=member.error or None,
        backup_id=member.backup_id,
        duration_s=member.duration_s(now),
    )


def fleet_outcome(
    request: Request,
    *,
    stop_reason: str | None,
    aborted: bool,
    started_at: datetime,
    finished_at: datetime,
    broken: bool = False,
) -> FleetOutcome:
    """The outcome of ``request``'s run as folded; ``broken``: it stopped on an error of
    its own (failed, whatever its members did)."""
    members = tuple(member_outcome(m, finished_at) for m in request.members.values())
    failed = [m for m in members if m.state in FAILED_STATES]
    if broken:
        state = RequestState.FAILED
    elif aborted:
        state = RequestState.ABORTED
    elif failed:
        state = RequestState.FAILED
    else:
        state = RequestState.SUCCEEDED
    return FleetOutcome(
        request_id=request.id,
        target=request.target,
        kind=request.kind.value,
        state=state,
        failed_step=None,
        error=_reason(members, stop_reason) if state is not RequestState.SUCCEEDED else None,
        started_at=started_at,
        finished_at=finished_at,
        from_revisions=(),
        planned_revisions=request.fingerprint.revision_ids,
        database_revisions=None,
        members=members,
    )


def _reason(members: tuple[MemberOutcome, ...], stop_reason: str | None) -> str:
    """``2 member(s) failed (acme, globex); max_failures (1) reached: 150 not started``."""
    parts = []
    failed = [m.name for m in members if m.state in FAILED_STATES]
    if failed:
        shown = ", ".join(failed[:5]) + (", …" if len(failed) > 5 else "")
        parts.append(f"{len(failed)} member(s) failed ({shown})")
    waiting = sum(m.state is MemberState.NOT_STARTED for m in members)
    if stop_reason:
        parts.append(stop_reason + (f": {waiting} not started" if waiting else ""))
    return "; ".join(parts) or "the run ended"


def outcome_details(outcome: FleetOutcome) -> dict[str, Any]:
    """What the fleet's ``run_finished`` event records beside its state and reason."""
    by_state: dict[str, list[str]] = {}
    for member in outcome.members:
        by_state.setdefault(member.state.value, []).append(member.name)
    return {
        "counts": outcome.counts,
        "members": by_state,
        "duration_s": round(outcome.duration_s, 3),
    }


def recorded_outcome(request: Request, store: EventStore) -> RunOutcome:
    """How ``request``'s run ended, as the log has it (no per-revision timings or
    verification lines: those live in the run's events and thread); a fleet's with
    each member's outcome."""
    closure = request.closure
    assert closure is not None, "only a closed request has an outcome"
    if request.is_fleet:
        assert request.run is not None, "only a fleet run that ended"
        outcome = fleet_outcome(
            request,
            stop_reason=None,
            aborted=request.state is RequestState.ABORTED,
            started_at=request.run.started_at,
            finished_at=closure.at,
        )
        return replace(outcome, state=request.state, error=closure.reason or None)
    ended_at = closure.details.get("database_revisions")
    backup = run_backup(request, store)
    return RunOutcome(
        request_id=request.id,
        target=request.target,
        kind=request.kind.value,
        state=request.state,
        failed_step=None,
        error=closure.reason or None,
        started_at=request.run.started_at if request.run else closure.at,
        finished_at=closure.at,
        from_revisions=request.from_revisions,
        planned_revisions=request.fingerprint.revision_ids,
        database_revisions=tuple(ended_at) if isinstance(ended_at, list) else None,
        backup={"id": backup} if backup is not None else None,
    )


def run_backup(request: Request, store: EventStore) -> str | None:
    """The id of the newest backup taken for ``request`` that still exists."""
    kinds = [EventKind.BACKUP_SUCCEEDED.value]
    for event in store.events(request_id=request.id, kinds=kinds, newest_first=True):
        try:
            return find_backup(store, request.target, str(event.data.get("backup_id"))).id
        except UnknownBackupError:
            continue
    return None
