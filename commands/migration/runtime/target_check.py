"""Is env.py's connection the target's? Checked before the first revision of a run,
and wherever the version table is read through env.py.

env.py decides where it connects: a project may read its own settings, a
``.env`` file or a default URL (ironic's is a SQLite file in its package) and
never look at the one the bot handed it. The bot would then back up, lock and
watch the target while migrating another database, or report another
database's revision as the target's. The child says which dialect and
database its connection is on and, in a run, which backend serves it; the
target's server must know that backend, on that database.
"""

from __future__ import annotations

from commands.errors import DatabaseUnavailableError
from commands.migration.runtime.stepping import Ready
from commands.postgres.database_url import DatabaseUrl

HAND_URL = (
    "Name the settings env.py reads its database from: url_env_names (a URL),"
    " url_env_parts (DB_HOST, DB_PORT, …) or url_ini_options"
)


def elsewhere(database: DatabaseUrl, dialect: str | None, name: str | None) -> str | None:
    """Where env.py is connected when its dialect or database name is not the target's
    (a few words), else None."""
    if dialect is not None and dialect != "postgresql":
        return f"a {dialect} database"
    if name is not None and name != database.database:
        return f"database {name!r}"
    return None


def target_connection(database: DatabaseUrl, ready: Ready) -> str | None:
    """Where env.py is connected when it is not the target (a sentence), else None."""
    named = elsewhere(database, ready.dialect, ready.database)
    if named is not None:
        return named
    if ready.backend_pid is None:
        return None  # a driver that does not say: the database name has to do
    # psycopg here, not at import: status and plan import this module and start their
    # Alembic child before loading psycopg
    from commands.postgres.connections import connect

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
