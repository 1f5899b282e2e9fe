"""The demo's change (``migrations/changes/rename-youtube-id.toml``) in the sandbox: the
simulated application deploys the release each confirmed deploy phase says is out,
and a reset of the demo database leaves no change or backfill of the last session open.
"""

from __future__ import annotations

import threading
import time

from audit.store import EventStore
from commands.backfill.ledger import BOT_ACTOR, BackfillLedger
from commands.backfill.model import BackfillState
from commands.changes.change_file import PhaseKind
from commands.changes.ledger import ChangeLedger
from commands.changes.model import ChangeState

RESET_REASON = "the sandbox reset the demo database"
READ_EVERY_S = 2.0


class DeployedRelease:
    """Which of the simulated application's releases is out: as many as the newest demo
    change has deploy phases confirmed (read from the log at most every two seconds)."""

    def __init__(self, store: EventStore, target: str) -> None:
        self.store = store
        self.target = target
        self._read_at = float("-inf")
        self._release = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            if time.monotonic() - self._read_at >= READ_EVERY_S:
                self._release = self._read()
                self._read_at = time.monotonic()
            return self._release

    def _read(self) -> int:
        changes = ChangeLedger(self.store).changes(target=self.target)
        newest = changes[0] if changes else None
        if newest is None or newest.state is ChangeState.ABANDONED:
            return 0
        deploys = [p for p in newest.phases if p.spec.kind is PhaseKind.DEPLOY]
        return sum(1 for p in deploys if p.confirmed is not None)


def close_demo_changes(store: EventStore, target: str) -> None:
    """A reset's bookkeeping: the demo's changes in flight abandoned, its open backfills
    cancelled (not run yet) or stopped, each saying why."""
    changes = ChangeLedger(store)
    for change in changes.changes(target=target, in_flight=True):
        changes.abandon(change.id, by=BOT_ACTOR, reason=RESET_REASON)
    runs = BackfillLedger(store)
    for run in runs.runs(target=target, open_only=True):
        if run.state in (BackfillState.AWAITING_APPROVAL, BackfillState.APPROVED):
            runs.cancel(run.id, by=BOT_ACTOR, reason=RESET_REASON)
        else:
            runs.stop(run.id, by=BOT_ACTOR)
