"""Notifications waiting to be delivered, kept in the state SQLite file.

A notification is written here before anyone tries to send it, and stays
until it is delivered (or found undeliverable, kept as ``dead`` with the
reason), so a Slack outage or a restart loses nothing. It is its own table,
``outbox``, beside the audit events and outside their hash chain: delivery
attempts are bookkeeping, not facts an auditor needs. Each row has a unique
``key``: enqueueing the same key twice is a no-op, so "announce the outcome
of M-12" happens once however often the caller retries.

A crash between sending a message and the row being marked delivered
leaves Slack's answer unknown: ``recover`` marks such rows ``uncertain``, and
the sender looks in Slack for the message before posting it again, so a
restart does not announce twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_S = 30.0

SCHEMA = """
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
    uncertain INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, not_before);
CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message, state);
"""


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
    """Another process held the state file past the busy timeout: try again later."""


class Outbox:
    """The ``outbox`` table in the SQLite file at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "uncertain" not in columns:  # a state file from before the column
            self._db.execute("ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; raises ``OutboxBusyError`` past the busy timeout."""
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
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO outbox (key, kind, payload, message, state, not_before,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, kind, json.dumps(payload), message, State.PENDING, now, now),
            )
            return cursor.rowcount == 1

    def replace_pending_update(self, *, message: str, payload: Mapping[str, Any]) -> bool:
        """Put ``payload`` in the update of ``message`` still waiting, if there is one."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE outbox SET payload = ? WHERE id = (SELECT max(id) FROM outbox"
                " WHERE message = ? AND kind = ? AND state = ?)",
                (json.dumps(payload), message, Kind.UPDATE, State.PENDING),
            )
            return cursor.rowcount == 1

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """Pending notifications whose time has come, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key, kind, payload, message, attempts, not_before, uncertain"
                " FROM outbox WHERE state = ? AND not_before <= ? ORDER BY id LIMIT ?",
                (State.PENDING, now, limit),
            ).fetchall()
        return [
            Delivery(row[0], row[1], Kind(row[2]), json.loads(row[3]), *row[4:7], bool(row[7]))
            for row in rows
        ]

    def claim(self, delivery_id: int) -> bool:
        """Mark as being sent; ``False`` if someone else took it first."""
        return self._move(delivery_id, State.PENDING, State.SENDING)

    def delivered(self, delivery_id: int, *, channel: str | None, ts: str | None) -> None:
        with self._tx() as db:
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
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET state = ?, not_before = ?, last_error = coalesce(?, last_error),"
                " attempts = attempts + (? IS NOT NULL), uncertain = max(uncertain, ?)"
                " WHERE id = ?",
                (State.PENDING, not_before, error, error, int(uncertain), delivery_id),
            )

    def superseded(self, delivery_id: int) -> bool:
        """Whether a newer update of the same message is queued (or sent) after this one."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM outbox AS newer JOIN outbox AS this ON newer.message = this.message"
                " WHERE this.id = ? AND newer.kind = ? AND newer.id > this.id"
                " AND newer.state <> ? LIMIT 1",
                (delivery_id, Kind.UPDATE, State.DEAD),
            ).fetchone()
        return row is not None

    def dead(self, delivery_id: int, *, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?",
                (State.DEAD, error, delivery_id),
            )

    def location(self, key: str) -> tuple[str, str] | None:
        """Channel and ts of the delivered post ``key``; ``None`` until it is delivered."""
        with self._lock:
            row = self._db.execute(
                "SELECT channel, ts FROM outbox WHERE key = ? AND state = ? AND ts IS NOT NULL",
                (key, State.DELIVERED),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def state_of(self, key: str) -> tuple[State, int, str | None] | None:
        """State, attempts and last error of ``key``."""
        with self._lock:
            row = self._db.execute(
                "SELECT state, attempts, last_error FROM outbox WHERE key = ?", (key,)
            ).fetchone()
        return (State(row[0]), row[1], row[2]) if row else None

    def count(self, *states: State) -> int:
        marks = ", ".join("?" * len(states))
        with self._lock:
            row = self._db.execute(
                f"SELECT count(*) FROM outbox WHERE state IN ({marks})", states
            ).fetchone()
        return int(row[0])

    def recover(self, *, not_before: float = 0.0) -> int:
        """After a restart: notifications caught mid-send are pending again (not before
        ``not_before``), and ``uncertain`` (Slack may have taken them before the crash)."""
        with self._tx() as db:
            return db.execute(
                "UPDATE outbox SET state = ?, uncertain = 1, not_before = max(not_before, ?)"
                " WHERE state = ?",
                (State.PENDING, not_before, State.SENDING),
            ).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _move(self, delivery_id: int, source: State, destination: State) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = ? WHERE id = ? AND state = ?",
                (destination, delivery_id, source),
            )
            return cursor.rowcount == 1
