"""Runs one revision the careful way: timeouts, lock retries, a watch on locks.

Each attempt reaches the child's connections with ``PGOPTIONS``
(``lock_timeout`` for this attempt, ``statement_timeout``) and a
per-attempt ``application_name``, so the lock monitor can find the
migration's backends. A lock wait given up (55P03), or a statement the
monitor cancelled because live traffic queued behind it too long, is retried
on the lock-retry schedule. A revision that commits part-way
(``autocommit_block``) is only retried once a guard has checked what the
failed attempt left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from commands.errors import AlembicError
from commands.migration.runtime.lock_monitor import Blocker, LockMonitor, QueueReport
from commands.migration.runtime.lock_retry import Attempt, child_env, is_retryable, retry_schedule
from commands.migration.runtime.runner import AlembicSession, StepResult
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


RetryGuard = Callable[[Revision], str | None]
"""Returns why a failed revision must not be retried (what it left behind), or None."""


class RevisionFailedError(AlembicError):
    """A revision failed for good; ``attempts`` says how many tries were made."""

    def __init__(self, message: str, *, sqlstate: str | None, revision: str, attempts: int) -> None:
        super().__init__(message, sqlstate=sqlstate, revision=revision)
        self.attempts = attempts


def commits_part_way(revision: Revision) -> bool:
    """Whether the revision uses ``autocommit_block`` (so a failure may leave work behind)."""
    try:
        return review_file(revision.path).uses_autocommit_block
    except ReviewError:
        return True  # unreadable: assume the worst


def execute_revision(
    session: AlembicSession,
    database: DatabaseUrl,
    revision: Revision,
    direction: Direction,
    *,
    settings: ExecutionSettings,
    label: str,
    on_event: Callable[[RevisionEvent], None],
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    retry_guard: RetryGuard | None = None,
) -> StepResult:
    """Apply or undo ``revision``, retrying lock failures on the schedule.

    Raises ``RevisionFailedError`` when it fails for good and ``AlembicStopped``
    at the deadline or on cancel (the session is then closed).
    """
    schedule = retry_schedule(settings.lock_timeout, settings.lock_retry_budget)
    for attempt in schedule:
        if attempt.pause_before and _pause(attempt.pause_before, deadline, cancel):
            break
        app_name = f"migrate-bot {label} {revision.id} #{attempt.number}"[:63]
        on_event(_attempt_event(revision, attempt, len(schedule)))
        monitor = LockMonitor(
            database,
            app_name,
            on_blocker=lambda blockers, n=attempt.number: on_event(
                _blocked_event(revision, n, blockers)
            ),
            on_queue_cancel=lambda report, n=attempt.number: on_event(
                _queue_event(revision, n, report)
            ),
            queue_budget=settings.queue_budget,
        )
        env = child_env(
            lock_timeout=attempt.lock_timeout,
            statement_timeout=settings.statement_timeout,
            server_major=settings.server_major,
            application_name=app_name,
        )
        try:
            with monitor:
                return session.apply(
                    revision.id, direction, deadline=deadline, cancel=cancel, env=env
                )
        except AlembicError as exc:
            if type(exc) is not AlembicError:  # stopped: not ours to retry
                raise
            failure = exc
        retryable = is_retryable(failure.sqlstate, cancelled_by_us=monitor.cancelled_for_queue)
        last = attempt.number == len(schedule)
        if not retryable or last:
            raise _final(failure, revision, attempt.number, retryable)
        leftover = retry_guard(revision) if retry_guard and commits_part_way(revision) else None
        if leftover:
            raise RevisionFailedError(
                f"{failure} — not retried: {leftover}",
                sqlstate=failure.sqlstate,
                revision=revision.id,
                attempts=attempt.number,
            )
        next_pause = schedule[attempt.number].pause_before
        on_event(
            RevisionEvent(
                "retrying",
                revision.id,
                attempt.number,
                f"attempt {attempt.number} could not get its lock; next try in "
                f"{format_duration(next_pause)}",
                {"sqlstate": failure.sqlstate, "pause_s": next_pause},
            )
        )
    raise RevisionFailedError(
        "stopped while waiting to retry", sqlstate=None, revision=revision.id, attempts=0
    )


def _pause(seconds: float, deadline: float | None, cancel: threading.Event | None) -> bool:
    """Sleep, cut short by cancel or the deadline; True when the run must stop."""
    if deadline is not None:
        seconds = min(seconds, max(0.0, deadline - time.monotonic()))
    stopped = cancel.wait(seconds) if cancel is not None else (time.sleep(seconds) or False)
    return bool(stopped) or (deadline is not None and time.monotonic() >= deadline)


def _final(
    failure: AlembicError, revision: Revision, attempts: int, retryable: bool
) -> RevisionFailedError:
    reason = str(failure).removeprefix(f"{revision.id}: ")
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


def _blocked_event(revision: Revision, attempt: int, blockers: list[Blocker]) -> RevisionEvent:
    if not blockers:
        return RevisionEvent("blocked", revision.id, attempt, "no longer blocked", {"blockers": []})
    text = "; ".join(b.describe() for b in blockers)
    return RevisionEvent(
        "blocked",
        revision.id,
        attempt,
        f"waiting on {text}",
        {"blockers": [b.__dict__ for b in blockers]},
    )


def _queue_event(revision: Revision, attempt: int, report: QueueReport) -> RevisionEvent:
    return RevisionEvent(
        "queue_cancelled",
        revision.id,
        attempt,
        f"{report.waiting} session(s) waited {format_duration(report.longest_wait_s)} behind "
        "the migration: cancelled it so they can go on",
        {"waiting": report.waiting, "longest_wait_s": report.longest_wait_s},
    )
