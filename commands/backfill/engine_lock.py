"""One engine per backfill run, across every bot process and the CLI.

A PostgreSQL session advisory lock on the target database, held by the
engine's own connection for as long as it walks: a killed bot loses its
connection and the lock with it, so start-up recovery can tell a run whose
engine died (the lock is free) from one another process is running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from commands.backfill.model import RUN_PREFIX
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

# pg_advisory_lock(int, int): "MBFL", then the run's number (B-12: 12)
LOCK_CLASS = 0x4D42464C


def _key(run_id: str) -> int:
    return int(run_id.removeprefix(RUN_PREFIX))


def lock_name(run_id: str) -> str:
    """The application_name of the engine's connections: the lock monitor finds them by it."""
    return f"migrate-bot backfill {run_id}"


def try_engine_lock(conn: psycopg.Connection, run_id: str) -> bool:
    """Take run ``run_id``'s lock for this connection's session; False if another has it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, _key(run_id))).fetchone()
    return bool(row and row[0])


@contextmanager
def engine_lock_free(database: DatabaseUrl, run_id: str) -> Iterator[bool]:
    """Whether no engine holds ``run_id`` now (taken and let go at the block's end)."""
    with connect(database, application_name="migrate-bot backfill check") as conn:
        yield try_engine_lock(conn, run_id)
