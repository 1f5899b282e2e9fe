"""Crash at every step: real runs started through Slack, the bot SIGKILLed at points
spread over pre-flight, the dump, the S3 upload, between and inside revisions,
verification and the posting of the outcome, then restarted on the same state file
and checked (``after_crash``).

One bot process serves every case of the module (a kill and a restart per case);
each run starts from a fresh copy of its target's database (``crash_targets``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.reliability.after_crash import (
    check_announced,
    check_interrupted,
    held_calls,
    kill,
    restart,
)
from tests.support.reliability.bot_process import wait_for
from tests.support.reliability.crash_targets import CrashWorld
from tests.support.reliability.kill_points import (
    FAST,
    FULL,
    OUTCOME,
    OUTCOME_FAST,
    OUTCOME_FULL,
    KillPoint,
    OutcomePoint,
)
from tests.support.reliability.world import RUN_TIMEOUT


def where(revision: str | None, before: str | None) -> str:
    """Where the kill left the database, in the words of the table."""
    if revision == before:
        return "database untouched" if revision is None else "database at the last revision applied"
    return "database at the revision in flight (it committed before the kill)"


@pytest.mark.parametrize(
    "point",
    [*FAST, *(pytest.param(p, marks=pytest.mark.slow) for p in FULL)],
    ids=lambda p: p.id,
)
def test_a_kill_at_any_step_leaves_the_run_interrupted_and_everything_consistent(
    crash_world: CrashWorld, point: KillPoint, reliability: Callable[..., None]
) -> None:
    world, bucket = crash_world.world, crash_world.bucket
    target = world.target(point.target)
    hold = (lambda _id: crash_world.replica.hold()) if point.hold_replica else (lambda _id: None)
    try:
        _message, request_id = world.start_run(target.name, before_approval=hold)
        wait_for(
            lambda: (
                point.reached(crash_world, target, request_id)
                or world.request(request_id).state.is_final
            ),
            RUN_TIMEOUT,
            f"the kill point {point.id}",
        )
        assert not world.request(request_id).state.is_final, f"the run ended before {point.id}"
        killed = kill(world, target, bucket)
    finally:
        crash_world.replica.release()
    run = world.request(request_id).run
    restart(world, killed)  # first: the module's next cases need the bot whatever this finds
    assert run is not None
    step, last_applied = run.current_step, run.last_revision_applied
    assert step in point.steps, (step, point.steps)

    revision, removed = check_interrupted(
        world, target, request_id, step=str(step), killed=killed, bucket=bucket
    )
    cleanup = f"{', '.join(removed)} removed at restart, recorded" if removed else None
    reliability(
        area="crash",
        fault=point.fault,
        tried=1,
        outcome=f"interrupted at {step}; {where(revision, last_applied)};"
        f" {cleanup or 'nothing left to clean'}; lock free; chain verifies; ops told once;"
        " old Approve refused",
        lost="nothing",
    )


@pytest.mark.parametrize(
    "point",
    [*OUTCOME_FAST, *(pytest.param(p, marks=pytest.mark.slow) for p in OUTCOME_FULL)],
    ids=lambda p: p.id,
)
def test_a_kill_while_posting_the_outcome_keeps_it_and_announces_it_once(
    crash_world: CrashWorld, point: OutcomePoint, reliability: Callable[..., None]
) -> None:
    world = crash_world.world
    target = world.target("verify")
    slack = world.bot.slack
    held: list = []

    def hold(request_id: str) -> None:
        held.append(point.fault(request_id))
        slack.inject(held[0])

    try:
        _message, request_id = world.start_run(target.name, before_approval=hold)
        wait_for(lambda: held[0] in slack.faults.used, RUN_TIMEOUT, f"the held call {point.id}")
        answered = held_calls(world, held[0])
        killed = kill(world, target)
    finally:
        slack.faults.clear()
    restart(world, killed)

    check_announced(world, target, request_id, held=held[0], answered=answered, killed=killed)
    reliability(
        area="crash",
        fault=OUTCOME,
        tried=1,
        outcome=f"killed while sending {point.call}; the run stays succeeded (never marked"
        " interrupted), database at head; each announcement sent once after restart;"
        " lock free; chain verifies; old Approve refused",
        lost="nothing",
    )
