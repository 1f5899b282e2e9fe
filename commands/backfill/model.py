"""A backfill run as a fold over its events, like a request: no second table.

``BACKFILL_BATCH`` events carry the checkpoint (the last key of the last
batch committed), so where a run stands after a crash is what the log holds,
and the batch after it is the first that may be done twice (harmlessly: the
predicate no longer selects rows it did).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from audit.chain import Event
from commands.config.backfill import BackfillSpec
from commands.state.vocabulary import EventKind

RUN_PREFIX = "B-"


class BackfillState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"  # an engine may take it (after approval, or a Resume)
    RUNNING = "running"
    PAUSED = "paused"
    INTERRUPTED = "interrupted"  # its engine died; a person may Resume it
    FAILED = "failed"  # a batch kept failing, or the UPDATE is wrong; Resume tries again
    DONE = "done"
    STOPPED = "stopped"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (BackfillState.DONE, BackfillState.STOPPED, BackfillState.CANCELLED)

    @property
    def resumable(self) -> bool:
        return self in (BackfillState.PAUSED, BackfillState.INTERRUPTED, BackfillState.FAILED)


@dataclass(frozen=True)
class Estimate:
    """The pre-flight's count and time: rows in the table, rows to do, seconds.

    ``wal_bytes``: the WAL the whole backfill will write, from its probe batch's;
    ``min_wal_size``: the server's setting, in bytes, the WAL it keeps to recycle.
    Both ``None`` where they could not be read (and in runs recorded before them).
    """

    table_rows: int
    rows_to_do: int
    seconds: float | None
    probe_rows: int = 0
    probe_seconds: float = 0.0
    wal_bytes: int | None = None
    min_wal_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "table_rows": self.table_rows,
            "rows_to_do": self.rows_to_do,
            "seconds": self.seconds,
            "probe_rows": self.probe_rows,
            "probe_seconds": self.probe_seconds,
            "wal_bytes": self.wal_bytes,
            "min_wal_size": self.min_wal_size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Estimate:
        wal, kept = data.get("wal_bytes"), data.get("min_wal_size")
        return cls(
            table_rows=int(data["table_rows"]),
            rows_to_do=int(data["rows_to_do"]),
            seconds=data.get("seconds"),
            probe_rows=int(data.get("probe_rows", 0)),
            probe_seconds=float(data.get("probe_seconds", 0.0)),
            wal_bytes=None if wal is None else int(wal),
            min_wal_size=None if kept is None else int(kept),
        )


@dataclass(frozen=True)
class Hold:
    """Why the run is holding (throttled), and since when."""

    reason: str
    detail: str
    since: datetime


@dataclass(frozen=True)
class Progress:
    """Where the walk stands: the checkpoint and the sums of its batches."""

    checkpoint: str | None = None  # the last key of the last batch committed
    rows: int = 0  # rows updated
    walked: int = 0  # keys walked past (updated or not)
    batches: int = 0
    running_s: float = 0.0  # seconds spent in batches
    longest_batch_s: float = 0.0
    last_size: int | None = None
    waiters: int = 0  # sessions seen waiting on a batch's rows, in all
    held_s: float = 0.0


@dataclass(frozen=True)
class BackfillRun:
    """Everything known about one backfill run, from its events."""

    id: str
    target: str
    spec: BackfillSpec
    requester: str
    asked_at: datetime
    estimate: Estimate
    origin: Mapping[str, str] = field(default_factory=dict)
    change: str | None = None  # the change (C-N) whose phase this is
    phase: int | None = None
    state: BackfillState = BackfillState.AWAITING_APPROVAL
    approved_by: tuple[str, ...] = ()
    progress: Progress = Progress()
    hold: Hold | None = None
    ended_by: str | None = None
    ended_at: datetime | None = None
    error: str | None = None
    started_at: datetime | None = None  # of the current (or last) engine
    last_seq: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def remaining_estimate(self) -> int:
        """Rows still to do, by the pre-flight's count less the rows updated since."""
        return max(self.estimate.rows_to_do - self.progress.rows, 0)


