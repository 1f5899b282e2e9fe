"""``migrate-bot state copy``: an existing SQLite state moved into a shared PostgreSQL.

The copy is of what was recorded, byte for byte: every event with its
sequence number, timestamp, data text and hashes (nothing is re-hashed, so
the chain an auditor verified is the chain that arrives), the recorded head,
the outbox (so messages already posted keep being updated, and what was
not delivered yet still is) and the names recorded for the terminal. The
scheduler's jobs are not copied: the scheduler rebuilds them from the log
when it starts.

The source must verify first, and the destination must hold no event: a
state is copied once, into an empty schema. Everything is written in one
transaction, then the destination is verified against the source's head.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from audit.chain import Event, Head
from audit.postgres_store import PostgresEventStore
from audit.rows import COLUMNS, EVENTS, row_of
from commands.errors import ExitCode, MigrateBotError
from commands.state.audit_reading import open_existing, verify
from commands.state.location import StateLocation
from commands.state.people import known_names
from commands.state.shared import SharedState

BATCH = 1_000
OUTBOX_COLUMNS = (
    "id",
    "key",
    "kind",
    "payload",
    "message",
    "state",
    "attempts",
    "not_before",
    "last_error",
    "channel",
    "ts",
    "created",
    "uncertain",
    "claimed_at",
)


class StateNotEmptyError(MigrateBotError):
    """The destination already holds a state: copying would fork the chain."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class CopyReport:
    events: int
    head: Head | None
    notifications: int


def copy_state(source: Path, destination: SharedState) -> CopyReport:
    """Copy the SQLite state at ``source`` into ``destination``; raises
    ``AuditLogBrokenError`` (the source does not verify), ``StateNotEmptyError``."""
    log = open_existing(source)
    report = verify(log)
    target = PostgresEventStore(destination.pool, schema=destination.schema)
    with destination.pool.connection() as conn, conn.transaction():
        conn.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")
        row = conn.execute(f"SELECT count(*) FROM {EVENTS}").fetchone()
        if row is not None and row[0]:
            raise StateNotEmptyError(
                f"{target.where} already holds {row[0]} events: a state is copied once, into"
                " an empty one (drop the schema migrate_bot to start again)"
            )
        _copy_events(conn, log.iter_events())
        if report.head is not None:
            conn.execute(
                "INSERT INTO chain_head (id, seq, hash) VALUES (1, %s, %s)",
                (report.head.seq, report.head.hash),
            )
        notifications = _copy_outbox(conn, source)
        _copy_people(conn, source)
    with destination.pool.connection() as conn:  # statistics, or the first reads plan blind
        conn.execute(f"ANALYZE {EVENTS}")  # (a list of requests' tails: a scan of every event)
    verify(target, [report.head] if report.head is not None else [])
    return CopyReport(events=report.events, head=report.head, notifications=notifications)


def _copy_events(conn: psycopg.Connection, events: Iterable[Event]) -> None:
    marks = ", ".join(["%s"] * len(COLUMNS))
    insert = f"INSERT INTO {EVENTS} ({', '.join(COLUMNS)}) VALUES ({marks})"
    batch = []
    with conn.cursor() as cursor:
        for event in events:
            batch.append(row_of(event))
            if len(batch) == BATCH:
                cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            cursor.executemany(insert, batch)


def _copy_outbox(conn: psycopg.Connection, source: Path) -> int:
    """The outbox rows, ids kept (their order is the delivery order)."""
    with sqlite3.connect(source) as lite:
        present = {row[1] for row in lite.execute("PRAGMA table_info(outbox)")}
        if not present:
            return 0
        columns = [c for c in OUTBOX_COLUMNS if c in present]
        rows = lite.execute(f"SELECT {', '.join(columns)} FROM outbox ORDER BY id").fetchall()
    if not rows:
        return 0
    marks = ", ".join(["%s"] * len(columns))
    with conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO outbox ({', '.join(columns)}) OVERRIDING SYSTEM VALUE VALUES ({marks})",
            rows,
        )
    conn.execute("SELECT setval(pg_get_serial_sequence('outbox', 'id'), max(id)) FROM outbox")
    return len(rows)


def _copy_people(conn: psycopg.Connection, source: Path) -> None:
    names = known_names(StateLocation(source))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO people (user_id, name, seen) VALUES (%s, %s, extract(epoch FROM now()))"
            " ON CONFLICT (user_id) DO NOTHING",
            list(names.items()),
        )
