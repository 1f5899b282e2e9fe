"""The scheduler: reminders before a scheduled request's slot, and its start; the daily
drift sweeps (``drift_sweep.py``) of the targets that have a ``drift_schedule``.

APScheduler 3 keeps the jobs in a table (``scheduled_jobs``) of the bot's
state file, so they survive a restart; the audit log stays the truth. Every
job carries the start it was made for and, when it fires, is checked against
the request as the log has it now: a job for a request that moved, was
cancelled or already ran does nothing. At start-up the jobs are reconciled
with the log (a lost job is made again), then due jobs fire.

At the start: a request not approved is ``expired``; one more than
``late_start_limit`` late (the bot was down) is closed as ``schedule_missed``
and never run late; an approved one is handed to the run worker with its
window's end as the deadline, and the pipeline re-runs its pre-flight and
re-checks fingerprint, expiry and freeze. A start the worker refuses closes
the request as expired: a scheduled request runs in its slot or not at all.

Exactly one scheduler may run per state file: ``start`` takes an exclusive
lock on ``<state_path>.scheduler.lock`` and raises ``SchedulerBusyError`` when
another process holds it. With a shared state (PostgreSQL), the jobs live in
its schema, and every worker ``stand_by``s: the one holding the seat (an
advisory lock, ``seat.py``) runs the scheduler; the others forward the
requests they schedule to it and take over when it dies. Times come from
the context's ``clock``; APScheduler reads its own ``datetime.now`` to
decide when a job is due (tests point it at the same clock, see
``tests/support/scheduler_clock.py``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, create_engine

from commands.errors import ExitCode, MigrateBotError
from commands.pipeline.context import RunContext
from commands.requests import Request
from commands.requests.schedules import not_started
from commands.scheduling.drift_sweep import SWEEP_PREFIX, SWEEPERS, SweepRunner, plan_sweeps
from commands.scheduling.seat import SchedulerSeat
from commands.state.schema import SEARCH_PATH
from commands.state.shared import shared_state
from commands.state.vocabulary import RequestState

log = logging.getLogger(__name__)

JOB_TABLE = "scheduled_jobs"
LATE_START_LIMIT = timedelta(minutes=1)
START, REMIND = "start", "remind"


class SchedulerBusyError(MigrateBotError):
    """Another process already runs the scheduler on this state file."""

    exit_code = ExitCode.REFUSED


class WindowNotices(Protocol):
    """What the front tells people (the Slack front: stakeholders, ops, the thread)."""

    def reminder(self, request: Request, before_s: float) -> None:
        """``before_s`` is the reminder's offset; the time left is the slot's start less now."""

    def starting(self, request: Request) -> None: ...

    def did_not_run(self, request: Request) -> None: ...


SubmitRun = Callable[[Request, datetime | None], None]
"""Start the run of an approved request in the background with a deadline
(``RunThreads.submit``); raises ``MigrateBotError`` when it cannot. A refusal the
worker meets later must reach ``WindowScheduler.start_refused``."""

_ACTIVE: dict[str, WindowScheduler] = {}


def fire(key: str, action: str, request_id: str, start: str, before_s: float = 0.0) -> None:
    """The job function APScheduler stores (by reference, so it must stay here)."""
    scheduler = _ACTIVE.get(key)
    if scheduler is None:
        log.warning("job %s of %s fired with no scheduler running for %s", action, request_id, key)
        return
    scheduler.on_job(action, request_id, datetime.fromisoformat(start), before_s)


class WindowScheduler:
    """Reminds, starts, expires or reports scheduled requests; one per state file."""

    def __init__(
        self,
        context: RunContext,
        *,
        notices: WindowNotices,
        submit: SubmitRun,
        late_start_limit: timedelta = LATE_START_LIMIT,
        sweeps: SweepRunner | None = None,
    ) -> None:
        self.context = context
        self.notices = notices
        self.submit = submit
        self.sweeps = sweeps
        self.late_start_limit = late_start_limit
        self.path = Path(context.config.bot.state_path).resolve()
        self.shared = shared_state(context.config.bot.state)
        self.key = f"shared:{self.shared.schema}" if self.shared else str(self.path)
        self.seat: SchedulerSeat | None = None
        self._aps: BackgroundScheduler | None = None
        self._lock_file: IO[str] | None = None
        self._guards: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    # --- life -----------------------------------------------------------------

    def start(self) -> WindowScheduler:
        """Lock the state file's scheduler, load the jobs, reconcile them with the log, run.

        Raises ``SchedulerBusyError`` when another process runs the scheduler. With
        a shared state the seat is the lock (``stand_by``).
        """
        if self.shared is None:
            self._lock_file = _take_lock(self.path.with_name(self.path.name + ".scheduler.lock"))
        self._aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine(), tablename=JOB_TABLE)},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        _ACTIVE[self.key] = self
        if self.sweeps is not None:
            SWEEPERS[self.key] = self.sweeps
        self._aps.start(paused=True)
        self.reconcile()
        self._aps.resume()
        return self

    def stand_by(self) -> WindowScheduler:
        """Shared state: run the scheduler whenever this process holds the seat (now, or
        once the holder dies); meanwhile ``plan`` and ``forget`` reach the holder."""
        assert self.shared is not None, "standing by needs a shared state"
        self.seat = SchedulerSeat(
            self.shared,
            on_taken=self.start,
            on_lost=self._stop_firing,
            on_notice=self._on_notice,
            on_idle=self.reconcile,
        ).start()
        return self

    def _engine(self) -> Engine:
        if self.shared is None:
            return create_engine(f"sqlite:///{self.path}", connect_args={"timeout": 30})
        return create_engine(
            self.shared.url.for_bot_sqlalchemy(),
            connect_args={"options": SEARCH_PATH},
            pool_pre_ping=True,
        )

    def _on_notice(self, action: str, request_id: str) -> None:
        """Another process scheduled (or dropped) a request: its jobs, here."""
        if action == "forget":
            self.forget(request_id)
            return
        request = self.context.requests.get(request_id)
        if request.schedule is not None and not_started(request):
            self.plan(request)

    def stop(self) -> None:
        """Stop firing (waiting for jobs in hand); the jobs stay in the store."""
        if self.seat is not None:
            self.seat.stop()
            self.seat = None
        self._stop_firing()

    def _stop_firing(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
        if _ACTIVE.get(self.key) is self:
            del _ACTIVE[self.key]
            SWEEPERS.pop(self.key, None)
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def wakeup(self) -> None:
        """Look for due jobs now (after a test moved the clock)."""
        if self._aps is not None:
            self._aps.wakeup()

    # --- jobs -----------------------------------------------------------------

    def plan(self, request: Request) -> None:
        """Make (or move) ``request``'s jobs: its start and the reminders still ahead."""
        assert request.schedule is not None
        if self._forwarded("plan", request.id):
            return
        slot = request.schedule.slot
        now = self.context.clock()
        start_job = f"{request.id}:{START}"
        self._add(start_job, slot.start, action=START, request_id=request.id, start=slot.start)
        for offset in self.context.config.target(request.target).reminders:
            at = slot.start - timedelta(seconds=offset)
            job_id = f"{request.id}:{REMIND}:{offset:g}"
            if at > now:
                self._add(
                    job_id,
                    at,
                    action=REMIND,
                    request_id=request.id,
                    start=slot.start,
                    before_s=offset,
                )
            else:
                self._remove(job_id)

    def forget(self, request_id: str) -> None:
        """Drop the jobs of a request that will not run (cancelled, closed)."""
        if self._forwarded("forget", request_id):
            return
        for job in self._scheduler().get_jobs():
            if job.id.split(":")[0] == request_id:
                job.remove()

    def jobs(self) -> list[tuple[str, datetime]]:
        """The stored jobs and when each fires, soonest first."""
        found = [(job.id, job.next_run_time) for job in self._scheduler().get_jobs()]
        return sorted(found, key=lambda item: item[1])

    def _forwarded(self, action: str, request_id: str) -> bool:
        """Standing by while another process holds the seat: the holder is told instead."""
        if self._aps is not None or self.seat is None:
            return False
        self.seat.notify(action, request_id)
        return True

    def reconcile(self) -> None:
        """Make the stored jobs agree with the log: drop strays, make what is missing."""
        wanted = {r.id: r for r in self.context.requests.scheduled()}
        for job in self._scheduler().get_jobs():
            if not job.id.startswith(SWEEP_PREFIX) and job.id.split(":")[0] not in wanted:
                job.remove()
        if self.sweeps is not None:
            plan_sweeps(self._scheduler(), self.key, self.context.config)
        for request in wanted.values():
            assert request.schedule is not None
            job = self._scheduler().get_job(f"{request.id}:{START}")
            if job is None or job.args[3] != request.schedule.slot.start.isoformat():
                self.plan(request)

    def _add(
        self,
        job_id: str,
        at: datetime,
        *,
        action: str,
        request_id: str,
        start: datetime,
        before_s: float = 0.0,
    ) -> None:
        self._scheduler().add_job(
            fire,
            "date",
            run_date=at,
            args=[self.key, action, request_id, start.isoformat(), before_s],
            id=job_id,
            name=job_id,
            replace_existing=True,
        )

    def _remove(self, job_id: str) -> None:
        if self._scheduler().get_job(job_id) is not None:
            self._scheduler().remove_job(job_id)

    def _scheduler(self) -> BackgroundScheduler:
        if self._aps is None:
            raise RuntimeError("the scheduler is not running")
        return self._aps

    # --- firing ---------------------------------------------------------------

    def on_job(self, action: str, request_id: str, start: datetime, before_s: float) -> None:
        """One job's turn; a job made for another start, or a request done with, does nothing."""
        with self._lock_for(request_id):
            request = self.context.requests.get(request_id)
            current = request.schedule.slot.start if request.schedule else None
            if current != start or not not_started(request):
                log.info("%s job of %s is stale (now %s)", action, request_id, request.state)
                return
            if action == REMIND:
                self._remind(request, before_s)
            else:
                self._open(request)

    def start_refused(self, request_id: str, reason: str) -> None:
        """The worker could not start a scheduled run: it will not run late, so it expires."""
        with self._lock_for(request_id):
            request = self.context.requests.get(request_id)
            if request.schedule is None or request.run is not None:
                return
            if not_started(request):
                why = f"it could not start in its window: {reason}"
                request = self.context.requests.expire(
                    request.id, actor=self.context.actor, reason=why
                )
            self.notices.did_not_run(request)

    def _remind(self, request: Request, before_s: float) -> None:
        assert request.schedule is not None
        start, now = request.schedule.slot.start, self.context.clock()
        closer = self.context.config.target(request.target).reminders
        stale = now >= start or any(
            now >= start - timedelta(seconds=o) for o in closer if o < before_s
        )
        if stale:  # the bot was down: a later reminder (or the start) is due already
            return
        request = self.context.requests.record_reminder(
            request.id, actor=self.context.actor, before_s=before_s
        )
        self.notices.reminder(request, before_s)

    def _open(self, request: Request) -> None:
        assert request.schedule is not None
        slot, now = request.schedule.slot, self.context.clock()
        if now - slot.start > self.late_start_limit or (slot.end is not None and now >= slot.end):
            reason = (
                f"its slot ({slot.describe()}) passed while the bot was not running;"
                " it is not run late"
            )
            request = self.context.requests.miss_window(
                request.id, actor=self.context.actor, reason=reason
            )
            self.notices.did_not_run(request)
            return
        if request.state is not RequestState.APPROVED:
            reason = f"it was not approved before its slot opened ({slot.describe()})"
            request = self.context.requests.expire(
                request.id, actor=self.context.actor, reason=reason
            )
            self.notices.did_not_run(request)
            return
        self.notices.starting(request)
        try:
            self.submit(request, slot.end)
        except MigrateBotError as refusal:
            self.start_refused(request.id, str(refusal))

    def _lock_for(self, request_id: str) -> threading.RLock:
        with self._guard:
            return self._guards.setdefault(request_id, threading.RLock())


def _take_lock(path: Path) -> IO[str]:
    """An exclusive, non-blocking lock held as long as the file stays open."""
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SchedulerBusyError(
            f"the scheduler of {path.name.removesuffix('.scheduler.lock')} already runs in"
            f" {holder}: run one bot process per state file"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle
