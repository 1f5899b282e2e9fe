"""Scheduling requests: the part of the request service the scheduler and both fronts use.

A scheduled request is an ordinary request bound to a ``Slot``: it still
needs its approvals, and they must come before the slot starts (the scheduler
expires it otherwise). An approval is for one start: moving the request to
another time voids the approvals given for the old one, which stay on record.
"""

from __future__ import annotations

from typing import Any

from audit.store import Transaction
from commands.requests import ledger
from commands.requests.errors import AlreadyDoneError, WrongStateError
from commands.requests.inputs import clean_actor, clean_text, parse_request_id
from commands.requests.model import Request
from commands.requests.request_log import RequestLog
from commands.requests.slots import ScheduleError, Slot
from commands.requests.wording import format_time
from commands.state.vocabulary import BEFORE_RUN_STATES, EventKind


def not_started(request: Request) -> bool:
    """Still open and not running: it may be scheduled, moved, expired or missed."""
    return request.state in BEFORE_RUN_STATES


class Schedules:
    """Bind requests to slots, record reminders, close what missed its window."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def schedule(self, request_id: str, *, slot: Slot, actor: str) -> Request:
        """Bind the request to ``slot``, or move it there (``request_rescheduled``).

        The requester or an approver may. Raises ``NotAnApproverError``
        (recorded), ``ScheduleError`` (the slot has begun), ``WrongStateError``
        (it ran or was closed), ``AlreadyDoneError`` (already at that slot).
        """
        actor = clean_actor(actor)
        request = ledger.load(self.log.store, parse_request_id(request_id))
        if actor != request.requester:
            policy = self.log.policy(request.target)
            action = "schedule someone else's request"
            self.log.check_approver(policy, user=actor, action=action, request=request)
        if slot.start <= self.log.now():
            raise ScheduleError(f"{format_time(slot.start)} is in the past")
        with self.log.transaction() as tx:
            request = ledger.load(tx, request.id)
            if not not_started(request):
                raise WrongStateError(request, "scheduled")
            data: dict[str, Any] = {"slot": slot.to_json()}
            if request.schedule is None:
                return self.log.append(tx, request, EventKind.REQUEST_SCHEDULED, actor, data)
            if request.schedule.slot == slot:
                raise AlreadyDoneError(
                    f"{request.id} is already scheduled for {slot.describe()}.", request
                )
            data["previous"] = request.schedule.slot.to_json()
            data["approvals_voided"] = [a.approver for a in request.current_approvals]
            return self.log.append(tx, request, EventKind.REQUEST_RESCHEDULED, actor, data)

    def miss_window(self, request_id: str, *, actor: str, reason: str) -> Request:
        """Close a request whose slot passed while nothing could start it (it is expired).

        Raises ``WrongStateError`` if it already ran or was closed.
        """
        with self.log.transaction() as tx:
            request = self._open_scheduled(tx, request_id, "marked as missed")
            data = {"reason": clean_text(reason, what="reason"), "slot": _slot_json(request)}
            return self.log.append(tx, request, EventKind.SCHEDULE_MISSED, actor, data)

    def record_reminder(self, request_id: str, *, actor: str, before_s: float) -> Request:
        """Record that stakeholders were reminded ``before_s`` seconds before the start."""
        with self.log.transaction() as tx:
            request = self._open_scheduled(tx, request_id, "reminded of")
            data = {"before_s": before_s, "slot": _slot_json(request)}
            return self.log.append(tx, request, EventKind.REMINDER_SENT, actor, data)

    def scheduled(self, *, target: str | None = None) -> list[Request]:
        """Requests bound to a slot that have not started, soonest first (only the open
        ones are folded: the request index says which)."""
        found = [
            r
            for r in ledger.newest_requests(self.log.store, target=target, states=BEFORE_RUN_STATES)
            if r.schedule is not None and not_started(r)
        ]
        return sorted(found, key=lambda r: r.schedule.slot.start if r.schedule else r.created_at)

    def _open_scheduled(self, tx: Transaction, request_id: str, action: str) -> Request:
        request = ledger.load(tx, parse_request_id(request_id))
        if request.schedule is None or not not_started(request):
            raise WrongStateError(request, action)
        return request


def _slot_json(request: Request) -> dict[str, object]:
    assert request.schedule is not None
    return request.schedule.slot.to_json()
