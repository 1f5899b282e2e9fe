"""Deciding on a request: the requester's checklist, the approvers' acknowledgement of
live use and approvals, a rejection, a cancellation, an expiry.

Approvals bind to the plan the approver saw and count only while the policy
says so (``policy``); the checklist must be complete and live use
acknowledged first. Refusals an auditor would want (someone who is not an
approver) are recorded as ``action_refused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commands.requests import ledger
from commands.requests.errors import AlreadyDoneError, PlanChangedError, WrongStateError
from commands.requests.inputs import clean_actor, clean_text, one_of, parse_request_id
from commands.requests.live_use import acknowledgement_data, check_live_use_acknowledged
from commands.requests.model import Approval, Request
from commands.requests.policy import ApprovalPolicy, check_checklist, counts, tally
from commands.requests.request_log import RequestLog
from commands.requests.wording import format_time, state_phrase
from commands.state.vocabulary import (
    BEFORE_RUN_STATES,
    PENDING_STATES,
    ChecklistItem,
    EventKind,
    RequestState,
)


@dataclass(frozen=True)
class ApprovalResult:
    """The request after an approval, and what it still needs (empty: approved)."""

    request: Request
    still_needed: tuple[str, ...]


class Decisions:
    """Tick, acknowledge, approve, reject, cancel and expire requests."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def tick_checklist(self, request_id: str, *, item: ChecklistItem, actor: str) -> Request:
        """Record that ``actor`` confirms a checklist item; raises ``AlreadyDoneError`` if
        someone already did, ``WrongStateError`` once the request is approved or closed."""
        item = one_of(ChecklistItem, item, what="checklist item")
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            done = request.tick_of(item)
            if done is not None:
                raise AlreadyDoneError(
                    f"{done.by} already confirmed “{item.label}” on {request.id}"
                    f" at {format_time(done.at)}.",
                    request,
                )
            if request.state not in PENDING_STATES:
                raise WrongStateError(request, "changed")
            return self.log.append(tx, request, EventKind.CHECKLIST_TICKED, actor, {"item": item})

    def acknowledge_live_use(self, request_id: str, *, actor: str) -> Request:
        """An approver's acknowledgement, recorded once per plan and findings.

        Raises ``SelfApprovalError`` (the requester), ``NotAnApproverError``
        (recorded), ``NothingToAcknowledgeError``, ``AlreadyDoneError`` or
        ``WrongStateError`` once the request is approved or closed.
        """
        actor = clean_actor(actor)
        request = ledger.load(self.log.store, parse_request_id(request_id))
        self.log.check_approver(
            self.log.policy(request.target),
            user=actor,
            action="acknowledge",
            request=request,
            requester=request.requester,
        )
        with self.log.transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state not in PENDING_STATES:
                raise WrongStateError(request, "acknowledged")
            data = acknowledgement_data(request, actor)
            return self.log.append(tx, request, EventKind.LIVE_USE_ACKNOWLEDGED, actor, data)

    def approve(
        self, request_id: str, *, approver: str, fingerprint_seen: str | None = None
    ) -> ApprovalResult:
        """Add ``approver``'s approval of the request's current plan.

        ``fingerprint_seen`` is the plan digest the approver was shown: if the
        plan changed since, the approval is refused. The request becomes
        approved when the policy is met. Raises ``SelfApprovalError``,
        ``NotAnApproverError`` (recorded), ``ChecklistIncompleteError``,
        ``LiveUseNotAcknowledgedError``, ``PlanChangedError``, ``WrongStateError``
        or ``AlreadyDoneError``.
        """
        request_id = parse_request_id(request_id)
        approver = clean_actor(approver)
        request = ledger.load(self.log.store, parse_request_id(request_id))
        policy = self.log.policy(request.target)
        groups = self.log.check_approver(
            policy, user=approver, action="approve", request=request, requester=request.requester
        )
        with self.log.transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
                raise WrongStateError(request, "approved")
            now = self.log.now()
            self._refuse_repeat_approval(request, approver, policy, now)
            if fingerprint_seen is not None and fingerprint_seen != request.fingerprint.digest:
                changes = request.plan_changes or ("it was planned again",)
                raise PlanChangedError(request.id, changes, when="since you saw it")
            check_checklist(policy, request)
            check_live_use_acknowledged(request, approver)
            digest = request.fingerprint.digest
            mine = Approval(approver, now, digest, groups, slot_start=request.slot_start)
            result = tally(policy, (*request.current_approvals, mine), fingerprint=digest, now=now)
            data = {
                "fingerprint": digest,
                "groups": list(groups),
                "complete": result.complete,
                "still_needed": list(result.missing),
            }
            if request.slot_start is not None:
                data["slot_start"] = request.slot_start.isoformat()
            request = self.log.append(tx, request, EventKind.APPROVAL_GRANTED, approver, data)
        return ApprovalResult(request, result.missing)

    def _refuse_repeat_approval(
        self, request: Request, approver: str, policy: ApprovalPolicy, now: datetime
    ) -> None:
        """A second click counts once; an approval that lapsed may be given again."""
        mine = request.approval_by(approver)
        digest = request.fingerprint.digest
        if mine is not None and counts(policy, mine, fingerprint=digest, now=now):
            raise AlreadyDoneError(
                f"You already approved {request.id} at {format_time(mine.at)}.", request
            )
        if request.state is RequestState.APPROVED:
            names = ", ".join(a.approver for a in request.current_approvals)
            raise AlreadyDoneError(
                f"{request.id} is already approved (by {names}): nothing more is needed.", request
            )

    def reject(self, request_id: str, *, actor: str, reason: str = "") -> Request:
        """An approver turns the request down before it runs. Raises ``SelfApprovalError``
        (the requester cancels instead), ``NotAnApproverError``, ``WrongStateError``."""
        request = ledger.load(self.log.store, parse_request_id(request_id))
        self.log.check_approver(
            self.log.policy(request.target),
            user=clean_actor(actor),
            action="reject",
            request=request,
            requester=request.requester,
        )
        return self._close(request.id, EventKind.REQUEST_REJECTED, actor, reason)

    def cancel(self, request_id: str, *, actor: str, reason: str = "") -> Request:
        """The requester (or an approver) withdraws the request before it runs."""
        request = ledger.load(self.log.store, parse_request_id(request_id))
        if clean_actor(actor) != request.requester:
            policy = self.log.policy(request.target)
            action = "cancel someone else's request"
            self.log.check_approver(policy, user=actor, action=action, request=request)
        return self._close(request.id, EventKind.REQUEST_CANCELLED, actor, reason)

    def expire(self, request_id: str, *, actor: str, reason: str) -> Request:
        """Close a request that waited too long (the scheduler's sweep, an approval's end)."""
        return self._close(parse_request_id(request_id), EventKind.REQUEST_EXPIRED, actor, reason)

    def _close(self, request_id: str, kind: EventKind, actor: str, reason: str) -> Request:
        state = {
            EventKind.REQUEST_REJECTED: RequestState.REJECTED,
            EventKind.REQUEST_CANCELLED: RequestState.CANCELLED,
            EventKind.REQUEST_EXPIRED: RequestState.EXPIRED,
        }[kind]
        reason = clean_text(reason, what="reason")
        with self.log.transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state is state:
                raise AlreadyDoneError(f"{request.id} {state_phrase(request)}.", request)
            if request.state not in BEFORE_RUN_STATES:
                raise WrongStateError(request, state.value)
            return self.log.append(tx, request, kind, actor, {"reason": reason})
