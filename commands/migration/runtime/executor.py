"""Runs a plan's revisions the careful way: timeouts, lock retries, a lock monitor.

One env.py run steps through the revisions (``stepping.py``). Each run's
connections get ``PGOPTIONS`` (the timeouts of the attempt) and an
``application_name``; the child also reports the backend of env.py's
connection and sets each revision's timeouts on it, so the lock monitor finds
the migration and every revision starts with the short first lock wait. A
lock wait given up (55P03), or a statement the monitor cancelled because live
traffic queued behind it too long, rolls that revision back and ends the
env.py run; the retry starts a new one from that revision with a longer wait,
on the lock-retry schedule. A revision that commits part-way
(``autocommit_block``) is only retried once a guard has checked what the
failed attempt left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.errors import AlembicError
from commands.migration.runtime.channel import AlembicStopped
from commands.migration.runtime.lock_monitor import Blocker, LockMonitor, QueueReport
from commands.migration.runtime.lock_retry import (
    Attempt,
    child_env,
    is_retryable,
    retry_schedule,
    session_settings,
)
from commands.migration.runtime.runner import AlembicSession
from commands.migration.runtime.stepping import MigrationRun, Ready, StepResult
from commands.migration.runtime.target_check import HAND_URL, target_connection
from commands.migration.script.revision_file import ReviewError, review_file
from commands.migration.script.revision_graph import Direction, Revision
from commands.postgres.database_url import DatabaseUrl
from commands.units import format_duration


@dataclass(frozen=True)
class ExecutionSettings:
    """A target's limits for running revisions (seconds)."""

    lock_timeout: float
    statement_timeout: float
    lock_retry_budget: float
    queue_budget: float | None
    server_major: int


@dataclass(frozen=True)
class RevisionEvent:
    """Something worth telling the operator while a revision runs.

    ``kind`` is one of: ``attempt`` (starting attempt N with its lock wait),
    ``blocked`` (``blockers`` hold what we wait for; empty when that ends),
    ``queue_cancelled`` (we cancelled our statement to drain the queue),
    ``retrying`` (attempt failed on a lock; pausing ``pause_s`` before the next).
    """

    kind: str
    revision: str
    attempt: int
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionCallbacks:
    """What the caller does around each revision: ``start`` before it runs (record it,
    check the run's limits: raising there stops cleanly before the revision), ``done``
    once committed, ``event`` for everything worth telling while it runs. ``round`` is
    1 unless env.py migrates several version tables in one run (one per tenant)."""

    start: Callable[[Revision, int], None]
    done: Callable[[Revision, StepResult, int], None]
    event: Callable[[RevisionEvent], None]


RetryGuard = Callable[[Revision], str | None]
"""Returns why a failed revision must not be retried (what it left behind), or None."""


class RevisionFailedError(AlembicError):
    """A revision failed for good; ``attempts`` says how many tries were made."""

    def __init__(self, message: str, *, sqlstate: str | None, revision: str, attempts: int) -> None:
        super().__init__(message, sqlstate=sqlstate, revision=revision)
        self.attempts = attempts


def commits_part_way(revision: Revision) -> bool:
    """Whether the revision commits part-way (``autocommit_block``, or its own ``commit()``),
    so a failure may leave work behind."""
    try:
        return review_file(revision.path).commits_part_way
    except ReviewError:
        return True  # unreadable: assume the worst


@dataclass
class _InFlight:
    """The revision in flight, for the lock monitor's reports."""

    revision: str = ""
    attempt: int = 1


def execute_revisions(
    session: AlembicSession,
    database: DatabaseUrl,
    revisions: Sequence[Revision],
    direction: Direction,
    *,
    settings: ExecutionSettings,
    label: str,
    callbacks: RevisionCallbacks,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    retry_guard: RetryGuard | None = None,
) -> None:
    """Apply or undo ``revisions`` in order, retrying lock failures on the schedule.

    Raises ``RevisionFailedError`` when one fails for good (the database is
    left at the revision before it) and ``AlembicStopped`` at the deadline or
    on cancel (the session is then closed; the revision in flight rolls back).
    """
    _Execution(
        session,
        database,
        revisions,
        direction,
        settings,
        label,
        callbacks,
        retry_guard,
        deadline,
        cancel,
    ).run()


