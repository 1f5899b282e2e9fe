"""The state file locked by another process around a real run: held a few seconds (the
bot waits, nothing is lost), and held past SQLite's busy timeout (the run stops at the step
it could not record; its outcome is recorded once the file is free). Each adds a row to
docs/reliability.md.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support.reliability.bot_process import wait_for
from tests.support.reliability.fault_targets import (
    FaultWorld,
    check_failed,
    check_succeeded,
)
from tests.support.reliability.world import (
    ALICE,
    DEV,
    RUN_TIMEOUT,
    World,
)

Reliability = Callable[..., None]
Reliability = Callable[..., None]


# --- the state file --------------------------------------------------------------------

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
sys.stdin.read()  # and on until the test closes our stdin
db.execute("COMMIT")
"""


@contextmanager
def state_file_locked(world: World, seconds: float = 0) -> Iterator[None]:
    """Another process holding the state file's write lock (``BEGIN EXCLUSIVE``) for at
    least ``seconds`` and as long as the ``with`` body runs: entered once it holds it,
    left once it has let go."""
    command = [sys.executable, "-c", LOCKER, str(world.root / "state.sqlite3"), str(seconds)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as locker:
        assert locker.stdin is not None and locker.stdout is not None
        assert locker.stdout.readline().strip() == "locked"
        yield
        locker.stdin.close()
        assert locker.wait(seconds + 60) == 0


@pytest.mark.slow
def test_a_state_file_locked_by_another_process_holds_the_bot_up_and_loses_nothing(
    faults: FaultWorld, reliability: Reliability
) -> None:
    world = faults.world
    _message, rid = world.start_run("plain")
    with state_file_locked(world, 3):
        assert not world.request(rid).state.is_final  # the run must write while it is held
        asked = len(world.bot.slack.workspace.ephemerals)
        assert world.bot.command("status plain", user=ALICE, channel=DEV) == 200
    check_succeeded(world, world.target("plain"), rid)
    answers = wait_for(
        lambda: [e for e in world.bot.slack.workspace.ephemerals[asked:] if e.user == ALICE],
        60,
        "the answer to /migrate status asked while the file was locked",
    )
    assert "plain" in answers[0].text + str(answers[0].blocks)
    steps = world.steps(rid)
    for step in ("preflight", "backup", "apply", "verify"):
        assert (step, "succeeded", None) in steps, steps
    reliability(
        area="fault",
        fault="state SQLite file locked (BEGIN EXCLUSIVE held 3 s by another process)",
        tried=1,
        outcome="the bot waited for the lock; the run succeeded with every step recorded;"
        " chain verifies; ops told once",
    )


@pytest.mark.slow
def test_a_state_file_locked_past_the_busy_timeout_stops_the_run_and_records_it_later(
    faults: FaultWorld, reliability: Reliability
) -> None:
    """Held past SQLite's 30 s busy timeout twice: the step's record cannot be written,
    so the run goes no further; its outcome cannot be written either at first, and is
    tried again until the file is free (the lock goes once the bot says it waits)."""
    world = faults.world
    offset = len(world.bot.log_text())
    message, rid = world.start_run("plain")
    with state_file_locked(world):
        assert not world.request(rid).state.is_final
        wait_for(  # the run's outcome, or the backup's end before it, waits for the file
            lambda: any(
                rid in line and "waits for the audit log" in line
                for line in world.bot.log_text()[offset:].splitlines()
            ),
            RUN_TIMEOUT,
            "the run's outcome or its backup's end waiting for the audit log",
        )
    wait_for(lambda: world.request(rid).state.is_final, RUN_TIMEOUT, "the run's end")
    closure = world.request(rid).closure
    assert closure is not None
    step = closure.details["failed_step"]
    assert step in ("preflight", "backup"), closure  # the backup is recorded before apply
    says = "is busy: database is locked"
    check_failed(world, world.target("plain"), rid, message.ts, step=step, says=says)
    log = world.bot.log_text()[offset:]
    assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]
    reliability(
        area="fault",
        fault="state SQLite file locked past the 30 s busy timeout, twice (step and outcome)",
        tried=1,
        outcome=f"run stopped at {step} before any revision; its outcome tried again and"
        f' recorded once the file was free: "the audit log … {says}"; database untouched;'
        " ops told once",
    )
