"""Each revision of a run, recorded and reported as the executor steps through them.

Before a revision runs: the run's limits are checked (stopping there leaves
the database at a revision boundary) and its ``run_step`` is recorded, so a
crash leaves it on record. After it: its duration, recorded in the same
write as the next revision's start (one write to disk per revision, both
before the next one runs; ``flush`` writes the last). Lock waits, blockers
and retries are recorded when they matter and reported as progress.
"""

from __future__ import annotations

from typing import Any, Protocol

from commands.migration.runtime.executor import RevisionEvent
from commands.migration.runtime.stepping import StepResult
from commands.migration.script.revision_graph import Revision
from commands.pipeline.limits import RunLimits
from commands.pipeline.progress import AppliedRevision, RunStep, UpdateKind
from commands.requests.run_events import StepRecord
from commands.state.vocabulary import StepStatus
from commands.units import format_duration

STEP = RunStep.APPLY


class StepReporter(Protocol):
    """What of the run's stages a revision's progress writes to."""

    limits: RunLimits
    applied: list[AppliedRevision]

    def record_many(self, steps: list[StepRecord]) -> None: ...

    def emit(self, step: RunStep, kind: UpdateKind, message: str, **fields: Any) -> None: ...


class RevisionProgress:
    """The executor's callbacks for one run: ``start``, ``done``, ``event``."""

    def __init__(self, stages: StepReporter, total: int) -> None:
        self.stages = stages
        self.total = total
        self.index = 0
        self.where: dict[str, Any] = {}
        self.unwritten: list[StepRecord] = []

    def record(self, step: StepRecord) -> None:
        self.stages.record_many([*self.unwritten, step])
        self.unwritten = []

    def flush(self) -> None:
        """Write what is still unwritten (the last revision's end)."""
        if self.unwritten:
            self.record(self.unwritten.pop())

    def start(self, revision: Revision, round_: int) -> None:
        self.stages.limits.check(f"revision {revision.id}")
        if round_ == 1:
            self.index += 1
        again = "" if round_ == 1 else f" (version table {round_})"
        self.where = {"revision": revision.id, "index": self.index, "total": self.total}
        self.record(
            StepRecord(STEP, StepStatus.STARTED, revision.id, None, revision.message + again)
        )
        self.stages.emit(
            STEP, UpdateKind.STARTED, f"{revision.id} {revision.message}{again}", **self.where
        )

    def done(self, revision: Revision, result: StepResult, round_: int) -> None:
        again = "" if round_ == 1 else f" (version table {round_})"
        self.stages.applied.append(
            AppliedRevision(revision.id, revision.message, result.duration_s)
        )
        done = (
            f"{revision.id} {revision.message}{again} ... done in"
            f" {format_duration(result.duration_s)}"
        )
        self.unwritten.append(
            StepRecord(STEP, StepStatus.SUCCEEDED, revision.id, result.duration_s, done)
        )
        self.stages.emit(
            STEP,
            UpdateKind.REVISION_DONE,
            done,
            data={"duration_s": result.duration_s},
            **self.where,
        )

    def event(self, event: RevisionEvent) -> None:
        if event.kind in ("retrying", "queue_cancelled") or (
            event.kind == "blocked" and event.data.get("blockers")
        ):
            status = StepStatus.FAILED if event.kind == "retrying" else StepStatus.STARTED
            self.record(StepRecord(STEP, status, event.revision, None, event.message))
        self.stages.emit(
            STEP,
            UpdateKind.PROGRESS,
            event.message,
            data={"event": event.kind, **event.data},
            **self.where,
        )
