"""The bot's moving parts, started in order and stopped in reverse: one function
every way of serving uses (HTTP mode, Socket Mode, the local sandbox, a
worker, tests).

``start_runtime(config, client)`` opens the audit log (and keeps its
projections, ``audit.projections``), the request service
(user groups looked up in Slack), the outbox and its notifier, the pipeline
and its run threads; marks the runs that died with the last process
``interrupted`` and announces them (once); starts the scheduler of the state
file (reminders, scheduled starts; one per file) and the ticker that keeps
a running request's elapsed time fresh, and the keeper of the watches after
successful runs (resumed from the log). ``shutdown()`` stops the runs (each
aborted, its revision in flight rolled back), flushes what it can and stops.

Its ``Role`` says which of these a process does. ``EMBEDDED`` (no
``state_url_env``): all of them, as one process. With a shared state, a
``FRONT`` (``migrate-bot serve``) only answers Slack and enqueues: runs go to
the job queue, nothing is delivered, recovered or scheduled there; a
``WORKER`` (``migrate-bot worker``) delivers the outbox with the other
workers, recovers and runs its targets' jobs, keeps their watches, and stands
by for the scheduler.
"""

from __future__ import annotations

import faulthandler
import logging
import sys
import threading
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any

from prometheus_client import CollectorRegistry
from slack_bolt import App
from slack_sdk import WebClient

from audit.store import Clock, EventStore, utc_now
from bot.adapters.slack_settings import SlackSettings
from bot.app import build_app
from bot.flows.asking import Asking
from bot.flows.backfill_flow import BackfillFlow
from bot.flows.change_flow import ChangeFlow
from bot.flows.change_messages import ChangeMessages
from bot.flows.forwarding import Forwarder
from bot.flows.plan_cache import RecentPlans, SharedPlans
from bot.flows.request_flow import RequestFlow
from bot.flows.request_messages import RequestMessages
from bot.flows.run_flow import RunFlow
from bot.flows.schedule_flow import ScheduleFlow
from bot.flows.state_replication import check_state_replica, start_replication
from bot.flows.watch_messages import WatchMessages
from bot.metrics.metric_totals import METRIC_TOTALS
from bot.metrics.registry import bot_registry
from bot.slack_api.channel_names import ChannelNames
from bot.slack_api.notifier import Notifier
from bot.slack_api.replies import web_client
from bot.slack_api.usergroups import SlackUserGroups
from bot.work_pool import ThreadWorkPool
from commands.backfill.model import BackfillRun
from commands.backfill.service import Backfills
from commands.backup.backup_index import BACKUP_INDEX
from commands.changes.service import Changes
from commands.config.targets_file import Config
from commands.jobs.queue import JobQueue, QueuedRuns
from commands.pipeline import InterruptedRun, RunContext
from commands.pipeline.watch_keeper import WatchKeeper
from commands.requests import RequestService
from commands.requests.index import REQUEST_INDEX
from commands.state.audit_log import open_audit_log
from commands.state.audit_reading import audit_log_errors
from commands.state.outbox import Outbox, OutboxBusyError, open_outbox
from commands.state.people import open_people
from commands.state.replicator import Replicator
from commands.state.shared import shared_state
from commands.targets import TargetOpener, open_target

log = logging.getLogger(__name__)

TICK_S = 10.0  # how often a running request's message is redrawn without news
FLUSH_S = 5.0  # at shutdown, how long queued notifications may take to leave
CLAIM_TIMEOUT_S = 120.0  # a shared outbox's claim older than this was a dead worker's
SWITCH_INTERVAL_S = 0.001  # how often a thread holding the interpreter lock lets another in
# A stop that takes longer hangs: every thread's stack goes to stderr and the process exits
# (1), inside the systemd units' TimeoutStopSec=120, whose SIGKILL would leave no trace.
SHUTDOWN_LIMIT_S = 110.0


