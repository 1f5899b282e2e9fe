"""Changes' events: every phase transition a conditional write in one transaction.

Only the current phase may be asked, confirmed, checked or marked done: a
deploy pipeline confirming a later phase too early is refused (the
application must not be out yet), and a double click acts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.chain import Event
from audit.store import EventStore, Transaction
from commands.changes.change_file import ChangeSpec, PhaseKind
from commands.changes.model import (
    CHANGE_PREFIX,
    Change,
    ChangeState,
    apply_change_event,
    fold_change,
)
from commands.errors import ExitCode, MigrateBotError
from commands.state.vocabulary import EventKind


class ChangeNotFoundError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT


class ChangeRefusedError(MigrateBotError):
    """Valid, but not now: not the current phase, a change of that name in flight…"""

    exit_code = ExitCode.REFUSED


def fold(events: list[Event], change_id: str) -> Change:
    if not events or events[0].kind != EventKind.CHANGE_STARTED:
        raise ChangeNotFoundError(f"There is no change {change_id}.")
    return fold_change(events)


class ChangeLedger:
    """Reads and conditional writes of changes in the audit log."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def load(self, change_id: str) -> Change:
        return fold(self.store.events(request_id=change_id), change_id)

    def changes(self, *, target: str | None = None, in_flight: bool = False) -> list[Change]:
        """Changes newest first (only those in flight, with ``in_flight``)."""
        started = self.store.events(
            target=target, kinds=[EventKind.CHANGE_STARTED], newest_first=True
        )
        found = [self.load(e.request_id) for e in started if e.request_id]
        return [c for c in found if not in_flight or c.state is ChangeState.IN_FLIGHT]

    def find(self, name: str, target: str | None = None) -> Change:
        """The change in flight called ``name`` (on ``target``); raises ``ChangeNotFoundError``
        when there is none, or several on different targets and none was named."""
        found = [c for c in self.changes(target=target, in_flight=True) if c.name == name]
        if not found:
            where = f" on {target}" if target else ""
            raise ChangeNotFoundError(f"No change called {name} is in flight{where}.")
        if len(found) > 1:
            targets = ", ".join(sorted(c.target for c in found))
            raise ChangeNotFoundError(f"{name} is in flight on {targets}: say which target.")
        return found[0]

    def start(
        self, *, target: str, spec: ChangeSpec, by: str, origin: Mapping[str, str] | None = None
    ) -> Change:
        """Record a new change; refused while one of the same name is in flight there."""
        with self.store.transaction() as tx:
            for event in tx.events(target=target, kinds=[EventKind.CHANGE_STARTED]):
                if event.data["spec"]["name"] != spec.name or event.request_id is None:
                    continue
                other = fold(tx.events(request_id=event.request_id), event.request_id)
                if other.state is ChangeState.IN_FLIGHT:
                    raise ChangeRefusedError(
                        f"{spec.name} is already in flight on {target} ({other.id})."
                    )
            newest = tx.events(kinds=[EventKind.CHANGE_STARTED], newest_first=True, limit=1)
            newest_id = newest[0].request_id if newest else None
            number = int(newest_id.removeprefix(CHANGE_PREFIX)) if newest_id else 0
            event = tx.append(
                kind=EventKind.CHANGE_STARTED,
                actor=by,
                request_id=f"{CHANGE_PREFIX}{number + 1}",
                target=target,
                data={"spec": spec.to_json(), "origin": dict(origin or {})},
            )
        return fold_change([event])

    def ask(self, change_id: str, phase: int, *, asked_id: str, by: str) -> Change:
        """Link the current migrate/backfill phase to the request or run asked for it."""
        kinds = (PhaseKind.MIGRATE, PhaseKind.BACKFILL)
        return self._phase_event(
            change_id, phase, EventKind.CHANGE_PHASE_ASKED, by, {"id": asked_id}, kinds=kinds
        )

    def confirm_deploy(self, change_id: str, phase: int, *, by: str, via: str) -> Change:
        """A deploy phase is done: a person or the deploy pipeline says the version is out."""
        with self.store.transaction() as tx:
            change = self._current(tx, change_id, phase, (PhaseKind.DEPLOY,), "confirmed")
            events = [self._append(tx, change, EventKind.DEPLOY_CONFIRMED, by, phase, via=via)]
            events += self._done(tx, change, phase, by, {"how": f"confirmed through {via}"})
        return _applied(change, events)

    def record_gate(
        self, change_id: str, phase: int, *, held: bool, checks: list[dict[str, Any]], by: str
    ) -> Change:
        """A gate's check: its conditions as found; the phase is done when all held."""
        with self.store.transaction() as tx:
            change = self._current(tx, change_id, phase, (PhaseKind.GATE,), "checked")
            data = {"held": held, "conditions": checks}
            events = [self._append(tx, change, EventKind.GATE_CHECKED, by, phase, **data)]
            if held:
                events += self._done(tx, change, phase, by, {"how": "its evidence held"})
        return _applied(change, events)

    def phase_done(self, change_id: str, phase: int, *, by: str, how: str) -> Change:
        """A migrate or backfill phase finished (its request succeeded, its run is done)."""
        with self.store.transaction() as tx:
            kinds = (PhaseKind.MIGRATE, PhaseKind.BACKFILL)
            change = self._current(tx, change_id, phase, kinds, "marked done")
            events = self._done(tx, change, phase, by, {"how": how})
        return _applied(change, events)

    def remind(self, change_id: str, phase: int, *, by: str) -> Change:
        """Once per phase (several bot processes may go their rounds)."""
        with self.store.transaction() as tx:
            change = self._current(tx, change_id, phase, tuple(PhaseKind), "reminded of")
            if change.phases[phase].reminded is not None:
                raise ChangeRefusedError(f"phase {phase + 1} of {change.id} was reminded of")
            event = self._append(tx, change, EventKind.CHANGE_REMINDED, by, phase)
        return apply_change_event(change, event)

    def abandon(self, change_id: str, *, by: str, reason: str) -> Change:
        with self.store.transaction() as tx:
            change = fold(tx.events(request_id=change_id), change_id)
            if change.state is not ChangeState.IN_FLIGHT:
                raise ChangeRefusedError(f"{change.id} is {change.state.value} already.")
            event = tx.append(
                kind=EventKind.CHANGE_ABANDONED,
                actor=by,
                request_id=change.id,
                target=change.target,
                data={"reason": reason},
            )
        return apply_change_event(change, event)

    def sample(self, change: Change, phase: int, data: Mapping[str, Any], *, by: str) -> None:
        """A gate's reading of the application's use of its columns (no precondition)."""
        self.store.append(
            kind=EventKind.GATE_SAMPLED,
            actor=by,
            request_id=change.id,
            target=change.target,
            data={"phase": phase, **data},
        )

    def samples(self, change: Change, phase: int) -> list[Event]:
        """A gate phase's samples, oldest first."""
        found = self.store.events(request_id=change.id, kinds=[EventKind.GATE_SAMPLED])
        return [event for event in found if event.data.get("phase") == phase]

    def _phase_event(
        self,
        change_id: str,
        phase: int,
        kind: EventKind,
        by: str,
        data: Mapping[str, Any],
        *,
        kinds: tuple[PhaseKind, ...],
    ) -> Change:
        with self.store.transaction() as tx:
            change = self._current(tx, change_id, phase, kinds, kind.value.replace("_", " "))
            event = self._append(tx, change, kind, by, phase, **data)
        return apply_change_event(change, event)

    @staticmethod
    def _current(
        tx: Transaction, change_id: str, phase: int, kinds: tuple[PhaseKind, ...], action: str
    ) -> Change:
        """The change, if ``phase`` is its current phase and of one of ``kinds``."""
        change = fold(tx.events(request_id=change_id), change_id)
        if change.state is not ChangeState.IN_FLIGHT:
            raise ChangeRefusedError(f"{change.id} ({change.name}) is {change.state.value}.")
        spec = change.phases[phase].spec
        if spec.kind not in kinds:
            raise ChangeRefusedError(f"phase {phase + 1} ({spec.name}) is a {spec.kind.value}.")
        current = change.current
        if current != phase:
            waiting = change.phases[current].spec if current is not None else None
            why = (
                f"phase {current + 1} ({waiting.name}) is not done: {waiting.waits_for}"
                if waiting is not None and current is not None and current < phase
                else "it is done already"
            )
            raise ChangeRefusedError(
                f"phase {phase + 1} ({spec.name}) of {change.name} cannot be {action}: {why}."
            )
        return change

    @staticmethod
    def _append(
        tx: Transaction, change: Change, kind: EventKind, by: str, phase: int, **data: Any
    ) -> Event:
        return tx.append(
            kind=kind,
            actor=by,
            request_id=change.id,
            target=change.target,
            data={"phase": phase, **data},
        )

    def _done(
        self, tx: Transaction, change: Change, phase: int, by: str, data: Mapping[str, Any]
    ) -> list[Event]:
        events = [self._append(tx, change, EventKind.CHANGE_PHASE_DONE, by, phase, **data)]
        if phase == len(change.phases) - 1:
            events.append(
                tx.append(
                    kind=EventKind.CHANGE_FINISHED,
                    actor=by,
                    request_id=change.id,
                    target=change.target,
                    data={},
                )
            )
        return events


def _applied(change: Change, events: list[Event]) -> Change:
    for event in events:
        change = apply_change_event(change, event)
    return change
