"""The watch after a successful run, on a real PostgreSQL that loads pg_stat_statements:
a revision drops the index the application's lookups need, and the watch says so."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from commands.config.live_use import WatchSettings
from commands.config.targets_file import CONFIG_ENV
from commands.errors import ExitCode
from commands.pipeline.watch_keeper import WatchKeeper
from commands.pipeline.watch_report import (
    SINCE_RESET,
    WINDOW,
    WatchReport,
    before_run,
    compare,
    describe,
    verdict,
)
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.statement_stats import UsageSample, start_statement_stats
from commands.state.vocabulary import EventKind, RequestState
from commands.targets import open_target
from tests.support.alembic_projects import Rev
from tests.support.checks_support import upgrade
from tests.support.health_server import HealthServer
from tests.support.pipeline_support import PipelineTarget, pipeline_target
from tests.support.polling import wait_for
from tests.support.scheduler_clock import MovableClock

ITEMS = Rev(
    "i1",
    up_sql=(
        "CREATE TABLE items (id int PRIMARY KEY, k int NOT NULL, payload text)",
        "INSERT INTO items SELECT g, g % 4000, repeat('x', 40) FROM generate_series(1, 40000) g",
        "CREATE INDEX idx_items_k ON items (k)",
        "ANALYZE items",
    ),
    down_sql=("DROP TABLE items",),
    message="create items",
)
DROP_INDEX = Rev(
    "i2",
    down=("i1",),
    up_sql=("DROP INDEX idx_items_k",),
    down_sql=("CREATE INDEX idx_items_k ON items (k)",),
    message="drop idx_items_k",
)
ADD_COLUMN = Rev(
    "i3",
    down=("i2",),
    up_sql=("ALTER TABLE items ADD COLUMN note text",),
    down_sql=("ALTER TABLE items DROP COLUMN note",),
    message="add items.note",
)
LOOKUP = "SELECT id, payload FROM items WHERE k = %s"
CALLS = 30
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SETTINGS = WatchSettings(period=60, slowdown=2.0, min_calls=10)


def sample(at_s: float, statements: dict[str, tuple[int, float]], **tables: tuple[int, int]):
    return UsageSample(T0 + timedelta(seconds=at_s), None, statements, tables)


def test_before_is_the_window_from_approval_or_else_since_the_reset() -> None:
    earlier = sample(0, {"q": (100, 50.0)}, items=(3, 50_000))
    at_start = sample(600, {"q": (160, 80.0), "new": (5, 1.0)}, items=(4, 50_000))
    window = before_run(earlier, at_start)
    assert window.kind == WINDOW and window.seconds == 600
    assert window.statements == {"q": (60, 30.0), "new": (5, 1.0)}  # new since: from 0
    assert window.tables == {"items": (1, 50_000)}
    truncated = replace(earlier, complete=False)  # only the most called were kept
    assert before_run(truncated, at_start).statements == {"q": (60, 30.0)}
    reset = UsageSample(T0 + timedelta(seconds=300), T0, {"q": (2, 1.0)}, {})
    fallback = before_run(reset, at_start)  # the statistics were reset in between
    assert fallback.kind == SINCE_RESET and fallback.statements == at_start.statements
    assert before_run(None, at_start).kind == SINCE_RESET


def test_a_statement_counts_as_slower_only_with_enough_calls_and_a_real_difference() -> None:
    before = before_run(
        sample(0, {"slow": (0, 0.0), "few": (0, 0.0), "tiny": (0, 0.0)}, big=(0, 90_000)),
        sample(60, {"slow": (40, 2.0), "few": (5, 1.0), "tiny": (40, 0.4)}, big=(0, 90_000)),
    )
    start = sample(100, {"slow": (40, 2.0), "few": (5, 1.0), "tiny": (40, 0.4)}, big=(0, 90_000))
    end = sample(
        160,
        {"slow": (80, 122.0), "few": (50, 500.0), "tiny": (80, 1.2)},
        big=(25, 90_000),
    )
    found = compare(before, start, end, settings=SETTINGS, small_table_rows=10_000)
    assert found.compared == 2  # "few" had 5 calls before
    [slow] = found.slowed  # "tiny" doubled, by 0.01 ms: noise
    assert (slow.queryid, slow.calls_before, slow.calls_after) == ("slow", 40, 40)
    assert (round(slow.mean_before_ms, 3), round(slow.mean_after_ms, 3)) == (0.05, 3.0)
    [scans] = found.scans
    assert (scans.table, scans.before, scans.after) == ("big", 0, 25)


def items_target(tmp_path: Path, database: DatabaseUrl, health: str, clock: MovableClock):
    keys = f'watch = "10min"\nwatch_min_calls = 10\nhealth_url = "{health}"\n'
    target = pipeline_target(tmp_path, database, [ITEMS, DROP_INDEX, ADD_COLUMN], keys)
    target = PipelineTarget(target.config, database, target.store, target.requests)
    upgrade(open_target(target.config.target("app")), "i1")
    with connect(database) as conn:
        assert start_statement_stats(conn)
    return target


def lookups(database: DatabaseUrl, count: int = CALLS) -> None:
    with connect(database) as conn:
        for n in range(count):
            conn.execute(LOOKUP, (n * 7,)).fetchall()


# Long case: the watch's regressions run in CI through the failing-queries case.
@pytest.mark.slow
def test_a_dropped_index_shows_as_a_slower_statement_and_new_sequential_scans(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    clock = MovableClock(datetime.now(UTC))
    with HealthServer() as health:
        target = items_target(tmp_path, pgss_db, health.url, clock)
        context = target.context().__class__(
            config=target.config, requests=target.requests, store=target.store, clock=clock
        )
        told: dict[str, list[WatchReport]] = {"started": [], "regressed": [], "finished": []}
        keeper = WatchKeeper(
            context,
            on_started=told["started"].append,
            on_regressed=told["regressed"].append,
            on_finished=told["finished"].append,
        )
        first = target.approved(goal="i2")  # sampled before approval: "before" starts here
        request_id = first.request.id
        assert target.store.events(request_id=request_id, kinds=[EventKind.WATCH_SAMPLED])
        lookups(pgss_db)  # the application, with its index
        outcome = target.run(request_id)
        assert outcome.state is RequestState.SUCCEEDED, outcome.error
        lookups(pgss_db)  # the same lookups, now scanning the table

        assert keeper.tick() == []  # found, checked at once: the regression is told now
        assert [r.request_id for r in told["started"]] == [request_id]
        [alert] = told["regressed"]
        assert not alert.final and alert.slowed and alert.scans and alert.health.failures == 0
        # another run on the target goes on during the watch: the watch holds no lock
        second = target.approved(goal="i3")
        assert target.run(second.request.id).state is RequestState.SUCCEEDED

        health.status = 503  # and then the application's health URL fails
        clock.jump_to(clock() + timedelta(minutes=11))
        finished = wait_for(lambda: [r for r in keeper.tick() if r.request_id == request_id])
    [report] = finished
    assert report.final and report.regressed and report.before.kind == WINDOW
    [slow] = report.slowed
    assert slow.text == "SELECT id, payload FROM items WHERE k = $1"
    assert (slow.calls_before, slow.calls_after) == (CALLS, CALLS)
    assert slow.mean_after_ms >= 2 * slow.mean_before_ms
    [scans] = report.scans
    assert scans.table == "public.items" and scans.before == 0 and scans.after >= CALLS
    assert report.health is not None and report.health.failures >= 1
    assert "503" in str(report.health.first_error)
    assert any(f"{second.request.id} ran on app during the watch" in n for n in report.notes)
    lines = describe(report)
    assert any("mean" in line and f"{CALLS} calls before, {CALLS} after" in line for line in lines)
    assert any("`public.items` (40,000 rows):" in line for line in lines)

    [event] = target.store.events(request_id=request_id, kinds=[EventKind.WATCH_FINISHED])
    assert event.data["regressed"] and event.data["alerted_before"]
    assert WatchReport.from_json(event.data).slowed == report.slowed
    assert target.requests.get(request_id).state is RequestState.SUCCEEDED  # it stays so


def test_a_watch_resumes_after_a_restart_and_is_finished_once(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    clock = MovableClock(datetime.now(UTC))
    with HealthServer() as health:
        target = items_target(tmp_path, pgss_db, health.url, clock)
        context = target.context().__class__(
            config=target.config, requests=target.requests, store=target.store, clock=clock
        )
        before_restart = WatchKeeper(context)
        request_id = target.approved(goal="i2").request.id
        lookups(pgss_db)
        assert target.run(request_id).state is RequestState.SUCCEEDED
        lookups(pgss_db)
        clock.jump_to(clock() + timedelta(minutes=2))
        restarted = WatchKeeper(context)  # a new process, with the same audit log
        elsewhere = WatchKeeper(context, targets=["eu"])  # a worker of another network's queue
        clock.jump_to(clock() + timedelta(minutes=10))
        assert elsewhere.tick() == [] and elsewhere.open_watches() == []  # due, but not its own
        [report] = wait_for(restarted.tick)
        assert before_restart.tick() == []  # the other process finds it finished
    assert any("the bot restarted during the watch" in note for note in report.notes)
    assert report.slowed and report.health is not None and report.health.failures == 0
    assert len(target.store.events(request_id=request_id, kinds=[EventKind.WATCH_FINISHED])) == 1


def test_a_break_glass_run_is_watched_from_the_terminal(
    pgss_db: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = 'watch = "1s"\n'
    target = pipeline_target(tmp_path, pgss_db, [ITEMS, DROP_INDEX], keys)
    upgrade(open_target(target.config.target("app")), "i1")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "migrate-bot.toml"))
    monkeypatch.chdir(tmp_path)
    assert main(["upgrade", "app", "--yes", "--reason", "INC-7"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "watching app for 1 s: a running `migrate-bot serve` posts the summary" in out
    assert main(["watch", "M-1"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("Watch of M-1 on app: no regression")
    assert "Before: everything since the statistics were" in out  # no sample before approval
    assert main(["watch", "M-1", "--json"]) == ExitCode.OK  # finished: its recorded report
    assert json.loads(capsys.readouterr().out)["request_id"] == "M-1"
    assert main(["watch", "M-9"]) == ExitCode.BAD_INPUT


DROP_PAYLOAD = Rev(
    "p2",
    down=("i1",),
    up_sql=("ALTER TABLE items DROP COLUMN payload",),
    down_sql=("ALTER TABLE items ADD COLUMN payload text",),
    message="drop items.payload",
)


def test_an_application_whose_queries_fail_after_the_run_is_a_regression(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    """A failing statement never reaches pg_stat_statements: the watch sees it as the
    database's rollbacks against the period before, and says so with its figures."""
    keys = 'watch = "10min"\nwatch_min_calls = 10\n'
    target = pipeline_target(tmp_path, pgss_db, [ITEMS, DROP_PAYLOAD], keys)
    upgrade(open_target(target.config.target("app")), "i1")
    with connect(pgss_db) as conn:
        assert start_statement_stats(conn)
    clock = MovableClock(datetime.now(UTC))
    context = target.context().__class__(
        config=target.config, requests=target.requests, store=target.store, clock=clock
    )
    alerts: list[WatchReport] = []
    keeper = WatchKeeper(context, on_regressed=alerts.append)
    request_id = target.approved(goal="p2").request.id
    lookups(pgss_db)  # the application works before the run
    assert target.run(request_id).state is RequestState.SUCCEEDED
    failed = 0
    with connect(pgss_db) as conn:  # and its queries fail after it, in autocommit
        for n in range(CALLS):
            try:
                conn.execute(LOOKUP, (n,))
            except psycopg.errors.UndefinedColumn:
                failed += 1
    assert failed == CALLS
    assert keeper.tick() == []
    [alert] = alerts  # told at once, during the watch
    assert alert.failures is not None and alert.failures.rollbacks_rose
    assert alert.failures.after.rollbacks >= CALLS and alert.failures.before is not None
    assert alert.failures.before.rollbacks < CALLS  # the bot's own pre-flight, at most
    clock.jump_to(clock() + timedelta(minutes=11))
    [report] = wait_for(keeper.tick)
    words = verdict(report)
    assert report.regressed
    assert words.startswith(f"application errors: {report.failures.after.rollbacks:,}")
    assert re.search(r"transaction\(s\) rolled back \((none|\d+) before the run\)", words)
    lines = describe(report)
    assert any(line.startswith("Failures: ") and " in the watch (" in line for line in lines)
    assert "Signals read: statements (pg_stat_statements), failures (pg_stat_database" in (
        "\n".join(lines)
    )


def test_no_regression_is_said_only_when_every_signal_was_read() -> None:
    clean = WatchReport(
        request_id="M-1",
        target="app",
        start=T0,
        end=T0 + timedelta(minutes=10),
        planned_s=600,
        before=before_run(None, sample(0, {})),
        compared=3,
        signals=("statements (pg_stat_statements)",),
    )
    assert verdict(clean) == "no regression"
    blind = replace(
        clean,
        statements_available=False,
        unread=("statements: pg_stat_statements is not readable on the target",),
    )
    assert verdict(blind) == (
        "no regression seen, but not everything was read: statements: pg_stat_statements"
        " is not readable on the target"
    )
    assert "Not read: statements: pg_stat_statements is not readable" in "\n".join(describe(blind))
