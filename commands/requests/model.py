"""A request as a fold over its events: no second table that could disagree.

``fold_request`` replays a request's events in order; each kind of event
moves the state and fills in what it carries. The fold needs no config and
no clock: whether an approval completed the policy is written in the event
itself, so the state reads the same tomorrow whatever the config says then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from audit.chain import Event
from commands.migration.script.fingerprint import PlanFingerprint
from commands.requests.members import (
    Members,
    WaveRun,
    apply_member_event,
    close_members,
    finish_wave,
    members_of,
    start_wave,
)
from commands.requests.slots import Slot
from commands.state.vocabulary import (
    PENDING_STATES,
    ChecklistItem,
    EventKind,
    RequestKind,
    RequestState,
    StepStatus,
)


@dataclass(frozen=True)
class Approval:
    """One approval: who, when, which plan, and the groups they approved as."""

    approver: str
    at: datetime
    fingerprint: str
    groups: tuple[str, ...] = ()
    break_glass: bool = False
    slot_start: datetime | None = None  # the scheduled start it was given for, if any

    @property
    def counts_from(self) -> datetime:
        """When its lifetime starts: a scheduled request's approval lasts from the start."""
        return max(self.at, self.slot_start) if self.slot_start else self.at


@dataclass(frozen=True)
class Scheduled:
    """The slot a request is bound to, who chose it and when."""

    slot: Slot
    by: str
    at: datetime


@dataclass(frozen=True)
class ChecklistTick:
    item: ChecklistItem
    by: str
    at: datetime


@dataclass(frozen=True)
class LiveUseAck:
    """An approver's word that they read the evidence of live use, for one plan and
    the findings it names (their keys)."""

    by: str
    at: datetime
    fingerprint: str
    findings: tuple[str, ...]


@dataclass(frozen=True)
class Preflight:
    """The latest pre-flight result: a failure blocks approval and the run."""

    passed: bool
    summary: str
    checks: tuple[Mapping[str, Any], ...]
    by: str
    at: datetime


@dataclass(frozen=True)
class Step:
    """One step of a run as the pipeline reported it."""

    name: str
    status: StepStatus
    at: datetime
    revision: str | None = None
    duration_s: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class RunProgress:
    started_at: datetime
    started_by: str
    steps: tuple[Step, ...] = ()

    @property
    def current_step(self) -> str | None:
        return self.steps[-1].name if self.steps else None

    @property
    def last_revision_applied(self) -> str | None:
        done = [s for s in self.steps if s.revision and s.status is StepStatus.SUCCEEDED]
        return done[-1].revision if done else None


@dataclass(frozen=True)
class Closure:
    """How a request ended (or why it went back): who, when, why, and details."""

    state: RequestState
    by: str
    at: datetime
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """Everything known about one request, derived from its events."""

    id: str
    kind: RequestKind
    target: str
    goal: str
    requester: str
    created_at: datetime
    origin: Mapping[str, str]
    reason: str
    fingerprint: PlanFingerprint
    break_glass: bool = False
    state: RequestState = RequestState.REQUESTED
    approvals: tuple[Approval, ...] = ()
    checklist: tuple[ChecklistTick, ...] = ()
    live_use_acks: tuple[LiveUseAck, ...] = ()
    preflight: Preflight | None = None
    run: RunProgress | None = None
    closure: Closure | None = None
    plan_changes: tuple[str, ...] = ()
    schedule: Scheduled | None = None
    members: Members = field(default_factory=dict)  # a fleet's members that run, in order
    waves: tuple[WaveRun, ...] = ()  # a fleet run's waves so far
    last_seq: int = 0

    @property
    def is_fleet(self) -> bool:
        """Over a fleet's members (its plan lists them), not one database."""
        return bool(self.fingerprint.members)

    @property
    def from_revisions(self) -> tuple[str, ...]:
        return self.fingerprint.from_revisions

    @property
    def to_revisions(self) -> tuple[str, ...]:
        return self.fingerprint.to_revisions

    @property
    def slot_start(self) -> datetime | None:
        return self.schedule.slot.start if self.schedule else None

    @property
    def current_approvals(self) -> tuple[Approval, ...]:
        """Approvals of the plan and the slot as they stand (earlier ones no longer count)."""
        return tuple(
            a
            for a in self.approvals
            if a.fingerprint == self.fingerprint.digest and a.slot_start == self.slot_start
        )

    def approval_by(self, user: str) -> Approval | None:
        """``user``'s latest approval of the current plan (an earlier one may have lapsed)."""
        return next((a for a in reversed(self.current_approvals) if a.approver == user), None)

    def tick_of(self, item: ChecklistItem) -> ChecklistTick | None:
        return next((t for t in self.checklist if t.item is item), None)


