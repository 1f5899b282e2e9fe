"""Changes and backfills from Slack, end to end: the real Bolt app on signed requests, the
runtime ``serve`` starts, the local Slack-compatible server, a PostgreSQL with
pg_stat_statements, a real streaming replica of it, and the application as a real
process replaced at each deploy.

The rename pattern through its card: each phase asked, approved, confirmed or
checked from it; the contract cannot be asked, and an ordinary upgrade stops
before it, while the application still reads the old column; both go on once it
has been quiet long enough (seconds here). A backfill of its own holds while
the replica's replay is paused, says so in its thread, and goes on when replay
resumes.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette

from bot.adapters.deploy_confirm import CONFIRM_PATH, deploy_routes
from bot.adapters.server_thread import ServerThread
from bot.flows.asker import Asker
from bot.local_slack.workspace import Message, Workspace
from bot.views import limits
from bot.views.ids import ActionId
from bot.views.live_use import ACK_VALUE
from commands.config.targets_file import parse_config
from commands.demo.data import fill_demo_data
from commands.errors import ConfigError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.replica_lag import replica_lag
from commands.state.audit_reading import verify
from commands.state.vocabulary import RequestState
from tests.support.changes import app_toml, application, write_demo_change
from tests.support.checks_support import upgrade, url_text
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    CAROL,
    DEV,
    ask,
    click,
    command,
    elements,
    ephemeral_after,
    header,
    home_of,
    text_of,
    thread_text,
    top_level,
)
from tests.support.polling import wait_for
from tests.support.replica import on_replica, replay_paused, wait_until_caught_up

BEFORE, CONTRACT = "b41e9d3a5c32", "4f1c7a9e2b87"
FIRST_HELD = "5a7c1e3f0b54"
RUN_TIMEOUT = 240


@pytest.fixture
def bot(
    pgss_server: DatabaseUrl,
    pgss_replica: DatabaseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FlowBot]:
    write_demo_change(tmp_path, "3s")
    extra = """
        replica_url_env = "APP_REPLICA_URL"
        [targets.app.backfills.copy-ids]
        table = "videos"
        key = "id"
        set = "youtube_video_id = youtube_id"
        where = "youtube_video_id IS NULL AND youtube_id IS NOT NULL"
        batch_size = 50
        max_replica_lag = "300ms"
        """
    config = parse_config(app_toml("APP_DATABASE_URL", extra), source="changes.toml", base=tmp_path)
    workspace = Workspace(users={ALICE: "alice", BOB: "bob", CAROL: "carol"})
    with flow_bot(pgss_server, config, ["app"], workspace) as running:
        database = running.open(config.target("app")).database
        monkeypatch.setenv("APP_REPLICA_URL", url_text(on_replica(pgss_replica, database)))
        upgrade(running.open(config.target("app")), BEFORE)
        fill_demo_data(database, rows=4000)
        with connect(database) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        yield running


def _card(bot: FlowBot) -> Message:
    return wait_for(lambda: next((m for m in top_level(bot, DEV) if "(C-1)" in header(m)), None))


def _card_says(bot: FlowBot, text: str) -> Message:
    return wait_for(
        lambda: (card := _card(bot)) and text in header(card) and card, timeout=RUN_TIMEOUT
    )


def _answer(bot: FlowBot, message: Message, action: ActionId, user: str) -> str:
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, action, user=user) == 200
    return ephemeral_after(bot, user, since)


def _approve(bot: FlowBot, request_id: str) -> None:
    message = wait_for(
        lambda: next((m for m in top_level(bot, DEV) if header(m).startswith(request_id)), None)
    )
    if ActionId.LIVE_USE_ACK in elements(message):  # the evidence of the old column's use
        since = len(bot.slack.workspace.ephemerals)
        assert click(bot, message, ActionId.LIVE_USE_ACK, user=BOB, selected=[ACK_VALUE]) == 200
        assert "You acknowledged" in ephemeral_after(bot, BOB, since)
    assert "You approved" in _answer(bot, message, ActionId.APPROVE, BOB)
    wait_for(lambda: bot.request(request_id).state.is_final, timeout=RUN_TIMEOUT)
    assert bot.request(request_id).state is RequestState.SUCCEEDED


def test_the_rename_pattern_from_its_phase_card(bot: FlowBot) -> None:
    database = bot.open(bot.config.target("app")).database
    with application(database, "videos-old"):
        answer = command(bot, "change start app rename-youtube-id")
        assert "You started C-1" in answer.text
        card = _card_says(bot, "phase 1 of 6, add-column")
        assert limits.problems(card.blocks) == [] and ActionId.CHANGE_ASK in elements(card)
        home = json.dumps(home_of(bot, BOB), ensure_ascii=False)
        assert "rename-youtube-id on app (C-1): phase 1 of 6" in home
        # an ordinary upgrade stops before the change's later revisions, and says why
        ordinary, ordinary_id = ask(bot, "upgrade app", user=CAROL)
        assert f"the upgrade stops before {FIRST_HELD} belongs to phase 6" in text_of(ordinary)
        command(bot, f"cancel {ordinary_id}", user=CAROL)

        asked = _answer(bot, card, ActionId.CHANGE_ASK, ALICE)
        request_id = asked.split(": ")[1].split(",")[0]
        _approve(bot, request_id)
        card = _card_says(bot, "phase 2 of 6, write-both")
        assert "Phase 1 (add-column) is done" in thread_text(bot, card)

    with application(database, "videos-both"):  # deployed: writes both columns
        assert "You confirmed" in _answer(bot, card, ActionId.CHANGE_CONFIRM, ALICE)
        card = _card_says(bot, "phase 3 of 6, copy")
        assert "confirmed by <@U0ALICE> through slack" in text_of(card)
        _answer(bot, card, ActionId.CHANGE_ASK, ALICE)
        backfill = wait_for(lambda: _in_thread(bot, card, "Backfill copy on app (B-1)"))
        assert "rows to do" in text_of(backfill) and limits.problems(backfill.blocks) == []
        assert "You approved B-1" in _answer(bot, backfill, ActionId.BACKFILL_APPROVE, BOB)
        card = _card_says(bot, "phase 4 of 6, read-new")
        assert "B-1 is done" in thread_text(bot, card)
        # confirmed while this version, which still reads youtube_id, is out
        _answer(bot, card, ActionId.CHANGE_CONFIRM, ALICE)
        card = _card_says(bot, "phase 5 of 6, old-column-unused")
        not_yet = wait_for(
            lambda: (
                "last used between" in (said := _answer(bot, card, ActionId.CHANGE_CHECK, ALICE))
                and said
            ),
            timeout=60,
        )
        assert not_yet.startswith("Not yet: nothing reads or writes videos.youtube_id for 3.0 s")
        refused, refused_id = ask(bot, f"upgrade app to {CONTRACT}", user=CAROL)
        assert "waits for phase 5 (old-column-unused, gate)" in text_of(refused)
        preflight = bot.request(refused_id).preflight
        assert preflight is not None and not preflight.passed  # no approval can count

    with application(database, "videos-new"):  # deployed: the new column only
        wait_for(
            lambda: "holds" in _answer(bot, card, ActionId.CHANGE_CHECK, ALICE),
            timeout=60,
            what="three quiet seconds",
        )
        card = _card_says(bot, "phase 6 of 6, drop-old")
        asked = _answer(bot, card, ActionId.CHANGE_ASK, ALICE)
        _approve(bot, asked.split(": ")[1].split(",")[0])
        card = _card_says(bot, ": finished")
    assert "rename-youtube-id is finished" in thread_text(bot, card)
    assert verify(bot.runtime.store).ok


def _in_thread(bot: FlowBot, parent: Message, heading: str) -> Message | None:
    from tests.support.flow_messages import replies

    return next((m for m in replies(bot, parent) if header(m).startswith(heading)), None)


def test_a_backfill_holds_while_the_replicas_replay_is_paused_and_says_so(
    bot: FlowBot, pgss_replica: DatabaseUrl
) -> None:
    handle = bot.open(bot.config.target("app"))
    upgrade(handle, "0e8f2a6b9d43")  # youtube_video_id exists
    database = handle.database
    standby = on_replica(pgss_replica, database)
    wait_until_caught_up(database, standby)
    answer = command(bot, "backfill app copy-ids")
    assert "You asked for B-1" in answer.text
    message = wait_for(lambda: next((m for m in top_level(bot, DEV) if "(B-1)" in header(m)), None))
    with replay_paused(standby):
        # the application writes on while replay is paused: the replica falls behind
        # before the backfill's first batch, however few rows it has to do
        with connect(database) as conn:
            conn.execute("CREATE TABLE application_writes AS SELECT now() AS at")
        wait_for(lambda: _replay_delay(database, standby) > 0.3, what="the replica to lag")
        _answer(bot, message, ActionId.BACKFILL_APPROVE, BOB)
        thread = wait_for(
            lambda: "B-1 holds" in (t := thread_text(bot, message)) and t, what="the hold said"
        )
        assert "the replica's replay is" in thread and "max_replica_lag 300 ms" in thread
        wait_for(lambda: "holding" in header(_refreshed(bot, message)), what="the header")
    wait_for(lambda: "B-1 is done" in thread_text(bot, message), timeout=RUN_TIMEOUT)
    assert "B-1 goes on" in thread_text(bot, message)


def _replay_delay(primary: DatabaseUrl, standby: DatabaseUrl) -> float:
    with connect(primary) as conn, connect(standby) as replica:
        return replica_lag(conn, replica).delay_s or 0.0


def _refreshed(bot: FlowBot, message: Message) -> Message:
    return next(m for m in top_level(bot, DEV) if m.ts == message.ts)


def _post(url: str, fields: dict[str, str], token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + CONFIRM_PATH,
        data=urlencode(fields).encode(),
        headers={"Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_the_deploy_pipeline_confirms_a_deploy_over_http_with_its_token(
    bot: FlowBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(bot.open(bot.config.target("app")), "0e8f2a6b9d43")  # phase 1 is done at start
    flow = bot.runtime.flow.changes
    assert flow is not None
    flow.start(Asker(ALICE, DEV), target="app", name="rename-youtube-id")
    _card_says(bot, "phase 2 of 6, write-both")
    monkeypatch.setenv("DEPLOY_TOKEN", "s3cret-" * 5)
    routes = deploy_routes("DEPLOY_TOKEN", flow.confirm_from_pipeline, os.environ)
    with ServerThread(Starlette(routes=routes)) as server:
        fields = {"change": "rename-youtube-id", "phase": "write-both", "by": "ci-1234"}
        assert _post(server.url, fields, "wrong")[0] == 401
        early = {**fields, "phase": "read-new"}
        status, said = _post(server.url, early, "s3cret-" * 5)
        assert status == 409 and "phase 2 (write-both) is not done" in said["error"]
        status, said = _post(server.url, fields, "s3cret-" * 5)
        assert status == 200 and "at phase 3 of 6 (copy)" in said["said"]
    card = _card_says(bot, "phase 3 of 6, copy")
    assert "confirmed by `deploy:ci-1234` through http" in text_of(card)
    with pytest.raises(ConfigError, match="at least 24 characters"):
        deploy_routes("NOT_SET_ANYWHERE", flow.confirm_from_pipeline, {})
