"""Rehearsal: the pending revisions applied, one by one and timed, on a restored copy.

The runbook's "test on a production-sized dataset", done every time: the
fresh backup restored into a scratch database, the revisions applied there
under the target's statement_timeout and max duration, each one timed, the
copy dropped. The timings become the approver's estimate ("3 revisions,
rehearsed in 41 s on a copy taken 2 min ago") and the max-duration check.

Where the copy comes from is the caller's business: ``make_scratch`` is a
context manager that yields a ``ScratchDatabase`` restored from the backup and
drops it on exit, so this module never needs to know about backups.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from audit.store import Clock, utc_now
from commands.checks.framework import CheckResult, Verdict
from commands.errors import AlembicError
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.runtime.stepping import StepResult
from commands.migration.script.plan import Plan
from commands.postgres.database_url import DatabaseUrl
from commands.targets import TargetHandle
from commands.units import format_duration, postgres_interval


@dataclass(frozen=True)
class ScratchDatabase:
    """A throwaway copy of the target: where it is and when its data was captured."""

    url: DatabaseUrl
    copy_taken_at: datetime
    source: str  # e.g. the backup's URI, for the record


ScratchFactory = Callable[[], AbstractContextManager[ScratchDatabase]]


@dataclass(frozen=True)
class Rehearsal:
    """Each revision's time on the copy; ``failure`` says where and why it stopped, if it did."""

    target: str
    planned: tuple[str, ...]
    steps: tuple[StepResult, ...]
    failure: str | None
    copy_taken_at: datetime
    source: str
    started_at: datetime
    total_s: float

    def summary(self, now: datetime) -> str:
        """'3 revisions, rehearsed in 41 s on a copy taken 2 min ago'."""
        age = format_duration(max((now - self.copy_taken_at).total_seconds(), 0))
        count = len(self.planned)
        noun = "revision" if count == 1 else "revisions"
        if self.failure:
            return f"{count} {noun}: rehearsal failed on a copy taken {age} ago: {self.failure}"
        took = format_duration(self.total_s)
        return f"{count} {noun}, rehearsed in {took} on a copy taken {age} ago"

    def as_check(self, *, max_duration: float, now: datetime) -> CheckResult:
        """Fail if a revision failed on the copy or the whole took longer than ``max_duration``."""
        details = tuple(
            f"{step.revision}  {format_duration(step.duration_s)}" for step in self.steps
        )
        data = {
            "steps": [
                {"revision": s.revision, "duration_s": round(s.duration_s, 4)} for s in self.steps
            ],
            "failure": self.failure,
            "total_s": round(self.total_s, 3),
            "copy_taken_at": self.copy_taken_at.isoformat(),
            "source": self.source,
        }
        summary = self.summary(now)
        limit = format_duration(max_duration)
        if self.failure:
            verdict = Verdict.FAIL
        elif self.total_s > max_duration:
            verdict, summary = Verdict.FAIL, f"{summary}: over max_duration {limit}"
        elif self.total_s > max_duration / 2:
            verdict, summary = Verdict.WARN, f"{summary}: over half of max_duration {limit}"
        else:
            verdict = Verdict.PASS
        return CheckResult("rehearsal", verdict, summary, details, data)


def rehearse(
    handle: TargetHandle,
    plan: Plan,
    *,
    make_scratch: ScratchFactory,
    clock: Clock = utc_now,
    cancel: threading.Event | None = None,
) -> Rehearsal:
    """Apply ``plan`` on a scratch copy of ``handle``'s database, timing each revision.

    A revision that fails or runs past the target's max_duration ends the
    rehearsal and is reported in ``failure``; it is not raised. Errors of the
    scratch factory itself (the restore failed) propagate.
    """
    config = handle.config
    started_at, started = clock(), time.monotonic()
    steps: list[StepResult] = []
    failure = None
    env = {"PGOPTIONS": f"-c statement_timeout={postgres_interval(config.statement_timeout)}"}
    with make_scratch() as scratch:
        runner = AlembicRunner(config.alembic, scratch.url, f"{config.name} (rehearsal)")
        try:
            with runner.session() as session:
                current = session.current()
                if set(current) != set(plan.current):
                    shown = ", ".join(current) or "base"
                    failure = f"the copy is at {shown}, not where the plan starts"
                for revision in plan.revisions if failure is None else ():
                    steps.append(
                        session.apply(
                            revision.id,
                            plan.direction,
                            deadline=started + config.max_duration,
                            cancel=cancel,
                            env=env,
                        )
                    )
        except AlembicError as exc:
            failure = str(exc)
    return Rehearsal(
        target=handle.name,
        planned=tuple(r.id for r in plan.revisions),
        steps=tuple(steps),
        failure=failure,
        copy_taken_at=scratch.copy_taken_at,
        source=scratch.source,
        started_at=started_at,
        total_s=sum(s.duration_s for s in steps),
    )
