"""Enqueueing work for the workers: Slack interactions and runs, each on its target's queue.

Two tasks, both handed to whatever the worker process plugs in
(``commands.jobs.tasks``):

- ``interaction``: a Slack request a front verified, acknowledged and
  recorded as taken; a worker of the queue of the target it concerns
  replays it through its own Bolt app (pre-flight, plans, approvals…).
- ``run``: an approved request's run, on its target's queue, with the
  job lock ``target:NAME`` (procrastinate runs one job per lock at a time,
  in the order they came, across every worker) and the queueing lock
  ``run:M-12`` (a request waits in the queue once). Runs are never retried:
  a run that died is ``interrupted`` and needs a new approval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import exceptions as procrastinate_errors
from procrastinate.jobs import Status

from commands.config.targets_file import DEFAULT_QUEUE, Config
from commands.errors import ExitCode, MigrateBotError
from commands.jobs.tasks import tasks
from commands.state.shared import SharedState

log = logging.getLogger(__name__)

ENQUEUE_WAIT_S = 5.0  # a front with no state answers the asker within this, not the pool's 30 s
UNREACHABLE = (
    psycopg_pool.PoolTimeout,
    psycopg.OperationalError,
    procrastinate_errors.ConnectorException,
)
INTERACTION_TASK = "migrate_bot:interaction"
RUN_TASK = "migrate_bot:run"


def job_app(shared: SharedState) -> procrastinate.App:
    """A procrastinate app on the shared state's schema (its connections' search_path),
    not yet opened: ``JobQueue`` opens it on the shared pool (to enqueue from any
    thread); a worker opens it asynchronously (to run jobs)."""
    kwargs = shared.connection_kwargs()
    kwargs.pop("autocommit")  # procrastinate sets it on the connections that need it
    connector = procrastinate.PsycopgConnector(
        conninfo=shared.url.for_libpq(), kwargs=kwargs, min_size=1
    )
    with _REGISTERING:
        if not _APPS:  # tasks are registered once per process: they are renamed in place
            _APPS.append(procrastinate.App(connector=connector))
            _APPS[0].add_tasks_from(tasks, namespace="migrate_bot")
            return _APPS[0]
    return _APPS[0].with_connector(connector)


_APPS: list[procrastinate.App] = []
_REGISTERING = threading.Lock()


def target_lock(target: str) -> str:
    return f"target:{target}"


def run_lock(request_id: str) -> str:
    return f"run:{request_id}"


class StateUnreachableError(MigrateBotError):
    """The shared state cannot be reached: a Slack request cannot be recorded now."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self) -> None:
        super().__init__(
            "The bot's state cannot be reached right now, so this request cannot be recorded"
            " and nothing was done. Try again in a minute; the bot's operators see why in its log."
        )


class JobQueue:
    """A front's (or a worker's) way to enqueue; synchronous, on the shared pool."""

    def __init__(self, shared: SharedState, config: Config) -> None:
        self.config = config
        self.pool = shared.pool
        self.app = job_app(shared).open(shared.pool)

    def check_reachable(self, wait: float = ENQUEUE_WAIT_S) -> None:
        """Raise ``StateUnreachableError`` unless the state answers within ``wait`` s."""
        try:
            with self.pool.connection(timeout=wait) as conn:
                conn.execute("SELECT 1")
        except UNREACHABLE as exc:
            log.warning("the shared state cannot be reached: %s", exc)
            raise StateUnreachableError from None

    def queue_of(self, target: str | None) -> str:
        """The queue of ``target`` (the default queue for none or an unknown one)."""
        if target is None or target not in self.config.targets:
            return DEFAULT_QUEUE
        return self.config.targets[target].queue

    def interaction(
        self, body: Mapping[str, Any], *, target: str | None, wait: float = ENQUEUE_WAIT_S
    ) -> int:
        """Enqueue a Slack request for a worker of ``target``'s queue; the job id. Raises
        ``StateUnreachableError`` when the state does not answer within ``wait`` s."""
        task = self.app.tasks[INTERACTION_TASK]
        try:
            with self.pool.connection(timeout=wait) as conn:
                deferring = task.configure(queue=self.queue_of(target), connection=conn)
                return deferring.defer(body=dict(body))
        except UNREACHABLE as exc:
            log.warning("a Slack request could not be enqueued: %s", exc)
            raise StateUnreachableError from None

    def run(self, request_id: str, target: str, *, until: datetime | None) -> int | None:
        """Enqueue ``request_id``'s run; ``None`` if it already waits in the queue."""
        task = self.app.tasks[RUN_TASK]
        job = task.configure(
            queue=self.queue_of(target),
            lock=target_lock(target),
            queueing_lock=run_lock(request_id),
        )
        try:
            return job.defer(
                request_id=request_id, target=target, until=until.isoformat() if until else None
            )
        except procrastinate_errors.AlreadyEnqueued:
            log.info("the run of %s already waits in the queue", request_id)
            return None

    def running_job(self, request_id: str) -> int | None:
        """The id of the job running ``request_id``'s run, if one does."""
        for status in (Status.DOING, Status.TODO):
            found = self.app.job_manager.list_jobs(
                task=RUN_TASK, status=status.value, queueing_lock=run_lock(request_id)
            )
            job = next(iter(found), None)
            if job is not None:
                return job.id
        return None

    def runs_in_progress(self) -> list[str]:
        """Request ids whose run a worker is running now."""
        found = self.app.job_manager.list_jobs(task=RUN_TASK, status=Status.DOING.value)
        return [str(job.task_kwargs["request_id"]) for job in found]

    def abort(self, job_id: int) -> bool:
        """Ask the worker running ``job_id`` to abort it (a waiting one is cancelled)."""
        return self.app.job_manager.cancel_job_by_id(job_id, abort=True)


class QueuedRuns:
    """``RequestFlow``'s runs in a shared deployment: enqueued, run by a worker.

    One run per target waits its turn in the queue (the job lock), so ``submit``
    never refuses; ``cancel`` asks the worker that runs it to abort, wherever it is.
    """

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def submit(self, request_id: str, target: str, *, until: datetime | None = None) -> None:
        self.queue.run(request_id, target, until=until)

    def cancel(self, request_id: str) -> bool:
        job = self.queue.running_job(request_id)
        return job is not None and self.queue.abort(job)

    def running(self) -> list[str]:
        return self.queue.runs_in_progress()

    def shutdown(self, *, cancel_running: bool = True) -> None:
        """Nothing runs here: the workers stop their own runs."""
