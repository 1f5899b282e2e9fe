"""Row counts of a database's tables: the figures a restore is checked against.

Counted inside the very snapshot pg_dump reads (``pg_export_snapshot``), so
on a live database they are exactly what the backup holds, not what the
tables held a moment earlier or later.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import IsolationLevel, sql

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

# Ordinary tables whose rows pg_dump writes: not system, temporary or
# extension-owned ones (an extension recreates those itself).
_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def table_names(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, table) of every table a dump carries rows of."""
    return [(schema, table) for schema, table in conn.execute(_TABLES).fetchall()]


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    """``{"schema.table": rows}`` for every table of ``table_names``."""
    counts = {}
    for schema, table in table_names(conn):
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        assert row is not None
        counts[f"{schema}.{table}"] = int(row[0])
    return counts


def count_rows_of(database: DatabaseUrl) -> dict[str, int]:
    with connect(database) as conn:
        return count_rows(conn)


# Whatever env.py names its version table, and wherever it keeps it, Alembic gives it
# this column; no table has it in a database no revision was ever applied to.
_ANY_VERSION_TABLE = """
SELECT EXISTS (
    SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE a.attname = 'version_num' AND NOT a.attisdropped AND c.relkind IN ('r', 'p'))
"""


def version_table_rows(
    conn: psycopg.Connection, table: str = "alembic_version"
) -> tuple[str, ...] | None:
    """The revisions in the version table (``name`` on the search path, or ``schema.name``);
    ``()`` when no table of the database could be a version table (base, whatever env.py
    says: no Alembic child is needed to know it); None when there is no such table but
    another could be one (a project may name or place its version table otherwise)."""
    schema, _, name = table.rpartition(".")
    qualified = sql.SQL(".").join(
        [sql.Identifier(schema), sql.Identifier(name)] if schema else [sql.Identifier(name)]
    )
    regclass = qualified.as_string(conn)
    if conn.execute("SELECT to_regclass(%s)", (regclass,)).fetchone() == (None,):
        return None if conn.execute(_ANY_VERSION_TABLE).fetchone() == (True,) else ()
    rows = conn.execute(
        sql.SQL("SELECT version_num FROM {} ORDER BY 1").format(qualified)
    ).fetchall()
    return tuple(row[0] for row in rows)


def differences(expected: Mapping[str, int], actual: Mapping[str, int]) -> list[str]:
    """One line per table whose count differs, or that only one side has."""
    lines = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want is None:
            lines.append(f"{table}: not in the backup")
        elif got is None:
            lines.append(f"{table}: missing (the backup has {want:,} rows)")
        elif want != got:
            lines.append(f"{table}: {got:,} rows, the backup has {want:,}")
    return lines


@contextmanager
def exported_snapshot(database: DatabaseUrl) -> Iterator[tuple[psycopg.Connection, str]]:
    """A read-only repeatable-read transaction and its snapshot id for ``pg_dump --snapshot``.

    The transaction stays open until the block ends: pg_dump can only import
    the snapshot while it does.
    """
    with connect(database, autocommit=False, application_name="migrate-bot backup") as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        try:
            yield conn, str(row[0])
        finally:
            conn.rollback()
