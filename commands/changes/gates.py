"""A gate's evidence, read from the target's database: each condition held or not, and why.

- ``unused``: nothing in the application has read or written the column for
  ``quiet_for`` (``pg_stat_statements``, searched as the ``live_use`` check
  does, the backfills' and the gate's own statements left out; ``quiet.py``
  judges the period from the samples the log holds);
- ``backfill_done``: the backfill's predicate selects no row any more;
- ``sql``: each assertion's first column is true (run read-only).

Reading a gate records a sample when the counts moved, so the quiet period
has evidence behind it whoever looks next, from Slack, the terminal or the
scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import ClientCursor

from commands.backfill.preflight import key_type
from commands.backfill.statements import BackfillStatements
from commands.changes.change_file import GateSpec, PhaseKind
from commands.changes.ledger import ChangeLedger
from commands.changes.model import Change
from commands.changes.quiet import Quiet, Reading, judge
from commands.checks.breaking_changes import BreakingChange, ChangeKind
from commands.checks.live_use_findings import short_text
from commands.checks.live_use_search import find_uses, fingerprint_of
from commands.checks.sql_names import SqlName
from commands.config.backfill import BackfillSpec
from commands.errors import MigrateBotError
from commands.postgres.statement_stats import StatsMissing, find_statement_stats
from commands.units import format_duration, postgres_interval

ASSERTION_TIMEOUT_S = 30.0
TEXTS_KEPT = 5


@dataclass(frozen=True)
class Condition:
    """One condition of a gate as found now."""

    what: str  # "nothing reads or writes videos.youtube_id for 24 h"
    held: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "held": self.held, "detail": self.detail}


def read_gate(
    conn: psycopg.Connection,
    change: Change,
    phase: int,
    *,
    ledger: ChangeLedger,
    roles: Sequence[str],
    now: datetime,
    by: str,
) -> list[Condition]:
    """Every condition of gate ``phase``, read now (samples recorded as they move)."""
    gate = change.phases[phase].spec.gate
    assert gate is not None
    found = [
        _unused(conn, change, phase, column, gate, ledger=ledger, roles=roles, now=now, by=by)
        for column in gate.unused
    ]
    found += [_backfill_done(conn, change, name) for name in gate.backfill_done]
    found += [_assertion(conn, text) for text in gate.sql]
    return found


def _unused(
    conn: psycopg.Connection,
    change: Change,
    phase: int,
    column: str,
    gate: GateSpec,
    *,
    ledger: ChangeLedger,
    roles: Sequence[str],
    now: datetime,
    by: str,
) -> Condition:
    what = f"nothing reads or writes {column} for {format_duration(gate.quiet_for)}"
    reading = column_reading(conn, change, column, roles=roles, now=now)
    if isinstance(reading, StatsMissing):
        return Condition(what, False, f"no evidence: {reading.reason}")
    samples = [
        Reading.from_json(datetime.fromisoformat(event.ts), event.data)
        for event in ledger.samples(change, phase)
        if event.data.get("column") == column
    ]
    quiet = judge(samples, reading)
    if quiet.record:
        ledger.sample(change, phase, {"column": column, **reading.to_json()}, by=by)
    return Condition(what, quiet.held(now, gate.quiet_for), _quiet_detail(quiet, reading, now))


def _quiet_detail(quiet: Quiet, reading: Reading, now: datetime) -> str:
    quiet_s = (now - quiet.since).total_seconds()
    if quiet.used_between is not None:
        after, before = quiet.used_between
        seen = (
            f"last used between {after:%Y-%m-%d %H:%M:%S} and {before:%H:%M:%S} UTC;"
            f" quiet for {format_duration(quiet_s)}"
        )
    else:
        seen = f"no use seen in {format_duration(quiet_s)} of watching"
    texts = list((reading.texts or {}).values())
    statements = f" (statements: {'; '.join(texts)})" if texts else ""
    return seen + statements


def column_reading(
    conn: psycopg.Connection,
    change: Change,
    column: str,
    *,
    roles: Sequence[str],
    now: datetime,
) -> Reading | StatsMissing:
    """The calls of every application statement using ``column``, now."""
    source = find_statement_stats(conn)
    if isinstance(source, StatsMissing):
        return source
    *schema, table, name = column.split(".")
    breaking = BreakingChange(
        ChangeKind.COLUMN_DROPPED, "gate", 0, SqlName(schema[0] if schema else None, table), name
    )
    own = set(_own_fingerprints(conn, change))
    matched = find_uses(conn, source, [breaking], roles=roles, own=own)
    rows = [using.row for found in matched.found for using in found.statements]
    ranked = sorted(rows, key=lambda row: -row.calls)[:TEXTS_KEPT]
    return Reading(
        at=now,
        calls={row.queryid: row.calls for row in rows},
        stats_reset=source.stats_reset.isoformat() if source.stats_reset else None,
        texts={row.queryid: short_text(row.query) for row in ranked},
    )


def _own_fingerprints(conn: psycopg.Connection, change: Change) -> Iterator[str]:
    """The change's own statements: its backfills' batches and counts, its assertions."""
    texts: list[str] = []
    for phase in change.phases:
        spec = phase.spec
        if spec.kind is PhaseKind.BACKFILL and spec.backfill is not None:
            texts += _backfill_texts(conn, spec.backfill)
        if spec.kind is PhaseKind.GATE and spec.gate is not None:
            texts += list(spec.gate.sql)
    for text in texts:
        fingerprint = fingerprint_of(text)
        if fingerprint:
            yield fingerprint


def _backfill_texts(conn: psycopg.Connection, spec: BackfillSpec) -> list[str]:
    try:
        statements = BackfillStatements(spec, key_type(conn, spec))
    except (MigrateBotError, psycopg.Error):  # the table may be gone: nothing of it to leave out
        return []
    cursor = ClientCursor(conn)
    params = {"after": "0", "upto": "0", "size": 1}
    queries = [statements.counts(), statements.remaining()]
    for after in (None, "0"):
        queries.append(statements.range_end(after))
        for upto in (None, "0"):
            queries += [statements.update(after, upto), statements.left(after, upto)]
    return [cursor.mogrify(query, params) for query in queries]


def _backfill_done(conn: psycopg.Connection, change: Change, name: str) -> Condition:
    what = f"backfill {name} has nothing left to do"
    index = change.phase_named(name)
    spec = change.phases[index].spec.backfill if index is not None else None
    if spec is None:
        return Condition(what, False, f"{name} is not a backfill of {change.name}")
    try:
        statements = BackfillStatements(spec, key_type(conn, spec))
        row = conn.execute(statements.remaining(), {}).fetchone()
    except psycopg.Error as exc:
        return Condition(what, False, f"its rows cannot be counted: {_first_line(exc)}")
    left = int(row[0]) if row else 0
    detail = "no row left" if left == 0 else f"{left:,} row(s) still to do"
    return Condition(what, left == 0, detail)


def _assertion(conn: psycopg.Connection, text: str) -> Condition:
    what = f"SQL holds: {short_text(text, 120)}"
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (postgres_interval(ASSERTION_TIMEOUT_S),),
            )
            row = conn.execute(text).fetchone()  # no parameters: a % is taken as written
    except psycopg.Error as exc:
        return Condition(what, False, f"failed: {_first_line(exc)}")
    value = row[0] if row else None
    return Condition(what, value is True, f"returned {value!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
