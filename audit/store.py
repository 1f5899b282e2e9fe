"""The event store: append-only, hash-chained events, on SQLite or PostgreSQL.

Every write happens inside ``transaction()``, which no other writer (thread or
process) can interleave with: SQLite's ``BEGIN IMMEDIATE``
(``audit.sqlite_store``), or a PostgreSQL transaction that locks the events
table before it reads anything (``audit.postgres_store``). A caller reads the
events it needs, checks its precondition and appends, and nobody can slip in
between. That is what makes a double-clicked approval count once, whichever
process each click reached.

The head of the chain (last sequence number and hash) is also recorded apart
from the events (a file beside the SQLite database; a row of its own in
PostgreSQL). ``verify`` checks the events against it, so deleting the newest
events does not go unnoticed; a head can also be kept elsewhere (a change
ticket, a Slack message) and passed to ``verify`` as a checkpoint.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from audit.chain import GENESIS_HASH, Breach, Event, Head, canonical_json, event_hash, find_breach
from audit.redact import redactor

EVENTS = "events"
COLUMNS = ("seq", "ts", "request_id", "target", "actor", "kind", "data", "prev_hash", "hash")

Clock = Callable[[], datetime]


class StoreError(Exception):
    """The audit store cannot be used (unreadable file, locked for too long)."""


class StoreBusyError(StoreError):
    """Another process held the log past the busy timeout: the write may work later."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found: how many events, the head, and the first breach if any."""

    events: int
    head: Head | None
    breach: Breach | None

    @property
    def ok(self) -> bool:
        return self.breach is None


