"""Runs' schema diffs, kept whole beside the audit log under their sha256.

The audit log holds each run's ``schema_diff`` event: the diff's sha256, its
summary and the two schemas' digests. The diff itself (every difference and
each touched object before and after) can be large, so it lives here, a
table of its own (``schema_diffs``) in the state: the SQLite file, or the
shared PostgreSQL (the bot's schema, revision 0004). It is stored under its
own hash, so anyone can check a stored diff against the event that names it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from commands.state.location import StateLocation
from commands.state.shared import shared_state

BUSY_TIMEOUT_S = 30.0
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_diffs (
    sha256 TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    recorded REAL NOT NULL
);
"""
KEEP = "INSERT INTO schema_diffs (sha256, body, recorded) VALUES ({0}, {0}, {0})"
KEEP += " ON CONFLICT (sha256) DO NOTHING"
READ = "SELECT body FROM schema_diffs WHERE sha256 = {0}"


class SchemaDiffs:
    """The ``schema_diffs`` table where ``location``'s state lives."""

    def __init__(self, location: StateLocation) -> None:
        self._location = location

    def keep(self, sha256: str, body: str) -> None:
        """Store ``body`` under ``sha256`` (a second time is a no-op)."""
        with self._connection() as (conn, mark):
            conn.execute(KEEP.format(mark), (sha256, body, time.time()))

    def body(self, sha256: str) -> str | None:
        """The stored text under ``sha256``, if any."""
        with self._connection() as (conn, mark):
            row = conn.execute(READ.format(mark), (sha256,)).fetchone()
        return str(row[0]) if row else None

    @contextmanager
    def _connection(self) -> Iterator[tuple[Any, str]]:
        """A connection in a transaction, and its parameter mark."""
        shared = shared_state(self._location)
        if shared is not None:
            with shared.pool.connection() as conn, conn.transaction():
                yield conn, "%s"
            return
        self._location.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._location.path, timeout=BUSY_TIMEOUT_S)
        try:
            with db:
                db.executescript(SQLITE_SCHEMA)
                yield db, "?"
        finally:
            db.close()
