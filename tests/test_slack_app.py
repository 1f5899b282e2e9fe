"""The real Bolt app over real HTTP, on signed requests, a real PostgreSQL and the
local Slack-compatible server: what users see, what is refused, what is sent once."""

from __future__ import annotations

import http.client
import json
import logging
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from bot.adapters.http_mode import http_app
from bot.adapters.server_thread import ServerThread
from bot.adapters.slack_settings import SlackSettings
from bot.app import build_app
from bot.listeners.context import CommandContext
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.views import limits
from bot.views.ids import ActionId
from bot.work_pool import ThreadWorkPool
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, TargetConfig, parse_config
from commands.migration.planning import status
from commands.postgres.database_url import DatabaseUrl
from commands.slash import grammar
from commands.targets import TargetHandle, open_target
from tests.support.databases import create_database, drop_database
from tests.support.polling import wait_for
from tests.support.slack_requests import SlackSender

TOKEN = "xoxb-test-0000-bot-token"
SECRET = "test-signing-secret-0123456789"


@dataclass
class Bot:
    sender: SlackSender
    slack: LocalSlackServer
    worker: ThreadWorkPool
    config: Config
    open: Callable[[TargetConfig], TargetHandle]


def bot_config(tmp: Path) -> Config:
    text = textwrap.dedent(
        f"""
        [targets.app]
        database_url_env = "APP_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]

        [targets.locked]
        database_url_env = "APP_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        allowed_channels = ["C0OPS"]

        [targets.broken]
        database_url_env = "NOT_SET_ANYWHERE"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        """
    )
    return parse_config(text, source="bot.toml", base=tmp)


def explode(_command: grammar.Backups, _ctx: CommandContext) -> None:
    raise RuntimeError("disk on fire, password=hunter2-secret")


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    database = create_database(pg_server, "slack")
    environ = {"APP_DATABASE_URL": database.text()}
    config = bot_config(tmp_path_factory.mktemp("bot"))
    workspace = Workspace(users={"U0ALICE": "alice", "U0BOB": "bob"})

    def opener(target: TargetConfig) -> TargetHandle:
        return open_target(target, environ)

    with LocalSlackServer(workspace, bot_token=TOKEN) as slack:
        settings = SlackSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=slack.api_url)
        worker = ThreadWorkPool()
        app = build_app(
            settings,
            config=config,
            work_pool=worker,
            open_target=opener,
            handlers={grammar.Backups: explode},
        )
        health = {"status": "ok", "pending": 0}
        with ServerThread(http_app(app, signing_secret=SECRET, health=lambda: health)) as server:
            sender = SlackSender(server.url, SECRET, slack.interaction_ids)
            yield Bot(sender, slack, worker, config, opener)
        worker.shutdown()
    drop_database(pg_server, database)


def ephemerals_to(bot: Bot, user: str, since: int) -> list[Any]:
    return [e for e in bot.slack.workspace.ephemerals[since:] if e.user == user]


def command(bot: Bot, text: str, *, user: str = "U0ALICE", channel: str = "C0DEV") -> Any:
    """Send ``/migrate text``; the ephemeral answer once the worker has sent it."""
    since = len(bot.slack.workspace.ephemerals)
    code, body = bot.sender.post(bot.sender.command_body(text, user=user, channel=channel))
    assert (code, body) == (200, "")
    return wait_for(lambda: ephemerals_to(bot, user, since))[0]


def test_status_answers_with_the_rendered_blocks(bot: Bot) -> None:
    answer = command(bot, "status app")
    expected = status(bot.open(bot.config.target("app")))
    assert limits.problems(answer.blocks) == []
    assert (
        answer.blocks[0]["text"]["text"] == f"app: ⏳ {len(expected.pending)} revision(s) pending"
    )
    text = json.dumps(answer.blocks)
    assert all(r.id in text for r in expected.pending)
    assert "hunter2" not in text and TOKEN not in text


