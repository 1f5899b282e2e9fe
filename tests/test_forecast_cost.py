"""The cost model: each statement's time from its table's size and a rate, each lock's hold.

Pure: plans written as offline SQL (with Alembic's BEGIN/COMMIT), sizes and
rates given, so every figure below follows from them by hand.
"""

from __future__ import annotations

import pytest

from bot.views.forecast import forecast_lines
from commands.checks.forecast.classes import Effect, WorkKind
from commands.checks.forecast.cost import forecast_plan
from commands.checks.forecast.facts import SchemaFacts
from commands.checks.forecast.locks import LockMode
from commands.checks.forecast.model import Forecast
from commands.checks.forecast.planned import planned_revisions, transaction_numbers
from commands.checks.forecast.rates import (
    REVISION_OVERHEAD_S,
    STATEMENT_OVERHEAD_S,
    Rate,
    Rates,
    Source,
)
from commands.checks.forecast.type_names import ColumnType
from commands.checks.forecast.wording import revision_words, span_words, summary
from commands.checks.sql_statements import parse_statements
from commands.checks.table_sizes import TableSize
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision

GB = 1024**3
SEGMENTS = TableSize("segments", True, rows=100_000_000, total_bytes=40 * GB, heap_bytes=30 * GB)
JOBS = TableSize("jobs", True, rows=1_000_000, total_bytes=2 * GB, heap_bytes=GB)
SIZES = {"segments": SEGMENTS, "jobs": JOBS}


def revision(rev: str) -> Revision:
    return Revision(rev, (), (), (), f"revision {rev}", f"/srv/app/versions/{rev}.py")


def plan_of(sql: dict[str, str], unavailable: dict[str, str] | None = None) -> Plan:
    revisions = tuple(revision(rev) for rev in [*sql, *(unavailable or {})])
    return Plan(
        "prod", Direction.UP, ("base",), (revisions[-1].id,), revisions, sql, unavailable or {}
    )


def rates(**per_gb: float) -> Rates:
    """Every kind at 10 s/GB (half to double), unless given."""
    return Rates(
        {kind: Rate(per_gb.get(kind.value, 10.0), 0.5, 2.0, Source.PROBE) for kind in WorkKind},
        "calibrated now",
    )


def facts() -> SchemaFacts:
    known = SchemaFacts(server_major=18, volatility={"now": "s"})
    known.add_column("segments", "video_id", ColumnType("int4"))
    return known


def forecast(sql: dict[str, str], **options) -> Forecast:
    plan = plan_of(sql, options.pop("unavailable", None))
    statements = {rev: parse_statements(rev, text) for rev, text in sql.items()}
    planned = planned_revisions(plan, statements, facts())
    return forecast_plan(
        "prod", planned, options.pop("sizes", SIZES), options.pop("rates", rates())
    )


def in_transaction(*statements: str) -> str:
    body = "\n\n".join(f"{s};" for s in statements)
    return f"BEGIN;\n\n{body}\n\nUPDATE alembic_version SET version_num='x';\n\nCOMMIT;\n"


def test_a_pass_takes_its_tables_gigabytes_times_the_rate_of_its_kind() -> None:
    """A scan reads the heap (30 GB at 2 s/GB); a rewrite writes all of it (40 GB at 25)."""
    result = forecast(
        {
            "r1": in_transaction("ALTER TABLE segments ALTER COLUMN text SET NOT NULL"),
            "r2": in_transaction("ALTER TABLE segments ALTER COLUMN video_id TYPE bigint"),
        },
        rates=rates(scan=2.0, rewrite=25.0),
    )
    scan, rewrite = (r.statements[0] for r in result.revisions)
    assert scan.effect is Effect.SCAN and rewrite.effect is Effect.REWRITE
    assert scan.time is not None and rewrite.time is not None
    assert scan.time.seconds == pytest.approx(60 + STATEMENT_OVERHEAD_S)
    assert rewrite.time.seconds == pytest.approx(1000 + STATEMENT_OVERHEAD_S)
    assert rewrite.time.low == pytest.approx(500 + STATEMENT_OVERHEAD_S)
    assert rewrite.time.high == pytest.approx(2000 + STATEMENT_OVERHEAD_S)
    assert result.total.seconds == pytest.approx(
        1060 + 2 * (STATEMENT_OVERHEAD_S + REVISION_OVERHEAD_S)
    )


def test_a_catalog_only_statement_is_instant() -> None:
    result = forecast({"r1": in_transaction("ALTER TABLE segments ADD COLUMN flag int DEFAULT 0")})
    statement = result.revisions[0].statements[0]
    assert statement.effect is Effect.CATALOG and statement.work == ()
    assert statement.time is not None and span_words(statement.time) == "instant"


def test_a_lock_is_held_from_the_statement_taking_it_to_the_revision_s_commit() -> None:
    """The runbook's trap: ADD COLUMN is instant, but its ACCESS EXCLUSIVE lasts while the
    UPDATE after it in the same revision runs (40 GB at 10 s/GB)."""
    result = forecast(
        {
            "r1": in_transaction(
                "ALTER TABLE segments ADD COLUMN flag int", "UPDATE segments SET flag = 0"
            )
        }
    )
    held = result.longest_lock
    assert held is not None
    assert (held.table, held.mode) == ("segments", LockMode.ACCESS_EXCLUSIVE)
    assert held.time.seconds == pytest.approx(400 + 2 * STATEMENT_OVERHEAD_S)
    assert held.table_bytes == 40 * GB
    assert summary(result).startswith(
        "~6 min 40 s (3 min 20 s to 13 min 20 s) for 1 revision;"
        " longest lock ~6 min 40 s ACCESS EXCLUSIVE on segments"
        " (40.0 GB): reads and writes wait"
    )


