"""The bot's moving parts, started in order and stopped in reverse: one function
every way of serving uses (HTTP mode, Socket Mode, the local sandbox, tests).

``start_runtime(config, client)`` opens the audit log, the request service
(user groups looked up in Slack), the outbox and its notifier, the pipeline
and its run worker; marks the runs that died with the last process
``interrupted`` and announces them (once); starts the scheduler of the state
file (reminders, scheduled starts; one per file) and the ticker that keeps
a running request's elapsed time fresh. ``shutdown()`` stops the runs (each
aborted, its revision in flight rolled back), flushes what it can and stops.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from audit.store import Clock, EventStore, utc_now
from bot.adapters.slack_settings import SlackSettings
from bot.app import build_app
from bot.flows.plan_cache import RecentPlans
from bot.flows.request_flow import RequestFlow
from bot.flows.request_messages import RequestMessages
from bot.flows.schedule_flow import ScheduleFlow
from bot.slack_api.notifier import Notifier
from bot.slack_api.replies import web_client
from bot.slack_api.usergroups import SlackUserGroups
from bot.worker import ThreadWorker
from commands.config.targets_file import Config
from commands.pipeline import InterruptedRun, RunContext
from commands.requests import RequestService
from commands.state.audit_log import open_audit_log
from commands.state.outbox import Outbox, OutboxBusyError
from commands.targets import TargetOpener, open_target

log = logging.getLogger(__name__)

TICK_S = 10.0  # how often a running request's message is redrawn without news
FLUSH_S = 5.0  # at shutdown, how long queued notifications may take to leave


class Ticker:
    """Redraws the messages of running requests every ``every`` seconds."""

    def __init__(self, messages: RequestMessages, every: float = TICK_S) -> None:
        self._messages = messages
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            for request_id in self._messages.running():
                try:
                    self._messages.refresh(request_id)
                except OutboxBusyError as exc:  # the next tick redraws it
                    log.warning("redrawing %s waits: %s", request_id, exc)
                except Exception:
                    log.exception("redrawing %s failed", request_id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class BotRuntime:
    """What a running bot holds; ``build_app(..., flow=runtime.flow, worker=runtime.worker)``."""

    config: Config
    client: WebClient
    store: EventStore
    requests: RequestService
    outbox: Outbox
    notifier: Notifier
    groups: SlackUserGroups
    worker: ThreadWorker
    flow: RequestFlow
    scheduling: ScheduleFlow
    ticker: Ticker
    interrupted: list[InterruptedRun]

    def health(self) -> dict[str, Any]:
        """For ``GET /health``: the jobs and runs in progress."""
        return {
            "worker": {"pending": self.worker.pending, "failed": self.worker.failed},
            "runs": self.flow.runs.running(),
        }

    def shutdown(self) -> None:
        """Stop the scheduler, abort running runs and wait for them, then stop delivering."""
        self.scheduling.stop()
        self.ticker.stop()
        self.flow.shutdown()
        if not self.worker.drain(FLUSH_S):
            log.warning("some commands were still being handled at shutdown")
        self.worker.shutdown(wait=False)
        if not self.notifier.flush(FLUSH_S):
            log.warning("some notifications are still queued; they are sent after a restart")
        self.notifier.stop()
        self.outbox.close()


def start_runtime(
    config: Config,
    client: WebClient,
    *,
    open_target: TargetOpener = open_target,
    clock: Clock = utc_now,
    recover: bool = True,
    min_update_interval: float = 1.0,
    tick_s: float = TICK_S,
    worker: ThreadWorker | None = None,
    schedule: bool = True,
) -> BotRuntime:
    """Start everything but the transport; raises ``AuditLogUnavailableError`` when
    the state file cannot be opened. ``schedule=False`` runs no scheduler."""
    store = open_audit_log(config.bot.state, clock=clock)
    groups = SlackUserGroups(client)
    requests = RequestService(store, config, group_lookup=groups)
    outbox = Outbox(config.bot.state_path)
    notifier = Notifier(client, outbox, min_update_interval=min_update_interval).start()
    messages = RequestMessages(
        config=config,
        requests=requests,
        store=store,
        notifier=notifier,
        expand=groups.expand,
        clock=clock,
    )
    context = RunContext(
        config=config, requests=requests, store=store, clock=clock, open_target=open_target
    )
    flow = RequestFlow(context=context, messages=messages, groups=groups, plans=RecentPlans())
    interrupted = flow.recover() if recover else []
    for run in interrupted:
        log.warning("%s was interrupted (it ran when the bot stopped)", run.request.id)
    if schedule:  # after the recovery: a slot due now starts only once the dead runs are marked
        flow.scheduling.start()
    return BotRuntime(
        config=config,
        client=client,
        store=store,
        requests=requests,
        outbox=outbox,
        notifier=notifier,
        groups=groups,
        worker=worker or ThreadWorker(),
        flow=flow,
        scheduling=flow.scheduling,
        ticker=Ticker(messages, tick_s).start(),
        interrupted=interrupted,
    )


@dataclass(frozen=True)
class RunningBot:
    """A started bot: its Bolt app and the runtime under it (stop with ``runtime.shutdown``)."""

    app: App
    runtime: BotRuntime


def start_bot(settings: SlackSettings, config: Config) -> RunningBot:
    """The runtime and the Bolt app every mode serves, the sandbox's included."""
    client = web_client(settings.bot_token, settings.api_url)
    runtime = start_runtime(config, client)
    try:
        app = build_app(
            settings, config=config, worker=runtime.worker, flow=runtime.flow, client=client
        )
    except BaseException:
        runtime.shutdown()
        raise
    return RunningBot(app, runtime)
