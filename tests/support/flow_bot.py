"""The bot of the in-process flow tests: the runtime and the real Bolt app behind real
HTTP, talking to the local Slack-compatible server, on real databases.

``flow_bot`` is what ``serve`` starts, wired for a test: one database per
target (their URLs in an environment of the test's own), the test's clock
(the scheduler's included), the test's workspace, and everything torn down
and dropped afterwards. Each flow module builds its own config.
"""

from __future__ import annotations

import dataclasses
import os
from collections import ChainMap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from audit.store import Clock, utc_now
from bot.adapters.http_mode import http_app
from bot.adapters.server_thread import ServerThread
from bot.adapters.slack_settings import SlackSettings
from bot.app import build_app
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.runtime import BotRuntime, start_runtime
from bot.slack_api.replies import web_client
from commands.config.targets_file import Config, TargetConfig
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.targets import TargetHandle, TargetOpener, open_target
from tests.support.databases import create_database, drop_database
from tests.support.slack_requests import SlackSender

TOKEN = "xoxb-flow-0000-bot-token"
SECRET = "flow-signing-secret-0123456789"


def target_environ(databases: dict[str, DatabaseUrl]) -> dict[str, str]:
    """``NAME_DATABASE_URL`` for each target, as the flow configs name them."""
    return {f"{name.upper()}_DATABASE_URL": db.text() for name, db in databases.items()}


@dataclass
class FlowBot:
    """What a flow test talks to: Slack's side (``sender``, ``slack``) and the bot's."""

    sender: SlackSender
    slack: LocalSlackServer
    runtime: BotRuntime
    config: Config
    open: TargetOpener
    url: str  # the bot's HTTP server: /slack/events, /health, /metrics

    def request(self, request_id: str) -> Request:
        return self.runtime.requests.get(request_id)

    def runtime_beside(self, state: Path, *, clock: Clock = utc_now) -> BotRuntime:
        """A second bot process's runtime: this config, Slack and databases, but a state
        file of its own (stop it with ``shutdown``)."""
        own = dataclasses.replace(self.config.bot, state_path=state)
        client = web_client(TOKEN, self.slack.api_url)
        return start_runtime(
            dataclasses.replace(self.config, bot=own),
            client,
            open_target=self.open,
            clock=clock,
            min_update_interval=0.2,
        )


@contextmanager
def flow_bot(
    pg_server: DatabaseUrl,
    config: Config,
    targets: Iterable[str],
    workspace: Workspace,
    *,
    clock: Clock = utc_now,
) -> Iterator[FlowBot]:
    """A running bot on ``config``, with a fresh database for each of ``targets``."""
    databases = {name: create_database(pg_server, name) for name in targets}
    # the process's own environment behind the targets' URLs: a fleet's members are read
    # from a variable the test sets there
    environ = ChainMap(target_environ(databases), os.environ)

    def opener(target: TargetConfig) -> TargetHandle:
        return open_target(target, environ)

    try:
        with LocalSlackServer(workspace, bot_token=TOKEN) as slack:
            settings = SlackSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=slack.api_url)
            client = web_client(TOKEN, slack.api_url)
            runtime = start_runtime(
                config, client, open_target=opener, clock=clock, min_update_interval=0.2
            )
            try:
                app = build_app(
                    settings,
                    config=config,
                    work_pool=runtime.work_pool,
                    flow=runtime.flow,
                    client=client,
                    open_target=opener,
                )
                served = http_app(
                    app, signing_secret=SECRET, health=runtime.health, metrics=runtime.metrics
                )
                with ServerThread(served) as server:
                    sender = SlackSender(server.url, SECRET, slack.interaction_ids)
                    yield FlowBot(sender, slack, runtime, config, opener, server.url)
            finally:
                runtime.shutdown()
    finally:
        for database in databases.values():
            drop_database(pg_server, database)