def fold_backfill(events: Iterable[Event]) -> BackfillRun:
    """The run the events describe; the first must be its ``backfill_asked``."""
    iterator = iter(events)
    first = next(iterator)
    if first.kind != EventKind.BACKFILL_ASKED or first.request_id is None:
        raise ValueError(f"event {first.seq} does not ask for a backfill")
    data = first.data
    run = BackfillRun(
        id=first.request_id,
        target=first.target or "",
        spec=BackfillSpec.from_json(data["spec"]),
        requester=first.actor,
        asked_at=_at(first),
        estimate=Estimate.from_json(data["estimate"]),
        origin=dict(data.get("origin", {})),
        change=data.get("change"),
        phase=data.get("phase"),
        last_seq=first.seq,
    )
    for event in iterator:
        run = apply_backfill_event(run, event)
    return run


def apply_backfill_event(run: BackfillRun, event: Event) -> BackfillRun:
    apply = _APPLY.get(event.kind)
    if apply is not None:
        run = apply(run, event)
    return replace(run, last_seq=event.seq)


def _at(event: Event) -> datetime:
    return datetime.fromisoformat(event.ts)


def _approved(run: BackfillRun, event: Event) -> BackfillRun:
    return replace(run, state=BackfillState.APPROVED, approved_by=(*run.approved_by, event.actor))


def _started(run: BackfillRun, event: Event) -> BackfillRun:
    return replace(run, state=BackfillState.RUNNING, started_at=_at(event), error=None)


def _batch(run: BackfillRun, event: Event) -> BackfillRun:
    data, done = event.data, run.progress
    seconds = float(data["seconds"])
    progress = replace(
        done,
        checkpoint=data["upto"],
        rows=done.rows + int(data["rows"]),
        walked=done.walked + int(data["walked"]),
        batches=done.batches + 1,
        running_s=done.running_s + seconds,
        longest_batch_s=max(done.longest_batch_s, seconds),
        last_size=int(data["size"]),
        waiters=done.waiters + int(data.get("waiters", 0)),
    )
    return replace(run, progress=progress)


def _held(run: BackfillRun, event: Event) -> BackfillRun:
    hold = Hold(event.data["reason"], event.data.get("detail", ""), _at(event))
    return replace(run, hold=hold)


def _released(run: BackfillRun, event: Event) -> BackfillRun:
    held = float(event.data.get("held_s", 0.0))
    progress = replace(run.progress, held_s=run.progress.held_s + held)
    return replace(run, hold=None, progress=progress)


def _by_person(state: BackfillState) -> Any:
    def apply(run: BackfillRun, event: Event) -> BackfillRun:
        ended = state.is_final
        return replace(
            run,
            state=state,
            hold=None,
            ended_by=event.actor if ended else run.ended_by,
            ended_at=_at(event) if ended else run.ended_at,
        )

    return apply


def _finished(run: BackfillRun, event: Event) -> BackfillRun:
    failed = event.data.get("outcome") == "failed"
    return replace(
        run,
        state=BackfillState.FAILED if failed else BackfillState.DONE,
        hold=None,
        error=event.data.get("error") if failed else None,
        ended_at=_at(event),
        ended_by=event.actor,
    )


def _interrupted(run: BackfillRun, event: Event) -> BackfillRun:
    return replace(run, state=BackfillState.INTERRUPTED, hold=None)


_APPLY: dict[str, Callable[[BackfillRun, Event], BackfillRun]] = {
    EventKind.BACKFILL_APPROVED: _approved,
    EventKind.BACKFILL_CANCELLED: _by_person(BackfillState.CANCELLED),
    EventKind.BACKFILL_STARTED: _started,
    EventKind.BACKFILL_BATCH: _batch,
    EventKind.BACKFILL_HELD: _held,
    EventKind.BACKFILL_RELEASED: _released,
    EventKind.BACKFILL_PAUSED: _by_person(BackfillState.PAUSED),
    EventKind.BACKFILL_RESUMED: _by_person(BackfillState.APPROVED),
    EventKind.BACKFILL_STOPPED: _by_person(BackfillState.STOPPED),
    EventKind.BACKFILL_FINISHED: _finished,
    EventKind.BACKFILL_INTERRUPTED: _interrupted,
}
