"""One run per database: a PostgreSQL session advisory lock held for a whole run.

A *session* lock, not a transaction one: revisions that use Alembic's
``autocommit_block`` commit mid-revision, which would release a
transaction-scoped lock. The lock lives on a connection of its own, opened
by the run and closed at its end; if the bot dies, PostgreSQL drops the
connection and the lock with it. The connection's application_name says who
holds it, so a refused run can say who and since when.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

from commands.errors import ExitCode, MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

log = logging.getLogger(__name__)

# Two int4 keys: a namespace for migrate-bot and the lock's purpose.
LOCK_NAMESPACE = zlib.crc32(b"migrate-bot") - 2**31
RUN_LOCK_KEY = 1
_APP_NAME_LIMIT = 63  # PostgreSQL truncates application_name at NAMEDATALEN - 1


class RunLockHeldError(MigrateBotError):
    """Another run (this bot, a replica or a CLI) holds the database's run lock."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class LockHolder:
    """Who holds the run lock, as PostgreSQL sees the holding session."""

    pid: int
    holder: str
    since: datetime | None
    client: str | None

    def describe(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M:%S %Z}" if self.since else ""
        client = f" from {self.client}" if self.client else ""
        return f"{self.holder} (pid {self.pid}{client}){since}"


def holder_name(label: str) -> str:
    """The application_name that announces the holder, cut to PostgreSQL's limit."""
    return f"migrate-bot lock: {label}"[:_APP_NAME_LIMIT]


@contextmanager
def run_lock(database: DatabaseUrl, *, label: str) -> Iterator[psycopg.Connection]:
    """Hold the run lock on ``database`` for the ``with`` block.

    ``label`` names the holder (e.g. "M-12 upgrade by U0BOB"). Raises
    ``RunLockHeldError`` naming the current holder when the lock is taken.
    """
    conn = connect(database, application_name=holder_name(label))
    try:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, RUN_LOCK_KEY)
        ).fetchone()
        if not (row and row[0]):
            holder = current_holder(conn)
            who = holder.describe() if holder else "a session that has just ended"
            raise RunLockHeldError(f"another run holds {database.database}: {who}")
        yield conn
        try:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, RUN_LOCK_KEY))
        except psycopg.OperationalError as exc:
            # the server dropped the session (a restart, pg_terminate_backend), and the
            # lock with it: the run's end must still be recorded and announced
            log.warning("the run lock's connection to %s was lost: %s", database.database, exc)
    finally:
        conn.close()


def current_holder(conn: psycopg.Connection) -> LockHolder | None:
    """The session holding the run lock on this connection's database, if any."""
    row = conn.execute(
        """
        SELECT a.pid, a.application_name, a.backend_start, host(a.client_addr)
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = %s::int::oid AND l.objid = %s::int::oid AND l.objsubid = 2
        """,
        (LOCK_NAMESPACE, RUN_LOCK_KEY),
    ).fetchone()
    if row is None:
        return None
    pid, name, since, client = row
    return LockHolder(pid=pid, holder=name or "an unnamed session", since=since, client=client)
