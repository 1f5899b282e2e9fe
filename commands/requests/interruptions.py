"""Runs the bot died in: marked ``interrupted`` at start-up, never resumed.

The part of the request service recovery drives (``commands.pipeline.recovery``
decides which runs are dead): a single target's run is ``run_interrupted`` with
what was found; a fleet's running members are each ``member_interrupted`` with
what its database holds, then the fleet's run, in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from commands.requests import ledger
from commands.requests.model import Request
from commands.requests.request_log import RequestLog
from commands.requests.runs import append_member, running_fleet
from commands.state.vocabulary import EventKind


class Interruptions:
    """Mark the runs of a dead process interrupted."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def mark_interrupted_runs(
        self,
        *,
        actor: str,
        targets: Collection[str] | None = None,
        observations: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Request]:
        """Mark every running request (on ``targets``, default all) interrupted.

        For start-up after a crash: nothing can still be running for this
        process. With several bot processes on one file, pass only the targets
        whose run is known dead (e.g. its advisory lock is free).
        ``observations`` adds what was found per target (e.g. the revisions the
        database holds) to its event.
        """
        interrupted = []
        with self.log.transaction() as tx:
            for request in ledger.running(tx):
                if targets is not None and request.target not in targets:
                    continue
                run = request.run
                data = {
                    "reason": "the bot stopped while this ran",
                    "step": run.current_step if run else None,
                    "last_revision_applied": run.last_revision_applied if run else None,
                    **dict((observations or {}).get(request.target, {})),
                }
                done = self.log.append(tx, request, EventKind.RUN_INTERRUPTED, actor, data)
                interrupted.append(done)
        return interrupted

    def interrupt_fleet(
        self,
        request_id: str,
        *,
        actor: str,
        members: Mapping[str, Mapping[str, Any]],
        data: Mapping[str, Any],
    ) -> Request:
        """After a crash: each member that was running is ``member_interrupted`` with what
        its database holds (``members``), then the fleet's run is ``run_interrupted``, in
        one transaction. The members whose turn had not come read as not started."""
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            for member, observed in members.items():
                append_member(
                    tx,
                    EventKind.MEMBER_INTERRUPTED,
                    (request_id, fleet, member),
                    actor,
                    dict(observed),
                )
            tx.append(
                kind=EventKind.RUN_INTERRUPTED,
                actor=actor,
                request_id=request_id,
                target=fleet,
                data=dict(data),
            )
            return ledger.load(tx, request_id)