@dataclass
class _Execution:
    """One plan's revisions over as many env.py runs as lock retries need."""

    session: AlembicSession
    database: DatabaseUrl
    revisions: Sequence[Revision]
    direction: Direction
    settings: ExecutionSettings
    label: str
    callbacks: RevisionCallbacks
    retry_guard: RetryGuard | None
    deadline: float | None
    cancel: threading.Event | None
    finished: set[str] = field(default_factory=set)
    retried: tuple[str, int] | None = None  # (revision, attempt number) of a retry

    def run(self) -> None:
        self.schedule = retry_schedule(self.settings.lock_timeout, self.settings.lock_retry_budget)
        self.by_id = {revision.id: revision for revision in self.revisions}
        runs = 0
        while True:
            runs += 1
            in_flight = _InFlight()
            app_name = f"migrate-bot {self.label} run {runs}"[:63]
            monitor = _monitor(self.database, app_name, in_flight, self.callbacks, self.settings)
            try:
                with monitor:
                    self._one_run(app_name, in_flight, monitor)
                break
            except AlembicStopped:
                raise
            except AlembicError as failure:
                revision = self.by_id.get(failure.revision or "")
                if revision is None:
                    raise
                self.retried = self._retry_or_raise(failure, revision, in_flight.attempt, monitor)
        missing = [r.id for r in self.revisions if r.id not in self.finished]
        if missing:
            raise RevisionFailedError(
                f"env.py ended its run without running {', '.join(missing)}"
                " (does it call context.run_migrations() online?)",
                sqlstate=None,
                revision=missing[0],
                attempts=1,
            )

    def _one_run(self, app_name: str, in_flight: _InFlight, monitor: LockMonitor) -> None:
        """One env.py run, let go revision by revision until it ends."""
        first = self.schedule[self.retried[1] - 1] if self.retried else self.schedule[0]
        env = child_env(
            lock_timeout=first.lock_timeout,
            statement_timeout=self.settings.statement_timeout,
            server_major=self.settings.server_major,
            application_name=app_name,
        )
        run = self.session.migrate([r.id for r in self.revisions], self.direction, env=env)
        while (ready := run.next_revision(deadline=self.deadline, cancel=self.cancel)) is not None:
            revision = self.by_id.get(ready.revision)
            if revision is None:
                run.stop()
                raise AlembicError(
                    "Alembic wanted to run a revision the plan does not hold",
                    revision=ready.revision,
                )
            if ready.database is not None:
                self._check_target(run, ready)
            retry = self.retried is not None and self.retried[0] == revision.id
            attempt = self.schedule[(self.retried[1] if retry and self.retried else 1) - 1]
            in_flight.revision, in_flight.attempt = revision.id, attempt.number
            monitor.follow_pid(ready.backend_pid)
            try:
                self.callbacks.start(revision, ready.round)
            except BaseException:
                run.stop()
                raise
            self.callbacks.event(_attempt_event(revision, attempt, len(self.schedule)))
            settings = session_settings(
                lock_timeout=attempt.lock_timeout,
                statement_timeout=self.settings.statement_timeout,
                server_major=self.settings.server_major,
            )
            # asyncpg reads neither PGOPTIONS nor PGAPPNAME: the name is set like the rest
            result = run.go(
                settings={**settings, "application_name": app_name},
                deadline=self.deadline,
                cancel=self.cancel,
            )
            if ready.round == 1:
                self.finished.add(revision.id)
            self.callbacks.done(revision, result, ready.round)

    def _check_target(self, run: MigrationRun, ready: Ready) -> None:
        """Stop before anything runs if env.py connected elsewhere than the target (its
        own settings, a ``.env`` file or a default URL won over the target's)."""
        where = target_connection(self.database, ready)
        if where is not None:
            run.stop()
            raise AlembicError(
                f"env.py connected to {where}, not to {self.database.display()}: nothing was run."
                f" {HAND_URL}"
            )

    def _retry_or_raise(
        self, failure: AlembicError, revision: Revision, attempt: int, monitor: LockMonitor
    ) -> tuple[str, int]:
        """The retry to make after ``failure`` (after its pause), or the error to give up."""
        retryable = is_retryable(failure.sqlstate, cancelled_by_us=monitor.cancelled_for_queue)
        if not retryable or attempt == len(self.schedule):
            raise _final(failure, revision, attempt, retryable)
        guard = self.retry_guard
        leftover = guard(revision) if guard and commits_part_way(revision) else None
        if leftover:
            raise RevisionFailedError(
                f"{_reason(failure, revision)} — not retried: {leftover}",
                sqlstate=failure.sqlstate,
                revision=revision.id,
                attempts=attempt,
            )
        pause = self.schedule[attempt].pause_before
        self.callbacks.event(
            RevisionEvent(
                "retrying",
                revision.id,
                attempt,
                f"attempt {attempt} could not get its lock; next try in {format_duration(pause)}",
                {"sqlstate": failure.sqlstate, "pause_s": pause},
            )
        )
        if _pause(pause, self.deadline, self.cancel):
            raise RevisionFailedError(
                "stopped while waiting to retry",
                sqlstate=None,
                revision=revision.id,
                attempts=attempt,
            )
        return revision.id, attempt + 1