class Role(Enum):
    EMBEDDED = "embedded"  # one process does everything (no state_url_env)
    FRONT = "front"  # shared state: answers Slack and enqueues
    WORKER = "worker"  # shared state: runs the jobs, delivers, schedules


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
    """What a running bot holds; the app is built on it with
    ``build_app(..., flow=runtime.flow, work_pool=runtime.work_pool)``."""

    config: Config
    client: WebClient
    store: EventStore
    requests: RequestService
    outbox: Outbox
    notifier: Notifier
    groups: SlackUserGroups
    work_pool: ThreadWorkPool
    flow: RequestFlow
    scheduling: ScheduleFlow
    ticker: Ticker | None
    interrupted: list[InterruptedRun]
    metrics: CollectorRegistry
    watches: WatchKeeper
    queue: JobQueue | None = None
    replicator: Replicator | None = None

    def health(self) -> dict[str, Any]:
        """For ``GET /health``: the jobs and runs in progress, the state's replication."""
        health: dict[str, Any] = {
            "worker": {"pending": self.work_pool.pending, "failed": self.work_pool.failed},
            "runs": self.flow.runs.running(),
            "watches": self.watches.open_watches(),
        }
        if self.replicator is not None:
            health["state_replica"] = self.replicator.status().to_json()
        return health

    def shutdown(self) -> None:
        """Stop the scheduler, abort running runs and wait for them, interrupt the backfills
        at their next batch, then stop delivering. Past ``SHUTDOWN_LIMIT_S`` the process
        ends with every thread's stack on stderr."""
        faulthandler.dump_traceback_later(SHUTDOWN_LIMIT_S, exit=True)
        try:
            self.scheduling.stop()
            if self.flow.changes is not None:
                self.flow.changes.stop()
            if self.ticker is not None:
                self.ticker.stop()
            self.watches.stop()
            self.flow.runs.shutdown()
            if not self.work_pool.drain(FLUSH_S):
                log.warning("some commands were still being handled at shutdown")
            self.work_pool.shutdown(wait=False)
            if not self.notifier.flush(FLUSH_S):
                log.warning("some notifications are still queued; they are sent after a restart")
            self.notifier.stop()
            self.outbox.close()
            if self.flow.people is not None:
                self.flow.people.close()
            if self.replicator is not None:  # last: it uploads what the others wrote
                self.replicator.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()


