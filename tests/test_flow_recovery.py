"""A bot that stops, or dies, with runs in flight: what it says and records.

Shutting down aborts the runs in flight (a second runtime, stopped while its
run sleeps). At start-up the bot finds runs it left: one it was running is
marked interrupted and announced; one whose outcome it recorded but never
announced is announced. Each once, however often the bot starts again.
The real runtime, Bolt app and local Slack server, on a real PostgreSQL.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.flows.asker import Asker
from bot.local_slack.workspace import Workspace
from commands.config.targets_file import Config, parse_config
from commands.migration.planning import status
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestKind, RequestState
from tests.support.alembic_projects import Rev, table, write_project
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    DEV,
    OPS,
    header,
    running_revision,
    text_of,
    top_level,
)
from tests.support.polling import wait_for

Bot = FlowBot
RUN_TIMEOUT = 240


def recovery_config(tmp: Path) -> Config:
    halted = write_project(tmp / "halted", [table("t_one"), table("t_two", ("t_one",))])
    slow = write_project(
        tmp / "slow", [Rev("s_one", (), ("SELECT pg_sleep(120)",), ("SELECT 1",), "sleeps")]
    )
    text = f'[bot]\nstate_path = "state.sqlite3"\nops_channel = "{OPS}"\n'
    for name, project in (("halted", halted), ("slow", slow)):
        text += textwrap.dedent(
            f"""
            [targets.{name}]
            database_url_env = "{name.upper()}_DATABASE_URL"
            script_location = "{project.as_posix()}"
            checklist = []
            approvers = ["{BOB}"]
            backup = "file://backups"
            """
        )
    return parse_config(text, source="recovery.toml", base=tmp)


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    config = recovery_config(tmp_path_factory.mktemp("recovery"))
    workspace = Workspace(users={ALICE: "alice", BOB: "bob"})
    with flow_bot(pg_server, config, ("halted", "slow"), workspace) as bot:
        yield bot


def started_run(bot: Bot, key: str) -> str:
    """An upgrade of ``halted`` asked, approved and recorded as started, as a run the
    bot was in when it died (nothing runs it); its id."""
    proposal = bot.runtime.flow.asking.ask(
        Asker(ALICE, DEV, key), kind=RequestKind.UPGRADE, target="halted", goal=None
    )
    request_id = proposal.request.id
    bot.runtime.requests.approve(request_id, approver=BOB)
    bot.runtime.requests.start_run(
        request_id, actor="migrate-bot", fingerprint_now=proposal.request.fingerprint
    )
    return request_id


def test_a_run_that_died_with_the_bot_is_announced_once(bot: Bot) -> None:
    flow = bot.runtime.flow.runs
    request_id = started_run(bot, "halted-1")
    found = flow.recover()  # as at start-up: the run's lock is free, nobody runs it
    assert [run.request.id for run in found] == [request_id]
    assert flow.recover() == []
    flow.messages.announce_interrupted(found[0])  # announcing again changes nothing
    assert bot.runtime.notifier.flush(30)
    announced = [m for m in top_level(bot, OPS) if request_id in m.text and "interrupted" in m.text]
    assert len(announced) == 1
    assert bot.request(request_id).state is RequestState.INTERRUPTED
    message = wait_for(
        lambda: [m for m in top_level(bot, DEV) if header(m).startswith(request_id)]
    )[0]
    wait_for(lambda: "Interrupted" in text_of(message))


def test_a_run_that_ended_as_the_bot_died_is_announced_at_restart_once(bot: Bot) -> None:
    """The outcome recorded, the bot killed before it queued the announcement: the
    next start finds the run in the log and tells the ops channel, once."""
    flow = bot.runtime.flow.runs
    request_id = started_run(bot, "unannounced-1")
    bot.runtime.requests.finish_run(
        request_id, actor="migrate-bot", outcome=RequestState.FAILED, reason="b_two failed"
    )  # what the pipeline records; its announcement never happened
    assert flow.messages.outcome_owed(request_id)
    flow.recover()
    flow.recover()  # a second restart says nothing more
    assert bot.runtime.notifier.flush(30)
    announced = [m for m in top_level(bot, OPS) if request_id in m.text]
    assert len(announced) == 1 and "b_two failed" in json.dumps(announced[0].blocks)
    assert not flow.messages.outcome_owed(request_id)


def test_shutting_down_aborts_the_runs_in_flight(bot: Bot, tmp_path: Path) -> None:
    """A second bot process on its own state file, stopped while its run sleeps."""
    other = bot.runtime_beside(tmp_path / "other.sqlite3")
    try:
        asker = Asker(ALICE, DEV, "shutdown-1")
        request = other.flow.asking.ask(
            asker, kind=RequestKind.UPGRADE, target="slow", goal=None
        ).request
        assert "starting" in other.flow.approve(request.id, user=BOB, fingerprint_seen=None)
        wait_for(
            lambda: running_revision(other.requests.get(request.id), "s_one"), timeout=RUN_TIMEOUT
        )
    finally:
        other.shutdown()
    stopped = other.requests.get(request.id)
    assert stopped.state is RequestState.ABORTED and "stopped" in stopped.closure.reason
    assert status(bot.open(bot.config.target("slow"))).current == ()
