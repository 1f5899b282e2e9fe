"""A worker that died: its jobs found by heartbeat and settled by a living worker.

procrastinate workers write a heartbeat every ``HEARTBEAT_S``; a job still
``doing`` on a worker whose heartbeat is older than ``STALLED_AFTER_S`` is
stalled (the worker was killed, or its machine lost). Every worker looks for
stalled jobs of its own queues each ``WATCH_EVERY_S`` (so one is found within
``STALLED_AFTER_S + WATCH_EVERY_S``, under a minute): a run is handed to
``settle_run`` (the request becomes ``interrupted`` at its step, with the
revision the database holds, and the operators are told, once: both are
conditional writes, so two workers finding it at once do it once), and the job
is closed as failed, which frees its target's job lock for the next run. A
run whose database lock is still held is left for the next look. Nothing is
retried: a run needs a new approval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

import procrastinate
from procrastinate import exceptions as procrastinate_errors
from procrastinate import utils
from procrastinate.jobs import Job, Status

from commands.jobs.queue import RUN_TASK

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
STALLED_AFTER_S = 30.0
WATCH_EVERY_S = 10.0

SettleRun = Callable[[str, str], bool]
"""``settle_run(request_id, target)``: mark a dead run interrupted and announce it;
``True`` once the request no longer runs (settled here or elsewhere)."""


async def watch_stalled(
    app: procrastinate.App,
    *,
    queues: Collection[str],
    settle_run: SettleRun,
    every: float = WATCH_EVERY_S,
    stalled_after: float = STALLED_AFTER_S,
) -> None:
    """Look for stalled jobs of ``queues`` until cancelled."""
    while True:
        try:
            await settle_stalled(app, queues=queues, settle_run=settle_run, after=stalled_after)
        except (procrastinate_errors.ConnectorException, OSError) as exc:
            log.warning("looking for stalled jobs failed (trying again): %s", exc)
        await asyncio.sleep(every)


async def settle_stalled(
    app: procrastinate.App, *, queues: Collection[str], settle_run: SettleRun, after: float
) -> list[Job]:
    """One look: the stalled jobs of ``queues`` settled now."""
    settled = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=after):
        if job.queue not in queues:
            continue
        if job.task_name == RUN_TASK:
            request_id, target = job.task_kwargs["request_id"], job.task_kwargs["target"]
            log.warning("the run of %s (job %s) stalled: its worker died", request_id, job.id)
            if not await utils.sync_to_async(settle_run, str(request_id), str(target)):
                continue
        if job.id is None:  # a job read from the table always has its id
            continue
        try:
            await app.job_manager.finish_job_by_id_async(
                job_id=job.id, status=Status.FAILED, delete_job=False
            )
        except procrastinate_errors.ConnectorException:  # another worker closed it first
            continue
        settled.append(job)
    return settled
