"""``migrate-bot worker``: the process that does a shared deployment's work.

A worker opens the shared state and starts a runtime in the ``WORKER`` role
(it delivers the outbox with the other workers, recovers its targets' dead
runs, stands by for the scheduler) and a Bolt app of its own, with no HTTP
server: a Slack request a front enqueued is replayed through it
(``app.dispatch`` in Socket Mode's shape, which checks no signature: the
front already did), so the listeners and flows are the very ones the
embedded bot runs. Its duplicate filter records each request's id in the
shared state first (a conditional insert), so a Slack retry that reached
another front, or one click given to two fronts, is acted on once. Then
procrastinate runs the jobs of its ``queues``, ``concurrency`` at a time,
and the stalled-job watch settles the runs of workers that died. SIGTERM
or SIGINT aborts the runs in progress (their revision in flight rolled
back), lets the jobs end and stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltRequest

from bot.adapters.slack_settings import BOT_TOKEN_ENV, SlackSettings, SlackSettingsError
from bot.app import build_app
from bot.metrics.exposition import MetricsServer
from bot.middleware import global_middleware
from bot.runtime import BotRuntime, Role, start_runtime
from bot.slack_api.replies import web_client
from bot.work_pool import InlineWorkPool
from commands.config.targets_file import DEFAULT_QUEUE, Config, load_config
from commands.errors import ConfigError
from commands.jobs.queue import job_app
from commands.jobs.stalled import HEARTBEAT_S, STALLED_AFTER_S, watch_stalled
from commands.state.seen_requests import SharedSeenRequests
from commands.state.shared import SharedState, shared_state
from commands.state.vocabulary import RequestState

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 60.0  # aborted runs roll back within seconds; then the worker stops anyway


@dataclass(frozen=True)
class WorkerOptions:
    queues: tuple[str, ...] = (DEFAULT_QUEUE,)
    concurrency: int = 4
    metrics_port: int | None = None


class WorkerHandlers:
    """What this process does for each task (``commands.jobs.tasks.JobHandlers``)."""

    def __init__(self, app: App, runtime: BotRuntime) -> None:
        self.app = app
        self.runtime = runtime

    def interaction(self, body: Mapping[str, Any]) -> None:
        self.app.dispatch(BoltRequest(body=dict(body), mode="socket_mode"))

    def run(
        self, request_id: str, target: str, *, until: datetime | None, cancel: threading.Event
    ) -> None:
        self.runtime.flow.runs.run_here(request_id, target, until=until, cancel=cancel)

    def settle_run(self, request_id: str, target: str) -> bool:
        """A stalled run's request: interrupted and announced here unless another worker
        did; ``True`` once it no longer runs."""
        self.runtime.flow.runs.recover({target})
        return self.runtime.requests.get(request_id).state is not RequestState.RUNNING


def run_worker(options: WorkerOptions, environ: Mapping[str, str] = os.environ) -> None:
    """Work until SIGTERM or SIGINT; raises ``ConfigError`` without a shared state and
    ``SlackSettingsError`` without a bot token (workers post to Slack)."""
    config = load_config(environ)
    if not config.bot.shared:
        raise ConfigError(
            config.path,
            "bot.state_url_env",
            "is not set: workers share their state with the fronts through PostgreSQL"
            " (without it, `migrate-bot serve` does the work itself)",
        )
    settings = SlackSettings.from_env(environ)
    if not settings.bot_token:
        raise SlackSettingsError(f"workers post to Slack: set ${BOT_TOKEN_ENV}")
    shared = shared_state(config.bot.state, environ)
    assert shared is not None
    client = web_client(settings.bot_token, settings.api_url)
    mine = [t.name for t in config.targets.values() if t.queue in options.queues]
    runtime = start_runtime(config, client, role=Role.WORKER, targets=mine)
    metrics = None
    try:
        if options.metrics_port is not None:
            metrics = MetricsServer(runtime.metrics, host="0.0.0.0", port=options.metrics_port)
            log.info("Prometheus metrics at %s", metrics.url)
        app = build_app(
            settings,
            config=config,
            work_pool=InlineWorkPool(),
            flow=runtime.flow,
            client=client,
            middleware=global_middleware(
                seen_before=SharedSeenRequests(shared.pool).seen_before, people=runtime.flow.people
            ),
        )
        handlers = WorkerHandlers(app, runtime)
        log.info("worker on %s (%d at a time)", ", ".join(options.queues), options.concurrency)
        asyncio.run(_work(shared, config, options, handlers))
    finally:
        if metrics is not None:
            metrics.stop()
        runtime.shutdown()


async def _work(
    shared: SharedState, config: Config, options: WorkerOptions, handlers: WorkerHandlers
) -> None:
    jobs = job_app(shared)
    async with jobs.open_async():
        watch = asyncio.create_task(
            watch_stalled(jobs, queues=options.queues, settle_run=handlers.settle_run)
        )
        working = asyncio.create_task(
            jobs.run_worker_async(
                queues=list(options.queues),
                concurrency=options.concurrency,
                name=f"migrate-bot@{os.uname().nodename}:{os.getpid()}",
                install_signal_handlers=False,
                additional_context={"handlers": handlers},
                update_heartbeat_interval=HEARTBEAT_S,
                stalled_worker_timeout=STALLED_AFTER_S,
                shutdown_graceful_timeout=SHUTDOWN_GRACE_S,
                delete_jobs="successful",
            )
        )
        _stop_on_signals(working, handlers.runtime)
        try:
            await working
        except asyncio.CancelledError:
            log.info("worker stopped")
        finally:
            watch.cancel()


def _stop_on_signals(working: asyncio.Task[None], runtime: BotRuntime) -> None:
    """SIGTERM/SIGINT: abort the runs (so each database stops at a revision boundary),
    then let procrastinate finish its jobs and stop."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stopping: aborting running runs")
        for request_id in runtime.flow.runs.executor.running():
            runtime.flow.runs.executor.cancel(request_id)
        working.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
