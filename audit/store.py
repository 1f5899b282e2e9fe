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

Projections (``audit.projections``) are kept beside the events in the same
transactions, so what a caller asks of the present does not cost a walk of
the past.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from audit.chain import GENESIS_HASH, Event, Head, canonical_json, event_hash
from audit.projections import (
    CATCH_UP_BATCH,
    VERIFIED,
    Projection,
    catch_up,
    checkpoints,
    write_checkpoint,
)
from audit.redact import redactor
from audit.verification import VerifyReport, verify_chain

Clock = Callable[[], datetime]


class StoreError(Exception):
    """The audit store cannot be used (unreadable file, locked for too long)."""


class StoreBusyError(StoreError):
    """Another process held the log past the busy timeout: the write may work later."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Rows(Protocol):
    """One back-end's reads and writes of the events table, on one open connection."""

    def select(
        self,
        *,
        request_id: str | None = None,
        request_ids: Sequence[str] | None = None,
        request_tails: Sequence[tuple[str, int]] | None = None,
        target: str | None = None,
        kinds: Sequence[str] | None = None,
        after_seq: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[Event]: ...

    def insert(self, event: Event) -> None: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Any statement on the same connection (``?`` for parameters): projections' tables."""
        ...


class Transaction:
    """Reads and appends inside one serialised write transaction; the store's kept
    projections take each event appended."""

    def __init__(self, rows: Rows, clock: Clock, store: EventStore) -> None:
        self._rows = rows
        self._clock = clock
        self._store = store
        self.appended: list[Event] = []
        self._last: Event | None = None
        self._last_read = False
        self._checkpoints: dict[str, Head] | None = None

    def events(self, **filters: Any) -> list[Event]:
        """Events matching ``filters`` (see ``EventStore.events``), in order."""
        return list(self._rows.select(**filters))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A statement on this transaction's connection (``?`` marks a parameter)."""
        return self._rows.execute(sql, params)

    def query(
        self, projection: Projection, sql: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """A read of ``projection``'s tables, caught up with every event first."""
        if not self._store.keeps(projection):
            self._store._prepare(self._rows, projection)
            catch_up(self, [projection], self.checkpoints())
            self._store._kept[projection.name] = projection
        return self.execute(sql, params)

    def checkpoints(self) -> dict[str, Head]:
        """The projections' checkpoints as this transaction found them (read once)."""
        if self._checkpoints is None:
            self._checkpoints = checkpoints(self._rows)
        return self._checkpoints

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
        for projection in self._store.kept():
            projection.apply(self, [event])
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

    @abstractmethod
    def _prepare(self, rows: Rows, projection: Projection) -> None:
        """Make ``projection``'s tables in this transaction, if the back-end makes its own
        (SQLite does)."""

    write_errors: tuple[type[Exception], ...] = (StoreError,)
    """What a write the log can do without (the verified head) may fail with."""

    # --- the log -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: read, check, append; all or nothing.

        The kept projections are caught up with the log first, and take each
        event appended. Raises ``StoreBusyError`` when another process holds
        the log for longer than the busy timeout, and ``StoreError`` when the
        log no longer reaches its recorded head (cut, rewritten, or the head
        gone): appending then would bury the evidence, so nothing is written
        until someone looks.
        """
        with self._writing() as rows:
            tx = Transaction(rows, self.clock, self)
            self._check_head(tx, rows)
            kept = self.kept()
            if kept:
                catch_up(tx, kept, tx.checkpoints())
            yield tx
            if tx.appended:
                head = Head(tx.appended[-1].seq, tx.appended[-1].hash)
                self._head_written(rows, head)
                for projection in self.kept():
                    write_checkpoint(rows, projection.name, head)
        if tx.appended:
            self._head_committed(Head(tx.appended[-1].seq, tx.appended[-1].hash))

    # --- projections ---------------------------------------------------------------

    _kept: dict[str, Projection]
    _keeping = threading.Lock()

    def kept(self) -> list[Projection]:
        """The projections this store keeps up to date."""
        return list(self.__dict__.setdefault("_kept", {}).values())

    def keeps(self, projection: Projection) -> bool:
        return projection.name in self.__dict__.setdefault("_kept", {})

    def keep(self, *projections: Projection) -> None:
        """Keep ``projections`` from now on: made, caught up with the log (the events read
        once for all of them, in transactions of ``CATCH_UP_BATCH`` events, so a long
        log is not locked while it is first folded), then taken along by every
        transaction. Idempotent."""
        with self._keeping:
            new = [p for p in projections if not self.keeps(p)]
            done = not new
            while not done:
                with self._writing() as rows:
                    for projection in new:
                        self._prepare(rows, projection)
                    tx = Transaction(rows, self.clock, self)
                    self._check_head(tx, rows)
                    done = catch_up(tx, new, tx.checkpoints(), limit=CATCH_UP_BATCH)
            for projection in new:
                self._kept[projection.name] = projection

    def query(
        self, projection: Projection, sql: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """A read of ``projection``'s tables (``?`` marks a parameter), after the events
        appended since it last took one (by a process that does not keep it)."""
        self.keep(projection)
        with self._reading() as rows:
            last = list(rows.select(newest_first=True, limit=1))
            found = checkpoints(rows).get(projection.name)
        if last and found != Head(last[0].seq, last[0].hash):
            with self.transaction():
                pass  # its start catches every kept projection up
        with self._reading() as rows:
            return rows.execute(sql, params)

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
        """Events in order. Filters: ``request_id``, ``request_ids`` (any of them),
        ``request_tails`` (pairs of a request id and a seq: that request's events after
        it), ``target``, ``kinds`` (a sequence), ``after_seq``, ``newest_first``,
        ``limit``."""
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

    def verify(
        self, checkpoints: Sequence[Head] = (), *, incremental: bool = False
    ) -> VerifyReport:
        """Walk the chain, or only what follows the last verified head (see
        ``audit.verification``); report the first breach."""
        return verify_chain(self, checkpoints, incremental=incremental)

    def holds(self, head: Head) -> bool:
        """The log has the event ``head`` names, with that hash."""
        with self._reading() as rows:
            found = list(rows.select(after_seq=head.seq - 1, limit=1))
        return bool(found) and found[0].seq == head.seq and found[0].hash == head.hash

    def verified_head(self) -> Head | None:
        """The head the last successful ``verify`` reached, if recorded."""
        with self._reading() as rows:
            return checkpoints(rows).get(VERIFIED)

    def record_verified(self, head: Head) -> None:
        """Remember that the chain verifies up to ``head``; best effort (a log opened
        read-only, or busy, is verified again in full next time)."""
        try:
            with self._writing() as rows:
                write_checkpoint(rows, VERIFIED, head)
        except self.write_errors:
            pass
