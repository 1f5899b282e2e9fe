"""The event store in PostgreSQL: the shared state of fronts and workers on many machines.

The tables (``events``, ``chain_head``) live in the bot's own schema, made
by its bundled Alembic history (``commands.state.schema``); every connection
of the pool given here has that schema first on its ``search_path``.

A write transaction takes ``LOCK TABLE events IN EXCLUSIVE MODE`` before it
reads anything: writers queue one behind the other, exactly as SQLite's
``BEGIN IMMEDIATE`` makes them, while plain reads (``SELECT``) go on. Under
READ COMMITTED each statement after the lock sees every write committed
before it, so the precondition a caller checks is the one it appends on.
The recorded head is the one row of ``chain_head``, written in the same
transaction as the events it names.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors

from audit.chain import Event, Head
from audit.projections import Projection
from audit.redact import redact
from audit.rows import COLUMNS, EVENTS, event_of, row_of, where_clause
from audit.store import (
    Clock,
    EventStore,
    Rows,
    StoreBusyError,
    StoreError,
    utc_now,
)

HEAD_TABLE = "chain_head"
BUSY_TIMEOUT_MS = 30_000
FETCH_ROWS = 2_000  # rows a walk of the log holds in memory at once
_cursor_names = itertools.count()


class _PostgresRows:
    """``Rows`` on one connection, inside a transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def select(self, **filters: Any) -> Iterator[Event]:
        sql, params = where_clause("%s", **filters)
        if filters.get("limit") is not None:  # a few rows: one round trip
            yield from (event_of(row) for row in self._conn.execute(sql, params))
            return
        with self._conn.cursor(name=f"events_{next(_cursor_names)}") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(sql, params)
            yield from (event_of(row) for row in cursor)

    def insert(self, event: Event) -> None:
        marks = ", ".join(["%s"] * len(COLUMNS))
        self._conn.execute(
            f"INSERT INTO {EVENTS} ({', '.join(COLUMNS)}) VALUES ({marks})", row_of(event)
        )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``?`` marks a parameter, as in SQLite (the statements are written once)."""
        cursor = self._conn.execute(sql.replace("?", "%s"), list(params))
        return cursor.fetchall() if cursor.description is not None else []

    def head(self) -> Head | None:
        row = self._conn.execute(f"SELECT seq, hash FROM {HEAD_TABLE} WHERE id = 1").fetchone()
        if row is None:
            return None
        return Head.parse(f"{row[0]}:{row[1]}")

    def write_head(self, head: Head) -> None:
        self._conn.execute(
            f"INSERT INTO {HEAD_TABLE} (id, seq, hash) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            (head.seq, head.hash),
        )


class PostgresEventStore(EventStore):
    """The audit log in the ``events`` table that ``pool``'s connections see first."""

    head_name = "recorded head"
    write_errors = (StoreError, psycopg.Error)

    def __init__(
        self, pool: psycopg_pool.ConnectionPool, *, schema: str, clock: Clock = utc_now
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.clock = clock
        self.where = f"the audit log in PostgreSQL (schema {schema})"
        self.head_where = f"the recorded head ({schema}.{HEAD_TABLE})"

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout as exc:
            raise StoreBusyError(f"{self.where} is busy: {exc}") from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot reach {self.where}: {redact(str(exc)).strip()}") from None

    @contextmanager
    def _writing(self) -> Iterator[_PostgresRows]:
        with self._connection() as conn, conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS}")
            try:
                conn.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")
            except errors.LockNotAvailable as exc:
                raise StoreBusyError(f"{self.where} is busy: {exc}") from None
            yield _PostgresRows(conn)

    @contextmanager
    def _reading(self) -> Iterator[_PostgresRows]:
        with self._connection() as conn, conn.transaction():
            yield _PostgresRows(conn)

    def _prepare(self, rows: Rows, projection: Projection) -> None:
        """Its tables are the shared state's migrations' (``commands.state.schema``)."""

    def _recorded_head(self, rows: Rows) -> Head | None:
        assert isinstance(rows, _PostgresRows), "this store's own rows"
        return rows.head()

    def _head_written(self, rows: Rows, head: Head) -> None:
        assert isinstance(rows, _PostgresRows), "this store's own rows"
        rows.write_head(head)

    def _head_committed(self, head: Head) -> None:
        """Nothing left to do: the head row committed with the events."""

    def close(self) -> None:
        self.pool.close()
