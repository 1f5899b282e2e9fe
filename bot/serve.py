"""``migrate-bot serve``: the bot in HTTP mode, in Socket Mode, or the local sandbox.

The mode comes from the credentials (see ``slack_settings``) unless forced.
Every mode starts the same parts (``start_bot``: the runtime of
``bot.runtime.start_runtime`` — audit log, requests, notifier, pipeline,
recovery of interrupted runs — and the Bolt app on it); only the transport
differs. With no credentials at all (``Mode.NO_SLACK``) it is the sandbox:
the bot, a local Slack and a page in the browser, on the built-in demo
target (``bot.sandbox``). On SIGTERM or SIGINT, running runs are aborted
(their revision in flight rolled back) before the process ends.
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

from bot.adapters.deploy_confirm import deploy_routes
from bot.adapters.http_mode import http_app
from bot.adapters.slack_settings import (
    APP_TOKEN_ENV,
    BOT_TOKEN_ENV,
    DEFAULT_PORT,
    LOOPBACK,
    SIGNING_SECRET_ENV,
    Mode,
    SlackSettings,
    SlackSettingsError,
)
from bot.adapters.socket_mode import AnsweringSocketModeHandler
from bot.metrics.exposition import MetricsServer
from bot.runtime import BotRuntime, RunningBot, start_bot
from bot.sandbox.people import default_people
from bot.sandbox.sandbox import serve_sandbox
from bot.sandbox.settings import SandboxSettings
from bot.start_up_heap import freeze_start_up_heap
from commands.config.targets_file import DEMO_SOURCE, Config, load_config

log = logging.getLogger(__name__)

ANY_ADDRESS = "0.0.0.0"  # HTTP mode: Slack must reach it


@dataclass(frozen=True)
class ServeOptions:
    mode: Mode
    host: str
    port: int
    settings: SlackSettings
    config: Config
    sandbox: SandboxSettings
    metrics_port: int | None = None


def serve(
    *,
    mode: Mode | None = None,
    host: str | None = None,
    port: int | None = None,
    sandbox: SandboxSettings | None = None,
    metrics_port: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Run until stopped; raises ``SlackSettingsError`` or ``ConfigError`` at start.

    With no credentials and no ``mode``, the sandbox runs only when no targets
    file is in use: a server that lost its Slack variables must not quietly
    serve a page that approves migrations of real targets.
    """
    settings = SlackSettings.from_env(environ)
    chosen = mode or settings.mode
    settings.require(chosen)
    config = load_config(environ)
    if mode is None and chosen is Mode.NO_SLACK and config.path != DEMO_SOURCE:
        raise SlackSettingsError(
            f"{_no_credentials()} ({config.path} is in use; `migrate-bot serve --mode"
            " sandbox` tries your targets in the browser sandbox instead)"
        )
    default_host = LOOPBACK if chosen is Mode.NO_SLACK else ANY_ADDRESS
    options = ServeOptions(
        mode=chosen,
        host=host or default_host,
        port=port if port is not None else int(environ.get("PORT") or DEFAULT_PORT),
        settings=settings,
        config=config,
        sandbox=sandbox or SandboxSettings(people=default_people()),
        metrics_port=metrics_port,
    )
    RUNNERS[chosen](options)


@contextmanager
def running_bot(options: ServeOptions) -> Iterator[RunningBot]:
    """``start_bot``; on the way out runs are aborted and the notifier flushed, whatever
    ended the serving."""
    bot = start_bot(options.settings, options.config)
    freeze_start_up_heap()  # no full collection of the start-up heap during an answer
    metrics = None
    try:
        if options.metrics_port is not None:
            metrics = MetricsServer(
                bot.runtime.metrics, host=options.host, port=options.metrics_port
            )
            log.info("Prometheus metrics at %s", metrics.url)
        yield bot
    finally:
        log.info("stopping: aborting running runs, flushing notifications")
        if metrics is not None:
            metrics.stop()
        bot.runtime.shutdown()


def run_http(options: ServeOptions) -> None:
    with running_bot(options) as bot:
        changes = bot.runtime.flow.changes
        asgi = http_app(
            bot.app,
            signing_secret=options.settings.signing_secret or "",
            health=lambda: health(options, bot.runtime),
            metrics=bot.runtime.metrics,
            routes=deploy_routes(
                options.config.bot.deploy_token_env,
                changes.confirm_from_pipeline if changes is not None else None,
                os.environ,
            ),
        )
        log.info(
            "HTTP mode: Slack requests at http://%s:%d/slack/events", options.host, options.port
        )
        uvicorn.run(asgi, host=options.host, port=options.port, access_log=False, log_config=None)


def run_socket_mode(options: ServeOptions) -> None:
    # SIGTERM (a platform stopping the worker) ends the wait like Ctrl-C, so the
    # runtime's shutdown runs and a run in flight is aborted, not cut.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with running_bot(options) as bot:
        log.info("Socket Mode: connecting to Slack")
        handler = AnsweringSocketModeHandler(
            bot.app, options.settings.app_token, web_client=bot.app.client
        )
        handler.start()  # type: ignore[no-untyped-call]  # slack_bolt leaves start() unannotated


def run_sandbox(options: ServeOptions) -> None:
    """The sandbox: on the built-in demo target, or on the targets file's targets (only when
    asked for with ``--mode sandbox``: ``serve`` refuses to fall back to it)."""
    serve_sandbox(
        config=options.config,
        settings=options.sandbox,
        build_bot=start_bot,
        host=options.host,
        port=options.port,
        echo=lambda line: print(line, flush=True),
        metrics_port=options.metrics_port,
    )


def _no_credentials() -> str:
    return (
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
    Mode.NO_SLACK: run_sandbox,
}
