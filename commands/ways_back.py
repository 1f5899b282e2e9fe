"""The ways back from a run that failed, was aborted or was interrupted, read from the log.

The pipeline offers them with a run's outcome (``RunOutcome.rollback``); a
front that draws a request again later (a button clicked hours after, a
restart) needs the same offers from what was recorded: where the run
started, what the database held when it ended, and the backup it took.
Each way back is a new request that needs its own approval.
"""

from __future__ import annotations

from audit.store import EventStore
from commands.audit_log import EventKind, RequestKind, RequestState
from commands.backup_records import UnknownBackupError, find_backup
from commands.pipeline import RollbackOffer
from commands.requests import Request, RequestRefused

ENDED_BADLY = (RequestState.FAILED, RequestState.ABORTED, RequestState.INTERRUPTED)


def ways_back(request: Request, store: EventStore) -> tuple[RollbackOffer, ...]:
    """Back to the starting revision (if the database moved), and the run's backup (if any)."""
    if request.state not in ENDED_BADLY or request.closure is None:
        return ()
    offers = []
    start = request.from_revisions
    ended_at = request.closure.details.get("database_revisions")
    moved = ended_at is None or set(ended_at) != set(start)
    if moved and request.kind is not RequestKind.RESTORE and len(start) <= 1:
        goal = start[0] if start else "base"
        kind = RequestKind.DOWNGRADE if request.kind is RequestKind.UPGRADE else RequestKind.UPGRADE
        offers.append(
            RollbackOffer(
                kind=kind.value,
                goal=goal,
                description=f"{kind.value} {request.target} back to {goal}, where the run started",
            )
        )
    backup = run_backup(request, store)
    if backup is not None:
        offers.append(
            RollbackOffer(
                kind=RequestKind.RESTORE.value,
                goal=backup,
                description=f"restore backup {backup}, taken just before the run"
                " (rows written since are lost)",
            )
        )
    return tuple(offers)


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