class Rows(Protocol):
    """One back-end's reads and writes of the events table, on one open connection."""

    def select(
        self,
        *,
        request_id: str | None = None,
        target: str | None = None,
        kinds: Sequence[str] | None = None,
        after_seq: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[Event]: ...

    def insert(self, event: Event) -> None: ...


class Transaction:
    """Reads and appends inside one serialised write transaction."""

    def __init__(self, rows: Rows, clock: Clock) -> None:
        self._rows = rows
        self._clock = clock
        self.appended: list[Event] = []
        self._last: Event | None = None
        self._last_read = False

    def events(self, **filters: Any) -> list[Event]:
        """Events matching ``filters`` (see ``EventStore.events``), in order."""
        return list(self._rows.select(**filters))

    def last(self) -> Event | None:
        """The newest event; read once, then kept (no other writer can append meanwhile)."""
        if not self._last_read:
            rows = list(self._rows.select(newest_first=True, limit=1))
            self._last, self._last_read = (rows[0] if rows else None), True
        return self._last

    def append(
        self,
        *,
        kind: str,
        actor: str,
        request_id: str | None = None,
        target: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        """Append one event after the current last; secrets are masked first."""
        last = self.last()
        seq = last.seq + 1 if last else 1
        prev_hash = last.hash if last else GENESIS_HASH
        ts = self._clock().astimezone(UTC).isoformat(timespec="microseconds")
        clean: dict[str, Any] = redactor.redact_data(dict(data or {}))
        actor = redactor.redact(actor)
        request_id, target = (
            redactor.redact(v) if v is not None else None for v in (request_id, target)
        )
        data_json = canonical_json(clean)
        digest = event_hash(
            seq=seq,
            ts=ts,
            request_id=request_id,
            target=target,
            actor=actor,
            kind=kind,
            data_json=data_json,
            prev_hash=prev_hash,
        )
        event = Event(seq, ts, request_id, target, actor, kind, clean, prev_hash, digest, data_json)
        self._rows.insert(event)
        self.appended.append(event)
        self._last = event
        return event


class EventStore(ABC):
    """The audit log; ``SqliteEventStore`` (one file) or ``PostgresEventStore`` (shared)."""

    clock: Clock
    where: str
    """The log in a user's words, for messages: ``the audit log /srv/state.sqlite3``."""
    head_where: str
    """Where the recorded head is kept, for messages: ``the head file /srv/….head``."""
    head_name: str
    """What the recorded head is, in a sentence about the log: ``head file``."""

    # --- what a back-end provides ------------------------------------------------

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Rows]:
        """A serialised write transaction, committed when the block ends without error;
        raises ``StoreBusyError`` when it cannot start in time."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Rows]:
        """Rows to read from (no write lock)."""

    @abstractmethod
    def _recorded_head(self, rows: Rows) -> Head | None:
        """The head kept apart from the events; ``ValueError`` if garbled."""

    @abstractmethod
    def _head_written(self, rows: Rows, head: Head) -> None:
        """Inside the transaction that appended up to ``head`` (PostgreSQL keeps it there)."""

    @abstractmethod
    def _head_committed(self, head: Head) -> None:
        """After that transaction committed (SQLite writes its head file then)."""

    @abstractmethod
    def close(self) -> None:
        """Let go of connections (a store is usable until then)."""

    # --- the log -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: read, check, append; all or nothing.

        Raises ``StoreBusyError`` when another process holds the log for longer
        than the busy timeout, and ``StoreError`` when the log no longer reaches
        its recorded head (cut, rewritten, or the head gone): appending then
        would bury the evidence, so nothing is written until someone looks.
        """
        with self._writing() as rows:
            tx = Transaction(rows, self.clock)
            self._check_head(tx, rows)
            yield tx
            if tx.appended:
                self._head_written(rows, Head(tx.appended[-1].seq, tx.appended[-1].hash))
        if tx.appended:
            self._head_committed(Head(tx.appended[-1].seq, tx.appended[-1].hash))

    def _check_head(self, tx: Transaction, rows: Rows) -> None:
        """Raise ``StoreError`` unless the recorded head names an event still in the log.

        The recorded head may lag the log (a crash between commit and writing a
        head file), never lead it nor disagree with it.
        """
        last = tx.last()
        try:
            recorded = self._recorded_head(rows)
        except ValueError:
            problem = f"its {self.head_name} is unreadable"
        else:
            if recorded is None:
                if last is None:
                    return
                problem = f"its {self.head_name} is missing"
            else:
                found = tx.events(after_seq=recorded.seq - 1, limit=1)
                if found and found[0].seq == recorded.seq and found[0].hash == recorded.hash:
                    return
                problem = f"it no longer holds its recorded head {recorded}"
        raise StoreError(
            f"{self.where} was tampered with ({problem}): nothing more is written"
            " to it until `audit verify` has been looked into"
        )

    def append(self, **fields: Any) -> Event:
        """Append one event in a transaction of its own (no precondition)."""
        with self.transaction() as tx:
            return tx.append(**fields)

    def events(self, **filters: Any) -> list[Event]:
        """Events in order. Filters: ``request_id``, ``target``, ``kinds`` (a
        sequence), ``after_seq``, ``newest_first``, ``limit``."""
        with self._reading() as rows:
            return list(rows.select(**filters))

    def iter_events(self, **filters: Any) -> Iterator[Event]:
        """Like ``events`` without holding every event in memory."""
        with self._reading() as rows:
            yield from rows.select(**filters)

    def head(self) -> Head | None:
        """The last event's sequence number and hash, from the events themselves."""
        with self._reading() as rows:
            found = list(rows.select(newest_first=True, limit=1))
        return Head(found[0].seq, found[0].hash) if found else None

    def recorded_head(self) -> Head | None:
        """The head recorded apart from the events, if any; ``ValueError`` if garbled."""
        with self._reading() as rows:
            return self._recorded_head(rows)

    def verify(self, checkpoints: Sequence[Head] = ()) -> VerifyReport:
        """Walk the whole chain; report the first breach, checking the recorded head too.

        With events in the log but no readable recorded head and no checkpoint
        given, the log does not verify: nothing would show a cut tail.
        """
        marks = list(checkpoints)
        try:
            recorded = self.recorded_head()
        except ValueError:
            recorded, head_problem = None, f"{self.head_where} is unreadable"
        else:
            head_problem = f"{self.head_where} is missing"
        if recorded is not None:
            marks.append(recorded)
        count = 0
        last: Event | None = None

        def counted() -> Iterator[Event]:
            nonlocal count, last
            for event in self.iter_events():
                count, last = count + 1, event
                yield event

        breach = find_breach(counted(), marks)
        head = Head(last.seq, last.hash) if last else None
        if breach is None and head is not None and not marks:
            reason = f"{head_problem}, so a cut tail cannot be ruled out: give an expected head"
            breach = Breach(head.seq, reason)
        return VerifyReport(events=count, head=head, breach=breach)


def where_clause(
    mark: str,
    *,
    request_id: str | None = None,
    target: str | None = None,
    kinds: Sequence[str] | None = None,
    after_seq: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """``SELECT`` of the events for ``Rows.select``'s filters, with ``mark`` as the
    driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("request_id", request_id), ("target", target)):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if kinds:
        clauses.append(f"kind IN ({', '.join([mark] * len(kinds))})")
        params.extend(kinds)
    if after_seq is not None:
        clauses.append(f"seq > {mark}")
        params.append(after_seq)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if newest_first else "ASC"
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    return f"SELECT {', '.join(COLUMNS)} FROM {EVENTS} {where} ORDER BY seq {order} {tail}", params


def event_of(row: Sequence[Any]) -> Event:
    """An ``Event`` from a row of ``COLUMNS``, in order."""
    seq, ts, request_id, target, actor, kind, data, prev_hash, digest = row
    return Event(
        seq=int(seq),
        ts=ts,
        request_id=request_id,
        target=target,
        actor=actor,
        kind=kind,
        data=json.loads(data),
        prev_hash=prev_hash,
        hash=digest,
        data_json=data,
    )


def row_of(event: Event) -> tuple[Any, ...]:
    """The values of ``COLUMNS`` for ``event`` (its data as the exact text hashed)."""
    data = event.data_json if event.data_json is not None else canonical_json(event.data)
    return (
        event.seq,
        event.ts,
        event.request_id,
        event.target,
        event.actor,
        event.kind,
        data,
        event.prev_hash,
        event.hash,
    )
