"""What both fronts call for changes: start one from its file, ask its current phase,
confirm a deploy, read its gates, settle what the database says, abandon it, and
the guard an ordinary upgrade passes.

``refresh`` is where phases end on their own evidence: a migrate phase when its
revision is applied (by its request or any other), a backfill phase when its
run is done, a gate when every condition holds. It is called after anything
that may move a change (a run's end, a backfill's end, a click) and on a
schedule, so a gate's quiet period is watched whoever looks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from audit.store import Clock, EventStore, utc_now
from commands.backfill.ledger import BOT_ACTOR, BackfillLedger
from commands.backfill.model import BackfillState
from commands.backfill.service import Backfills
from commands.changes.change_file import ChangeSpec, PhaseKind, change_path, read_change
from commands.changes.gates import Condition, read_gate
from commands.changes.guard import Block, first_blocked
from commands.changes.ledger import ChangeLedger, ChangeNotFoundError, ChangeRefusedError
from commands.changes.model import CHANGE_PREFIX, Change
from commands.changes.revisions import AppliedRevisions
from commands.config.targets_file import Config
from commands.errors import ConfigError, RevisionError
from commands.migration.script.revision_graph import RevisionGraph
from commands.postgres.connections import connect
from commands.requests.policy import GroupLookup, no_group_members
from commands.targets import TargetHandle, TargetOpener, open_target

ProposeUpgrade = Callable[[str, str, str, Mapping[str, str]], str]
"""How a front asks an upgrade of ``target`` to ``revision`` for ``requester`` (with the
``origin`` of the ask): the ordinary request, its pre-flight and approval. Returns
the request's id."""


