"""What a shared deployment does when its processes die, as real processes (``--full``).

- A worker SIGKILLed mid-revision: another worker finds its job stalled by
  heartbeat, the request becomes ``interrupted`` at its step with the revision
  the database holds, the operators are told once, the target's locks are
  free, the chain verifies, and the next request runs on the other worker.
- A target with ``queue``: only a worker of that queue runs its pre-flight and
  its run (the others cannot even reach its database).
- The scheduler's holder killed before a slot: another worker takes the seat
  and the scheduled run starts on time.
- Stop clicked on a front: the worker running the request aborts it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.local_slack.workspace import Message
from bot.views.ids import ActionId
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind, RequestState
from tests.support.deployment_steps import (
    RUN_TIMEOUT,
    ask,
    audit_verifies,
    target_toml,
    tick_and_approve,
)
from tests.support.polling import wait_for
from tests.support.reliability.world import database_revision
from tests.support.shared_deployment import ALICE, OPS, Deployment, Process

pytestmark = pytest.mark.slow

STALL_DEADLINE_S = 60 + 30  # the promise (60 s), and room for a loaded machine


def outcome(deployment: Deployment, rid: str) -> RequestState:
    done = wait_for(
        lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, f"{rid}'s end"
    )
    return done.state


def in_revision(deployment: Deployment, rid: str, revision: str) -> bool:
    steps = deployment.events(rid, EventKind.RUN_STEP)
    return any(
        s.get("step") == "apply" and s.get("status") == "started" and s.get("revision") == revision
        for s in steps
    )


def advisory_locks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        database = conn.info.dbname
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_worker_killed_mid_revision_leaves_the_run_interrupted_and_told_once(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    deployment, front, message, rid = _inside_first_revision(
        tmp_path, project, databases, shared_state_url, deployment_factory
    )
    running = deployment.worker_running(rid)
    running.kill()
    killed_at = time.monotonic()

    assert outcome(deployment, rid) is RequestState.INTERRUPTED
    found_after = time.monotonic() - killed_at
    assert found_after < STALL_DEADLINE_S, f"found stalled after {found_after:.0f} s"
    interrupted = deployment.events(rid, EventKind.RUN_INTERRUPTED)
    assert len(interrupted) == 1
    assert interrupted[0]["step"] == "apply"
    assert interrupted[0]["database_revisions"] == []  # r1_pair rolled back with its worker
    assert database_revision(_url(databases)) is None
    told = wait_for(
        lambda: [m for m in deployment.messages(OPS) if rid in m.text and "interrupted" in m.text],
        60,
        "the interruption in the ops channel",
    )
    assert len(told) == 1
    assert advisory_locks(databases["QUICK_DATABASE_URL"]) == 0  # the run lock is free
    assert "ok: " in audit_verifies(deployment)
    print(f"\nworker SIGKILLed mid-revision: run found stalled after {found_after:.1f} s")

    message, again = ask(deployment, front, "upgrade quick")  # the job lock is free too
    tick_and_approve(deployment, front, message, again)
    assert outcome(deployment, again) is RequestState.SUCCEEDED
    survivor = deployment.worker_running(again)
    assert survivor is not running and survivor.alive()
    assert (
        len([m for m in deployment.messages(OPS) if rid in m.text and "interrupted" in m.text]) == 1
    )


def test_a_target_with_a_queue_runs_only_on_a_worker_of_that_queue(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    toml = target_toml("quick", project) + target_toml("far", project, queue='"eu-west"')
    deployment = Deployment(tmp_path, shared_state_url, toml, environ=databases)
    deployment_factory.append(deployment)
    front = deployment.start_front()
    here = deployment.start_worker()
    far_url = databases["QUICK_DATABASE_URL"]  # the same server: only one worker is told of it
    far = deployment.start_worker("eu-west", environ={"FAR_DATABASE_URL": far_url})

    message, rid = ask(deployment, front, "upgrade far")  # its pre-flight runs on ``far``
    tick_and_approve(deployment, front, message, rid)
    assert outcome(deployment, rid) is RequestState.SUCCEEDED
    assert deployment.worker_running(rid) is far
    assert "FAR_DATABASE_URL" not in here.log()  # the default worker never tried it
    queued = deployment.query(
        "SELECT DISTINCT queue_name FROM procrastinate_jobs WHERE args->>'request_id' = %s",
        (rid,),
    )
    assert queued == [("eu-west",)]


def test_the_scheduler_holder_killed_another_starts_the_scheduled_run_on_time(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    toml = target_toml("quick", project, allow_outside_windows="true")
    deployment = Deployment(tmp_path, shared_state_url, toml, environ=databases)
    deployment_factory.append(deployment)
    front = deployment.start_front()
    deployment.start_worker()
    deployment.start_worker()
    holder = wait_for(deployment.scheduler_holder, 60, "a worker to hold the scheduler")

    slot = (datetime.now(UTC) + timedelta(seconds=75)).replace(second=0, microsecond=0)
    asked = f"schedule quick at {slot:%Y-%m-%d %H:%M} UTC"
    message, rid = ask(deployment, front, asked, shown="upgrade quick")
    tick_and_approve(deployment, front, message, rid)
    wait_for(lambda: deployment.request(rid).state is RequestState.APPROVED, 60, "the approval")

    holder.kill()
    killed_at = time.monotonic()
    taker = wait_for(
        lambda: (h := deployment.scheduler_holder()) is not None and h is not holder and h,
        60,
        "another worker to take the scheduler",
    )
    took_s = time.monotonic() - killed_at
    assert took_s < 30 + 10, f"the seat was taken after {took_s:.0f} s"

    assert outcome(deployment, rid) is RequestState.SUCCEEDED
    started = datetime.fromisoformat(
        deployment.requests().store.events(request_id=rid, kinds=[EventKind.RUN_STARTED])[0].ts
    )
    assert slot <= started < slot + timedelta(minutes=1)
    assert not deployment.events(rid, EventKind.SCHEDULE_MISSED)
    assert deployment.worker_running(rid) is taker
    print(
        f"\nscheduler holder SIGKILLed: seat taken after {took_s:.1f} s; run started"
        f" {(started - slot).total_seconds():.1f} s after its slot"
    )


def _url(databases: dict[str, str]) -> DatabaseUrl:
    return DatabaseUrl.parse(databases["QUICK_DATABASE_URL"])


def test_stop_clicked_on_a_front_aborts_the_run_on_the_worker_running_it(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    """The Stop button reaches whichever worker runs the request (procrastinate's abort)."""
    deployment, front, message, rid = _inside_first_revision(
        tmp_path, project, databases, shared_state_url, deployment_factory
    )
    stop = deployment.click_body(front, message, ActionId.CANCEL, user=ALICE)
    assert deployment.sender(front).post(stop)[0] == 200

    assert outcome(deployment, rid) is RequestState.ABORTED
    assert database_revision(_url(databases)) is None  # r1_pair rolled back
    assert advisory_locks(databases["QUICK_DATABASE_URL"]) == 0


def _inside_first_revision(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> tuple[Deployment, Process, Message, str]:
    """One front and two workers; ``upgrade quick`` asked, ticked and approved on the front,
    and its run inside the first revision on one of the workers."""
    deployment = Deployment(
        tmp_path, shared_state_url, target_toml("quick", project), environ=databases
    )
    deployment_factory.append(deployment)
    front = deployment.start_front()
    deployment.start_worker()
    deployment.start_worker()
    message, rid = ask(deployment, front, "upgrade quick")
    tick_and_approve(deployment, front, message, rid)
    wait_for(lambda: in_revision(deployment, rid, "r1_pair"), RUN_TIMEOUT, "the first revision")
    return deployment, front, message, rid
