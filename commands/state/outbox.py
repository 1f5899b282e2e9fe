"""Notifications waiting to be delivered, kept in the bot's state (SQLite or PostgreSQL).

A notification is written here before anyone tries to send it, and stays
until it is delivered (or found undeliverable, kept as ``dead`` with the
reason), so a Slack outage or a restart loses nothing. It is its own table,
``outbox``, beside the audit events and outside their hash chain: delivery
attempts are bookkeeping, not facts an auditor needs. Each row has a unique
``key``: enqueueing the same key twice is a no-op, so "announce the outcome
of M-12" happens once however often the caller retries, and whichever
process asks.

A crash between sending a message and the row being marked delivered
leaves Slack's answer unknown: ``recover`` marks such rows ``uncertain``, and
the sender looks in Slack for the message before posting it again, so a
restart does not announce twice. With a shared state, several workers
deliver from one outbox: a claim is a conditional write (one sender per
row), and only claims older than any send can take are recovered, so a
live sender's row is never taken from it.

The statements are written once, in SQL both databases speak (``?`` marks a
parameter); ``SqliteTables`` and ``PostgresTables`` run them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg_pool

from commands.state.location import StateLocation
from commands.state.shared import shared_state

BUSY_TIMEOUT_S = 30.0

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    message TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    last_error TEXT,
    channel TEXT,
    ts TEXT,
    created REAL NOT NULL,
    uncertain INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, not_before);
CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message, state);
"""
LATER_COLUMNS = {  # added to state files made before them
    "uncertain": "INTEGER NOT NULL DEFAULT 0",
    "claimed_at": "REAL",
}


class Kind(StrEnum):
    POST = "post"  # a new message (or a thread reply: ``message`` is the parent's key)
    UPDATE = "update"  # new content for the message whose key is ``message``
    EPHEMERAL = "ephemeral"