def test_an_autocommit_block_runs_each_statement_in_a_transaction_of_its_own() -> None:
    """Alembic commits before an ``autocommit_block`` and begins again after it: the index built
    CONCURRENTLY holds its SHARE UPDATE EXCLUSIVE for its own build only."""
    sql = (
        "BEGIN;\n\nALTER TABLE jobs ADD COLUMN note text;\n\nCOMMIT;\n\n"
        "CREATE INDEX CONCURRENTLY jobs_note ON jobs (note);\n\n"
        "BEGIN;\n\nUPDATE alembic_version SET version_num='r1';\n\nCOMMIT;\n"
    )
    assert transaction_numbers(sql, 3) == [1, 2, 3]
    result = forecast({"r1": sql}, rates=rates(index_concurrent=30.0))
    add, build = result.revisions[0].statements
    assert add.time is not None and build.time is not None
    assert build.time.seconds == pytest.approx(30 + STATEMENT_OVERHEAD_S)
    held = result.revisions[0].longest_lock
    assert held is not None and held.mode is LockMode.ACCESS_EXCLUSIVE
    assert held.time.seconds == pytest.approx(add.time.seconds)  # not through the build


def test_a_where_clause_ranges_from_nothing_to_the_whole_table_and_a_limit_caps_it() -> None:
    result = forecast(
        {
            "r1": in_transaction("UPDATE jobs SET status = 'done' WHERE status = 'old'"),
            "r2": in_transaction(
                "UPDATE jobs SET status = 'done' WHERE id IN"
                " (SELECT id FROM jobs WHERE status = 'old' LIMIT 10000)"
            ),
        },
        rates=rates(update=100.0),
    )
    where, limited = (r.statements[0] for r in result.revisions)
    assert where.time is not None and limited.time is not None
    assert where.time.low == pytest.approx(STATEMENT_OVERHEAD_S)
    assert where.time.seconds == pytest.approx(200 + STATEMENT_OVERHEAD_S)  # 2 GB at 100 s/GB
    assert limited.time.seconds == pytest.approx(2 + STATEMENT_OVERHEAD_S)  # 1 % of the rows
    held = result.revisions[0].longest_lock
    assert (
        held is not None and held.row_locks and held.waits == ("writes to the rows it changes wait")
    )


def test_what_is_not_forecast_says_so_and_the_total_is_a_lower_bound() -> None:
    result = forecast(
        {
            "r1": in_transaction(
                "CREATE INDEX jobs_status ON jobs (status)", "DO $$ BEGIN PERFORM rebuild(); END $$"
            )
        },
        unavailable={"r2": "env.py reads the data"},
    )
    first, second = result.revisions
    assert not result.complete
    assert [s.number for s in first.opaque] == [2]
    assert second.time is None
    assert revision_words(second) == (
        "r2: no forecast: SQL not available offline: env.py reads the data; read versions/r2.py"
    )
    assert summary(result).startswith("at least ~10.1 s")
    assert "statement #2 runs code: not forecast" in revision_words(first)


def test_a_new_table_costs_nothing_and_an_unknown_size_is_not_guessed() -> None:
    fresh = TableSize("fresh", False)
    result = forecast(
        {
            "r1": in_transaction(
                "CREATE INDEX fresh_a ON fresh (a)", "CREATE INDEX ghosts_a ON ghosts (a)"
            )
        },
        sizes={**SIZES, "fresh": fresh},
    )
    new, unknown = result.revisions[0].statements
    assert new.time is not None and new.time.high < 0.1
    assert unknown.time is None and "the size of ghosts is not known" in unknown.reason


def test_the_forecast_survives_the_audit_log() -> None:
    """It is recorded as a check's data and read back by the card and the scoring."""
    result = forecast(
        {
            "r1": in_transaction(
                "ALTER TABLE segments ADD COLUMN flag int", "UPDATE segments SET flag = 0"
            )
        },
        unavailable={"r2": "no offline mode"},
    )
    again = Forecast.from_json(result.to_json())
    assert again == result
    assert again.total == result.total and again.longest_lock == result.longest_lock


def test_a_long_plan_shows_the_revisions_that_weigh_on_the_card() -> None:
    """Past ten revisions the card keeps the long ones and those not forecast, in plan order,
    and says where the rest are."""
    sql = {f"r{n:02d}": in_transaction("ALTER TABLE jobs ADD COLUMN c int") for n in range(12)}
    sql["r05"] = in_transaction("ALTER TABLE segments ALTER COLUMN video_id TYPE bigint")
    sql["r09"] = in_transaction("DO $$ BEGIN PERFORM 1; END $$")
    result = forecast(sql)
    lines = forecast_lines({"name": "forecast", "data": result.to_json()})
    shown = [line.split("`")[1] for line in lines if line.startswith("• `")]
    assert len(shown) == 10 and shown == sorted(shown)
    assert "r05" in shown and "r09" in shown
    assert lines[-1] == "• … and 2 more revisions: `migrate-bot plan prod --forecast`"
