"""Live use and the watch through Slack: the real Bolt app on signed requests, the local
Slack-compatible server, and a PostgreSQL that loads pg_stat_statements.

The application reads a column the plan drops and looks rows up by an index the
plan drops. The request shows the evidence (beside the checklist item too), the
approver reads it in a modal and must acknowledge it before approving; after the
run, the watch tells the ops channel of the slower lookups at once and posts its
summary in the request's thread.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.local_slack.workspace import Workspace
from bot.views import limits
from bot.views.ids import ActionId
from bot.views.live_use import ACK_VALUE
from commands.config.targets_file import Config, parse_config
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.statement_stats import start_statement_stats
from commands.state.vocabulary import ChecklistItem, EventKind, RequestState
from tests.support.alembic_projects import Rev, write_project
from tests.support.checks_support import upgrade
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    EVE,
    OPS,
    ask,
    click,
    ephemeral_after,
    text_of,
    thread_text,
    top_level,
)
from tests.support.polling import wait_for

BASE = Rev(
    "b1",
    up_sql=(
        "CREATE TABLE videos (id int PRIMARY KEY, youtube_id text, title text)",
        "INSERT INTO videos SELECT g, 'yt' || g, 'talk' FROM generate_series(1, 100) g",
        "CREATE TABLE items (id int PRIMARY KEY, k int NOT NULL, payload text)",
        "INSERT INTO items SELECT g, g % 4000, repeat('x', 40) FROM generate_series(1, 40000) g",
        "CREATE INDEX idx_items_k ON items (k)",
        "ANALYZE",
    ),
    down_sql=("DROP TABLE items", "DROP TABLE videos"),
    message="videos and items",
)
CLEANUP = Rev(
    "b2",
    down=("b1",),
    up_sql=("ALTER TABLE videos DROP COLUMN youtube_id", "DROP INDEX idx_items_k"),
    down_sql=(
        "CREATE INDEX idx_items_k ON items (k)",
        "ALTER TABLE videos ADD COLUMN youtube_id text",
    ),
    message="drop videos.youtube_id and an index",
)
READS = "SELECT title FROM videos WHERE youtube_id = %s"
LOOKUP = "SELECT payload FROM items WHERE k = %s"
WATCH_S = 20


def live_config(tmp: Path) -> Config:
    project = write_project(tmp / "project", [BASE, CLEANUP])
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "{OPS}"

        [targets.live]
        database_url_env = "LIVE_DATABASE_URL"
        script_location = "{project.as_posix()}"
        approvers = ["{BOB}"]
        checklist = ["app_compatible"]
        backup = "file://backups"
        live_use_window = "300ms"
        watch = "{WATCH_S}s"
        watch_min_calls = 10
        """
    )
    return parse_config(text, source="live.toml", base=tmp)


@pytest.fixture
def bot(pgss_server: DatabaseUrl, tmp_path: Path) -> Iterator[FlowBot]:
    workspace = Workspace(users={ALICE: "alice", BOB: "bob", EVE: "eve"})
    with flow_bot(pgss_server, live_config(tmp_path), ["live"], workspace) as bot:
        yield bot


def app(database: DatabaseUrl, times: int = 30) -> None:
    with connect(database) as conn:
        for n in range(times):
            conn.execute(READS, (f"yt{n}",))
            conn.execute(LOOKUP, (n * 7,))


def test_the_approver_sees_and_acknowledges_live_use_and_the_watch_reports_the_slowdown(
    bot: FlowBot,
) -> None:
    handle = bot.open(bot.config.target("live"))
    upgrade(handle, "b1")
    with connect(handle.database) as conn:
        start_statement_stats(conn)
    app(handle.database)

    message, request_id = ask(bot, "upgrade live")
    assert limits.problems(message.blocks) == []
    text = text_of(message)
    assert "`videos.youtube_id` is dropped by `b2`, but the application ran 1 statement" in text
    assert "SELECT title FROM videos WHERE youtube_id = $1" in text
    checklist = next(b for b in message.blocks if b.get("block_id", "").startswith("checklist:"))
    [option] = checklist["elements"][0]["options"]
    assert "still used: `videos.youtube_id`, 30 calls" in option["description"]["text"]
    assert click(bot, message, ActionId.CHECKLIST, user=ALICE, selected=["app_compatible"]) == 200
    wait_for(lambda: bot.request(request_id).tick_of(ChecklistItem.APP_COMPATIBLE))

    for user, refusal in ((ALICE, "so you cannot acknowledge it"), (EVE, "is not one")):
        since = len(bot.slack.workspace.ephemerals)
        assert click(bot, message, ActionId.LIVE_USE_ACK, user=user, selected=[ACK_VALUE]) == 200
        assert refusal in ephemeral_after(bot, user, since)
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    assert "the application still uses `videos.youtube_id`" in ephemeral_after(bot, BOB, since)

    opened = len(bot.slack.calls("views.open"))
    assert click(bot, message, ActionId.VIEW_LIVE_USE, user=BOB) == 200
    modal = wait_for(lambda: bot.slack.calls("views.open")[opened:])[0].args["view"]
    assert modal["title"]["text"] == f"Live use: {request_id}"
    assert limits.modal_problems(modal) == []
    assert "SELECT title FROM videos WHERE youtube_id = $1" in str(modal["blocks"])

    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.LIVE_USE_ACK, user=BOB, selected=[ACK_VALUE]) == 200
    assert "You acknowledged the live use" in ephemeral_after(bot, BOB, since)
    wait_for(lambda: "acknowledged by" in text_of(message))
    acks = bot.runtime.store.events(request_id=request_id, kinds=[EventKind.LIVE_USE_ACKNOWLEDGED])
    assert [e.actor for e in acks] == [BOB]

    app(handle.database)  # "before the run": from the request's pre-flight to the run's start
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    assert "the run is starting" in ephemeral_after(bot, BOB, since)
    wait_for(lambda: bot.request(request_id).state is RequestState.SUCCEEDED, timeout=240)
    store = bot.runtime.store
    wait_for(lambda: store.events(request_id=request_id, kinds=[EventKind.WATCH_STARTED]))
    with connect(handle.database) as conn:  # after: the lookups, without their index
        for n in range(30):
            conn.execute(LOOKUP, (n * 7,))

    alert = wait_for(
        lambda: [m for m in top_level(bot, OPS) if "during its watch" in m.text], WATCH_S + 30
    )
    assert f"{request_id} on live" in alert[0].text and "statement(s) slower" in alert[0].text
    thread = wait_for(
        lambda: "ended" in (t := thread_text(bot, message)) and t, timeout=WATCH_S + 30
    )
    assert f"Watching live for {WATCH_S}.0 s" in thread
    assert (
        "SELECT payload FROM items WHERE k = $1" in thread and "30 calls before, 30 after" in thread
    )
    assert "sequential scan(s) after, none before" in thread
    assert bot.request(request_id).state is RequestState.SUCCEEDED
