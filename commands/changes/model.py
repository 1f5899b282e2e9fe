"""A change as a fold over its events, like a request: which phase it is in, who did
what when, and what the current phase waits for.

The phases are the change file's as it was when the change started (recorded in
``change_started``), so a file edited later cannot move a change in flight.
A phase is done when ``change_phase_done`` says so; the phase after the last
one done is the current one, and only it may be asked, confirmed or checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from audit.chain import Event
from commands.changes.change_file import ChangeSpec, PhaseSpec
from commands.state.vocabulary import EventKind

CHANGE_PREFIX = "C-"


class ChangeState(StrEnum):
    IN_FLIGHT = "in_flight"
    FINISHED = "finished"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Mark:
    """Who did something to a phase, when, and the details the event carried."""

    by: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseRecord:
    """What happened in one phase so far."""

    spec: PhaseSpec
    asked: tuple[Mark, ...] = ()  # each request (M-N) or backfill run (B-N) asked for it
    confirmed: Mark | None = None  # a deploy's confirmation: by whom, through what
    checks: tuple[Mark, ...] = ()  # a gate's checks, newest last
    done: Mark | None = None
    reminded: Mark | None = None

    @property
    def last_asked(self) -> str | None:
        """The request or backfill run asked most recently, if any."""
        return str(self.asked[-1].data["id"]) if self.asked else None


@dataclass(frozen=True)
class Change:
    """Everything known about one change, from its events."""

    id: str
    target: str
    spec: ChangeSpec
    started_by: str
    started_at: datetime
    origin: Mapping[str, str]
    phases: tuple[PhaseRecord, ...]
    state: ChangeState = ChangeState.IN_FLIGHT
    ended: Mark | None = None
    last_seq: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def current(self) -> int | None:
        """The index of the phase in progress (the first not done); None once all are."""
        if self.state is not ChangeState.IN_FLIGHT:
            return None
        return next((i for i, p in enumerate(self.phases) if p.done is None), None)

    @property
    def current_phase(self) -> PhaseRecord | None:
        index = self.current
        return self.phases[index] if index is not None else None

    @property
    def waiting_since(self) -> datetime:
        """When the current phase became current (the previous one's end, or the start)."""
        done = [p.done.at for p in self.phases if p.done is not None]
        return max(done) if done else self.started_at

    def phase_named(self, name: str) -> int | None:
        return next((i for i, p in enumerate(self.phases) if p.spec.name == name), None)


def fold_change(events: Iterable[Event]) -> Change:
    """The change the events describe; the first must be its ``change_started``."""
    iterator = iter(events)
    first = next(iterator)
    if first.kind != EventKind.CHANGE_STARTED or first.request_id is None:
        raise ValueError(f"event {first.seq} does not start a change")
    spec = ChangeSpec.from_json(first.data["spec"])
    change = Change(
        id=first.request_id,
        target=first.target or "",
        spec=spec,
        started_by=first.actor,
        started_at=_at(first),
        origin=dict(first.data.get("origin", {})),
        phases=tuple(PhaseRecord(phase) for phase in spec.phases),
        last_seq=first.seq,
    )
    for event in iterator:
        change = apply_change_event(change, event)
    return change


def apply_change_event(change: Change, event: Event) -> Change:
    mark = Mark(event.actor, _at(event), dict(event.data))
    if event.kind in (EventKind.CHANGE_FINISHED, EventKind.CHANGE_ABANDONED):
        state = (
            ChangeState.FINISHED
            if event.kind == EventKind.CHANGE_FINISHED
            else ChangeState.ABANDONED
        )
        change = replace(change, state=state, ended=mark)
    elif event.kind in _PHASE_FIELDS:
        index = int(event.data["phase"])
        phases = list(change.phases)
        phases[index] = _PHASE_FIELDS[event.kind](phases[index], mark)
        change = replace(change, phases=tuple(phases))
    return replace(change, last_seq=event.seq)


def _at(event: Event) -> datetime:
    return datetime.fromisoformat(event.ts)


_PHASE_FIELDS: dict[str, Callable[[PhaseRecord, Mark], PhaseRecord]] = {
    EventKind.CHANGE_PHASE_ASKED: lambda p, m: replace(p, asked=(*p.asked, m)),
    EventKind.DEPLOY_CONFIRMED: lambda p, m: replace(p, confirmed=m),
    EventKind.GATE_CHECKED: lambda p, m: replace(p, checks=(*p.checks, m)),
    EventKind.CHANGE_PHASE_DONE: lambda p, m: replace(p, done=m),
    EventKind.CHANGE_REMINDED: lambda p, m: replace(p, reminded=m),
}
"""How each phase event changes its phase (``gate_sampled`` changes none: the gate reads
its samples itself)."""