@dataclass(frozen=True)
class Changes:
    """The change operations of one bot process (or CLI command)."""

    config: Config
    store: EventStore
    open_target: TargetOpener = open_target
    clock: Clock = utc_now
    lookup: GroupLookup = no_group_members
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    revisions: AppliedRevisions = field(default_factory=AppliedRevisions)

    @property
    def ledger(self) -> ChangeLedger:
        return ChangeLedger(self.store)

    @property
    def backfills(self) -> Backfills:
        return Backfills(self.config, self.store, self.open_target, self.lookup, self.environ)

    def load(self, ref: str, target: str | None = None) -> Change:
        """A change by id (``C-3``) or by the name of one in flight."""
        if ref.upper().startswith(CHANGE_PREFIX):
            return self.ledger.load(ref.upper())
        return self.ledger.find(ref, target)

    def start(
        self, target: str, name: str, *, by: str, origin: Mapping[str, str] | None = None
    ) -> Change:
        """Read ``changes_dir/NAME.toml``, check its revisions against the project, record
        the change and settle what is already true. Raises ``ConfigError`` naming the key."""
        config = self.config.target(target)
        if config.is_fleet:
            raise ChangeRefusedError(
                f"{target} is a fleet: a change runs on one database; name a member"
                f" ({target}.MEMBER)"
            )
        spec = read_change(change_path(config.changes_dir, name))
        handle = self.open_target(config)
        spec = _resolved(spec, self.revisions.inspect(handle).graph)
        change = self.ledger.start(target=handle.name, spec=spec, by=by, origin=origin)
        return self.refresh(change.id)

    def ask(
        self,
        change_id: str,
        *,
        by: str,
        origin: Mapping[str, str] | None = None,
        propose: ProposeUpgrade,
    ) -> tuple[Change, str]:
        """Ask the current migrate or backfill phase: its request or run (awaiting approval),
        linked to the phase. Returns the change and the id asked (``M-12``, ``B-3``)."""
        change = self.refresh(change_id)
        index = change.current
        if index is None:
            raise ChangeRefusedError(f"{change.id} ({change.name}) is {change.state.value}.")
        spec = change.phases[index].spec
        asked = self._open_asked(change, index)
        if asked is not None:
            raise ChangeRefusedError(
                f"phase {index + 1} ({spec.name}) of {change.name} is asked already: {asked}"
            )
        if spec.kind is PhaseKind.MIGRATE:
            assert spec.revision is not None
            asked_id = propose(change.target, spec.revision, by, dict(origin or {}))
        elif spec.kind is PhaseKind.BACKFILL:
            assert spec.backfill is not None
            run = self.backfills.ask(
                change.target,
                spec.backfill,
                requester=by,
                origin=origin,
                change=change.id,
                phase=index,
            )
            asked_id = run.id
        else:
            raise ChangeRefusedError(self._not_askable(change, index))
        return self.ledger.ask(change.id, index, asked_id=asked_id, by=by), asked_id

    def _not_askable(self, change: Change, index: int) -> str:
        """Why nothing can be asked while phase ``index`` (a deploy or a gate) is current."""
        spec = change.phases[index].spec
        following = next(
            (
                i
                for i in range(index + 1, len(change.phases))
                if change.phases[i].spec.kind in (PhaseKind.MIGRATE, PhaseKind.BACKFILL)
            ),
            None,
        )
        head = (
            f"phase {following + 1} ({change.phases[following].spec.name}) cannot be asked yet"
            if following is not None
            else "nothing can be asked"
        )
        open_conditions = [c for c in self.gate_conditions(change.id) if not c.held]
        if spec.kind is PhaseKind.GATE and open_conditions:
            evidence = "; ".join(f"{c.what}: {c.detail}" for c in open_conditions)
            return f"{head}: phase {index + 1} ({spec.name}), a gate, does not hold: {evidence}"
        return f"{head}: phase {index + 1} ({spec.name}) waits for {spec.waits_for}"

    def confirm(
        self,
        change_ref: str,
        phase_ref: str,
        *,
        by: str,
        via: str,
        target: str | None = None,
        settle: bool = True,
    ) -> Change:
        """A deploy phase confirmed by a person or the deploy pipeline (``via``: slack, cli,
        http). Only the current phase: a later one is refused, naming what it waits for.
        ``settle``: end what the confirmation unblocks now (it reads the target)."""
        change = self.load(change_ref, target)
        index = _phase_index(change, phase_ref)
        change = self.ledger.confirm_deploy(change.id, index, by=by, via=via)
        return self.refresh(change.id) if settle else change

    def abandon(self, change_ref: str, *, by: str, reason: str) -> Change:
        return self.ledger.abandon(self.load(change_ref).id, by=by, reason=reason)

    def refresh(self, change_id: str, *, by: str = BOT_ACTOR) -> Change:
        """End every phase whose evidence holds now, in order, and sample the gates ahead."""
        change = self.ledger.load(change_id)
        for _ in change.phases:
            index = change.current
            if index is None:
                return change
            moved = self._settle(change, index, by)
            if moved is None:
                break
            change = moved
        self._sample_ahead(change, by)
        return change

    def gate_conditions(self, change_id: str) -> list[Condition]:
        """The conditions of the current gate as they stand now (the last check recorded)."""
        change = self.ledger.load(change_id)
        index = change.current
        if index is None or not change.phases[index].checks:
            return []
        conditions = change.phases[index].checks[-1].data.get("conditions", [])
        return [Condition(c["what"], c["held"], c["detail"]) for c in conditions]

    def guard(self, target: str, revisions: Sequence[str], graph: RevisionGraph) -> Block | None:
        """The first of a plan's ``revisions`` that a change in flight holds back, if any."""
        return first_blocked(revisions, self.ledger.changes(target=target, in_flight=True), graph)

    def stale(self, now: datetime | None = None) -> list[Change]:
        """Changes whose current phase has waited longer than ``stale_after`` and whose owner
        has not been reminded of it yet."""
        now = now or self.clock()
        found = []
        for change in self.ledger.changes(in_flight=True):
            phase = change.current_phase
            waited = (now - change.waiting_since).total_seconds()
            if phase is not None and phase.reminded is None and waited > change.spec.stale_after:
                found.append(change)
        return found

    def remind(self, change: Change) -> Change:
        assert change.current is not None
        return self.ledger.remind(change.id, change.current, by=BOT_ACTOR)

    def _settle(self, change: Change, index: int, by: str) -> Change | None:
        """``change`` with phase ``index`` ended if its evidence holds now, else None."""
        spec = change.phases[index].spec
        if spec.kind is PhaseKind.MIGRATE:
            assert spec.revision is not None
            if not self.revisions.applied(self._handle(change), spec.revision):
                return None
            asked = change.phases[index].last_asked
            how = f"{spec.revision} is applied" + (f" ({asked} asked for it)" if asked else "")
            return self.ledger.phase_done(change.id, index, by=by, how=how)
        if spec.kind is PhaseKind.BACKFILL:
            asked = change.phases[index].last_asked
            run = BackfillLedger(self.store).load(asked) if asked else None
            if run is None or run.state is not BackfillState.DONE:
                return None
            how = f"{run.id} done: {run.progress.rows:,} rows updated"
            return self.ledger.phase_done(change.id, index, by=by, how=how)
        if spec.kind is PhaseKind.GATE:
            return self._check_gate(change, index, by)
        return None

    def _check_gate(self, change: Change, index: int, by: str) -> Change | None:
        conditions = self._read_gate(change, index, by)
        held = all(c.held for c in conditions)
        last = change.phases[index].checks
        previous = [c["held"] for c in last[-1].data["conditions"]] if last else None
        if held or previous != [c.held for c in conditions]:
            checks = [c.to_json() for c in conditions]
            change = self.ledger.record_gate(change.id, index, held=held, checks=checks, by=by)
        return change if held else None

    def _read_gate(self, change: Change, index: int, by: str) -> list[Condition]:
        handle = self._handle(change)
        roles = handle.config.live_use.roles
        with connect(handle.database) as conn:
            return read_gate(
                conn, change, index, ledger=self.ledger, roles=roles, now=self.clock(), by=by
            )

    def _sample_ahead(self, change: Change, by: str) -> None:
        """Read the gates after the current phase too: their quiet periods start now."""
        current = change.current
        if current is None:
            return
        for index in range(current + 1, len(change.phases)):
            gate = change.phases[index].spec.gate
            if gate is not None and gate.unused:
                self._read_gate(change, index, by)

    def _open_asked(self, change: Change, index: int) -> str | None:
        """The backfill run asked for the phase that is still open (a request's state is
        the requests' business: a new ask of a migrate phase is refused by its dedupe)."""
        asked = change.phases[index].last_asked
        if asked is None or not asked.startswith("B-"):
            return None
        run = BackfillLedger(self.store).load(asked)
        return None if run.state.is_final or run.state is BackfillState.FAILED else asked

    def _handle(self, change: Change) -> TargetHandle:
        return self.open_target(self.config.target(change.target))