class State(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Delivery:
    id: int
    key: str
    kind: Kind
    payload: dict[str, Any]
    message: str | None
    attempts: int
    not_before: float
    uncertain: bool = False  # caught mid-send by a crash: Slack may already have it


class OutboxBusyError(Exception):
    """Another process held the state past the busy timeout: try again later."""


class Cursor(Protocol):
    """What the outbox reads of a statement's result, from sqlite3 or psycopg."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Statements(Protocol):
    """A connection as the outbox's SQL uses it (``?`` marks, a sequence of parameters)."""

    def execute(self, sql: str, params: Any = (), /) -> Cursor: ...


class Tables(Protocol):
    """Where the outbox table lives: transactions on it, and reads."""

    def writing(self) -> AbstractContextManager[Statements]: ...

    def reading(self) -> AbstractContextManager[Statements]: ...

    def close(self) -> None: ...


class SqliteTables:
    """Tables in the state's SQLite file: one connection, writes in ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SQLITE_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        for name, declaration in LATER_COLUMNS.items():
            if name not in columns:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {declaration}")

    @contextmanager
    def writing(self) -> Iterator[Statements]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise OutboxBusyError(f"the outbox is busy: {exc}") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator[Statements]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _PostgresStatements:
    """``?`` marks turned into psycopg's ``%s`` (no statement here has a literal ``?``)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = (), /) -> Cursor:
        return self._conn.execute(sql.replace("?", "%s"), params)


class PostgresTables:
    """Tables in the shared PostgreSQL schema (``pool``'s ``search_path``), made by
    the bot's Alembic history; each write its own transaction."""

    def __init__(self, pool: psycopg_pool.ConnectionPool) -> None:
        self._pool = pool

    @contextmanager
    def _statements(self) -> Iterator[Statements]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield _PostgresStatements(conn)
        except (psycopg_pool.PoolTimeout, psycopg.OperationalError) as exc:
            raise OutboxBusyError(f"the outbox cannot be reached: {exc}") from None

    def writing(self) -> AbstractContextManager[Statements]:
        return self._statements()

    def reading(self) -> AbstractContextManager[Statements]:
        return self._statements()

    def close(self) -> None:
        """The pool belongs to the shared state, which closes it."""


class Outbox:
    """The ``outbox`` table: in the SQLite file at ``path``, or in ``tables``."""

    def __init__(self, path: Path | None = None, *, tables: Tables | None = None) -> None:
        if tables is None:
            assert path is not None, "an outbox needs a state file or tables"
            tables = SqliteTables(path)
        self._tables = tables

    def enqueue(
        self,
        *,
        key: str,
        kind: Kind,
        payload: Mapping[str, Any],
        now: float,
        message: str | None = None,
    ) -> bool:
        """Add a notification; ``False`` if one with ``key`` already exists."""
        with self._tables.writing() as db:
            cursor = db.execute(
                "INSERT INTO outbox (key, kind, payload, message, state, not_before, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, kind, json.dumps(payload), message, State.PENDING, now, now),
            )
            return cursor.rowcount == 1

    def replace_pending_update(self, *, message: str, payload: Mapping[str, Any]) -> bool:
        """Put ``payload`` in the update of ``message`` still waiting, if there is one."""
        with self._tables.writing() as db:
            # the state checked again on the row itself: PostgreSQL re-reads a row a
            # concurrent claim has just taken, and must then leave it alone
            cursor = db.execute(
                "UPDATE outbox SET payload = ? WHERE state = ? AND id = (SELECT max(id)"
                " FROM outbox WHERE message = ? AND kind = ? AND state = ?)",
                (json.dumps(payload), State.PENDING, message, Kind.UPDATE, State.PENDING),
            )
            return cursor.rowcount == 1

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """Pending notifications whose time has come, oldest first."""
        with self._tables.reading() as db:
            rows = db.execute(
                "SELECT id, key, kind, payload, message, attempts, not_before, uncertain"
                " FROM outbox WHERE state = ? AND not_before <= ? ORDER BY id LIMIT ?",
                (State.PENDING, now, limit),
            ).fetchall()
        return [
            Delivery(
                row[0],
                row[1],
                Kind(row[2]),
                json.loads(row[3]),
                row[4],
                row[5],
                row[6],
                bool(row[7]),
            )
            for row in rows
        ]

    def claim(self, delivery_id: int, *, now: float = 0.0) -> dict[str, Any] | None:
        """Mark as being sent (since ``now``) and return its payload as it is now: an update
        coalesced into it since ``due`` read it is sent, not lost. ``None`` if someone else
        took it first."""
        with self._tables.writing() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = ?, claimed_at = ? WHERE id = ? AND state = ?",
                (State.SENDING, now, delivery_id, State.PENDING),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute("SELECT payload FROM outbox WHERE id = ?", (delivery_id,)).fetchone()
            payload: dict[str, Any] = json.loads(row[0])
            return payload

    def delivered(self, delivery_id: int, *, channel: str | None, ts: str | None) -> None:
        with self._tables.writing() as db:
            db.execute(
                "UPDATE outbox SET state = ?, channel = ?, ts = ?, attempts = attempts + 1,"
                " last_error = NULL, uncertain = 0 WHERE id = ?",
                (State.DELIVERED, channel, ts, delivery_id),
            )

    def retry_later(
        self, delivery_id: int, *, not_before: float, error: str | None, uncertain: bool = False
    ) -> None:
        """Back to pending until ``not_before``; ``error`` counts as an attempt when given;
        ``uncertain``: Slack may have taken it (no answer came)."""
        with self._tables.writing() as db:
            db.execute(
                "UPDATE outbox SET state = ?, not_before = ?, last_error = coalesce(?, last_error),"
                " attempts = attempts + ?, uncertain = CASE WHEN ? = 1 THEN 1 ELSE uncertain END"
                " WHERE id = ?",
                (
                    State.PENDING,
                    not_before,
                    error,
                    int(error is not None),
                    int(uncertain),
                    delivery_id,
                ),
            )

    def superseded(self, delivery_id: int) -> bool:
        """Whether a newer update of the same message is queued (or sent) after this one."""
        with self._tables.reading() as db:
            row = db.execute(
                "SELECT 1 FROM outbox AS newer JOIN outbox AS this ON newer.message = this.message"
                " WHERE this.id = ? AND newer.kind = ? AND newer.id > this.id"
                " AND newer.state <> ? LIMIT 1",
                (delivery_id, Kind.UPDATE, State.DEAD),
            ).fetchone()
        return row is not None

    def dead(self, delivery_id: int, *, error: str) -> None:
        with self._tables.writing() as db:
            db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?",
                (State.DEAD, error, delivery_id),
            )

    def location(self, key: str) -> tuple[str, str] | None:
        """Channel and ts of the delivered post ``key``; ``None`` until it is delivered."""
        with self._tables.reading() as db:
            row = db.execute(
                "SELECT channel, ts FROM outbox WHERE key = ? AND state = ? AND ts IS NOT NULL",
                (key, State.DELIVERED),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def state_of(self, key: str) -> tuple[State, int, str | None] | None:
        """State, attempts and last error of ``key``."""
        with self._tables.reading() as db:
            row = db.execute(
                "SELECT state, attempts, last_error FROM outbox WHERE key = ?", (key,)
            ).fetchone()
        return (State(row[0]), row[1], row[2]) if row else None

    def count(self, *states: State) -> int:
        marks = ", ".join("?" * len(states))
        with self._tables.reading() as db:
            row = db.execute(
                f"SELECT count(*) FROM outbox WHERE state IN ({marks})", states
            ).fetchone()
        assert row is not None
        return int(row[0])

    def recover(self, *, not_before: float = 0.0, claimed_before: float | None = None) -> int:
        """Notifications caught mid-send are pending again (not before ``not_before``), and
        ``uncertain`` (Slack may have taken them before the crash). ``claimed_before``: only
        claims older than that (a shared outbox: other senders' recent claims are alive)."""
        with self._tables.writing() as db:
            return db.execute(
                "UPDATE outbox SET state = ?, uncertain = 1,"
                " not_before = CASE WHEN not_before < ? THEN ? ELSE not_before END"
                " WHERE state = ? AND (CAST(? AS REAL) IS NULL OR claimed_at IS NULL"
                " OR claimed_at < ?)",
                (
                    State.PENDING,
                    not_before,
                    not_before,
                    State.SENDING,
                    claimed_before,
                    claimed_before,
                ),
            ).rowcount

    def close(self) -> None:
        self._tables.close()


def open_outbox(location: StateLocation) -> Outbox:
    """The outbox where the state lives: the shared PostgreSQL, else the SQLite file."""
    shared = shared_state(location)
    if shared is not None:
        return Outbox(tables=PostgresTables(shared.pool))
    return Outbox(location.path)
