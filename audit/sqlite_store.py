"""The event store in one SQLite file: the embedded default.

Writes are ``BEGIN IMMEDIATE`` transactions, so a second writer (thread or
process) waits for the first, up to the busy timeout. The recorded head is
a small file beside the database (``<file>.head``), written after each
commit. The file stays plain SQLite: ``sqlite-utils`` and Datasette open it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from audit.chain import Event, Head
from audit.projections import SQLITE_SCHEMA as CHECKPOINTS_SCHEMA
from audit.projections import Projection
from audit.rows import COLUMNS, EVENTS, event_of, row_of, where_clause
from audit.store import (
    Clock,
    EventStore,
    Rows,
    StoreBusyError,
    StoreError,
    utc_now,
)

BUSY_TIMEOUT_MS = 30_000


class _SqliteRows:
    """``Rows`` on one SQLite connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db

    def select(self, **filters: Any) -> Iterator[Event]:
        sql, params = where_clause("?", **filters)
        for row in self._db.execute(sql, params):
            yield event_of(row)

    def insert(self, event: Event) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        self._db.execute(
            f"INSERT INTO {EVENTS} ({', '.join(COLUMNS)}) VALUES ({marks})", row_of(event)
        )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, list(params)).fetchall()


class SqliteEventStore(EventStore):
    """The audit log in the SQLite file at ``path`` (created on first use)."""

    head_name = "head file"
    write_errors = (StoreError, sqlite3.Error)

    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self.clock = clock
        self.where = f"the audit log {path}"
        self.head_where = f"the head file {self.head_path}"
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_schema(self._db())

    def _db(self) -> sqlite_utils.Database:
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
        return db

    @contextmanager
    def _writing(self) -> Iterator[_SqliteRows]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreBusyError(f"the audit log {self.path} is busy: {exc}") from None
        try:
            yield _SqliteRows(db)
            db.execute("COMMIT")
        except BaseException:
            db.conn.rollback()
            raise

    @contextmanager
    def _reading(self) -> Iterator[_SqliteRows]:
        yield _SqliteRows(self._db())

    def _prepare(self, rows: Rows, projection: Projection) -> None:
        for statement in projection.sqlite_schema.split(";"):
            if statement.strip():
                rows.execute(statement)

    def _recorded_head(self, rows: object = None) -> Head | None:
        try:
            return Head.parse(self.head_path.read_text())
        except FileNotFoundError:
            return None

    def _head_written(self, rows: object, head: Head) -> None:
        """The head file is written once the transaction committed (it may lag, never lead)."""

    def _head_committed(self, head: Head) -> None:
        """Write ``head`` beside the database unless a later one is already there."""
        with open(self.head_path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = self._recorded_head()
            except ValueError:  # an unreadable head file is replaced by the true one
                current = None
            if current is not None and current.seq >= head.seq:
                return
            scratch = self.head_path.with_name(self.head_path.name + f".{os.getpid()}.tmp")
            scratch.write_text(f"{head}\n")
            os.replace(scratch, self.head_path)

    def recorded_head(self) -> Head | None:
        """The head file's head (no database read needed)."""
        return self._recorded_head()

    def adopt_head(self, head: Head) -> None:
        """Record ``head`` as the log's head when no head file is left: a file brought
        back from a replica, whose chain was verified up to ``head`` first."""
        self._head_committed(head)

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None


def _create_schema(db: sqlite_utils.Database) -> None:
    events = db.table(EVENTS)
    events.create(
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
    events.create_index(["request_id"], if_not_exists=True)
    events.create_index(["target", "kind"], if_not_exists=True)
    events.create_index(["kind"], if_not_exists=True)
    db.execute(CHECKPOINTS_SCHEMA)
