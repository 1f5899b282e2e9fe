"""Backfill runs' events: every state change a conditional write in one transaction.

The check and the write share the audit store's transaction, so a double
click on Pause, or two processes starting the same run, act once; the loser
gets ``BackfillStateError`` saying what the run is doing instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from audit.chain import Event
from audit.store import EventStore
from commands.backfill.model import (
    RUN_PREFIX,
    BackfillRun,
    BackfillState,
    Estimate,
    apply_backfill_event,
    fold_backfill,
)
from commands.config.backfill import BackfillSpec
from commands.errors import ExitCode, MigrateBotError
from commands.state.vocabulary import EventKind

BOT_ACTOR = "migrate-bot"
_OPEN = frozenset(s for s in BackfillState if not s.is_final)


class BackfillNotFoundError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT

    def __init__(self, run_id: str) -> None:
        super().__init__(f"There is no backfill run {run_id}.")


class BackfillStateError(MigrateBotError):
    """The run's state does not allow the action (a Resume of a running backfill…)."""

    exit_code = ExitCode.REFUSED

    def __init__(self, run: BackfillRun, action: str) -> None:
        state = run.state.value.replace("_", " ")
        what = f"{run.id} ({run.name} on {run.target})"
        super().__init__(f"{what} cannot be {action}: it is {state}.")
        self.run = run


def fold(events: list[Event], run_id: str) -> BackfillRun:
    if not events or events[0].kind != EventKind.BACKFILL_ASKED:
        raise BackfillNotFoundError(run_id)
    return fold_backfill(events)


class BackfillLedger:
    """Reads and conditional writes of backfill runs in the audit log."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def load(self, run_id: str) -> BackfillRun:
        return fold(self.store.events(request_id=run_id), run_id)

    def newer(self, run: BackfillRun) -> BackfillRun:
        """``run`` with the events appended since it was folded (a cheap read)."""
        for event in self.store.events(request_id=run.id, after_seq=run.last_seq):
            run = apply_backfill_event(run, event)
        return run

    def runs(self, *, target: str | None = None, open_only: bool = False) -> list[BackfillRun]:
        """Runs newest first (only those not ended, with ``open_only``)."""
        asked = self.store.events(
            target=target, kinds=[EventKind.BACKFILL_ASKED], newest_first=True
        )
        found = [self.load(event.request_id) for event in asked if event.request_id]
        return [run for run in found if not open_only or run.state in _OPEN]

    def ask(
        self,
        *,
        target: str,
        spec: BackfillSpec,
        estimate: Estimate,
        requester: str,
        origin: Mapping[str, str] | None = None,
        change: str | None = None,
        phase: int | None = None,
    ) -> BackfillRun:
        """Record a new run awaiting approval; refused while the same backfill is open."""
        with self.store.transaction() as tx:
            for event in tx.events(target=target, kinds=[EventKind.BACKFILL_ASKED]):
                if event.data["spec"]["name"] == spec.name and event.request_id:
                    other = fold(tx.events(request_id=event.request_id), event.request_id)
                    if other.state in _OPEN:
                        raise BackfillStateError(other, "asked again while it is open")
            newest = tx.events(kinds=[EventKind.BACKFILL_ASKED], newest_first=True, limit=1)
            newest_id = newest[0].request_id if newest else None
            number = int(newest_id.removeprefix(RUN_PREFIX)) if newest_id else 0
            data: dict[str, Any] = {
                "spec": spec.to_json(),
                "estimate": estimate.to_json(),
                "origin": dict(origin or {}),
            }
            if change is not None:
                data.update(change=change, phase=phase)
            event = tx.append(
                kind=EventKind.BACKFILL_ASKED,
                actor=requester,
                request_id=f"{RUN_PREFIX}{number + 1}",
                target=target,
                data=data,
            )
        return fold_backfill([event])

    def _change(
        self, run_id: str, kind: EventKind, actor: str, data: Mapping[str, Any] | None = None
    ) -> BackfillRun:
        action, allowed = _RULES[kind]
        with self.store.transaction() as tx:
            run = fold(tx.events(request_id=run_id), run_id)
            if not allowed(run):
                raise BackfillStateError(run, action)
            event = tx.append(
                kind=kind, actor=actor, request_id=run.id, target=run.target, data=data
            )
        return apply_backfill_event(run, event)

    def approve(
        self,
        run_id: str,
        *,
        approver: str,
        groups: tuple[str, ...] = (),
        break_glass: bool = False,
    ) -> BackfillRun:
        """An approval (``break_glass``: an operator's at the terminal, bypassing the policy,
        said so in the log)."""
        data = {"groups": list(groups), "break_glass": break_glass}
        return self._change(run_id, EventKind.BACKFILL_APPROVED, approver, data)

    def cancel(self, run_id: str, *, by: str, reason: str = "") -> BackfillRun:
        return self._change(run_id, EventKind.BACKFILL_CANCELLED, by, {"reason": reason})

    def start(self, run_id: str, *, owner: str) -> BackfillRun:
        """An engine takes the run (from its checkpoint); only one ever does."""
        return self._change(run_id, EventKind.BACKFILL_STARTED, BOT_ACTOR, {"owner": owner})

    def pause(self, run_id: str, *, by: str) -> BackfillRun:
        return self._change(run_id, EventKind.BACKFILL_PAUSED, by)

    def resume(self, run_id: str, *, by: str) -> BackfillRun:
        return self._change(run_id, EventKind.BACKFILL_RESUMED, by)

    def stop(self, run_id: str, *, by: str) -> BackfillRun:
        return self._change(run_id, EventKind.BACKFILL_STOPPED, by)

    def interrupt(self, run_id: str, *, why: str) -> BackfillRun:
        """After a crash: a run whose engine is gone (the caller checked its lock)."""
        return self._change(run_id, EventKind.BACKFILL_INTERRUPTED, BOT_ACTOR, {"reason": why})

    def record(self, run: BackfillRun, kind: EventKind, data: Mapping[str, Any]) -> BackfillRun:
        """An engine's own event (a batch, a hold, the end): it owns the run, no check."""
        self.store.append(
            kind=kind, actor=BOT_ACTOR, request_id=run.id, target=run.target, data=data
        )
        return self.newer(run)


_WAITING = (BackfillState.AWAITING_APPROVAL, BackfillState.APPROVED)
_TAKEN = (BackfillState.RUNNING, BackfillState.APPROVED)
_RULES: dict[EventKind, tuple[str, Callable[[BackfillRun], bool]]] = {
    EventKind.BACKFILL_APPROVED: (
        "approved",
        lambda run: run.state is BackfillState.AWAITING_APPROVAL,
    ),
    EventKind.BACKFILL_CANCELLED: (
        "cancelled",
        lambda run: run.state in _WAITING and run.progress.batches == 0,
    ),
    EventKind.BACKFILL_STARTED: ("started", lambda run: run.state is BackfillState.APPROVED),
    EventKind.BACKFILL_PAUSED: ("paused", lambda run: run.state in _TAKEN),
    EventKind.BACKFILL_RESUMED: ("resumed", lambda run: run.state.resumable),
    EventKind.BACKFILL_STOPPED: (
        "stopped",
        lambda run: not run.state.is_final and run.state is not BackfillState.AWAITING_APPROVAL,
    ),
    EventKind.BACKFILL_INTERRUPTED: ("marked interrupted", lambda run: run.state in _TAKEN),
}
"""What each person's (or recovery's) event needs the run to be, and its verb for refusals."""
