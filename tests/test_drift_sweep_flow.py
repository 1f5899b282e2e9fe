"""The daily drift sweep end to end, on a clock the test moves: the runtime's real
APScheduler fires it at the target's drift_schedule, the result is in the audit log, and
the ops channel (the local Slack server) hears of each change once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.local_slack.workspace import Workspace
from commands.config.targets_file import Config, parse_config
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from tests.support.alembic_projects import table, write_project
from tests.support.checks_support import upgrade
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import ALICE, BOB, OPS, home_of, text_of, top_level
from tests.support.polling import wait_for
from tests.support.scheduler_clock import MovableClock, apscheduler_reads

BEFORE_SIX = datetime(2026, 12, 2, 5, 30, tzinfo=UTC)
LINE = "index `ix_stray` exists in the database but not in the history"


def sweep_config(tmp: Path) -> Config:
    project = write_project(tmp / "app", [table("accounts"), table("invoices", ("accounts",))])
    text = (
        f'[bot]\nstate_path = "state.sqlite3"\nops_channel = "{OPS}"\n\n'
        '[targets.app]\ndatabase_url_env = "APP_DATABASE_URL"\n'
        f'script_location = "{project.as_posix()}"\napprovers = ["U0BOB"]\n'
        'drift_schedule = "daily 06:00 UTC"\n'
    )
    return parse_config(text, source="sweep.toml", base=tmp)


@pytest.fixture
def bot(pg_server: DatabaseUrl, tmp_path: Path) -> Iterator[tuple[FlowBot, MovableClock]]:
    config = sweep_config(tmp_path)
    clock = MovableClock(BEFORE_SIX)
    workspace = Workspace(users={ALICE: "alice", BOB: "bob"})
    with (
        apscheduler_reads(clock),
        flow_bot(pg_server, config, ("app",), workspace, clock=clock) as parts,
    ):
        yield parts, clock


def sweep_on(bot: FlowBot, clock: MovableClock, day: int) -> None:
    """Six o'clock on the ``day``-th day after the start, and wait for the check's record."""
    before = len(bot.runtime.store.events(kinds=[EventKind.DRIFT_CHECKED]))
    clock.jump_to(BEFORE_SIX.replace(hour=6, minute=0, second=5) + timedelta(days=day))
    scheduler = bot.runtime.scheduling.scheduler
    assert scheduler is not None
    scheduler.wakeup()
    wait_for(
        lambda: len(bot.runtime.store.events(kinds=[EventKind.DRIFT_CHECKED])) > before,
        timeout=120,
        what="the drift sweep",
    )


def ops_drift(bot: FlowBot) -> list[str]:
    return [text_of(m) for m in top_level(bot, OPS) if "Schema drift" in m.text]


def test_the_sweep_tells_ops_of_each_change_once(bot: tuple[FlowBot, MovableClock]) -> None:
    flow, clock = bot
    handle = flow.open(flow.config.target("app"))
    upgrade(handle)
    sweep_on(flow, clock, 0)  # the first check finds it OK: nothing to tell
    assert ops_drift(flow) == []
    with connect(handle.database) as conn:
        conn.execute("CREATE INDEX ix_stray ON accounts (id)")  # by hand, outside the bot
    sweep_on(flow, clock, 1)
    told = wait_for(lambda: ops_drift(flow), what="the ops channel")
    assert len(told) == 1 and "Schema drift on app: DRIFTED: 1 difference" in told[0]
    assert LINE in told[0] and "(was ok since" in told[0]
    home = json.dumps(home_of(flow, ALICE), ensure_ascii=False)
    assert "⚠️ `app` DRIFTED (1 difference) since 03 Dec 06:00 UTC" in home
    sweep_on(flow, clock, 2)  # the same drift: recorded, not told again
    last = flow.runtime.store.events(kinds=[EventKind.DRIFT_CHECKED])[-1]
    assert (last.data["state"], last.data["changed"]) == ("drifted", False)
    with connect(handle.database) as conn:
        conn.execute("DROP INDEX ix_stray")
    sweep_on(flow, clock, 3)
    told = wait_for(lambda: ops_drift(flow)[1:], what="the ops channel")
    assert len(ops_drift(flow)) == 2
    assert "Schema drift on app: OK: the schema matches the history at invoices" in told[0]
