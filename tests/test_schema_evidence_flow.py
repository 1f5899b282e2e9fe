"""Schema evidence on a request in Slack, end to end: the real Bolt app on signed requests,
the local Slack server, a real PostgreSQL. A hand-made index is drift the request shows
(**View drift**); after the run, **Schema changes** shows what the run did."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.local_slack.workspace import Workspace
from bot.views.ids import ActionId
from commands.config.targets_file import Config, parse_config
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.alembic_projects import Rev, table, write_project
from tests.support.checks_support import upgrade
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    DEV,
    OPS,
    ask,
    click,
    elements,
    opened_modal,
    top_level,
)
from tests.support.polling import wait_for

INVOICES = Rev(
    id="invoices",
    down=("accounts",),
    up_sql=("CREATE TABLE invoices (id int PRIMARY KEY, total numeric)",),
    down_sql=("DROP TABLE invoices",),
)


def evidence_config(tmp: Path) -> Config:
    project = write_project(tmp / "project", [table("accounts"), INVOICES])
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "{OPS}"

        [targets.ev]
        database_url_env = "EV_DATABASE_URL"
        script_location = "{project.as_posix()}"
        approvers = ["{BOB}"]
        checklist = []
        backup = "file://backups"
        """
    )
    return parse_config(text, source="evidence.toml", base=tmp)


@pytest.fixture
def bot(pg_server: DatabaseUrl, tmp_path: Path) -> Iterator[FlowBot]:
    workspace = Workspace(users={ALICE: "alice", BOB: "bob"})
    with flow_bot(pg_server, evidence_config(tmp_path), ["ev"], workspace) as bot:
        yield bot


def test_view_drift_before_approval_and_schema_changes_after_the_run(bot: FlowBot) -> None:
    handle = bot.open(bot.config.target("ev"))
    upgrade(handle, "accounts")
    with connect(handle.database) as conn:
        conn.execute("CREATE INDEX ix_stray ON accounts (id)")  # by hand, during an incident

    message, request_id = ask(bot, "upgrade ev")
    assert "DRIFTED: 1 difference from the history at accounts" in str(message.blocks)
    drift = opened_modal(bot, message, ActionId.VIEW_DRIFT, user=BOB)
    assert drift["title"]["text"] == f"Drift: {request_id}"
    shown = str(drift["blocks"])
    assert "index `ix_stray` exists in the database but not in the history" in shown
    assert "DROP INDEX public.ix_stray;" in shown

    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    wait_for(lambda: bot.request(request_id).state is RequestState.SUCCEEDED, timeout=240)
    done = wait_for(
        lambda: next(
            (m for m in top_level(bot, DEV) if ActionId.VIEW_SCHEMA_CHANGES in elements(m)), None
        )
    )
    changes = opened_modal(bot, done, ActionId.VIEW_SCHEMA_CHANGES, user=ALICE)
    assert changes["title"]["text"] == f"Schema: {request_id}"
    assert changes["private_metadata"] == request_id
    shown = str(changes["blocks"])
    assert f"{request_id}: 1 table added" in shown and "+ table `invoices`" in shown
    assert "+table invoices · exists: yes" in shown
    announced = wait_for(
        lambda: [m for m in top_level(bot, OPS) if request_id in m.text and "succeeded" in m.text]
    )
    assert "*Schema*\\n1 table added" in str(announced[0].blocks)
