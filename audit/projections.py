"""Projections: what is kept beside the events, folded from them, so that a question about
the present (which requests are running, a target's backups, the metrics' totals) costs
an indexed read, not a walk of the whole history.

A projection is a table or two in the store's own database, kept by one ``apply``
called for each event in the transaction that appends it, so the table and the events
commit together. Its checkpoint, the sequence number and hash of the last event it
took, is a row of ``projections``. A transaction that finds the log ahead of a
checkpoint (events appended by a process that does not keep that projection, or a log
older than it) applies the missing events first; one whose checkpointed event is gone
or changed (the log was cut or rewritten) clears the projection and folds it again
from the first event. So a projection is never the truth, only a faster way to it:
delete its rows and it is rebuilt. The statements use ``?`` for parameters; the
PostgreSQL store translates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from audit.chain import Event, Head

CHECKPOINTS = "projections"
VERIFIED = "audit verify"  # not a projection: the head the last successful verify reached
CATCH_UP_BATCH = 5_000  # events applied per transaction when a projection is first built

SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
)
"""


class Sql(Protocol):
    """What projections need of a back-end's connection: run a statement, get its rows."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Transaction(Sql, Protocol):
    """A write transaction as a projection sees it (``audit.store.Transaction``)."""

    def events(self, **filters: Any) -> Sequence[Event]: ...

    def last(self) -> Event | None: ...


class Projection(Protocol):
    """State folded from the events and kept in the store's database."""

    name: str
    """Its checkpoint's name in ``projections``."""
    sqlite_schema: str
    """``CREATE … IF NOT EXISTS`` statements for the SQLite store (PostgreSQL's tables come
    from the shared state's migrations)."""

    def apply(self, tx: Transaction, events: Sequence[Event]) -> None:
        """Take the next events (every event comes, in order; most are ignored): one as it
        is appended, or a batch when catching up."""

    def clear(self, tx: Transaction) -> None:
        """Forget everything, before the projection is folded again from the first event."""


def checkpoints(sql: Sql) -> dict[str, Head]:
    """Every recorded checkpoint, by name."""
    rows = sql.execute(f"SELECT name, seq, hash FROM {CHECKPOINTS}")
    return {name: Head(int(seq), digest) for name, seq, digest in rows}


def write_checkpoint(sql: Sql, name: str, head: Head) -> None:
    sql.execute(
        f"INSERT INTO {CHECKPOINTS} (name, seq, hash) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (name, head.seq, head.hash),
    )


def catch_up(
    tx: Transaction,
    projection: Projection,
    recorded: Mapping[str, Head],
    *,
    limit: int | None = None,
) -> bool:
    """Apply the events ``projection`` has not taken yet (at most ``limit``); True when it
    has taken every event of the log. ``recorded``: the checkpoints read in this
    transaction."""
    last = tx.last()
    checkpoint = recorded.get(projection.name)
    if last is None or checkpoint == Head(last.seq, last.hash):
        return True
    after = 0
    if checkpoint is not None and _still_there(tx, checkpoint, last):
        after = checkpoint.seq
    else:
        projection.clear(tx)
    events = tx.events(after_seq=after, limit=limit)
    if events:
        projection.apply(tx, events)
        write_checkpoint(tx, projection.name, Head(events[-1].seq, events[-1].hash))
    return not events or events[-1].seq == last.seq


def _still_there(tx: Transaction, checkpoint: Head, last: Event) -> bool:
    """The checkpoint names an event of this log, unchanged."""
    if checkpoint.seq > last.seq:
        return False
    found = tx.events(after_seq=checkpoint.seq - 1, limit=1)
    return bool(found) and found[0].seq == checkpoint.seq and found[0].hash == checkpoint.hash
