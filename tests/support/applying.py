"""Apply a plan one revision at a time, so each step is timed and a failure is exact.

What the pipeline does in full, reduced to the revisions: tests and benches use it to
put a database at a revision quickly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner, StepResult
from commands.migration.script.plan import Plan, revisions_text
from commands.migration.script.revision_graph import Revision
from commands.targets import TargetHandle


class PlanOutdatedError(MigrateBotError):
    """The database moved since the plan was made; plan again."""


@dataclass(frozen=True)
class StepStarted:
    """A revision is about to run (``index`` counts from 1 of ``total``)."""

    revision: Revision
    index: int
    total: int


def run_plan(
    handle: TargetHandle,
    plan: Plan,
    *,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[StepStarted | StepResult]:
    """Yield ``StepStarted`` then ``StepResult`` for each revision, in plan order.

    Raises ``PlanOutdatedError`` if the database is not where the plan began,
    and ``AlembicError`` (with the revision in its message) when a step fails.
    """
    with AlembicRunner.for_target(handle).session() as session:
        current = session.current()
        if set(current) != set(plan.current):
            raise PlanOutdatedError(
                f"{plan.target} is at {_names(current)}, not {_names(plan.current)} as planned:"
                " plan again"
            )
        total = len(plan.revisions)
        for index, revision in enumerate(plan.revisions, start=1):
            yield StepStarted(revision=revision, index=index, total=total)
            yield session.apply(
                revision.id, plan.direction, deadline=deadline, cancel=cancel, env=env
            )


def _names(revisions: tuple[str, ...]) -> str:
    return revisions_text(revisions)
