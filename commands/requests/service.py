"""The request service: every front's way to move a request through its life.

Each method is one write transaction (``BEGIN IMMEDIATE``) that folds the
request from its events, checks the precondition and appends, so two bot
processes, a double click or a Slack retry cannot both succeed: the loser
gets an ``AlreadyDoneError`` with a polite sentence and nothing changes.
Group lookups (Slack API calls) happen before the transaction, never while
the log is locked. Refusals that an auditor would want to see (a user who
is not an approver, a run refused) are recorded as ``action_refused``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.store import Clock, Transaction, utc_now
from commands.config.targets_file import Config
from commands.migration.script.fingerprint import PlanFingerprint, describe_changes
from commands.requests import ledger
from commands.requests.acknowledgements import LiveUseAcknowledgements
from commands.requests.errors import (
    AlreadyDoneError,
    NothingToDoError,
    PlanChangedError,
    RequestInputError,
    WrongStateError,
)
from commands.requests.fleet_runs import FleetRuns
from commands.requests.inputs import (
    MAX_SUMMARY,
    clean_actor,
    clean_goal,
    clean_origin,
    clean_text,
    one_of,
    parse_request_id,
)
from commands.requests.live_use import check_live_use_acknowledged
from commands.requests.model import Approval, Request, apply_event
from commands.requests.policy import (
    ApprovalPolicy,
    GroupLookup,
    check_checklist,
    counts,
    no_group_members,
    tally,
)
from commands.requests.runs import RunsAndFreezes
from commands.requests.schedules import Schedules
from commands.requests.wording import format_time, state_phrase
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import (
    BEFORE_RUN_STATES,
    PENDING_STATES,
    ChecklistItem,
    EventKind,
    RequestKind,
    RequestState,
)


@dataclass(frozen=True)
class ApprovalResult:
    """The request after an approval, and what it still needs (empty: approved)."""

    request: Request
    still_needed: tuple[str, ...]


class RequestService(RunsAndFreezes, Schedules, FleetRuns, LiveUseAcknowledgements):
    """Create, check, approve, schedule and close requests; run them (a fleet's members
    too); freeze targets."""

    # reads -----------------------------------------------------------------

    def get(self, request_id: str) -> Request:
        """The request with this id (``M-3``, ``m3``…); raises ``RequestNotFoundError``."""
        return ledger.load(self.store, parse_request_id(request_id))

    def requests(
        self,
        *,
        target: str | None = None,
        states: Iterable[RequestState] | None = None,
        limit: int = 20,
    ) -> list[Request]:
        """The newest requests, optionally on one target or in some states."""
        found = ledger.newest_requests(self.store, target=target, states=states)
        return [r for _, r in zip(range(limit), found, strict=False)]

    # creating --------------------------------------------------------------

    def create(
        self,
        *,
        kind: RequestKind,
        target: str,
        requester: str,
        fingerprint: PlanFingerprint,
        goal: str | None = None,
        origin: Mapping[str, str] | None = None,
        reason: str = "",
        dedupe_key: str | None = None,
    ) -> Request:
        """Record a new request (id ``M-<n>``) for the plan ``fingerprint`` describes.

        ``dedupe_key`` (a Slack trigger or message ts) makes a retried command
        return the request it created the first time. Raises
        ``RequestInputError``, ``UnknownTargetError`` or ``NothingToDoError``.
        """
        fields = self._new_request_fields(
            kind=kind,
            target=target,
            requester=requester,
            fingerprint=fingerprint,
            goal=goal,
            reason=reason,
        )
        fields["origin"] = clean_origin(origin)
        if dedupe_key is not None:
            fields["dedupe_key"] = clean_text(dedupe_key, what="de-duplication key", limit=200)
        with self._transaction() as tx:
            if dedupe_key is not None:
                earlier = ledger.created_with_key(tx, target, fields["dedupe_key"])
                if earlier is not None:
                    return earlier
            return self._append_created(tx, requester, fields)

    def create_break_glass(
        self,
        *,
        kind: RequestKind,
        target: str,
        operator: str,
        fingerprint: PlanFingerprint,
        goal: str | None = None,
        reason: str = "",
    ) -> Request:
        """A request created and approved at once by a terminal operator (Slack is down).

        Marked break-glass in both events; the run still refuses a frozen
        target or a changed plan. Raises as ``create`` does.
        """
        fields = self._new_request_fields(
            kind=kind,
            target=target,
            requester=operator,
            fingerprint=fingerprint,
            goal=goal,
            reason=reason,
        )
        fields["break_glass"] = True
        with self._transaction() as tx:
            request = self._append_created(tx, operator, fields)
            event = tx.append(
                kind=EventKind.BREAK_GLASS_APPROVAL,
                actor=request.requester,
                request_id=request.id,
                target=target,
                data={
                    "fingerprint": fingerprint.digest,
                    "complete": True,
                    "reason": fields["reason"],
                },
            )
            return apply_event(request, event)

    def _new_request_fields(
        self,
        *,
        kind: RequestKind,
        target: str,
        requester: str,
        fingerprint: PlanFingerprint,
        goal: str | None,
        reason: str,
    ) -> dict[str, Any]:
        kind = one_of(RequestKind, kind, what="kind of request")
        self.config.target(target)
        clean_actor(requester)
        if fingerprint.target != target or fingerprint.action != kind.value:
            raise RequestInputError(
                f"the plan is for {fingerprint.action} on {fingerprint.target},"
                f" not {kind.value} on {target}"
            )
        if kind is not RequestKind.RESTORE and not fingerprint.revisions:
            where = ", ".join(fingerprint.from_revisions) or "base"
            raise NothingToDoError(target, where)
        return {
            "kind": kind.value,
            "goal": clean_goal(kind, goal),
            "reason": clean_text(reason, what="reason"),
            "fingerprint": fingerprint.to_json(),
        }

    def _append_created(self, tx: Transaction, requester: str, fields: dict[str, Any]) -> Request:
        request_id = ledger.next_request_id(tx)
        tx.append(
            kind=EventKind.REQUEST_CREATED,
            actor=clean_actor(requester),
            request_id=request_id,
            target=fields["fingerprint"]["target"],
            data=fields,
        )
        return ledger.load(tx, request_id)

    # before approval -------------------------------------------------------

    def record_preflight(
        self,
        request_id: str,
        *,
        actor: str,
        passed: bool,
        summary: str,
        checks: Sequence[Mapping[str, Any]] = (),
        fingerprint: PlanFingerprint | None = None,
    ) -> Request:
        """Record a pre-flight result (and the plan it checked, if it changed).

        Passed: requested → awaiting_approval. Failed: back to requested,
        which blocks approval; on an approved request a failure blocks the run.
        A changed plan voids earlier approvals. Raises ``WrongStateError``.
        """
        data: dict[str, Any] = {
            "passed": bool(passed),
            "summary": clean_text(summary, what="summary", limit=MAX_SUMMARY),
            "checks": [dict(c) for c in checks],
        }
        with self._transaction() as tx:
            request = ledger.load(tx, parse_request_id(request_id))
            if request.state not in BEFORE_RUN_STATES:
                raise WrongStateError(request, "checked again")
            if fingerprint is not None and fingerprint.digest != request.fingerprint.digest:
                data["fingerprint"] = fingerprint.to_json()
                data["changes"] = describe_changes(request.fingerprint, fingerprint)
            return self._append(tx, request, EventKind.PREFLIGHT_RECORDED, actor, data)

    def tick_checklist(self, request_id: str, *, item: ChecklistItem, actor: str) -> Request:
        """Record that ``actor`` confirms a checklist item; raises ``AlreadyDoneError`` if
        someone already did, ``WrongStateError`` once the request is approved or closed."""
        item = one_of(ChecklistItem, item, what="checklist item")
        with self._transaction() as tx:
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
            return self._append(tx, request, EventKind.CHECKLIST_TICKED, actor, {"item": item})

    # deciding --------------------------------------------------------------

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
        request = self.get(request_id)
        policy = self.policy(request.target)
        groups = self._check_approver(
            policy, user=approver, action="approve", request=request, requester=request.requester
        )
        with self._transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
                raise WrongStateError(request, "approved")
            now = self.now()
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
            request = self._append(tx, request, EventKind.APPROVAL_GRANTED, approver, data)
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
        request = self.get(request_id)
        self._check_approver(
            self.policy(request.target),
            user=clean_actor(actor),
            action="reject",
            request=request,
            requester=request.requester,
        )
        return self._close(request.id, EventKind.REQUEST_REJECTED, actor, reason)

    def cancel(self, request_id: str, *, actor: str, reason: str = "") -> Request:
        """The requester (or an approver) withdraws the request before it runs."""
        request = self.get(request_id)
        if clean_actor(actor) != request.requester:
            policy = self.policy(request.target)
            action = "cancel someone else's request"
            self._check_approver(policy, user=actor, action=action, request=request)
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
        with self._transaction() as tx:
            request = ledger.load(tx, request_id)
            if request.state is state:
                raise AlreadyDoneError(f"{request.id} {state_phrase(request)}.", request)
            if request.state not in BEFORE_RUN_STATES:
                raise WrongStateError(request, state.value)
            return self._append(tx, request, kind, actor, {"reason": reason})


def open_requests(
    config: Config, *, clock: Clock = utc_now, group_lookup: GroupLookup = no_group_members
) -> RequestService:
    """The request service on the configured audit log (what every front starts from)."""
    return RequestService(
        open_audit_log(config.bot.state, clock=clock), config, group_lookup=group_lookup
    )