def _phase_index(change: Change, ref: str) -> int:
    """A phase by its name or its number (1-based)."""
    if ref.isdigit() and 1 <= int(ref) <= len(change.phases):
        return int(ref) - 1
    index = change.phase_named(ref)
    if index is None:
        names = ", ".join(p.spec.name for p in change.phases)
        raise ChangeNotFoundError(f"{change.name} has no phase {ref!r} (phases: {names})")
    return index


def _resolved(spec: ChangeSpec, graph: RevisionGraph) -> ChangeSpec:
    """``spec`` with each migrate phase's revision resolved to its full id, in order."""
    phases = []
    earlier: str | None = None
    for index, written in enumerate(spec.phases):
        phase = written
        if written.kind is PhaseKind.MIGRATE:
            assert written.revision is not None
            key = f"phases[{index}].migrate"
            try:
                revision = graph.resolve(written.revision)
            except RevisionError as exc:
                raise ConfigError(spec.source, key, str(exc)) from None
            if earlier is not None and earlier not in graph.ancestors([revision]):
                raise ConfigError(
                    spec.source, key, f"{revision} does not come after {earlier} in the history"
                )
            earlier = revision
            phase = replace(written, revision=revision)
        phases.append(phase)
    return replace(spec, phases=tuple(phases))
