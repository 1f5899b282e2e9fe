"""Calibration: how fast this server is now, measured on the target in a temporary table.

The probe builds a table of ``PROBE_ROWS`` generated rows in ``pg_temp`` and
times the work the forecast has rates for: a scan (``SET NOT NULL``), an
update, two index builds (an integer key and a text key, whose sort costs
differ) and a rewrite (a type change, which rebuilds both indexes). It runs
on the target because that is the server whose CPU, storage, settings and
present load the migration will meet; a copy elsewhere would measure
another machine. It is a temporary
table because that touches nothing anyone else sees: no lock on any of the
application's tables, no WAL (so replicas receive nothing), gone with the
session, and it needs only the TEMP privilege every role has by default.
What a temporary table cannot show (WAL, a table larger than memory) is why
its timings only scale the built-in rates (by one factor: how much slower or
faster than the machine they were measured on), and why past runs, once
there are some, win over it. It takes under a second on an idle server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.rates import PROBE_RANGE, Rate, Rates, Source
from commands.errors import MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

PROBE_ROWS = 50_000
PROBE_ROUNDS = 2  # each on a table of its own: one hiccup of a busy server moves half the figure
PROBE_TABLE = "migrate_bot_forecast_probe"
# The probe's statements (s/GB) on the machine BUILT_IN was measured on, by bench/forecast.py
# in the same run: this server's probe over these is how much slower (or faster) it is.
PROBE_BASELINE = {
    "scan": 2.4,
    "update": 21.0,
    "index_integer": 7.9,
    "index_text": 19.9,
    "rewrite": 27.4,
}
_SETUP = (
    "SET statement_timeout = '30s'",
    "SET lock_timeout = '1s'",
    "SET temp_buffers = '64MB'",  # before the session's first temporary table, or ignored
)
_CREATE = f"""
CREATE TEMPORARY TABLE {PROBE_TABLE} AS
SELECT i AS id, (i::bigint * 7919 % 1000003)::int AS n, md5(i::text) AS t,
       now() - i * interval '1 second' AS ts
FROM generate_series(1, {PROBE_ROWS}) AS i
"""


class ProbeError(MigrateBotError):
    """The probe could not run (no TEMP privilege, a timeout): the forecast goes without it."""


@dataclass(frozen=True)
class ProbeResult:
    """The probe's statements here (s/GB by name) and how long it took."""

    measured: Mapping[str, float]
    seconds: float

    @property
    def factor(self) -> float:
        """How much slower than the baseline machine (2.0: twice as slow): one figure, the
        geometric mean over the probe's statements, steadier than any of them alone."""
        return _geometric_mean([self.measured[n] / PROBE_BASELINE[n] for n in PROBE_BASELINE])

    def rates(self, built_in: Rates) -> dict[WorkKind, Rate]:
        """The built-in rates scaled by how this server compares with the baseline."""
        low, high = PROBE_RANGE
        return {
            kind: Rate(rate.seconds_per_gb * self.factor, low, high, Source.PROBE)
            for kind, rate in built_in.by_kind.items()
        }


Clock = Callable[[], float]


def run_probe(database: DatabaseUrl, *, clock: Clock = time.perf_counter) -> ProbeResult:
    """Time the probe's statements on ``database``; raises ``ProbeError`` if it cannot."""
    started = clock()
    try:
        with connect(database, application_name="migrate-bot forecast probe") as conn:
            for setting in _SETUP:
                conn.execute(setting)
            rounds = [_measure(conn, clock) for _ in range(PROBE_ROUNDS)]
    except psycopg.Error as exc:
        raise ProbeError(f"the calibration probe could not run: {exc}".strip()) from None
    measured = {name: _geometric_mean([r[name] for r in rounds]) for name in PROBE_BASELINE}
    return ProbeResult(measured, clock() - started)


def _measure(conn: psycopg.Connection, clock: Clock) -> dict[str, float]:
    """One round, on a table of its own, dropped after."""
    conn.execute(_CREATE)
    timed = _Timer(conn, clock)
    measured = {
        "scan": timed.heap(f"ALTER TABLE {PROBE_TABLE} ALTER COLUMN t SET NOT NULL"),
        "update": timed.whole(f"UPDATE {PROBE_TABLE} SET ts = ts + interval '1 second'"),
        "index_integer": timed.heap(f"CREATE INDEX ON {PROBE_TABLE} (n)"),
        "index_text": timed.heap(f"CREATE INDEX ON {PROBE_TABLE} (t)"),
        "rewrite": timed.whole(f"ALTER TABLE {PROBE_TABLE} ALTER COLUMN n TYPE bigint"),
    }
    conn.execute(f"DROP TABLE {PROBE_TABLE}")
    return measured


def _geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


class _Timer:
    """Seconds per GB of one statement, per GB of the heap or of the whole table before it."""

    def __init__(self, conn: psycopg.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    def heap(self, sql: str) -> float:
        return self._per_gb(sql, "pg_relation_size")

    def whole(self, sql: str) -> float:
        return self._per_gb(sql, "pg_total_relation_size")

    def _per_gb(self, sql: str, size_function: str) -> float:
        row = self.conn.execute(f"SELECT {size_function}('{PROBE_TABLE}'::regclass)").fetchone()
        size = max(int(row[0]) if row else 0, 1)
        started = self.clock()
        self.conn.execute(sql)
        return (self.clock() - started) / (size / 1024**3)
