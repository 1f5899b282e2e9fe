"""A request's run in the audit log: the part of the request service the pipeline drives.

``start_run`` is the gate: approved → running at most once, and only if the
target is not frozen or busy, the latest pre-flight passed, the plan is still
the one approved and the approvals still count. A refusal ends the request
``refused`` with its reason (a lapsed approval: ``expired``), and so does
anything that stops the pipeline before the run starts (``refuse_run``): no
request stays approved with nothing left to run it.

A fleet's run is the request's run too (``start_run`` … ``finish_run``), with
its waves and its members' turns inside: a member starts once, only while the
fleet's run is going and the fleet is not frozen, and only for the plan
approved for it (a member whose database moved is recorded ``member_skipped``
with what changed, and never run). Every member event is on the fleet's
request, on target ``FLEET.MEMBER`` and with ``data.member``, so the member is
named wherever the event is read. Those checks read only the events they need
(the run's own, and the member's), so a run of hundreds of members never folds
the whole request on each write. Each transition is one write transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.store import Transaction
from commands.config.fleet import member_target_name
from commands.migration.script.fingerprint import PlanFingerprint, describe_changes
from commands.requests import ledger
from commands.requests.errors import (
    AlreadyDoneError,
    ApprovalExpiredError,
    FleetNotRunningError,
    MemberDriftedError,
    PlanChangedError,
    PreflightFailedError,
    RequestInputError,
    RequestNotFoundError,
    RequestRefused,
    TargetBusyError,
    TargetFrozenError,
    WrongStateError,
)
from commands.requests.inputs import MAX_SUMMARY, clean_actor, clean_text, one_of, parse_request_id
from commands.requests.model import Request
from commands.requests.policy import first_expiry
from commands.requests.request_log import RequestLog
from commands.requests.run_events import StepRecord, clipped, unordered
from commands.requests.wording import format_time, state_phrase
from commands.state.vocabulary import RUN_OUTCOMES, EventKind, RequestState

ONE_RUN_HINT = "An approval is good for one run: ask again to run it again."
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


class Runs:
    """Start, follow and finish runs: a request's, and a fleet's waves and members'."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def start_run(
        self,
        request_id: str,
        *,
        actor: str,
        fingerprint_now: PlanFingerprint,
        owner: Mapping[str, str] | None = None,
    ) -> Request:
        """approved → running, exactly once, for the plan as computed now.

        ``owner`` (host, pid…) is recorded to tell whose run it is after a
        crash. Raises ``AlreadyDoneError`` (it is running: a lost race),
        ``WrongStateError`` (not approved, or it already ran),
        ``TargetFrozenError``, ``TargetBusyError``, ``PreflightFailedError``,
        ``PlanChangedError`` (saying what changed; the request goes back to
        requested) or ``ApprovalExpiredError`` (the request is expired).
        """
        request_id = parse_request_id(request_id)
        actor = clean_actor(actor)
        with self.log.transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state is RequestState.RUNNING:
                raise AlreadyDoneError(f"{request.id} {state_phrase(request)}.", request)
            if request.state is not RequestState.APPROVED:
                raise WrongStateError(request, "run", ONE_RUN_HINT if request.run else "")
            refusal = self._refuse_run(tx, request, actor, fingerprint_now)
            if refusal is None:
                counted = self.log.tally(request).counted
                data = {
                    "fingerprint": request.fingerprint.digest,
                    "approvals": [a.approver for a in counted],
                    "owner": dict(owner or {}),
                }
                request = self.log.append(tx, request, EventKind.RUN_STARTED, actor, data)
        if refusal is not None:
            raise refusal
        return request

    def _refuse_run(
        self, tx: Transaction, request: Request, actor: str, fingerprint_now: PlanFingerprint
    ) -> RequestRefused | None:
        """Why ``request`` may not run now (its event already appended), or ``None``."""
        refusal = self._run_blocker(tx, request)
        if refusal is not None:
            self.log.append(tx, request, EventKind.RUN_REFUSED, actor, {"reason": str(refusal)})
            return refusal
        changes = describe_changes(request.fingerprint, fingerprint_now)
        if changes:
            refusal = PlanChangedError(request.id, changes, when="since it was approved")
            data = {
                "reason": str(refusal),
                "fingerprint": fingerprint_now.to_json(),
                "changes": changes,
            }
            self.log.append(tx, request, EventKind.RUN_REFUSED, actor, data)
            return refusal
        result = self.log.tally(request)
        if result.complete:
            return None
        policy = self.log.policy(request.target)
        now = self.log.now()
        lapsed = [a for a in request.current_approvals if now >= a.counts_from + policy.ttl]
        if lapsed:
            expired_at = first_expiry(policy, lapsed)
            assert expired_at is not None
            reason = f"its approval expired at {format_time(expired_at)} before the run started"
            self.log.append(tx, request, EventKind.REQUEST_EXPIRED, actor, {"reason": reason})
            return ApprovalExpiredError(request.id, expired_at, policy.ttl_text)
        refusal = RequestRefused(
            f"{request.id}'s approvals no longer meet {request.target}'s policy (it needs"
            f" {', '.join(result.missing)}): ask again."
        )
        self.log.append(tx, request, EventKind.RUN_REFUSED, actor, {"reason": str(refusal)})
        return refusal

    def refuse_run(self, request_id: str, *, actor: str, reason: str) -> Request | None:
        """approved → refused: the pipeline could not start the run (its lock is held, the
        plan cannot be made again…). Does nothing to a request no longer approved (it ran,
        or ``start_run`` already ended it); returns the refused request, else None."""
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state is not RequestState.APPROVED:
                return None
            data = {"reason": clean_text(reason, what="reason", limit=MAX_SUMMARY)}
            return self.log.append(tx, request, EventKind.RUN_REFUSED, actor, data)

    def _run_blocker(self, tx: Transaction, request: Request) -> RequestRefused | None:
        freeze = ledger.freeze_of(tx, request.target)
        if freeze is not None:
            return TargetFrozenError(freeze)
        busy = [r for r in ledger.running(tx, request.target) if r.id != request.id]
        if busy:
            return TargetBusyError(request.target, busy[0])
        if request.preflight is not None and not request.preflight.passed:
            return PreflightFailedError(request.id, request.preflight.summary)
        return None

    def record_steps(self, request_id: str, *, actor: str, steps: Sequence[StepRecord]) -> Request:
        """Record several steps in one transaction (one write to disk): a revision's end
        and the next one's start. Raises ``WrongStateError`` unless the request runs."""
        events = [step.event_data() for step in steps]
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state is not RequestState.RUNNING:
                raise WrongStateError(request, "updated")
            for data in events:
                request = self.log.append(tx, request, EventKind.RUN_STEP, actor, data)
            return request

    def finish_run(
        self,
        request_id: str,
        *,
        actor: str,
        outcome: RequestState,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        """running → succeeded, failed or aborted. ``reason`` is the error or why it was
        aborted. Raises ``RequestInputError``, ``AlreadyDoneError``, ``WrongStateError``."""
        outcome = one_of(RequestState, outcome, what="run outcome")
        if outcome not in RUN_OUTCOMES:
            raise RequestInputError(f"a run ends {', '.join(RUN_OUTCOMES)}, not {outcome}")
        data = {
            **dict(details or {}),
            "outcome": outcome,
            "reason": clean_text(reason, what="reason", limit=MAX_SUMMARY),
        }
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state.is_final and request.run is not None:
                raise AlreadyDoneError(
                    f"{request.id} already finished: it {state_phrase(request)}.", request
                )
            if request.state is not RequestState.RUNNING:
                raise WrongStateError(request, "finished")
            return self.log.append(tx, request, EventKind.RUN_FINISHED, actor, data)

    # a fleet's waves and members ---------------------------------------------

    def start_wave(self, request_id: str, *, actor: str, wave: int, members: Sequence[str]) -> None:
        self._wave_event(
            request_id, EventKind.WAVE_STARTED, actor, {"wave": wave, "members": list(members)}
        )

    def finish_wave(
        self, request_id: str, *, actor: str, wave: int, counts: Mapping[str, int]
    ) -> None:
        self._wave_event(
            request_id, EventKind.WAVE_FINISHED, actor, {"wave": wave, "counts": dict(counts)}
        )

    def _wave_event(
        self, request_id: str, kind: EventKind, actor: str, data: dict[str, object]
    ) -> None:
        """A wave's start or end, on the running fleet request (raises if it does not run)."""
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            tx.append(kind=kind, actor=actor, request_id=request_id, target=fleet, data=data)

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
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            if member_ended(tx, request_id, fleet, member) is not None:
                raise RequestInputError(
                    f"{member_target_name(fleet, member)} already had its turn in {request_id}"
                )
            freeze = ledger.freeze_of(tx, fleet)
            if freeze is not None:
                raise TargetFrozenError(freeze)
            changes = describe_changes(unordered(approved), unordered(now))
            data: dict[str, Any] = {"wave": wave}
            if changes:
                refusal = MemberDriftedError(member_target_name(fleet, member), request_id, changes)
                data |= {
                    "reason": str(refusal),
                    "changes": changes,
                    "database_revisions": list(now.from_revisions),
                }
                append_member(
                    tx, EventKind.MEMBER_SKIPPED, (request_id, fleet, member), actor, data
                )
            else:
                data |= {"fingerprint": approved.digest, "owner": dict(owner or {})}
                append_member(
                    tx, EventKind.MEMBER_STARTED, (request_id, fleet, member), actor, data
                )
        if changes:
            raise refusal

    def skip_member(
        self, request_id: str, *, member: str, actor: str, reason: str, wave: int
    ) -> None:
        """pending → skipped: its turn came and it could not start (its run lock is held,
        the fleet no longer lists it…). Does nothing to a member that already started."""
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            if member_ended(tx, request_id, fleet, member) is not None:
                return
            data = {"wave": wave, "reason": clipped(reason)}
            append_member(tx, EventKind.MEMBER_SKIPPED, (request_id, fleet, member), actor, data)

    def record_member_steps(
        self, request_id: str, *, member: str, actor: str, steps: Sequence[StepRecord]
    ) -> None:
        """Steps of a running member (a check, its backup, a revision's end and the next
        one's start…), in one transaction."""
        events = [step.event_data() for step in steps]
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            for data in events:
                append_member(tx, EventKind.MEMBER_STEP, (request_id, fleet, member), actor, data)

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
        with self.log.transaction() as tx:
            fleet = running_fleet(tx, request_id)
            ended = member_ended(tx, request_id, fleet, member)
            if ended is not None and ended != EventKind.MEMBER_STARTED:
                raise RequestInputError(f"{member_target_name(fleet, member)} already ended")
            append_member(tx, EventKind.MEMBER_FINISHED, (request_id, fleet, member), actor, data)


def running_fleet(tx: Transaction, request_id: str) -> str:
    """The fleet's target name; raises unless its run is going."""
    events = tx.events(request_id=request_id, kinds=_RUN_KINDS)
    if not events or events[0].kind != EventKind.REQUEST_CREATED:
        raise RequestNotFoundError(request_id)
    if events[-1].kind != EventKind.RUN_STARTED:
        raise FleetNotRunningError(f"{request_id}'s run is not going: nothing is recorded")
    return events[0].target or ""


def member_ended(tx: Transaction, request_id: str, fleet: str, member: str) -> str | None:
    """The kind of the member's latest start or end event, if any."""
    target = member_target_name(fleet, member)
    events = tx.events(request_id=request_id, target=target, kinds=_MEMBER_ENDS)
    return events[-1].kind if events else None


def append_member(
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
