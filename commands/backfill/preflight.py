"""Before a backfill is approved: is it runnable, how many rows, how long.

It checks what the file cannot (the table and key exist, a btree index starts
with the key so each batch's range is an index scan, the ``UPDATE`` plans),
counts the table's rows and the rows still to do in one scan, and times one
first batch in a transaction it rolls back, with the WAL it wrote, so the
estimate (time, and WAL against ``min_wal_size``) comes from this database,
not a rule of thumb. That batch holds its rows' locks for its own
duration, as any batch will.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from commands.backfill.model import Estimate
from commands.backfill.statements import KEY_TYPE, BackfillStatements, table_reference
from commands.config.backfill import BackfillSpec
from commands.errors import ExitCode, MigrateBotError
from commands.units import postgres_interval

BATCH_OVERHEAD_S = 0.01  # recording the checkpoint and reading the replica, per batch
COUNT_TIMEOUT_S = 120.0


class BackfillCheckError(MigrateBotError):
    """The backfill cannot run on this database as written: nothing was recorded."""

    exit_code = ExitCode.BAD_INPUT


def check_backfill(conn: psycopg.Connection, spec: BackfillSpec) -> Estimate:
    """The estimate for ``spec`` on ``conn``'s database; raises ``BackfillCheckError``."""
    statements = BackfillStatements(spec, key_type(conn, spec))
    try:
        conn.execute(sql.SQL("EXPLAIN {}").format(statements.update(None, None)), {})
    except psycopg.Error as exc:
        raise BackfillCheckError(
            f"backfill {spec.name}: its UPDATE does not plan on {spec.table}: {_first_line(exc)}"
        ) from None
    table_rows, to_do = _counts(conn, statements)
    if to_do == 0:
        return Estimate(table_rows, 0, 0.0)
    probe = _probe(conn, statements)
    seconds = wal_bytes = None
    if probe.rows:
        batches = table_rows / probe.rows
        seconds = batches * (probe.seconds + BATCH_OVERHEAD_S)
        if spec.max_rows_per_second:
            seconds = max(seconds, to_do / spec.max_rows_per_second)
        if probe.wal_bytes is not None:
            wal_bytes = round(batches * probe.wal_bytes)
    return Estimate(
        table_rows,
        to_do,
        seconds,
        probe.rows,
        round(probe.seconds, 4),
        wal_bytes=wal_bytes,
        min_wal_size=_min_wal_size(conn) if wal_bytes is not None else None,
    )


def key_type(conn: psycopg.Connection, spec: BackfillSpec) -> str:
    """The key's type; raises ``BackfillCheckError`` for a missing table, a missing key,
    or a key no btree index starts with."""
    reference = table_reference(conn, spec)
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (reference,)).fetchone()
    if not (found and found[0]):
        raise BackfillCheckError(f"backfill {spec.name}: there is no table {spec.table}")
    row = conn.execute(KEY_TYPE, (reference, spec.key)).fetchone()
    if row is None:
        raise BackfillCheckError(f"backfill {spec.name}: {spec.table} has no column {spec.key}")
    type_name, indexed = row
    if not indexed:
        raise BackfillCheckError(
            f"backfill {spec.name}: no btree index of {spec.table} starts with {spec.key}, so"
            f" each batch would scan the table: index it (CREATE INDEX CONCURRENTLY) or pick"
            " the primary key"
        )
    return str(type_name)


def _counts(conn: psycopg.Connection, statements: BackfillStatements) -> tuple[int, int]:
    with conn.transaction():
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)",
            (postgres_interval(COUNT_TIMEOUT_S),),
        )
        row = conn.execute(statements.counts(), {}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class _Probe:
    """One first batch, rolled back: keys walked, seconds, the WAL its UPDATE wrote."""

    rows: int = 0
    seconds: float = 0.0
    wal_bytes: int | None = None


def _probe(conn: psycopg.Connection, statements: BackfillStatements) -> _Probe:
    """One first batch, timed and rolled back; an empty ``_Probe`` if it could not run.

    Its WAL is how far the server's WAL insert position moved across the batch (other
    sessions' writes in that moment count too: an estimate).
    """
    spec = statements.spec
    params = {"after": None, "size": spec.batch_size}
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (postgres_interval(spec.lock_timeout), postgres_interval(spec.max_batch_time)),
            )
            row = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
            wal_from = row[0] if row else None
            started = time.monotonic()
            row = conn.execute(statements.range_end(None), params).fetchone()
            upto, walked = (row[0], int(row[1])) if row else (None, 0)
            conn.execute(statements.update(None, upto), {**params, "upto": upto})
            seconds = time.monotonic() - started
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal_from,)
            ).fetchone()
            probe = _Probe(walked, seconds, int(row[0]) if row and row[0] is not None else None)
            raise psycopg.Rollback()  # a probe: the transaction context rolls it back
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        return _Probe()
    return probe


def _min_wal_size(conn: psycopg.Connection) -> int | None:
    """``min_wal_size`` in bytes: the WAL a quiet server keeps to recycle."""
    row = conn.execute("SELECT pg_size_bytes(current_setting('min_wal_size'))").fetchone()
    return int(row[0]) if row else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
