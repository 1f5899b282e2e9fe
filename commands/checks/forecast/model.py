"""A plan's forecast as plain data: per revision and statement, a time range and the locks held.

It is what the pre-flight records (a check's ``data``, so the audit log
holds what the approver saw), what the card and ``plan --forecast`` show,
and what the run is scored against. ``to_json`` and ``from_json`` keep it
in the log; ``from_json`` reads what an older bot wrote without failing
(missing keys read as nothing known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.checks.forecast.classes import Effect, WorkKind
from commands.checks.forecast.locks import LockMode


@dataclass(frozen=True)
class Span:
    """A time forecast: the likeliest seconds and the range around it."""

    seconds: float
    low: float
    high: float

    def __add__(self, other: Span) -> Span:
        return Span(self.seconds + other.seconds, self.low + other.low, self.high + other.high)

    def to_json(self) -> list[float]:
        return [round(self.seconds, 4), round(self.low, 4), round(self.high, 4)]

    @classmethod
    def from_json(cls, value: Any) -> Span | None:
        if isinstance(value, Sequence) and len(value) == 3:
            return cls(*(float(v) for v in value))
        return None


ZERO = Span(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class WorkDone:
    """One pass of work as forecast: its kind, table, the bytes it covers and its time."""

    kind: WorkKind
    table: str
    bytes: int
    time: Span

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "table": self.table,
            "bytes": self.bytes,
            "time": self.time.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkDone:
        return cls(
            WorkKind(data["kind"]),
            str(data["table"]),
            int(data.get("bytes", 0)),
            Span.from_json(data.get("time")) or ZERO,
        )


@dataclass(frozen=True)
class LockHeld:
    """A lock and how long it is held: from the statement that takes it to its commit.
    ``row_locks``: an UPDATE or DELETE, whose changed rows stay locked to writers till then."""

    table: str
    mode: LockMode
    time: Span
    table_bytes: int | None = None
    revision: str = ""
    row_locks: bool = False

    @property
    def blocks_application(self) -> bool:
        return self.mode.blocks_writes or self.row_locks

    @property
    def waits(self) -> str:
        if self.row_locks and not self.mode.blocks_writes:
            return "writes to the rows it changes wait"
        return self.mode.waits

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "mode": self.mode.value,
            "time": self.time.to_json(),
            "table_bytes": self.table_bytes,
            "revision": self.revision,
            "row_locks": self.row_locks,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockHeld:
        size = data.get("table_bytes")
        return cls(
            str(data["table"]),
            LockMode(data["mode"]),
            Span.from_json(data.get("time")) or ZERO,
            int(size) if size is not None else None,
            str(data.get("revision", "")),
            bool(data.get("row_locks", False)),
        )


@dataclass(frozen=True)
class StatementForecast:
    """One statement: what it does, its locks and its time (None: it runs code)."""

    number: int
    line: int
    sql: str
    effect: Effect
    reason: str
    locks: tuple[tuple[str, LockMode], ...]
    work: tuple[WorkDone, ...]
    time: Span | None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "line": self.line,
            "sql": self.sql,
            "effect": self.effect.value,
            "reason": self.reason,
            "locks": [[table, mode.value] for table, mode in self.locks],
            "work": [w.to_json() for w in self.work],
            "time": self.time.to_json() if self.time else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatementForecast:
        return cls(
            int(data.get("number", 0)),
            int(data.get("line", 0)),
            str(data.get("sql", "")),
            Effect(data.get("effect", Effect.UNKNOWN.value)),
            str(data.get("reason", "")),
            tuple((str(t), LockMode(m)) for t, m in data.get("locks", ())),
            tuple(WorkDone.from_json(w) for w in data.get("work", ())),
            Span.from_json(data.get("time")),
        )


@dataclass(frozen=True)
class RevisionForecast:
    """One revision: its statements, its time (None: not forecast, ``note`` says why) and
    the lock it holds longest."""

    revision: str
    statements: tuple[StatementForecast, ...] = ()
    time: Span | None = None
    note: str | None = None
    longest_lock: LockHeld | None = None

    @property
    def opaque(self) -> tuple[StatementForecast, ...]:
        """Statements whose time is not forecast (they run code)."""
        return tuple(s for s in self.statements if s.time is None)

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "statements": [s.to_json() for s in self.statements],
            "time": self.time.to_json() if self.time else None,
            "note": self.note,
            "longest_lock": self.longest_lock.to_json() if self.longest_lock else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RevisionForecast:
        lock = data.get("longest_lock")
        return cls(
            str(data["revision"]),
            tuple(StatementForecast.from_json(s) for s in data.get("statements", ())),
            Span.from_json(data.get("time")),
            data.get("note"),
            LockHeld.from_json(lock) if isinstance(lock, Mapping) else None,
        )


@dataclass(frozen=True)
class Forecast:
    """The plan's forecast: its revisions, their total, the longest lock, what it is based
    on (``basis``: "calibrated on 14 past runs on prod") and the rates used (s/GB by kind)."""

    target: str
    revisions: tuple[RevisionForecast, ...]
    basis: str
    rates: Mapping[str, float] = field(default_factory=dict)

    @property
    def total(self) -> Span:
        spans = [r.time for r in self.revisions if r.time is not None]
        return sum(spans[1:], spans[0]) if spans else ZERO

    @property
    def complete(self) -> bool:
        """Every revision forecast in full (no SQL missing, no code run)."""
        return all(r.time is not None and not r.opaque for r in self.revisions)

    @property
    def longest_lock(self) -> LockHeld | None:
        """The lock that keeps the application waiting longest (else the longest held)."""
        held = [r.longest_lock for r in self.revisions if r.longest_lock is not None]
        return max(held, key=lock_rank, default=None)

    def revision(self, revision: str) -> RevisionForecast | None:
        return next((r for r in self.revisions if r.revision == revision), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "revisions": [r.to_json() for r in self.revisions],
            "basis": self.basis,
            "rates": dict(self.rates),
            "total": self.total.to_json(),
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Forecast:
        return cls(
            str(data.get("target", "")),
            tuple(RevisionForecast.from_json(r) for r in data.get("revisions", ())),
            str(data.get("basis", "")),
            {str(k): float(v) for k, v in (data.get("rates") or {}).items()},
        )


def lock_rank(held: LockHeld) -> tuple[bool, float, int]:
    """Blocking the application first, then the longest, then the strongest."""
    return (held.blocks_application, held.time.seconds, held.mode.strength)
