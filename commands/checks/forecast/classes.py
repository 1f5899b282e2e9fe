"""What one statement does to the tables it names: the locks it takes, and its work.

A statement is catalog-only (instant once its lock is granted), or it scans,
rewrites, indexes or changes the rows of a table, or it runs code the parser
cannot see into. The work is what a rate is measured per gigabyte of: its
kind and the table (its heap alone, or heap, indexes and TOAST together).
Plain data, read by the cost model, the views and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from commands.checks.forecast.locks import LockMode


class Effect(StrEnum):
    """What the statement does to its table, as the approver reads it."""

    CATALOG = "catalog-only"
    SCAN = "scans"
    INDEX = "builds an index"
    REWRITE = "rewrites"
    DATA = "changes rows"
    UNKNOWN = "runs code the bot cannot see into"


class WorkKind(StrEnum):
    """A kind of work with a rate of its own (seconds per GB)."""

    SCAN = "scan"  # every row read under the lock: SET NOT NULL, ADD CHECK, VALIDATE
    FK_CHECK = "fk_check"  # every row looked up in the referenced table
    INDEX = "index"  # CREATE INDEX, ADD PRIMARY KEY / UNIQUE: scan and sort
    INDEX_CONCURRENT = "index_concurrent"  # two scans and waits for older transactions
    REWRITE = "rewrite"  # a new copy of the heap, TOAST and every index
    UPDATE = "update"  # a new version of each row, and its index entries
    DELETE = "delete"
    INSERT = "insert"  # INSERT … SELECT, CREATE TABLE AS: the rows read and written

    @property
    def effect(self) -> Effect:
        return _EFFECTS[self]

    @property
    def whole_relation(self) -> bool:
        """Measured on heap, indexes and TOAST together (all of it is written), else the heap."""
        return self in (WorkKind.REWRITE, WorkKind.UPDATE)


_EFFECTS = {
    WorkKind.SCAN: Effect.SCAN,
    WorkKind.FK_CHECK: Effect.SCAN,
    WorkKind.INDEX: Effect.INDEX,
    WorkKind.INDEX_CONCURRENT: Effect.INDEX,
    WorkKind.REWRITE: Effect.REWRITE,
    WorkKind.UPDATE: Effect.DATA,
    WorkKind.DELETE: Effect.DATA,
    WorkKind.INSERT: Effect.DATA,
}
_EFFECT_ORDER = (Effect.CATALOG, Effect.SCAN, Effect.DATA, Effect.INDEX, Effect.REWRITE)


@dataclass(frozen=True)
class Work:
    """One pass over ``table``; ``partial``: a WHERE clause, so anything up to all of it;
    ``row_limit``: at most that many rows (a LIMIT in the statement)."""

    kind: WorkKind
    table: str
    partial: bool = False
    row_limit: int | None = None


@dataclass(frozen=True)
class TableLock:
    """A table-level lock the statement takes, held until its transaction ends."""

    table: str
    mode: LockMode


@dataclass(frozen=True)
class Classified:
    """One statement's locks and work; ``reason`` says why, in the documentation's terms."""

    locks: tuple[TableLock, ...]
    work: tuple[Work, ...] = ()
    reason: str = ""
    opaque: bool = False  # runs code (DO, functions): its work cannot be forecast

    @property
    def effect(self) -> Effect:
        if self.opaque:
            return Effect.UNKNOWN
        effects = {work.kind.effect for work in self.work}
        return max(effects, key=_EFFECT_ORDER.index, default=Effect.CATALOG)
