"""The ways back from a run that failed, was aborted or was interrupted, read from the log.

The pipeline offers them with a run's outcome (``RunOutcome.rollback``); a
front that draws a request again later (a button clicked hours after, a
restart) needs the same offers from what was recorded: where the run
started, what the database held when it ended, and the backup it took.
Each way back is a new request that needs its own approval.
"""

from __future__ import annotations

from audit.store import EventStore
from commands.backup.listing import find_backup
from commands.backup.records import UnknownBackupError
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.pipeline import RollbackOffer, RunOutcome
from commands.pipeline.rollback import offers_from
from commands.requests import Request, RequestRefused
from commands.state.vocabulary import EventKind, RequestKind, RequestState

ENDED_BADLY = (RequestState.FAILED, RequestState.ABORTED, RequestState.INTERRUPTED)


def ways_back(request: Request, store: EventStore) -> tuple[RollbackOffer, ...]:
    """Back to the starting revision (if the database moved), and the run's backup (if any),
    after a run that ended badly or whose watch saw a regression: the pipeline's own
    offers, fed with what the log recorded of the run."""
    if request.closure is None:
        return ()
    if request.state not in ENDED_BADLY and not watch_regressed(request, store):
        return ()
    recorded = recorded_outcome(request, store)
    up = request.kind is not RequestKind.DOWNGRADE
    plan = Plan(
        target=request.target,
        direction=Direction.UP if up else Direction.DOWN,
        current=request.from_revisions,
        destination=request.to_revisions,
        revisions=(),
    )
    return offers_from(recorded, plan)


def watch_regressed(request: Request, store: EventStore) -> bool:
    """Whether the watch after ``request``'s successful run saw a regression."""
    if request.state is not RequestState.SUCCEEDED:
        return False
    kinds = [EventKind.WATCH_REGRESSED.value, EventKind.WATCH_FINISHED.value]
    events = store.events(request_id=request.id, kinds=kinds)
    return any(e.kind == EventKind.WATCH_REGRESSED or e.data.get("regressed") for e in events)


def recorded_outcome(request: Request, store: EventStore) -> RunOutcome:
    """How ``request``'s run ended, as the log has it (no per-revision timings or
    verification lines: those live in the run's events and thread)."""
    closure = request.closure
    assert closure is not None, "only a closed request has an outcome"
    ended_at = closure.details.get("database_revisions")
    if ended_at is None and request.state is RequestState.SUCCEEDED:
        ended_at = list(request.to_revisions)
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


def way_back(request: Request, store: EventStore, *, restore: bool) -> RollbackOffer:
    """The offer a "Roll back" (``restore=False``) or "Restore backup" button stands for.

    Raises ``RequestRefused`` when ``request`` has no such way back (it did not
    fail, the database did not move, no backup was taken or it was deleted).
    """
    for offer in ways_back(request, store):
        if (offer.kind == RequestKind.RESTORE.value) == restore:
            return offer
    what = "backup to restore" if restore else "revision to go back to"
    raise RequestRefused(f"{request.id} has no {what}: its run {request.state.value}.")


def run_backup(request: Request, store: EventStore) -> str | None:
    """The id of the newest backup taken for ``request`` that still exists."""
    kinds = [EventKind.BACKUP_SUCCEEDED.value]
    for event in store.events(request_id=request.id, kinds=kinds, newest_first=True):
        try:
            return find_backup(store, request.target, str(event.data.get("backup_id"))).id
        except UnknownBackupError:
            continue
    return None