def start_runtime(
    config: Config,
    client: WebClient,
    *,
    open_target: TargetOpener = open_target,
    clock: Clock = utc_now,
    recover: bool = True,
    min_update_interval: float = 1.0,
    tick_s: float = TICK_S,
    work_pool: ThreadWorkPool | None = None,
    schedule: bool = True,
    role: Role | None = None,
    targets: Collection[str] | None = None,
) -> BotRuntime:
    """Start everything ``role`` does (default: a front with a shared state, else the
    embedded bot) but the transport; raises ``AuditLogUnavailableError`` when the
    state cannot be opened. ``schedule=False`` runs no scheduler; ``targets``: the
    targets a worker recovers (those of its queues)."""
    shared = shared_state(config.bot.state)
    role = role or (Role.FRONT if shared else Role.EMBEDDED)
    check_state_replica(config)
    store = open_audit_log(config.bot.state, clock=clock)
    # kept from the start: a log older than them is folded once here, in batches, not
    # inside the first write's transaction
    with audit_log_errors():
        store.keep(REQUEST_INDEX, BACKUP_INDEX, METRIC_TOTALS)
    groups = SlackUserGroups(client)
    requests = RequestService(store, config, group_lookup=groups)
    outbox = open_outbox(config.bot.state)
    notifier = Notifier(
        client,
        outbox,
        min_update_interval=min_update_interval,
        claim_timeout=CLAIM_TIMEOUT_S if shared else None,
    )
    if role is not Role.FRONT:
        notifier.start()
    replicator = start_replication(config, notifier)
    scheduling_here = threading.Event()
    messages = RequestMessages(
        config=config,
        requests=requests,
        store=store,
        notifier=notifier,
        expand=groups.expand,
        clock=clock,
        channel_name=ChannelNames(client).name,
        redraw_interval=min_update_interval,
        scheduling_here=scheduling_here.is_set,
    )
    context = RunContext(
        config=config, requests=requests, store=store, clock=clock, open_target=open_target
    )
    queue = JobQueue(shared, config) if shared else None
    plans = SharedPlans(shared.pool) if shared else RecentPlans()
    asking = Asking(context=context, messages=messages, plans=plans)
    scheduling = ScheduleFlow(
        context=context, messages=messages, ask=asking.ask, here=scheduling_here
    )
    runs = RunFlow(
        context=context,
        messages=messages,
        queue=QueuedRuns(queue) if queue else None,
        on_refused=scheduling.run_refused,
    )
    changes = change_flow(context, notifier=notifier, asking=asking, groups=groups)
    runs.after_outcome.append(changes.request_finished)
    flow = RequestFlow(
        context=context,
        messages=messages,
        groups=groups,
        asking=asking,
        runs=runs,
        scheduling=scheduling,
        people=None if role is Role.FRONT else open_people(config.bot.state),
        changes=changes,
    )
    working = role is not Role.FRONT
    interrupted = runs.recover(targets) if recover and working else []
    for run in interrupted:
        log.warning("%s was interrupted (it ran when the bot stopped)", run.request.id)
    if recover and working:
        for backfill in changes.backfills.recover():
            log.warning("%s was interrupted (it ran when the bot stopped)", backfill.id)
    if working:
        changes.start_rounds()
    if schedule and working:  # after the recovery: a slot due now starts once dead runs are marked
        scheduling.start(runs)
    told = WatchMessages(messages)
    watches = WatchKeeper(
        context,
        on_started=told.started,
        on_regressed=told.regressed,
        on_finished=told.finished,
        targets=targets,
    )
    return BotRuntime(
        config=config,
        client=client,
        store=store,
        requests=requests,
        outbox=outbox,
        notifier=notifier,
        groups=groups,
        work_pool=work_pool or ThreadWorkPool(),
        flow=flow,
        scheduling=scheduling,
        ticker=Ticker(messages, tick_s).start() if working else None,
        interrupted=interrupted,
        metrics=bot_registry(
            store=store, requests=requests, outbox=outbox, clock=clock, replicator=replicator
        ),
        watches=watches.start() if working else watches,
        queue=queue,
        replicator=replicator,
    )


def change_flow(
    context: RunContext, *, notifier: Notifier, asking: Asking, groups: SlackUserGroups
) -> ChangeFlow:
    """Changes across deploys and their backfills, on the same log, targets and outbox."""
    config, store = context.config, context.store
    messages = ChangeMessages(store=store, notifier=notifier, clock=context.clock)
    backfills = Backfills(config, store, context.open_target, groups)

    def ask_approvers(run: BackfillRun) -> None:
        messages.ask_approvers(run, groups.expand(config.target(run.target).approvers))

    return ChangeFlow(
        changes=Changes(config, store, context.open_target, context.clock, groups),
        messages=messages,
        asking=asking,
        backfills=BackfillFlow(backfills=backfills, messages=messages, ask_approvers=ask_approvers),
        groups=groups,
    )


@dataclass(frozen=True)
class RunningBot:
    """A started bot: its Bolt app and the runtime under it (stop with ``runtime.shutdown``)."""

    app: App
    runtime: BotRuntime


def start_bot(settings: SlackSettings, config: Config) -> RunningBot:
    """The runtime and the Bolt app every mode serves, the sandbox's included.

    The interpreter hands its lock over every ``SWITCH_INTERVAL_S`` instead of 5 ms:
    an acknowledgement waiting on a thread that renders a plan gets it sooner."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    client = web_client(settings.bot_token, settings.api_url)
    runtime = start_runtime(config, client)
    try:
        app = build_app(
            settings,
            config=config,
            work_pool=runtime.work_pool,
            flow=runtime.flow,
            client=client,
            forward=Forwarder(runtime.queue, runtime.requests) if runtime.queue else None,
        )
    except BaseException:
        runtime.shutdown()
        raise
    return RunningBot(app, runtime)
