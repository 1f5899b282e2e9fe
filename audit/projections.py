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

from collections.abc import Sequence
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
    projections: Sequence[Projection],
    recorded: dict[str, Head],
    *,
    limit: int | None = None,
) -> bool:
    """Give each of ``projections`` the events it has not taken yet, read once for all (at
    most ``limit`` past the one furthest behind); True when each has taken every event
    of the log. ``recorded``: the checkpoints as this transaction knows them (kept up to
    date here)."""
    last = tx.last()
    if last is None:
        return True
    taken: dict[str, int] = {}
    for projection in projections:
        checkpoint = recorded.get(projection.name)
        if checkpoint == Head(last.seq, last.hash):
            continue
        if checkpoint is not None and _still_there(tx, checkpoint, last):
            taken[projection.name] = checkpoint.seq
        else:
            projection.clear(tx)
            taken[projection.name] = 0
    if not taken:
        return True
    events = tx.events(after_seq=min(taken.values()), limit=limit)
    for projection in projections:
        if projection.name not in taken:
            continue
        new = [event for event in events if event.seq > taken[projection.name]]
        if new:
            projection.apply(tx, new)
            head = Head(new[-1].seq, new[-1].hash)
            write_checkpoint(tx, projection.name, head)
            recorded[projection.name] = head
    return not events or events[-1].seq == last.seq


def _still_there(tx: Transaction, checkpoint: Head, last: Event) -> bool:
    """The checkpoint names an event of this log, unchanged."""
    if checkpoint.seq > last.seq:
        return False
    found = tx.events(after_seq=checkpoint.seq - 1, limit=1)
    return bool(found) and found[0].seq == checkpoint.seq and found[0].hash == checkpoint.hash
