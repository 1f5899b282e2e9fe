"""Who is who: the names Slack gives its user ids, kept beside the audit log.

The audit log names people by Slack user id (``U0ALICE``): stable, but not
what an operator reading ``migrate-bot audit`` in a terminal recognises. The
Slack front writes here the name each request from Slack carries, so the
terminal, which cannot ask Slack, can say "alice". It is a table of its own,
``people``, outside the hash chain: a name is a label for reading the log,
never a fact in it. It lives where the state does: the SQLite file, or the
shared PostgreSQL (the bot's schema, revision 0003), written by the workers.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

import psycopg_pool

from commands.state.location import StateLocation
from commands.state.shared import shared_state

BUSY_TIMEOUT_S = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seen REAL NOT NULL
);
"""
MAX_NAME = 80
UPSERT = (
    "INSERT INTO people (user_id, name, seen) VALUES ({0}, {0}, {0}) ON CONFLICT (user_id)"
    " DO UPDATE SET name = excluded.name, seen = excluded.seen"
)


class Directory(Protocol):
    """The ``people`` table, wherever the state lives."""

    def remember(self, user_id: str, name: str) -> None: ...

    def names(self) -> dict[str, str]: ...

    def close(self) -> None: ...


def clean_name(name: str) -> str:
    """A name as shown: control characters dropped, cut short."""
    return "".join(c for c in name if c.isprintable()).strip()[:MAX_NAME]


class PeopleDirectory:
    """The ``people`` table of the state file at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(SCHEMA)

    def remember(self, user_id: str, name: str) -> None:
        """Record ``user_id``'s current name (control characters dropped, cut short)."""
        clean = clean_name(name)
        if clean:
            with self._lock:
                self._db.execute(UPSERT.format("?"), (user_id, clean, time.time()))

    def names(self) -> dict[str, str]:
        """Every user id recorded, and its latest name."""
        with self._lock:
            return dict(self._db.execute("SELECT user_id, name FROM people").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SharedPeopleDirectory:
    """The ``people`` table of the shared state (its pool's ``search_path``)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool) -> None:
        self._pool = pool

    def remember(self, user_id: str, name: str) -> None:
        clean = clean_name(name)
        if clean:
            with self._pool.connection() as conn:
                conn.execute(UPSERT.format("%s"), (user_id, clean, time.time()))

    def names(self) -> dict[str, str]:
        with self._pool.connection() as conn:
            return dict(conn.execute("SELECT user_id, name FROM people").fetchall())

    def close(self) -> None:
        """The pool belongs to the shared state, which closes it."""


def open_people(location: StateLocation) -> Directory:
    """The people table where the state lives (the SQLite file's made on first use)."""
    shared = shared_state(location)
    if shared is not None:
        return SharedPeopleDirectory(shared.pool)
    return PeopleDirectory(location.path)


def known_names(location: StateLocation) -> dict[str, str]:
    """The names recorded beside the audit log; none when a state file has no
    ``people`` table yet (read without creating anything)."""
    shared = shared_state(location)
    if shared is not None:
        return SharedPeopleDirectory(shared.pool).names()
    if not location.path.exists():
        return {}
    uri = f"file:{location.path}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S) as db:
            return dict(db.execute("SELECT user_id, name FROM people").fetchall())
    except sqlite3.OperationalError:  # no such table: no name recorded yet
        return {}