def test_plan_then_view_sql_opens_a_modal_with_each_revision(bot: Bot) -> None:
    answer = command(bot, "plan app")
    (button,) = [e for b in answer.blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ActionId.VIEW_SQL and button["value"].startswith("P-")
    opened_before = len(bot.slack.calls("views.open"))
    code, _ = bot.sender.post(
        bot.sender.action_body(ActionId.VIEW_SQL, button["value"], user="U0ALICE", channel="C0DEV")
    )
    assert code == 200
    wait_for(lambda: len(bot.slack.calls("views.open")) > opened_before)
    view = bot.slack.calls("views.open")[-1].args["view"]
    assert limits.modal_problems(view) == []
    assert "CREATE TABLE IF NOT EXISTS jobs" in json.dumps(view)


@pytest.mark.parametrize(
    ("text", "channel", "expected"),
    [
        ("upgrad app", "C0DEV", "did you mean `upgrade`?"),
        ("status app; rm -rf /", "C0DEV", "too many words"),
        ("status nosuch", "C0DEV", "unknown target 'nosuch'"),
        ("status payload_store", "C0DEV", "unknown target 'payload_store'"),
        ("status locked", "C0DEV", "`locked` can only be asked for in <#C0OPS>"),
        ("upgrade app", "C0DEV", "`/migrate upgrade` is not available yet"),
    ],
)
def test_refusals_come_in_the_acknowledgement_and_nothing_else_happens(
    bot: Bot, text: str, channel: str, expected: str
) -> None:
    calls_before = len(bot.slack.calls())
    code, body = bot.sender.post(bot.sender.command_body(text, user="U0ALICE", channel=channel))
    answer = json.loads(body)
    assert code == 200 and answer["response_type"] == "ephemeral"
    assert expected in answer["text"]
    assert bot.worker.drain(30)
    assert len(bot.slack.calls()) == calls_before


def test_an_allowed_channel_gets_its_answer(bot: Bot) -> None:
    answer = command(bot, "status locked", channel="C0OPS")
    assert answer.blocks[0]["text"]["text"].startswith("locked:")


def test_our_errors_become_ephemeral_and_bugs_get_a_correlation_id(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    answer = command(bot, "status broken")
    assert "⚠️" in answer.text and "$NOT_SET_ANYWHERE" in answer.text
    with caplog.at_level(logging.ERROR, logger="migrate_bot.errors"):
        answer = command(bot, "backups app")
    ref = answer.text.split("(ref `")[1].split("`")[0]
    assert "Something went wrong" in answer.text and "hunter2" not in answer.text
    (record,) = [r for r in caplog.records if ref in r.getMessage()]
    assert "disk on fire" in record.getMessage() and "hunter2" not in record.getMessage()


@pytest.mark.parametrize("case", ["forged", "stale", "unsigned"])
def test_a_forged_or_stale_signature_gets_401_and_changes_nothing(bot: Bot, case: str) -> None:
    body = bot.sender.command_body("help", user="U0ALICE", channel="C0DEV")
    calls_before, ephemerals_before = len(bot.slack.calls()), len(bot.slack.workspace.ephemerals)
    if case == "forged":
        code, _ = bot.sender.post(body, secret="not-the-signing-secret")
    elif case == "stale":
        code, _ = bot.sender.post(body, timestamp=int(time.time()) - 600)
    else:
        code, _ = bot.sender.post(body, headers={"X-Slack-Signature": "v0=00"})
    assert code == 401
    assert bot.worker.drain(30)
    assert len(bot.slack.calls()) == calls_before
    assert len(bot.slack.workspace.ephemerals) == ephemerals_before


def test_a_slack_retry_acts_once(bot: Bot) -> None:
    body = bot.sender.command_body("help", user="U0BOB", channel="C0DEV")
    since = len(bot.slack.workspace.ephemerals)
    assert bot.sender.post(body)[0] == 200
    for attempt in ("1", "2"):
        retry = {"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"}
        assert bot.sender.post(body, headers=retry)[0] == 200
    assert bot.worker.drain(30)
    assert len(ephemerals_to(bot, "U0BOB", since)) == 1


def test_unknown_buttons_and_oversized_bodies_are_refused_quietly(bot: Bot) -> None:
    calls_before = len(bot.slack.calls())
    code, _ = bot.sender.post(
        bot.sender.action_body("launch_missiles", "x", user="U0BOB", channel="C0DEV")
    )
    assert code == 200
    assert declare_oversized_body(bot.sender.bot_url) == 413
    assert bot.worker.drain(30)
    assert len(bot.slack.calls()) == calls_before


def declare_oversized_body(url: str) -> int:
    """Announce a 2 MiB body and send none of it: the answer must come unread."""
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.putheader("Content-Length", str(2 * 1024 * 1024))
    connection.endheaders()
    try:
        return connection.getresponse().status
    finally:
        connection.close()


def test_help_and_targets(bot: Bot) -> None:
    assert limits.problems(command(bot, "help").blocks) == []
    text = json.dumps(command(bot, "targets").blocks)
    assert all(name in text for name in bot.config.targets)


def test_health(bot: Bot) -> None:
    with urllib.request.urlopen(f"{bot.sender.bot_url}/health", timeout=5) as answer:
        assert answer.status == 200 and json.load(answer)["status"] == "ok"
