"""Is env.py's connection the target's? Checked before the first revision of a run.

env.py decides where it connects: a project may read its own settings, a
``.env`` file or a default URL and never look at the one the bot handed it.
The bot would then back up, lock and watch the target while migrating another
database. The child says which database its connection is on and which
backend serves it; the target's server must know that backend, on that
database.
"""

from __future__ import annotations

from commands.errors import DatabaseUnavailableError
from commands.migration.runtime.stepping import Ready
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl


def target_connection(database: DatabaseUrl, ready: Ready) -> str | None:
    """Where env.py is connected when it is not the target (a sentence), else None."""
    if ready.database is not None and ready.database != database.database:
        return f"database {ready.database!r}"
    if ready.backend_pid is None:
        return None  # a driver that does not say: the database name has to do
    try:
        with connect(database) as conn:
            row = conn.execute(
                "SELECT datname FROM pg_stat_activity WHERE pid = %s", (ready.backend_pid,)
            ).fetchone()
    except DatabaseUnavailableError:
        return None  # the run's own connections will say so
    if row is None:
        return f"another server (backend {ready.backend_pid} is not one of the target's)"
    return None if row[0] == database.database else f"database {row[0]!r}"
