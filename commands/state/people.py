"""Who is who: the names Slack gives its user ids, kept beside the audit log.

The audit log names people by Slack user id (``U0ALICE``): stable, but not
what an operator reading ``migrate-bot audit`` in a terminal recognises. The
Slack front writes here the name each request from Slack carries, so the
terminal, which cannot ask Slack, can say "alice". It is a table of its own,
``people``, outside the hash chain: a name is a label for reading the log,
never a fact in it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

BUSY_TIMEOUT_S = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seen REAL NOT NULL
);
"""
MAX_NAME = 80


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
        clean = "".join(c for c in name if c.isprintable()).strip()[:MAX_NAME]
        if not clean:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO people (user_id, name, seen) VALUES (?, ?, ?) ON CONFLICT (user_id)"
                " DO UPDATE SET name = excluded.name, seen = excluded.seen",
                (user_id, clean, time.time()),
            )

    def names(self) -> dict[str, str]:
        """Every user id recorded, and its latest name."""
        with self._lock:
            return dict(self._db.execute("SELECT user_id, name FROM people").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()


def known_names(state_path: Path) -> dict[str, str]:
    """The names recorded beside the audit log at ``state_path``; none when it has no
    ``people`` table yet (read without creating anything)."""
    if not state_path.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{state_path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S) as db:
            return dict(db.execute("SELECT user_id, name FROM people").fetchall())
    except sqlite3.OperationalError:  # no such table: no name recorded yet
        return {}
