"""Reading a database's schema from its catalog, in one consistent snapshot.

The same reader serves the drift check (the live database and the history
replayed on a scratch one) and the before/after diff of a run, so the two
sides of any comparison are always read the same way.
"""

from __future__ import annotations

from typing import Any

import psycopg

from audit.store import Clock, utc_now
from commands.errors import DatabaseUnavailableError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.schema.catalog_queries import MINIMUM_SERVER, catalog_queries
from commands.schema.model import Kind, Schema, SchemaObject


class CatalogReadError(DatabaseUnavailableError):
    """The catalog could not be read (a server too old, a query refused)."""


def read_schema(database: DatabaseUrl, *, clock: Clock = utc_now) -> Schema:
    """Every object of ``database``'s schema. Raises ``DatabaseUnavailableError``."""
    with connect(database) as conn:
        return read_schema_with(conn, clock=clock)


def read_schema_with(conn: psycopg.Connection, *, clock: Clock = utc_now) -> Schema:
    """Every object, read in one repeatable-read transaction on ``conn``."""
    version = conn.info.server_version
    if version < MINIMUM_SERVER:
        raise CatalogReadError(
            f"reading the schema needs PostgreSQL 13 or later; this server is {_shown(version)}"
        )
    objects: list[SchemaObject] = []
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for kind, (query, params) in catalog_queries(version).items():
                rows = conn.execute(query, params or None).fetchall()
                objects += (_object(kind, row) for row in rows)
    except psycopg.Error as exc:
        raise CatalogReadError(f"cannot read the schema: {str(exc).strip()}") from None
    return Schema.of(objects, read_at=clock(), version=_shown(version))


def _object(kind: Kind, row: tuple[Any, ...]) -> SchemaObject:
    """One row ``(schema, name, table, attrs, source)`` of a catalog query."""
    schema, name, table, attrs, source = row
    kept = {key: tuple(value) if isinstance(value, list) else value for key, value in attrs.items()}
    kept = {key: value for key, value in kept.items() if value not in (None, "")}
    if kind is Kind.FUNCTION and kept.pop("kind") == Kind.PROCEDURE.value:
        kind = Kind.PROCEDURE
        kept.pop("returns", None)
    return SchemaObject(kind, schema, name, table, kept, source or "")


def _shown(version_num: int) -> str:
    return f"{version_num // 10000}.{version_num % 10000}"
