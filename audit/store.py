"""The event store: append-only, hash-chained events in one SQLite file.

Every write happens inside ``transaction()``, a ``BEGIN IMMEDIATE`` SQLite
transaction: a caller reads the events it needs, checks its precondition and
appends, and no other writer (thread or process) can slip in between. That is
what makes a double-clicked approval count once.

The head of the chain (last sequence number and hash) is also written to a
small file beside the database after each commit. ``verify`` checks the
database against it, so deleting the newest events does not go unnoticed; a
head can also be kept elsewhere (a change ticket, a Slack message) and passed
to ``verify`` as a checkpoint. The file stays plain SQLite: ``sqlite-utils``
and Datasette open it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from audit.chain import GENESIS_HASH, Breach, Event, Head, canonical_json, event_hash, find_breach
from audit.redact import redactor

EVENTS = "events"
BUSY_TIMEOUT_MS = 30_000

Clock = Callable[[], datetime]


class StoreError(Exception):
    """The audit store cannot be used (unreadable file, locked for too long)."""


class StoreBusyError(StoreError):
    """Another process held the file past the busy timeout: the write may work later."""


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


class Transaction:
    """Reads and appends inside one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, db: sqlite_utils.Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.appended: list[Event] = []
        self._last: Event | None = None
        self._last_read = False

    def events(self, **filters: Any) -> list[Event]:
        """Events matching ``filters`` (see ``EventStore.events``), in order."""
        return list(_select(self._db, **filters))

    def last(self) -> Event | None:
        """The newest event; read once, then kept (no other writer can append meanwhile)."""
        if not self._last_read:
            rows = list(_select(self._db, newest_first=True, limit=1))
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
        actor, request_id, target = (
            redactor.redact(v) if v is not None else None for v in (actor, request_id, target)
        )
        assert actor is not None
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
        self._db.execute(
            f"INSERT INTO {EVENTS} (seq, ts, request_id, target, actor, kind, data, prev_hash,"
            " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, request_id, target, actor, kind, data_json, prev_hash, digest),
        )
        event = Event(seq, ts, request_id, target, actor, kind, clean, prev_hash, digest, data_json)
        self.appended.append(event)
        self._last = event
        return event


class EventStore:
    """The audit log in the SQLite file at ``path`` (created on first use)."""

    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self.clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            _create_schema(db)

    @contextmanager
    def _connection(self) -> Iterator[sqlite_utils.Database]:
        """This thread's connection (SQLite connections are not shared across threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
                )
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the audit log {self.path}: {exc}") from None
            db = sqlite_utils.Database(conn)
            self._local.db = db
        yield db

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: read, check, append; all or nothing.

        Raises ``StoreError`` when another process holds the file locked for
        longer than the busy timeout, and when the log no longer reaches its
        recorded head (cut, rewritten, or the head file gone): appending then
        would bury the evidence, so nothing is written until someone looks.
        """
        with self._connection() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreBusyError(f"the audit log {self.path} is busy: {exc}") from None
            tx = Transaction(db, self.clock)
            try:
                self._check_head(tx)
                yield tx
                db.execute("COMMIT")
            except BaseException:
                db.rollback()
                raise
        if tx.appended:
            self._advance_head(Head(tx.appended[-1].seq, tx.appended[-1].hash))

    def _check_head(self, tx: Transaction) -> None:
        """Raise ``StoreError`` unless the head file names an event still in the log.

        The head file may lag the log (a crash between commit and writing it),
        never lead it nor disagree with it.
        """
        last = tx.last()
        try:
            recorded = self.recorded_head()
        except ValueError:
            problem = "its head file is unreadable"
        else:
            if recorded is None:
                if last is None:
                    return
                problem = "its head file is missing"
            else:
                found = tx.events(after_seq=recorded.seq - 1, limit=1)
                if found and found[0].seq == recorded.seq and found[0].hash == recorded.hash:
                    return
                problem = f"it no longer holds its recorded head {recorded}"
        raise StoreError(
            f"the audit log {self.path} was tampered with ({problem}): nothing more is written"
            " to it until `audit verify` has been looked into"
        )

    def append(self, **fields: Any) -> Event:
        """Append one event in a transaction of its own (no precondition)."""
        with self.transaction() as tx:
            return tx.append(**fields)

    def events(self, **filters: Any) -> list[Event]:
        """Events in order. Filters: ``request_id``, ``target``, ``kinds`` (a
        sequence), ``after_seq``, ``newest_first``, ``limit``."""
        with self._connection() as db:
            return list(_select(db, **filters))

    def iter_events(self, **filters: Any) -> Iterator[Event]:
        """Like ``events`` without holding every event in memory."""
        with self._connection() as db:
            yield from _select(db, **filters)

    def head(self) -> Head | None:
        """The last event's sequence number and hash, from the database."""
        with self._connection() as db:
            rows = list(_select(db, newest_first=True, limit=1))
        return Head(rows[0].seq, rows[0].hash) if rows else None

    def recorded_head(self) -> Head | None:
        """The head last written beside the database, if any; ``ValueError`` if garbled."""
        try:
            return Head.parse(self.head_path.read_text())
        except FileNotFoundError:
            return None

    def verify(self, checkpoints: Sequence[Head] = ()) -> VerifyReport:
        """Walk the whole chain; report the first breach, checking the recorded head too.

        With events in the log but no readable head file and no checkpoint
        given, the log does not verify: nothing would show a cut tail.
        """
        marks = list(checkpoints)
        try:
            recorded = self.recorded_head()
        except ValueError:
            recorded, head_problem = None, f"the head file {self.head_path} is unreadable"
        else:
            head_problem = f"the head file {self.head_path} is missing"
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

    def _advance_head(self, head: Head) -> None:
        """Write ``head`` beside the database unless a later one is already there."""
        with open(self.head_path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = self.recorded_head()
            except ValueError:  # an unreadable head file is replaced by the true one
                current = None
            if current is not None and current.seq >= head.seq:
                return
            scratch = self.head_path.with_name(self.head_path.name + f".{os.getpid()}.tmp")
            scratch.write_text(f"{head}\n")
            os.replace(scratch, self.head_path)


def _create_schema(db: sqlite_utils.Database) -> None:
    db[EVENTS].create(
        {
            "seq": int,
            "ts": str,
            "request_id": str,
            "target": str,
            "actor": str,
            "kind": str,
            "data": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={"ts", "actor", "kind", "data", "prev_hash", "hash"},
        if_not_exists=True,
    )
    db[EVENTS].create_index(["request_id"], if_not_exists=True)
    db[EVENTS].create_index(["target", "kind"], if_not_exists=True)
    db[EVENTS].create_index(["kind"], if_not_exists=True)


def _select(
    db: sqlite_utils.Database,
    *,
    request_id: str | None = None,
    target: str | None = None,
    kinds: Sequence[str] | None = None,
    after_seq: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> Iterator[Event]:
    clauses, params = [], []
    for column, value in (("request_id", request_id), ("target", target)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if kinds:
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    if after_seq is not None:
        clauses.append("seq > ?")
        params.append(after_seq)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if newest_first else "ASC"
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    sql = f"SELECT * FROM {EVENTS} {where} ORDER BY seq {order} {tail}"
    for row in db.query(sql, params):
        yield Event(
            seq=row["seq"],
            ts=row["ts"],
            request_id=row["request_id"],
            target=row["target"],
            actor=row["actor"],
            kind=row["kind"],
            data=json.loads(row["data"]),
            prev_hash=row["prev_hash"],
            hash=row["hash"],
            data_json=row["data"],
        )
