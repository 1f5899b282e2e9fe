"""``migrate-bot serve``: the bot in HTTP mode, in Socket Mode, or (later) the sandbox.

The mode comes from the credentials (see ``slack_settings``) unless forced.
Every mode gets the same Bolt app from ``build_app``; only the transport
differs. ``RUNNERS`` is where the local sandbox slots in for ``Mode.NO_SLACK``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import build_app
from bot.http_mode import http_app
from bot.slack_settings import (
    APP_TOKEN_ENV,
    BOT_TOKEN_ENV,
    SIGNING_SECRET_ENV,
    Mode,
    SlackSettings,
    SlackSettingsError,
)
from bot.worker import ThreadWorker
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


def run_http(options: ServeOptions) -> None:
    worker = ThreadWorker()
    app = build_app(options.settings, config=options.config, worker=worker)
    asgi = http_app(app, health=lambda: health(options, worker))
    log.info("HTTP mode: Slack requests at http://%s:%d/slack/events", options.host, options.port)
    try:
        uvicorn.run(asgi, host=options.host, port=options.port, access_log=False, log_config=None)
    finally:
        worker.shutdown(wait=False)


def run_socket_mode(options: ServeOptions) -> None:
    worker = ThreadWorker()
    app = build_app(options.settings, config=options.config, worker=worker)
    log.info("Socket Mode: connecting to Slack")
    try:
        SocketModeHandler(app, options.settings.app_token, web_client=app.client).start()
    finally:
        worker.shutdown(wait=False)


def run_without_slack(_options: ServeOptions) -> None:
    raise SlackSettingsError(
        f"no Slack credentials: set ${APP_TOKEN_ENV} and ${BOT_TOKEN_ENV} for Socket Mode,"
        f" or ${SIGNING_SECRET_ENV} and ${BOT_TOKEN_ENV} for HTTP mode"
    )


def health(options: ServeOptions, worker: ThreadWorker) -> dict[str, Any]:
    return {
        "status": "ok",
        "mode": options.mode.value,
        "targets": sorted(options.config.targets),
        "worker": {"pending": worker.pending, "failed": worker.failed},
    }


RUNNERS: dict[Mode, Callable[[ServeOptions], None]] = {
    Mode.HTTP: run_http,
    Mode.SOCKET: run_socket_mode,
    Mode.NO_SLACK: run_without_slack,
}
