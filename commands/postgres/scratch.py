"""Throw-away databases on a target's own server: restore tests and rehearsals.

Each is named after the target database, a purpose and an id, so one left
behind by a killed process is recognisable and can be dropped at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import errors, sql

from commands.errors import MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

_MAX_IDENTIFIER = 63
VERIFY_RESTORE = "verify"  # a backup restored to prove it (verify_restore = true)
REHEARSAL = "rehearsal"  # a backup restored to rehearse the pending revisions on
DRIFT = "drift"  # an empty database the history is replayed on (the drift check)
PURPOSES = (VERIFY_RESTORE, REHEARSAL, DRIFT)


class ScratchDatabaseError(MigrateBotError):
    """The scratch database could not be created (usually: no CREATEDB privilege)."""


def scratch_name(database: DatabaseUrl, purpose: str, suffix: str) -> str:
    tail = f"_{purpose}_{suffix}"
    return database.database[: _MAX_IDENTIFIER - len(tail)] + tail


def stray_scratch_databases(database: DatabaseUrl, purpose: str) -> list[str]:
    """Scratch databases of ``purpose`` made for ``database`` that still exist."""
    prefix = scratch_name(database, purpose, "")
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1", (prefix,)
        ).fetchall()
    return [row[0] for row in rows]


def drop_database(database: DatabaseUrl, name: str) -> None:
    """Drop ``name`` on ``database``'s server, ending any session still in it."""
    with connect(database) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_database(database: DatabaseUrl, purpose: str, suffix: str) -> Iterator[DatabaseUrl]:
    """An empty database beside ``database`` (from template0), dropped on exit.

    Raises ``ScratchDatabaseError`` if it cannot be created.
    """
    name = scratch_name(database, purpose, suffix)
    with connect(database) as conn:
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
            )
        except errors.Error as exc:
            raise ScratchDatabaseError(
                f"cannot create the scratch database {name}: {exc.diag.message_primary or exc}"
            ) from None
    try:
        yield database.with_database(name)
    finally:
        drop_database(database, name)
