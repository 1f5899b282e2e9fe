"""Connections to a target's PostgreSQL from this process (not from Alembic's child)."""

from __future__ import annotations

from typing import Any

import psycopg

from audit.redact import redact
from commands.errors import DatabaseUnavailableError
from commands.postgres.database_url import DatabaseUrl

APPLICATION_NAME = "migrate-bot"


def connect(
    url: DatabaseUrl,
    *,
    autocommit: bool = True,
    application_name: str = APPLICATION_NAME,
    connect_timeout: int = 10,
) -> psycopg.Connection:
    """An open connection; raises ``DatabaseUnavailableError`` with the password masked."""
    secret: dict[str, Any] = {"password": url.password} if url.password else {}
    try:
        return psycopg.connect(
            url.for_libpq(),
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout,
            **secret,
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to {url.display()}: {redact(str(exc)).strip()}"
        ) from None


def server_version(conn: psycopg.Connection) -> tuple[int, int]:
    """(major, minor) of the server, from ``server_version_num`` (e.g. 180006 -> (18, 6))."""
    row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    number = int(row[0])
    return number // 10000, number % 10000
