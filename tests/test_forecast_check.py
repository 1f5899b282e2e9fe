"""The ``forecast`` pre-flight check on a real PostgreSQL: the bundled project's risky revisions
classified and timed from the live tables, the warning past ``max_duration``, the probe, and the
forecast on the request message."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.views import limits
from bot.views.preflight import preflight_blocks
from commands.checks import Verdict, run_preflight
from commands.checks.forecast.classes import Effect, WorkKind
from commands.checks.forecast.learned import Learned
from commands.checks.forecast.locks import LockMode
from commands.checks.forecast.model import Forecast
from commands.checks.forecast.probe import PROBE_BASELINE, PROBE_TABLE, ProbeError, run_probe
from commands.checks.forecast.rates import Rate, Source
from commands.checks.forecast_check import window_budget
from commands.checks.preflight import PREFLIGHT_CHECKS
from commands.config.windows import parse_window
from commands.demo.data import fill_demo_data
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests.model import Preflight
from tests.support.checks_support import HEAD, RISKY, copy_database, handle_for
from tests.support.databases import drop_database

FORECAST_ONLY = tuple(check for check in PREFLIGHT_CHECKS if check.name == "forecast")


def test_the_risky_revisions_are_forecast_statement_by_statement(
    before_risky_db: DatabaseUrl, tmp_path: Path
) -> None:
    """e2f6a8c0d376 builds an index without CONCURRENTLY (SHARE on segments) and adds a CHECK
    without NOT VALID (a scan under ACCESS EXCLUSIVE on jobs); the last revision drops a column
    (catalog-only). The tables are empty: everything is instant, on built-in rates."""
    report = run_preflight(handle_for(before_risky_db, tmp_path), checks=FORECAST_ONLY)
    result = report.result("forecast")
    assert result.verdict is Verdict.PASS
    forecast = Forecast.from_json(result.data)
    assert [r.revision for r in forecast.revisions] == [RISKY, HEAD]
    risky, last = forecast.revisions
    index, check = risky.statements
    assert (index.effect, index.locks) == (Effect.INDEX, (("segments", LockMode.SHARE),))
    assert index.work[0].kind is WorkKind.INDEX
    assert (check.effect, check.locks) == (Effect.SCAN, (("jobs", LockMode.ACCESS_EXCLUSIVE),))
    assert [s.effect for s in last.statements] == [Effect.CATALOG]
    assert forecast.complete and forecast.total.high < 1.0
    assert result.summary.startswith("under 1 s for 2 revisions; longest lock ")
    assert result.summary.endswith("built-in rates (under 64.0 MB of work: no calibration)")
    assert result.data["limits"] == {"max_duration_s": 600.0}


@pytest.fixture
def filled_db(pg_server: DatabaseUrl, before_risky_db: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """The bundled project before the risky revision, with 3,000 segments (ANALYZEd)."""
    database = copy_database(pg_server, before_risky_db, "forecast")
    fill_demo_data(database, rows=3000)
    yield database
    drop_database(pg_server, database)


def test_an_upper_bound_past_max_duration_warns_the_approver(
    filled_db: DatabaseUrl, tmp_path: Path
) -> None:
    """Rates this slow (taught by past runs) put the index build past max_duration."""
    slow = {kind: Rate(1e7, 0.67, 1.5, Source.LEARNED, 3) for kind in WorkKind}
    learned = Learned("app", slow, runs=3, rehearsals=0)
    handle = handle_for(filled_db, tmp_path, extra='max_duration = "5s"')
    result = run_preflight(handle, checks=FORECAST_ONLY, learned=learned).result("forecast")
    assert result.verdict is Verdict.WARN
    assert "calibrated on 3 past runs on app" in result.summary
    assert "is over max_duration 5.0 s: the run would be stopped there" in result.summary
    assert result.data["warnings"] == [result.summary.split("; ")[-1]]


def test_the_forecast_on_the_request_message(before_risky_db: DatabaseUrl, tmp_path: Path) -> None:
    result = run_preflight(handle_for(before_risky_db, tmp_path), checks=FORECAST_ONLY).result(
        "forecast"
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    preflight = Preflight(True, "", (result.to_json(),), "migrate-bot", at)
    blocks = preflight_blocks(preflight)
    assert limits.problems(blocks) == []
    text = "\n".join(b["text"]["text"] for b in blocks)
    assert "✅ *Forecast* under 1 s for 2 revisions; longest lock" in text
    assert f"• `{RISKY}`: instant; SHARE on `segments` (40 kB): writes wait, reads go on" in text
    assert f"• `{HEAD}`: instant; ACCESS EXCLUSIVE on `videos` (32 kB): reads and writes" in text


def test_the_probe_times_its_statements_and_leaves_nothing_behind(fresh_db: DatabaseUrl) -> None:
    result = run_probe(fresh_db)
    assert set(result.measured) == set(PROBE_BASELINE)
    assert all(value > 0 for value in result.measured.values())
    assert result.factor > 0 and result.seconds > 0
    with connect(fresh_db) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = %s", (PROBE_TABLE,)
        ).fetchone()
    assert left == (0,)


def test_the_probe_says_why_it_cannot_run(fresh_db: DatabaseUrl) -> None:
    """A role without the TEMP privilege: the probe's error, which the forecast then quotes."""
    role = f"no_temp_{secrets.token_hex(4)}"
    with connect(fresh_db) as conn:
        conn.execute(f'REVOKE TEMPORARY ON DATABASE "{fresh_db.database}" FROM PUBLIC')
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        limited = dataclasses.replace(fresh_db, username=role, password=None)
        with pytest.raises(ProbeError, match="permission denied to create temporary tables"):
            run_probe(limited)
    finally:
        with connect(fresh_db) as conn:
            conn.execute(f"DROP ROLE {role}")


def test_the_window_a_run_must_fit_in() -> None:
    """Inside a window: what is left of it; outside: the next one's length, unless the target
    runs at any time."""
    windows = (parse_window("Sun 02:00-04:00 UTC"),)
    inside = datetime(2026, 1, 4, 3, 30, tzinfo=UTC)  # a Sunday
    outside = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert window_budget(windows, inside) == (
        1800.0,
        "the 30 min left in the maintenance window",
    )
    assert window_budget(windows, outside) == (
        7200.0,
        "the next maintenance window (Sun 02:00-04:00 UTC, 2 h)",
    )
    assert window_budget(windows, outside, anytime=True) is None
    assert window_budget((), inside) is None
