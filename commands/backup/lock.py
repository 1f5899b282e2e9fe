"""One backup at a time per database, across every bot process and the CLI.

A PostgreSQL session advisory lock, held by the backup's own connection: it
is released when that connection ends, even when the process is killed. So
start-up cleanup can tell a live backup's temporary files and uploads from
the leftovers of a dead one: if it gets the lock, no backup is running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

# pg_advisory_lock(int, int) key: "MBOT" and 2 (other migrate-bot locks use other
# second halves), in the target database's own lock space.
LOCK_CLASS = 0x4D424F54
BACKUP_LOCK = 2


def try_backup_lock(conn: psycopg.Connection) -> bool:
    """Take the lock for this connection's session; False if another session has it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, BACKUP_LOCK)).fetchone()
    return bool(row and row[0])


@contextmanager
def backup_lock(database: DatabaseUrl) -> Iterator[bool]:
    """Hold the lock for the block if it is free; yields whether it was taken."""
    with connect(database, application_name="migrate-bot backup cleanup") as conn:
        yield try_backup_lock(conn)
