"""The ``live_use`` check on a real PostgreSQL that loads pg_stat_statements: an
application workload reads what a pending revision drops, and the approver must see it."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from commands.checks import Verdict, run_preflight
from commands.config.targets_file import CONFIG_ENV
from commands.errors import ExitCode
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.statement_stats import start_statement_stats
from commands.requests import NotAnApproverError, SelfApprovalError
from commands.requests.live_use import LiveUseNotAcknowledgedError, NothingToAcknowledgeError
from commands.state.vocabulary import EventKind, RequestKind, RequestState
from commands.targets import open_target
from commands.units import format_count
from tests.support.alembic_projects import Rev
from tests.support.checks_support import upgrade
from tests.support.pipeline_support import APPROVER, REQUESTER, PipelineTarget, pipeline_target

VIDEOS = Rev(
    "v1",
    up_sql=(
        "CREATE TABLE videos (id int PRIMARY KEY, youtube_id text NOT NULL, title text)",
        "INSERT INTO videos SELECT g, 'yt' || g, 'talk ' || g FROM generate_series(1, 50) g",
    ),
    down_sql=("DROP TABLE videos",),
    message="create videos",
)
DROP_YOUTUBE_ID = Rev(
    "v2",
    down=("v1",),
    up_sql=("ALTER TABLE videos DROP COLUMN youtube_id",),
    down_sql=("ALTER TABLE videos ADD COLUMN youtube_id text",),
    message="drop videos.youtube_id",
)
INDEX_TITLE = Rev(
    "v2",
    down=("v1",),
    up_sql=("CREATE INDEX idx_videos_title ON videos (title)",),
    down_sql=("DROP INDEX idx_videos_title",),
    message="index videos.title",
)
READS = "SELECT v.youtube_id, v.title FROM videos v WHERE v.id = %s"
WRITES = "UPDATE videos SET youtube_id = %s WHERE id = %s"
OTHER = "SELECT title FROM videos WHERE id = %s"
QUICK = 'live_use_window = "300ms"\n'


def app_target(
    tmp_path: Path, database: DatabaseUrl, pending: Rev, keys: str = QUICK
) -> PipelineTarget:
    """Target ``app`` at ``v1`` with 50 videos, pg_stat_statements counting from now."""
    target = pipeline_target(tmp_path, database, [VIDEOS, pending], keys)
    upgrade(open_target(target.config.target("app")), "v1")
    with connect(database) as conn:
        assert start_statement_stats(conn)
    return target


def run_app(database: DatabaseUrl, times: dict[str, int], role: str | None = None) -> None:
    """The application: each statement ``times`` times, with its own parameters."""
    with connect(database) as conn:
        if role is not None:
            conn.execute(f"SET ROLE {role}")
        for sql, count in times.items():
            for n in range(count):
                args = (f"yt{n}", n) if sql == WRITES else (n,)
                conn.execute(sql, args)


def live_use(target: PipelineTarget):
    report = run_preflight(open_target(target.config.target("app")))
    return report, report.result("live_use")


def test_a_dropped_column_the_application_reads_is_found_with_its_counts(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID)
    run_app(pgss_db, {READS: 25, WRITES: 5, OTHER: 10})
    with connect(pgss_db) as conn:  # pg_dump's kind of statement, and DDL: not the app's
        with conn.cursor().copy("COPY videos (id, youtube_id) TO STDOUT") as copy:
            list(copy)
        conn.execute("CREATE TABLE scratch AS SELECT youtube_id FROM videos")

    report, result = live_use(target)
    assert result.verdict is Verdict.WARN and not report.blocks
    [finding] = result.data["findings"]
    assert finding["subject"] == "videos.youtube_id" and finding["revision"] == "v2"
    assert finding["calls"] == 30 and finding["statement_count"] == 2
    assert finding["window_calls"] == 0
    assert re.fullmatch(
        r"`videos.youtube_id` is dropped by `v2`, but the application ran 2 statements reading"
        r" or writing it 30 times since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(last seen: not in the"
        r" 300 ms the bot watched; pg_stat_statements keeps no time of last use\)",
        finding["sentence"],
    ), finding["sentence"]
    texts = {s["text"]: (s["calls"], s["uses"]) for s in finding["statements"]}
    assert texts == {
        "SELECT v.youtube_id, v.title FROM videos v WHERE v.id = $1": (25, "reads"),
        "UPDATE videos SET youtube_id = $1 WHERE id = $2": (5, "writes"),
    }
    assert result.data["unreadable"] >= 2  # the COPY and the CREATE TABLE AS
    assert "the approver must acknowledge it" in result.summary


def test_a_statement_still_running_is_seen_between_the_two_samples(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID, 'live_use_window = "1s"\n')
    run_app(pgss_db, {READS: 3})
    stop = threading.Event()

    def busy_app() -> None:
        with connect(pgss_db) as conn:
            while not stop.wait(0.02):
                conn.execute(READS, (1,))

    thread = threading.Thread(target=busy_app)
    thread.start()
    try:
        _, result = live_use(target)
    finally:
        stop.set()
        thread.join()
    [finding] = result.data["findings"]
    assert finding["window_calls"] > 0
    calls = format_count(finding["window_calls"], "call")
    assert f"(last seen: now, {calls} in the 1.0 s" in finding["sentence"]


def test_fail_mode_blocks_the_request(pgss_db: DatabaseUrl, tmp_path: Path) -> None:
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID, QUICK + 'live_use = "fail"\n')
    run_app(pgss_db, {READS: 2})
    report, result = live_use(target)
    assert result.verdict is Verdict.FAIL and report.blocks
    assert 'live_use = "fail"' in result.summary
    proposal = target_proposal(target)
    assert proposal.request.state is RequestState.REQUESTED  # approval is blocked


def test_an_index_added_breaks_nothing_the_application_runs(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    target = app_target(tmp_path, pgss_db, INDEX_TITLE)
    run_app(pgss_db, {READS: 5, OTHER: 5})
    _, result = live_use(target)
    assert result.verdict is Verdict.PASS and result.data["findings"] == []
    assert result.summary.startswith("nothing the pending revisions drop, rename or retype")


def test_only_the_applications_roles_count_and_the_bots_own_statements_do_not(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    with connect(pgss_db) as conn:
        conn.execute("DROP ROLE IF EXISTS live_use_app")
        conn.execute("CREATE ROLE live_use_app")
        conn.execute("GRANT ALL ON SCHEMA public TO live_use_app")
    smoke = 'smoke_sql = ["SELECT youtube_id FROM videos WHERE id = 1"]\n'
    roles = 'live_use_roles = ["live_use_app"]\n'
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID, QUICK + smoke + roles)
    with connect(pgss_db) as conn:
        conn.execute("GRANT SELECT, UPDATE ON videos TO live_use_app")
    run_app(pgss_db, {READS: 4}, role="live_use_app")
    run_app(pgss_db, {WRITES: 7})  # a person's (or a tool's) statement, as postgres
    run_app(pgss_db, {"SELECT youtube_id FROM videos WHERE id = %s": 3}, role="live_use_app")
    _, result = live_use(target)
    [finding] = result.data["findings"]
    assert finding["calls"] == 4 and finding["statements"][0]["roles"] == ["live_use_app"]
    assert result.data["excluded"] == 1  # the smoke statement's shape, though the app ran it
    assert any("only the statements of live_use_app count" in d for d in result.details)


def test_without_pg_stat_statements_the_check_says_how_to_enable_it_and_passes(
    fresh_db: DatabaseUrl, pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    not_loaded = pipeline_target(tmp_path / "a", fresh_db, [VIDEOS, DROP_YOUTUBE_ID])
    report, result = live_use(not_loaded)
    assert result.verdict is Verdict.SKIP and not report.blocks
    assert result.summary.startswith("pg_stat_statements is not loaded on this server")
    assert "shared_preload_libraries" in result.details[0]
    assert "CREATE EXTENSION pg_stat_statements" in result.details[1]
    assert result.data["available"] is False

    loaded = pipeline_target(tmp_path / "b", pgss_db, [VIDEOS, DROP_YOUTUBE_ID])
    report, result = live_use(loaded)
    assert result.verdict is Verdict.SKIP and not report.blocks
    assert "is loaded but not installed in database" in result.summary
    assert result.details == (
        f"in database {pgss_db.database}, as its owner or a superuser:"
        " CREATE EXTENSION pg_stat_statements",
    )


def target_proposal(target: PipelineTarget):
    from commands.pipeline import propose

    return propose(
        target.context(), kind=RequestKind.UPGRADE, target="app", goal=None, requester=REQUESTER
    )


def test_each_approver_acknowledges_the_live_use_before_approving(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID)
    run_app(pgss_db, {READS: 6})
    request = target_proposal(target).request
    assert request.state is RequestState.AWAITING_APPROVAL
    service = target.requests

    with pytest.raises(LiveUseNotAcknowledgedError, match=r"still uses `videos\.youtube_id`"):
        service.approve(request.id, approver=APPROVER)
    with pytest.raises(SelfApprovalError):
        service.acknowledge_live_use(request.id, actor=REQUESTER)
    with pytest.raises(NotAnApproverError):
        service.acknowledge_live_use(request.id, actor="U0EVE")
    acknowledged = service.acknowledge_live_use(request.id, actor=APPROVER)
    assert [a.by for a in acknowledged.live_use_acks] == [APPROVER]
    [event] = target.store.events(request_id=request.id, kinds=[EventKind.LIVE_USE_ACKNOWLEDGED])
    assert event.actor == APPROVER and event.data["subjects"] == ["videos.youtube_id"]
    assert event.data["findings"] == ["column_dropped:v2:videos.youtube_id"]
    assert service.approve(request.id, approver=APPROVER).request.state is RequestState.APPROVED


def test_there_is_nothing_to_acknowledge_without_live_use(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    target = app_target(tmp_path, pgss_db, INDEX_TITLE)
    request = target_proposal(target).request
    with pytest.raises(NothingToAcknowledgeError):
        target.requests.acknowledge_live_use(request.id, actor=APPROVER)
    assert target.requests.approve(request.id, approver=APPROVER).request.state is (
        RequestState.APPROVED
    )


@pytest.fixture
def configured(
    pgss_db: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PipelineTarget]:
    target = app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID)
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "migrate-bot.toml"))
    monkeypatch.chdir(tmp_path)
    yield target


def test_the_check_command_prints_the_same_findings(
    configured: PipelineTarget, pgss_db: DatabaseUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    run_app(pgss_db, {READS: 12})
    assert main(["check", "app"]) == ExitCode.OK
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("WARN  live_use"))
    assert "the application still uses `videos.youtube_id` (12 calls)" in line
    assert "warn  `videos.youtube_id` is dropped by `v2`, but the application ran 1" in out
    assert "12 calls  SELECT v.youtube_id, v.title FROM videos v WHERE v.id = $1" in out


def test_a_bot_role_without_pg_read_all_stats_is_told_what_it_cannot_see(
    pgss_db: DatabaseUrl, tmp_path: Path
) -> None:
    app_target(tmp_path, pgss_db, DROP_YOUTUBE_ID)
    with connect(pgss_db) as conn:
        conn.execute("DROP ROLE IF EXISTS live_use_bot")
        conn.execute("CREATE ROLE live_use_bot LOGIN")  # the embedded server trusts local logins
        conn.execute("GRANT SELECT ON videos, alembic_version TO live_use_bot")
    run_app(pgss_db, {READS: 3})  # as postgres: hidden from the bot's role
    bot_url = dataclasses.replace(pgss_db, username="live_use_bot")
    plain = pipeline_target(tmp_path / "bot", bot_url, [VIDEOS, DROP_YOUTUBE_ID], QUICK)
    _, result = live_use(plain)
    assert result.verdict is Verdict.PASS and result.data["hidden"] >= 1
    assert any("GRANT pg_read_all_stats TO live_use_bot" in d for d in result.details)
