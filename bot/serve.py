"""``migrate-bot serve``: the bot in HTTP mode, in Socket Mode, or (later) the sandbox.

The mode comes from the credentials (see ``slack_settings``) unless forced.
Every mode starts the same parts (``bot.runtime.start_runtime``: audit log,
requests, notifier, pipeline, recovery of interrupted runs) and gets the same
Bolt app from ``build_app``; only the transport differs. On SIGTERM or
SIGINT, running runs are aborted (their revision in flight rolled back) before
the process ends. ``RUNNERS`` is where the local sandbox slots in for
``Mode.NO_SLACK``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import build_app
from bot.http_mode import http_app
from bot.replies import web_client
from bot.runtime import BotRuntime, start_runtime
from bot.slack_settings import (
    APP_TOKEN_ENV,
    BOT_TOKEN_ENV,
    SIGNING_SECRET_ENV,
    Mode,
    SlackSettings,
    SlackSettingsError,
)
from commands.config import Config, load_config

log = logging.getLogger(__name__)

DEFAULT_PORT = 3000


@dataclass(frozen=True)
class ServeOptions:
    mode: Mode
    host: str
    port: int
    settings: SlackSettings
    config: Config


def serve(
    *,
    mode: Mode | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Run until stopped; raises ``SlackSettingsError`` or ``ConfigError`` at start."""
    settings = SlackSettings.from_env(environ)
    chosen = mode or settings.mode
    settings.require(chosen)
    options = ServeOptions(
        mode=chosen,
        host=host,
        port=port if port is not None else int(environ.get("PORT") or DEFAULT_PORT),
        settings=settings,
        config=load_config(environ),
    )
    RUNNERS[chosen](options)


@contextmanager
def running_bot(options: ServeOptions) -> Iterator[tuple[App, BotRuntime]]:
    """The runtime and the Bolt app on it; on the way out, runs are aborted and the
    notifier flushed, whatever ended the serving."""
    client = web_client(options.settings.bot_token, options.settings.api_url)
    runtime = start_runtime(options.config, client)
    try:
        app = build_app(
            options.settings,
            config=options.config,
            worker=runtime.worker,
            flow=runtime.flow,
            client=client,
        )
        yield app, runtime
    finally:
        log.info("stopping: aborting running runs, flushing notifications")
        runtime.shutdown()


def run_http(options: ServeOptions) -> None:
    with running_bot(options) as (app, runtime):
        asgi = http_app(app, health=lambda: health(options, runtime))
        log.info(
            "HTTP mode: Slack requests at http://%s:%d/slack/events", options.host, options.port
        )
        uvicorn.run(asgi, host=options.host, port=options.port, access_log=False, log_config=None)


def run_socket_mode(options: ServeOptions) -> None:
    # SIGTERM (a platform stopping the worker) ends the wait like Ctrl-C, so the
    # runtime's shutdown runs and a run in flight is aborted, not cut.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with running_bot(options) as (app, _runtime):
        log.info("Socket Mode: connecting to Slack")
        SocketModeHandler(app, options.settings.app_token, web_client=app.client).start()


def run_without_slack(_options: ServeOptions) -> None:
    raise SlackSettingsError(
        f"no Slack credentials: set ${APP_TOKEN_ENV} and ${BOT_TOKEN_ENV} for Socket Mode,"
        f" or ${SIGNING_SECRET_ENV} and ${BOT_TOKEN_ENV} for HTTP mode"
    )


def health(options: ServeOptions, runtime: BotRuntime) -> dict[str, Any]:
    return {
        "status": "ok",
        "mode": options.mode.value,
        "targets": sorted(options.config.targets),
        **runtime.health(),
    }


RUNNERS: dict[Mode, Callable[[ServeOptions], None]] = {
    Mode.HTTP: run_http,
    Mode.SOCKET: run_socket_mode,
    Mode.NO_SLACK: run_without_slack,
}
