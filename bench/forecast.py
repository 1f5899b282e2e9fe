"""Benchmark: the forecast beside the actual time, on generated tables of 10^5, 10^6 and 10^7 rows.

For each size a database gets one table, ``bench`` (id, account id, e-mail,
amount, created at, a note: ~130 bytes a row, a shape unlike the probe's),
then one revision per case, each planned, forecast and applied as the bot
does it: the pre-flight's ``forecast`` check on the live table (the first
run on the target, so "calibrated now" by the probe), then the revision
applied by the Alembic child and timed there. The cases, in order: an
index build (plain, then CONCURRENTLY), a SET NOT NULL scan, an ADD COLUMN
… DEFAULT (catalog-only), a rewrite (a type change) and a data UPDATE.

Prints one table (statement, rows, forecast and its range, actual, ratio)
and the goal beside the result: within 2x for at least 80 % of the cases
that took over 1 s, and every catalog-only statement forecast as instant
(what one of those takes is its wait for the lock, not work: it is judged by
the second goal only). Each table is vacuumed after loading, as a live
table is, so autovacuum does not hold the lock a statement waits for.
Then the rates this run measured per kind and the probe's figures, the
numbers ``rates.BUILT_IN`` and ``probe.PROBE_BASELINE`` hold (measured in one
run of this script on its machine). Asserts nothing.

    .venv/bin/python bench/forecast.py [--sizes 100000,1000000,10000000]

Uses $MIGRATE_BOT_TEST_DATABASE_URL's server when set, else an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.checks.forecast.model import Forecast, Span
from commands.checks.forecast.probe import PROBE_BASELINE, run_probe
from commands.checks.forecast.rates import BUILT_IN
from commands.checks.forecast.wording import INSTANT_S
from commands.checks.preflight import PREFLIGHT_CHECKS, run_preflight
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import start_embedded_server
from commands.targets import TargetHandle
from tests.support.alembic_projects import Rev, write_project
from tests.support.applying import run_plan
from tests.support.checks_support import handle_for, upgrade
from tests.support.databases import TEST_DATABASE_ENV, create_database, drop_database

LOAD = (
    "CREATE TABLE bench (id bigint PRIMARY KEY, account_id int NOT NULL, email text,"
    " amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text)",
    "INSERT INTO bench SELECT i, (i::bigint * 7919 % 100003)::int, 'user' || i || '@example.com',"
    " (i % 100000) / 100.0, now() - i * interval '1 second',"
    " repeat(chr(97 + i % 26), 20 + i % 30) FROM generate_series(1, {rows}) AS i",
    "ANALYZE bench",
)
CONCURRENTLY = '''
def upgrade() -> None:
    """Index bench.account_id again, without blocking writes (the same key as the plain
    build, so the two compare)."""
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY bench_account_2 ON bench (account_id)")


def downgrade() -> None:
    """Nothing to undo in a bench."""
'''


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    body: str | None = None


CASES = (
    Case("index", "CREATE INDEX bench_account ON bench (account_id)"),
    Case(
        "index_concurrently",
        "CREATE INDEX CONCURRENTLY bench_account_2 ON bench (account_id)",
        CONCURRENTLY,
    ),
    Case("set_not_null", "ALTER TABLE bench ALTER COLUMN email SET NOT NULL"),
    Case("add_column_default", "ALTER TABLE bench ADD COLUMN flag int DEFAULT 0"),
    Case("rewrite", "ALTER TABLE bench ALTER COLUMN account_id TYPE bigint"),
    Case("update", "UPDATE bench SET amount = amount + 1"),
)
FORECAST_ONLY = tuple(check for check in PREFLIGHT_CHECKS if check.name == "forecast")


@dataclass(frozen=True)
class Row:
    case: Case
    rows: int
    forecast: Span
    actual: float
    kind: str
    gigabytes: float

    @property
    def ratio(self) -> float:
        return self.actual / self.forecast.seconds if self.forecast.seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    server = _server()
    print(f"load average at the start: {os.getloadavg()[0]:.1f}", flush=True)
    rows: list[Row] = []
    probes: list[dict[str, float]] = []
    for size in sizes:
        database = create_database(server, prefix="bench_forecast")
        try:
            with tempfile.TemporaryDirectory(prefix="bench-forecast-") as folder:
                handle = _target(database, Path(folder), size)
                started = time.monotonic()
                upgrade(handle, "load")
                with connect(database) as conn:  # as a live table is: autovacuum has been by
                    conn.execute("VACUUM (ANALYZE) bench")
                print(f"{size:>10,} rows loaded in {time.monotonic() - started:.1f} s", flush=True)
                probes.append(dict(run_probe(database).measured))
                for case in CASES:
                    rows.append(_case(handle, case, size))
                    print(f"  {_line(rows[-1])}", flush=True)
        finally:
            drop_database(server, database)
    _report(rows, probes)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def _server() -> DatabaseUrl:
    configured = os.environ.get(TEST_DATABASE_ENV)
    if configured:
        return DatabaseUrl.parse(configured)
    data = Path(tempfile.mkdtemp(prefix="bench-forecast-pg-")) / "data"
    return start_embedded_server(data, preload=())


def _target(database: DatabaseUrl, folder: Path, size: int) -> TargetHandle:
    revisions = [Rev("load", (), tuple(s.format(rows=size) for s in LOAD), ())]
    for case in CASES:
        down = (revisions[-1].id,)
        revisions.append(Rev(case.name, down, (case.sql,), (), case.name, case.body))
    project = write_project(folder / "project", revisions)
    return handle_for(database, folder, script_location=project, extra='max_duration = "1h"')


def _case(handle: TargetHandle, case: Case, size: int) -> Row:
    """The forecast the approver would see for this one revision, then the revision applied."""
    report = run_preflight(handle, to=case.name, checks=FORECAST_ONLY)
    result = report.result("forecast")
    assert result is not None and report.plan is not None, report.results
    forecast = Forecast.from_json(result.data)
    revision = forecast.revision(case.name)
    assert revision is not None and revision.time is not None, result.summary
    passes = [work for statement in revision.statements for work in statement.work]
    kind = passes[0].kind.value if passes else "catalog"
    gigabytes = sum(work.bytes for work in passes) / 1024**3
    steps = [s for s in run_plan(handle, report.plan) if hasattr(s, "duration_s")]
    return Row(case, size, revision.time, steps[-1].duration_s, kind, gigabytes)


def _line(row: Row) -> str:
    span = row.forecast
    forecast = "instant" if span.high < INSTANT_S else f"{span.seconds:8.2f} s"
    window = "" if span.high < INSTANT_S else f"({span.low:7.2f} - {span.high:7.2f})"
    return (
        f"{row.case.name:<20} {row.rows:>11,}  {forecast:>10} {window:<21}"
        f" {row.actual:8.2f} s  x{row.ratio:5.2f}"
    )


def _report(rows: list[Row], probes: list[dict[str, float]]) -> None:
    print(
        "\n"
        + textwrap.dedent(
            f"""
        {"statement":<20} {"rows":>11}  {"forecast":>10} {"(range)":<21} {"actual":>10}  ratio
        """
        ).strip()
    )
    for row in rows:
        print(f"{_line(row)}   {row.case.sql}")
    # catalog-only statements are judged by the second goal: their forecast is "instant" (once
    # the lock is granted); a wait for the lock (autovacuum gives way after deadlock_timeout)
    # is not work
    timed = [r for r in rows if r.actual > 1.0 and r.case.name != "add_column_default"]
    within = [r for r in timed if 0.5 <= r.ratio <= 2.0]
    in_range = [r for r in timed if r.forecast.low <= r.actual <= r.forecast.high]
    catalog = [r for r in rows if r.case.name == "add_column_default"]
    instant = [r for r in catalog if r.forecast.high < INSTANT_S]
    share = len(within) / len(timed) if timed else 0.0
    print(
        f"\nover 1 s: {len(timed)} cases; within 2x: {len(within)} ({share:.0%}; goal ≥ 80 %);"
        f" actual inside the forecast range: {len(in_range)}"
    )
    waits = ", ".join(f"{r.actual:.2f} s" for r in catalog)
    print(
        f"catalog-only forecast as instant: {len(instant)} of {len(catalog)} (goal: all);"
        f" they took {waits}"
    )
    print("\nrates this run measured (s/GB) beside rates.BUILT_IN:")
    by_kind: dict[str, list[float]] = {}
    for row in rows:
        if row.gigabytes > 0 and row.rows >= 1_000_000:
            by_kind.setdefault(row.kind, []).append(row.actual / row.gigabytes)
    for kind, values in sorted(by_kind.items()):
        built_in = {k.value: v for k, v in BUILT_IN.items()}.get(kind)
        print(f"  {kind:<18} {statistics.median(values):8.2f}   built-in {built_in}")
    print("probe here (s/GB, median of one per size) beside probe.PROBE_BASELINE:")
    for name, baseline in PROBE_BASELINE.items():
        print(
            f"  {name:<18} {statistics.median(p[name] for p in probes):8.2f}   baseline {baseline}"
        )


if __name__ == "__main__":
    main()
