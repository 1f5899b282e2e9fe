"""Member transitions of a fleet run: the part of the request service the fleet run drives.

Each is one write transaction that checks and appends, as the rest of the
service does: a member starts once, only while the fleet's run is going and
its target is not frozen, and only for the plan approved for it (a member
whose database moved is recorded ``member_skipped`` with what changed, and
never run). Every member event is on the fleet's request, on target
``FLEET.MEMBER`` and with ``data.member``, so the member is named wherever the
event is read. The checks read only the events they need (the run's own, and
the member's), so a run of hundreds of members never folds the whole request
on each write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from audit.store import Transaction
from commands.config.fleet import member_target_name
from commands.migration.script.fingerprint import PlanFingerprint, describe_changes
from commands.requests import ledger
from commands.requests.base import ServiceBase
from commands.requests.errors import (
    RequestInputError,
    RequestNotFoundError,
    RequestRefused,
    TargetFrozenError,
)
from commands.requests.inputs import MAX_SUMMARY, clean_actor, one_of, parse_request_id
from commands.requests.model import Request
from commands.requests.runs import StepRecord
from commands.state.vocabulary import RUN_OUTCOMES, EventKind, RequestState

_RUN_KINDS = [
    EventKind.REQUEST_CREATED,
    EventKind.RUN_STARTED,
    EventKind.RUN_FINISHED,
    EventKind.RUN_INTERRUPTED,
]
_MEMBER_ENDS = [
    EventKind.MEMBER_STARTED,
    EventKind.MEMBER_FINISHED,
    EventKind.MEMBER_SKIPPED,
    EventKind.MEMBER_INTERRUPTED,
]


def _unordered(fingerprint: PlanFingerprint) -> PlanFingerprint:
    """Several heads in any order are the same place (a version table has no order)."""
    return replace(
        fingerprint,
        from_revisions=tuple(sorted(fingerprint.from_revisions)),
        to_revisions=tuple(sorted(fingerprint.to_revisions)),
    )


def clipped(text: str) -> str:
    """An error text the run produced, cut to what an event keeps (it is never refused:
    a member's end must be recorded whatever its error says)."""
    text = text.strip()
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


class MemberDriftedError(RequestRefused):
    """A member's database (or the project) moved since the set was approved: not run."""

    def __init__(self, member: str, request_id: str, changes: Sequence[str]) -> None:
        super().__init__(
            f"{member} is skipped: it moved since {request_id} was approved"
            f" ({'; '.join(changes)}); it never runs under an approval for another plan."
        )
        self.changes = tuple(changes)


class FleetNotRunningError(RequestRefused):
    """A member event for a fleet request whose run is not going (ended, or never began)."""


class FleetRuns(ServiceBase):
    """Waves and members of a running fleet request."""

    def start_wave(self, request_id: str, *, actor: str, wave: int, members: Sequence[str]) -> None:
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            data = {"wave": wave, "members": list(members)}
            tx.append(
                kind=EventKind.WAVE_STARTED,
                actor=actor,
                request_id=request_id,
                target=fleet,
                data=data,
            )

    def finish_wave(
        self, request_id: str, *, actor: str, wave: int, counts: Mapping[str, int]
    ) -> None:
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            data = {"wave": wave, "counts": dict(counts)}
            tx.append(
                kind=EventKind.WAVE_FINISHED,
                actor=actor,
                request_id=request_id,
                target=fleet,
                data=data,
            )

    def start_member(
        self,
        request_id: str,
        *,
        member: str,
        actor: str,
        approved: PlanFingerprint,
        now: PlanFingerprint,
        wave: int,
        owner: Mapping[str, str] | None = None,
    ) -> None:
        """pending → running for the plan computed now, once. Raises
        ``MemberDriftedError`` (recorded ``member_skipped`` with the changes),
        ``TargetFrozenError`` (the fleet was frozen: nothing is recorded, the member
        stays pending), ``FleetNotRunningError``, ``RequestInputError`` (it ran)."""
        actor = clean_actor(actor)
        request_id = parse_request_id(request_id)
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            self._check_pending(tx, request_id, fleet, member)
            freeze = ledger.freeze_of(tx, fleet)
            if freeze is not None:
                raise TargetFrozenError(freeze)
            changes = describe_changes(_unordered(approved), _unordered(now))
            data: dict[str, Any] = {"wave": wave}
            if changes:
                refusal = MemberDriftedError(member_target_name(fleet, member), request_id, changes)
                data |= {
                    "reason": str(refusal),
                    "changes": changes,
                    "database_revisions": list(now.from_revisions),
                }
                self._append_member(
                    tx, EventKind.MEMBER_SKIPPED, (request_id, fleet, member), actor, data
                )
            else:
                data |= {"fingerprint": approved.digest, "owner": dict(owner or {})}
                self._append_member(
                    tx, EventKind.MEMBER_STARTED, (request_id, fleet, member), actor, data
                )
        if changes:
            raise refusal

    def skip_member(
        self, request_id: str, *, member: str, actor: str, reason: str, wave: int
    ) -> None:
        """pending → skipped: its turn came and it could not start (its run lock is held,
        the fleet no longer lists it…). Does nothing to a member that already started."""
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            if self._member_ended(tx, request_id, fleet, member) is not None:
                return
            data = {"wave": wave, "reason": clipped(reason)}
            self._append_member(
                tx, EventKind.MEMBER_SKIPPED, (request_id, fleet, member), actor, data
            )

    def record_member_steps(
        self, request_id: str, *, member: str, actor: str, steps: Sequence[StepRecord]
    ) -> None:
        """Steps of a running member (a check, its backup, a revision's end and the next
        one's start…), in one transaction."""
        events = [step.event_data() for step in steps]
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            for data in events:
                self._append_member(
                    tx, EventKind.MEMBER_STEP, (request_id, fleet, member), actor, data
                )

    def finish_member(
        self,
        request_id: str,
        *,
        member: str,
        actor: str,
        outcome: RequestState,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """running (or pending, when it failed before it could start) → succeeded, failed
        or aborted. Raises ``RequestInputError`` for another outcome or a member that
        already ended, ``FleetNotRunningError``."""
        outcome = one_of(RequestState, outcome, what="run outcome")
        if outcome not in RUN_OUTCOMES:
            raise RequestInputError(f"a member's run ends {', '.join(RUN_OUTCOMES)}, not {outcome}")
        data = {
            **dict(details or {}),
            "outcome": outcome.value,
            "reason": clipped(reason),
        }
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            ended = self._member_ended(tx, request_id, fleet, member)
            if ended is not None and ended != EventKind.MEMBER_STARTED:
                raise RequestInputError(f"{member_target_name(fleet, member)} already ended")
            self._append_member(
                tx, EventKind.MEMBER_FINISHED, (request_id, fleet, member), actor, data
            )

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
        with self._transaction() as tx:
            fleet = self._running_fleet(tx, request_id)
            for member, observed in members.items():
                self._append_member(
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

    # reads inside the transaction ---------------------------------------------

    def _running_fleet(self, tx: Transaction, request_id: str) -> str:
        """The fleet's target name; raises unless its run is going."""
        events = tx.events(request_id=request_id, kinds=_RUN_KINDS)
        if not events or events[0].kind != EventKind.REQUEST_CREATED:
            raise RequestNotFoundError(request_id)
        if events[-1].kind != EventKind.RUN_STARTED:
            raise FleetNotRunningError(f"{request_id}'s run is not going: nothing is recorded")
        return events[0].target or ""

    def _member_ended(
        self, tx: Transaction, request_id: str, fleet: str, member: str
    ) -> str | None:
        """The kind of the member's latest start or end event, if any."""
        target = member_target_name(fleet, member)
        events = tx.events(request_id=request_id, target=target, kinds=_MEMBER_ENDS)
        return events[-1].kind if events else None

    def _check_pending(self, tx: Transaction, request_id: str, fleet: str, member: str) -> None:
        if self._member_ended(tx, request_id, fleet, member) is not None:
            raise RequestInputError(
                f"{member_target_name(fleet, member)} already had its turn in {request_id}"
            )

    def _append_member(
        self,
        tx: Transaction,
        kind: EventKind,
        where: tuple[str, str, str],
        actor: str,
        data: Mapping[str, Any],
    ) -> None:
        """Append one member event; ``where`` is (request id, fleet, member)."""
        request_id, fleet, member = where
        tx.append(
            kind=kind,
            actor=actor,
            request_id=request_id,
            target=member_target_name(fleet, member),
            data={"member": member, **data},
        )