def evolve(request: Request, **changes: Any) -> Request:
    """``dataclasses.replace`` for a request, without its introspection of the fields on
    every call: a fold makes two per event, and they were most of a fold's time."""
    new = object.__new__(Request)
    new.__dict__.update(request.__dict__, **changes)
    return new


def parse_time(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def fold_request(events: Iterable[Event]) -> Request:
    """The request the events describe; the first must be its ``request_created``."""
    iterator = iter(events)
    first = next(iterator)
    request = _created(first)
    for event in iterator:
        request = apply_event(request, event)
    return request


def apply_event(request: Request, event: Event) -> Request:
    """``request`` after one more of its events."""
    apply = _APPLY.get(event.kind)  # other kinds (a backup's, say) leave the state as is
    if apply is not None:
        request = apply(request, event, parse_time(event.ts))
    elif request.members:
        members = apply_member_event(request.members, event, parse_time(event.ts))
        if members is not request.members:
            request = evolve(request, members=members)
    return evolve(request, last_seq=event.seq)


def _created(event: Event) -> Request:
    if event.kind != EventKind.REQUEST_CREATED or event.request_id is None:
        raise ValueError(f"event {event.seq} does not create a request")
    data = event.data
    fingerprint = PlanFingerprint.from_json(data["fingerprint"])
    return Request(
        id=event.request_id,
        kind=RequestKind(data["kind"]),
        target=event.target or "",
        goal=data["goal"],
        requester=event.actor,
        created_at=parse_time(event.ts),
        origin=dict(data.get("origin", {})),
        reason=data.get("reason", ""),
        fingerprint=fingerprint,
        break_glass=bool(data.get("break_glass", False)),
        members=members_of(fingerprint),
        last_seq=event.seq,
    )


Apply = Callable[[Request, Event, datetime], Request]


def _preflight(request: Request, event: Event, at: datetime) -> Request:
    data = event.data
    passed = bool(data["passed"])
    preflight = Preflight(passed, data["summary"], tuple(data.get("checks", ())), event.actor, at)
    request = evolve(request, preflight=preflight)
    if "fingerprint" in data:
        request = _new_plan(request, data)
    if request.state in PENDING_STATES:
        state = RequestState.AWAITING_APPROVAL if passed else RequestState.REQUESTED
        request = evolve(request, state=state)
    return request


def _new_plan(request: Request, data: Mapping[str, Any]) -> Request:
    """A new plan voids approvals given to the old one (they stay in history)."""
    fingerprint = PlanFingerprint.from_json(data["fingerprint"])
    changes = tuple(data.get("changes", ()))
    state = request.state
    if state is RequestState.APPROVED:
        state = RequestState.REQUESTED
    return evolve(
        request,
        fingerprint=fingerprint,
        plan_changes=changes,
        state=state,
        members=members_of(fingerprint),
    )


def _plan_changed(request: Request, event: Event, at: datetime) -> Request:
    return evolve(_new_plan(request, event.data), state=RequestState.REQUESTED)


def _tick(request: Request, event: Event, at: datetime) -> Request:
    tick = ChecklistTick(ChecklistItem(event.data["item"]), event.actor, at)
    return evolve(request, checklist=(*request.checklist, tick))


def _live_use_ack(request: Request, event: Event, at: datetime) -> Request:
    data = event.data
    ack = LiveUseAck(event.actor, at, data["fingerprint"], tuple(data.get("findings", ())))
    return evolve(request, live_use_acks=(*request.live_use_acks, ack))


def _approval(request: Request, event: Event, at: datetime) -> Request:
    data = event.data
    approval = Approval(
        approver=event.actor,
        at=at,
        fingerprint=data["fingerprint"],
        groups=tuple(data.get("groups", ())),
        break_glass=event.kind == EventKind.BREAK_GLASS_APPROVAL,
        slot_start=parse_time(data["slot_start"]) if data.get("slot_start") else None,
    )
    request = evolve(request, approvals=(*request.approvals, approval))
    if data.get("complete"):
        request = evolve(request, state=RequestState.APPROVED)
    return request


def _closing(state: RequestState) -> Apply:
    def apply(request: Request, event: Event, at: datetime) -> Request:
        details = {k: v for k, v in event.data.items() if k != "reason"}
        closure = Closure(state, event.actor, at, event.data.get("reason", ""), details)
        return evolve(request, state=state, closure=closure)

    return apply


def _scheduled(request: Request, event: Event, at: datetime) -> Request:
    """Bound to a (new) slot: approvals given for another time no longer count."""
    scheduled = Scheduled(Slot.from_json(event.data["slot"]), event.actor, at)
    state = request.state
    if state is RequestState.APPROVED:
        state = RequestState.AWAITING_APPROVAL
    return evolve(request, schedule=scheduled, state=state)


def _run_refused(request: Request, event: Event, at: datetime) -> Request:
    """Final: what the approval was for cannot run; a new request is needed."""
    changes = tuple(event.data.get("changes", ()))
    request = _closing(RequestState.REFUSED)(request, event, at)
    return evolve(request, plan_changes=changes or request.plan_changes)


def _run_started(request: Request, event: Event, at: datetime) -> Request:
    return evolve(request, state=RequestState.RUNNING, run=RunProgress(at, event.actor))


def _run_step(request: Request, event: Event, at: datetime) -> Request:
    data = event.data
    step = Step(
        name=data["step"],
        status=StepStatus(data["status"]),
        at=at,
        revision=data.get("revision"),
        duration_s=data.get("duration_s"),
        detail=data.get("detail", ""),
    )
    run = request.run or RunProgress(at, event.actor)
    return evolve(request, run=replace(run, steps=(*run.steps, step)))


def _run_finished(request: Request, event: Event, at: datetime) -> Request:
    request = _closing(RequestState(event.data["outcome"]))(request, event, at)
    return evolve(request, members=close_members(request.members, at))


def _run_interrupted(request: Request, event: Event, at: datetime) -> Request:
    request = _closing(RequestState.INTERRUPTED)(request, event, at)
    return evolve(request, members=close_members(request.members, at))


def _wave_started(request: Request, event: Event, at: datetime) -> Request:
    return evolve(request, waves=start_wave(request.waves, event.data, at))


def _wave_finished(request: Request, event: Event, at: datetime) -> Request:
    return evolve(request, waves=finish_wave(request.waves, event.data, at))


_APPLY: dict[str, Apply] = {
    EventKind.PREFLIGHT_RECORDED: _preflight,
    EventKind.PLAN_CHANGED: _plan_changed,
    EventKind.CHECKLIST_TICKED: _tick,
    EventKind.LIVE_USE_ACKNOWLEDGED: _live_use_ack,
    EventKind.APPROVAL_GRANTED: _approval,
    EventKind.BREAK_GLASS_APPROVAL: _approval,
    EventKind.REQUEST_REJECTED: _closing(RequestState.REJECTED),
    EventKind.REQUEST_CANCELLED: _closing(RequestState.CANCELLED),
    EventKind.REQUEST_EXPIRED: _closing(RequestState.EXPIRED),
    EventKind.RUN_REFUSED: _run_refused,
    EventKind.RUN_STARTED: _run_started,
    EventKind.RUN_STEP: _run_step,
    EventKind.RUN_FINISHED: _run_finished,
    EventKind.RUN_INTERRUPTED: _run_interrupted,
    EventKind.WAVE_STARTED: _wave_started,
    EventKind.WAVE_FINISHED: _wave_finished,
    EventKind.REQUEST_SCHEDULED: _scheduled,
    EventKind.REQUEST_RESCHEDULED: _scheduled,
    EventKind.SCHEDULE_MISSED: _closing(RequestState.EXPIRED),
}
FOLDED_KINDS = frozenset(_APPLY)
"""The kinds that can change a request beyond its members (its state among them)."""


@dataclass(frozen=True)
class Freeze:
    """A target's emergency stop: who froze it, when and why."""

    target: str
    by: str
    at: datetime
    reason: str


def fold_freeze(events: Iterable[Event]) -> Freeze | None:
    """The freeze in force after a target's freeze/unfreeze events, if any."""
    current: Freeze | None = None
    for event in events:
        if event.kind == EventKind.TARGET_FROZEN:
            reason = event.data.get("reason", "")
            current = Freeze(event.target or "", event.actor, parse_time(event.ts), reason)
        elif event.kind == EventKind.TARGET_UNFROZEN:
            current = None
    return current
