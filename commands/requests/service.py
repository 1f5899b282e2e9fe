"""The request service: every front's way to move a request through its life, in one place.

``RequestService`` is a facade: each method below is one transition of a
request (or a read), done by the part that owns it, all on one
``RequestLog`` (the audit log, the config, the group lookup):

- ``asking``: ``create``, ``create_break_glass``, ``record_preflight``;
- ``decisions``: ``tick_checklist``, ``acknowledge_live_use``, ``approve``,
  ``reject``, ``cancel``, ``expire``;
- ``runs``: ``start_run`` … ``finish_run``, and a fleet's waves and members;
- ``interruptions``: runs a dead process left (recovery);
- ``schedules``: slots, reminders, missed windows;
- ``freezes``: ``freeze``, ``unfreeze``, ``frozen``.

Each transition is one write transaction (``BEGIN IMMEDIATE``) that folds the
request from its events, checks the precondition and appends, so two bot
processes, a double click or a Slack retry cannot both succeed: the loser
gets an ``AlreadyDoneError`` with a polite sentence and nothing changes.
Group lookups (Slack API calls) happen before the transaction, never while
the log is locked. The parts' docstrings say what each raises.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from audit.store import Clock, EventStore, utc_now
from commands.config.targets_file import Config
from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests import ledger
from commands.requests.asking import Asking
from commands.requests.decisions import ApprovalResult, Decisions
from commands.requests.freezes import Freezes
from commands.requests.index import PAGE, REQUEST_INDEX
from commands.requests.inputs import parse_request_id
from commands.requests.interruptions import Interruptions
from commands.requests.model import Freeze, Request
from commands.requests.policy import ApprovalPolicy, GroupLookup, Tally, no_group_members
from commands.requests.request_log import RequestLog
from commands.requests.run_events import StepRecord
from commands.requests.runs import Runs
from commands.requests.schedules import Schedules
from commands.requests.slots import Slot
from commands.state.audit_log import open_audit_log
from commands.state.audit_reading import audit_log_errors
from commands.state.vocabulary import ChecklistItem, RequestKind, RequestState, StepStatus


class RequestService:
    """Create, check, approve, schedule and close requests; run them (a fleet's members
    too); freeze targets."""

    def __init__(
        self, store: EventStore, config: Config, *, group_lookup: GroupLookup = no_group_members
    ) -> None:
        self.log = RequestLog(store, config, group_lookup=group_lookup)
        self.store, self.config, self.group_lookup = store, config, group_lookup
        self._asking = Asking(self.log)
        self._decisions = Decisions(self.log)
        self._runs = Runs(self.log)
        self._interruptions = Interruptions(self.log)
        self._schedules = Schedules(self.log)
        self._freezes = Freezes(self.log)

    # reads -------------------------------------------------------------------

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
        found = ledger.newest_requests(
            self.store, target=target, states=states, page=min(limit, PAGE)
        )
        return list(islice(found, limit))

    def now(self) -> datetime:
        return self.log.now()

    def policy(self, target: str) -> ApprovalPolicy:
        """The target's approval rules; raises ``UnknownTargetError``."""
        return self.log.policy(target)

    def tally(self, request: Request) -> Tally:
        """The approvals that count for ``request`` now, and what it still needs."""
        return self.log.tally(request)

    # asking ------------------------------------------------------------------

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
        """A new request for the plan ``fingerprint`` describes (``Asking.create``)."""
        return self._asking.create(
            kind=kind,
            target=target,
            requester=requester,
            fingerprint=fingerprint,
            goal=goal,
            origin=origin,
            reason=reason,
            dedupe_key=dedupe_key,
        )

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
        """A request created and approved at once by a terminal operator."""
        return self._asking.create_break_glass(
            kind=kind,
            target=target,
            operator=operator,
            fingerprint=fingerprint,
            goal=goal,
            reason=reason,
        )

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
        """A pre-flight result (and the plan it checked, if it changed)."""
        return self._asking.record_preflight(
            request_id,
            actor=actor,
            passed=passed,
            summary=summary,
            checks=checks,
            fingerprint=fingerprint,
        )

    # deciding ----------------------------------------------------------------

    def tick_checklist(self, request_id: str, *, item: ChecklistItem, actor: str) -> Request:
        return self._decisions.tick_checklist(request_id, item=item, actor=actor)

    def acknowledge_live_use(self, request_id: str, *, actor: str) -> Request:
        return self._decisions.acknowledge_live_use(request_id, actor=actor)

    def approve(
        self, request_id: str, *, approver: str, fingerprint_seen: str | None = None
    ) -> ApprovalResult:
        return self._decisions.approve(
            request_id, approver=approver, fingerprint_seen=fingerprint_seen
        )

    def reject(self, request_id: str, *, actor: str, reason: str = "") -> Request:
        return self._decisions.reject(request_id, actor=actor, reason=reason)

    def cancel(self, request_id: str, *, actor: str, reason: str = "") -> Request:
        return self._decisions.cancel(request_id, actor=actor, reason=reason)

    def expire(self, request_id: str, *, actor: str, reason: str) -> Request:
        return self._decisions.expire(request_id, actor=actor, reason=reason)

    # running -----------------------------------------------------------------

    def start_run(
        self,
        request_id: str,
        *,
        actor: str,
        fingerprint_now: PlanFingerprint,
        owner: Mapping[str, str] | None = None,
    ) -> Request:
        return self._runs.start_run(
            request_id, actor=actor, fingerprint_now=fingerprint_now, owner=owner
        )

    def refuse_run(self, request_id: str, *, actor: str, reason: str) -> Request | None:
        return self._runs.refuse_run(request_id, actor=actor, reason=reason)

    def record_step(
        self,
        request_id: str,
        *,
        actor: str,
        step: str,
        status: StepStatus,
        revision: str | None = None,
        duration_s: float | None = None,
        detail: str = "",
    ) -> Request:
        return self.record_steps(
            request_id,
            actor=actor,
            steps=[StepRecord(step, status, revision, duration_s, detail)],
        )

    def record_steps(self, request_id: str, *, actor: str, steps: Sequence[StepRecord]) -> Request:
        return self._runs.record_steps(request_id, actor=actor, steps=steps)

    def finish_run(
        self,
        request_id: str,
        *,
        actor: str,
        outcome: RequestState,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        return self._runs.finish_run(
            request_id, actor=actor, outcome=outcome, reason=reason, details=details
        )

    def start_wave(self, request_id: str, *, actor: str, wave: int, members: Sequence[str]) -> None:
        self._runs.start_wave(request_id, actor=actor, wave=wave, members=members)

    def finish_wave(
        self, request_id: str, *, actor: str, wave: int, counts: Mapping[str, int]
    ) -> None:
        self._runs.finish_wave(request_id, actor=actor, wave=wave, counts=counts)

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
        self._runs.start_member(
            request_id,
            member=member,
            actor=actor,
            approved=approved,
            now=now,
            wave=wave,
            owner=owner,
        )

    def skip_member(
        self, request_id: str, *, member: str, actor: str, reason: str, wave: int
    ) -> None:
        self._runs.skip_member(request_id, member=member, actor=actor, reason=reason, wave=wave)

    def record_member_steps(
        self, request_id: str, *, member: str, actor: str, steps: Sequence[StepRecord]
    ) -> None:
        self._runs.record_member_steps(request_id, member=member, actor=actor, steps=steps)

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
        self._runs.finish_member(
            request_id,
            member=member,
            actor=actor,
            outcome=outcome,
            reason=reason,
            details=details,
        )

    def mark_interrupted_runs(
        self,
        *,
        actor: str,
        targets: Collection[str] | None = None,
        observations: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Request]:
        return self._interruptions.mark_interrupted_runs(
            actor=actor, targets=targets, observations=observations
        )

    def interrupt_fleet(
        self,
        request_id: str,
        *,
        actor: str,
        members: Mapping[str, Mapping[str, Any]],
        data: Mapping[str, Any],
    ) -> Request:
        return self._interruptions.interrupt_fleet(
            request_id, actor=actor, members=members, data=data
        )

    # scheduling --------------------------------------------------------------

    def schedule(self, request_id: str, *, slot: Slot, actor: str) -> Request:
        return self._schedules.schedule(request_id, slot=slot, actor=actor)

    def miss_window(self, request_id: str, *, actor: str, reason: str) -> Request:
        return self._schedules.miss_window(request_id, actor=actor, reason=reason)

    def record_reminder(self, request_id: str, *, actor: str, before_s: float) -> Request:
        return self._schedules.record_reminder(request_id, actor=actor, before_s=before_s)

    def scheduled(self, *, target: str | None = None) -> list[Request]:
        return self._schedules.scheduled(target=target)

    # freezing ----------------------------------------------------------------

    def frozen(self, target: str) -> Freeze | None:
        return self._freezes.frozen(target)

    def freeze(self, target: str, *, actor: str, reason: str, break_glass: bool = False) -> Freeze:
        return self._freezes.freeze(target, actor=actor, reason=reason, break_glass=break_glass)

    def unfreeze(
        self, target: str, *, actor: str, reason: str = "", break_glass: bool = False
    ) -> Freeze:
        return self._freezes.unfreeze(target, actor=actor, reason=reason, break_glass=break_glass)


def open_requests(
    config: Config, *, clock: Clock = utc_now, group_lookup: GroupLookup = no_group_members
) -> RequestService:
    """The request service on the configured audit log (what every front starts from),
    its request index kept (a log older than the index is folded once, here, in
    batches, rather than inside the first write's transaction)."""
    store = open_audit_log(config.bot.state, clock=clock)
    with audit_log_errors():
        store.keep(REQUEST_INDEX)
    return RequestService(store, config, group_lookup=group_lookup)