def _monitor(
    database: DatabaseUrl,
    app_name: str,
    in_flight: _InFlight,
    callbacks: RevisionCallbacks,
    settings: ExecutionSettings,
) -> LockMonitor:
    return LockMonitor(
        database,
        app_name,
        on_blocker=lambda blockers: callbacks.event(
            _blocked_event(in_flight.revision, in_flight.attempt, blockers)
        ),
        on_queue_cancel=lambda report: callbacks.event(
            _queue_event(in_flight.revision, in_flight.attempt, report)
        ),
        queue_budget=settings.queue_budget,
    )


def _pause(seconds: float, deadline: float | None, cancel: threading.Event | None) -> bool:
    """Sleep, cut short by cancel or the deadline; True when the run must stop."""
    if deadline is not None:
        seconds = min(seconds, max(0.0, deadline - time.monotonic()))
    if cancel is not None:
        stopped = cancel.wait(seconds)
    else:
        time.sleep(seconds)
        stopped = False
    return stopped or (deadline is not None and time.monotonic() >= deadline)


def _reason(failure: AlembicError, revision: Revision) -> str:
    return str(failure).removeprefix(f"{revision.id}: ")


def _final(
    failure: AlembicError, revision: Revision, attempts: int, retryable: bool
) -> RevisionFailedError:
    reason = _reason(failure, revision)
    if retryable:
        reason = f"still blocked after {attempts} attempts (lock retry budget spent): {reason}"
    return RevisionFailedError(
        reason, sqlstate=failure.sqlstate, revision=revision.id, attempts=attempts
    )


def _attempt_event(revision: Revision, attempt: Attempt, total: int) -> RevisionEvent:
    return RevisionEvent(
        "attempt",
        revision.id,
        attempt.number,
        f"attempt {attempt.number}/{total}, waiting at most "
        f"{format_duration(attempt.lock_timeout)} for locks",
        {"lock_timeout_s": attempt.lock_timeout},
    )


def _blocked_event(revision: str, attempt: int, blockers: list[Blocker]) -> RevisionEvent:
    if not blockers:
        return RevisionEvent("blocked", revision, attempt, "no longer blocked", {"blockers": []})
    text = "; ".join(b.describe() for b in blockers)
    return RevisionEvent(
        "blocked",
        revision,
        attempt,
        f"waiting on {text}",
        {"blockers": [b.__dict__ for b in blockers]},
    )


def _queue_event(revision: str, attempt: int, report: QueueReport) -> RevisionEvent:
    return RevisionEvent(
        "queue_cancelled",
        revision,
        attempt,
        f"{report.waiting} session(s) waited {format_duration(report.longest_wait_s)} behind "
        "the migration: cancelled it so they can go on",
        {"waiting": report.waiting, "longest_wait_s": report.longest_wait_s},
    )
