"""The shared state's own faults, as real processes on a state PostgreSQL of its own
(the target's database is another server) — ``--full``; each a row of docs/reliability.md.

- The state server restarted while a run is inside a revision: the run goes on, its
  steps and outcome are recorded once the state is back, each once; the thread and the
  ops channel are told once; the chain verifies.
- A worker cut off from the state for 30 s (its connections terminated again and
  again): its run goes on and is recorded once, no other worker runs the job or marks
  it interrupted.
- The state unreachable when a slash command reaches a front: the asker is told at once
  that it cannot be recorded now; nothing runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

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
from tests.support.reliability.world import HEAD, database_revision
from tests.support.shared_deployment import ALICE, DEV, OPS, Deployment, Process
from tests.support.shared_state import OwnState

pytestmark = pytest.mark.slow
Reliability = Callable[..., None]


def in_revision(deployment: Deployment, rid: str, revision: str) -> bool:
    return any(
        s.get("step") == "apply" and s.get("status") == "started" and s.get("revision") == revision
        for s in deployment.events(rid, EventKind.RUN_STEP)
    )


def run_inside_first_revision(
    tmp_path: Path, project: Path, databases: dict[str, str], state_url: str, workers: int = 1
) -> tuple[Deployment, Process, str]:
    deployment = Deployment(tmp_path, state_url, target_toml("quick", project), environ=databases)
    front = deployment.start_front()
    for _ in range(workers):
        deployment.start_worker()
    message, rid = ask(deployment, front, "upgrade quick")
    tick_and_approve(deployment, front, message, rid)
    wait_for(lambda: in_revision(deployment, rid, "r1_pair"), RUN_TIMEOUT, "the first revision")
    return deployment, front, rid


def finished(deployment: Deployment, rid: str) -> RequestState:
    return wait_for(
        lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, f"{rid}'s end"
    ).state


def each_step_once(deployment: Deployment, rid: str) -> list[tuple[object, ...]]:
    steps = [
        (s.get("step"), s.get("status"), s.get("revision"))
        for s in deployment.events(rid, EventKind.RUN_STEP)
    ]
    assert len(steps) == len(set(steps)), steps
    for revision in ("r1_pair", "r2_duo", "r3_col"):
        assert ("apply", "succeeded", revision) in steps or any(
            s[0] == "apply" and s[1] == "succeeded" for s in steps
        ), steps
    assert len(deployment.events(rid, EventKind.RUN_STARTED)) == 1
    assert len(deployment.events(rid, EventKind.RUN_FINISHED)) == 1
    return steps


def answered(deployment: Deployment, front: Process, text: str) -> str:
    """Alice's ``/migrate TEXT`` through ``front``, and the answer only she sees."""
    before = len(deployment.slack.workspace.ephemerals)
    sender = deployment.sender(front)
    assert sender.post(sender.command_body(text, user=ALICE, channel=DEV))[0] == 200
    return wait_for(
        lambda: [e.text for e in deployment.slack.workspace.ephemerals[before:] if e.user == ALICE],
        RUN_TIMEOUT,
        f"the answer to /migrate {text}",
    )[0]


def told_once(deployment: Deployment, rid: str) -> None:
    """The outcome in the ops channel once, and the request's thread told it once."""
    outcome = wait_for(
        lambda: [m for m in deployment.messages(OPS) if rid in m.text and "succeeded" in m.text],
        120,
        "the outcome in the ops channel",
    )
    time.sleep(3)  # a second copy would come from a retried delivery: give it time to show
    assert (
        len([m for m in deployment.messages(OPS) if rid in m.text and "succeeded" in m.text]) == 1
    )
    replies = [
        m
        for m in deployment.slack.workspace.messages.get(DEV, {}).values()
        if m.thread_ts not in (None, m.ts) and "succeeded" in m.text
    ]
    assert len(replies) <= 1, replies
    assert outcome


def test_the_state_server_restarted_mid_revision_the_run_goes_on_and_is_recorded_once(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    own_state: OwnState,
    reliability: Reliability,
) -> None:
    deployment, _front, rid = run_inside_first_revision(tmp_path, project, databases, own_state.url)
    try:
        own_state.server.stop()
        time.sleep(6)  # the revision ends while the state is down (each sleeps 4 s)
        own_state.server.start()
        assert finished(deployment, rid) is RequestState.SUCCEEDED
        assert database_revision(DatabaseUrl.parse(databases["QUICK_DATABASE_URL"])) == HEAD
        each_step_once(deployment, rid)
        told_once(deployment, rid)
        assert "ok: " in audit_verifies(deployment)
    finally:
        deployment.close()
    reliability(
        area="shared state",
        fault="state PostgreSQL stopped 6 s and started again while a run is inside a revision",
        tried=1,
        outcome="the run went on and succeeded; every step and the outcome recorded once"
        " when the state was back; ops and thread told once; chain verifies",
    )


def terminate_connections_of(state_url: str, process: Process) -> int:
    """Cut every connection ``process`` holds to the state (its application names end in
    its pid); how many were cut."""
    with psycopg.connect(state_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"% {process.pid}",),
        ).fetchall()
    return len(rows)


def test_a_worker_cut_off_from_the_state_for_30_s_runs_its_job_once_and_loses_nothing(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    reliability: Reliability,
) -> None:
    deployment, _front, rid = run_inside_first_revision(
        tmp_path, project, databases, shared_state_url, workers=2
    )
    try:
        running = deployment.worker_running(rid)
        cut, until = 0, time.monotonic() + 30
        while time.monotonic() < until:
            cut += terminate_connections_of(shared_state_url, running)
            time.sleep(0.5)
        assert cut > 0
        assert finished(deployment, rid) is RequestState.SUCCEEDED
        assert deployment.worker_running(rid) is running and running.alive()
        assert not deployment.events(rid, EventKind.RUN_INTERRUPTED)
        each_step_once(deployment, rid)
        told_once(deployment, rid)
        assert "ok: " in audit_verifies(deployment)
    finally:
        deployment.close()
    print(f"\nworker cut off for 30 s: {cut} of its state connections terminated")
    reliability(
        area="shared state",
        fault="a worker's state connections terminated every 0.5 s for 30 s mid-run",
        tried=1,
        outcome=f"{cut} connections cut; the run succeeded on the same worker, every step"
        " recorded once, no other worker ran or interrupted it; chain verifies",
    )


def test_a_slash_command_at_a_front_with_the_state_down_is_answered_at_once(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    own_state: OwnState,
    reliability: Reliability,
) -> None:
    deployment = Deployment(
        tmp_path, own_state.url, target_toml("quick", project), environ=databases
    )
    try:
        front = deployment.start_front()
        deployment.start_worker()
        own_state.server.stop()
        sender = deployment.sender(front)
        asked = time.monotonic()
        assert sender.post(sender.command_body("upgrade quick", user=ALICE, channel=DEV))[0] == 200
        answer = wait_for(
            lambda: [e for e in deployment.slack.workspace.ephemerals if e.user == ALICE],
            30,
            "the answer to the asker",
        )[0]
        answered_s = time.monotonic() - asked
        assert "cannot be recorded" in answer.text, answer.text
        own_state.server.start()
        time.sleep(10)  # a request recorded after all would run by now
        assert not deployment.requests().store.events(kinds=[EventKind.REQUEST_CREATED])
        assert not [m for m in deployment.messages(DEV) if "Approve" in str(m.blocks)]
    finally:
        deployment.close()
    print(f"\nslash command with the state down: answered in {answered_s:.1f} s")
    reliability(
        area="shared state",
        fault="the state PostgreSQL down when /migrate upgrade reaches a front",
        tried=1,
        outcome=f"the asker told in {answered_s:.1f} s that it cannot be recorded now;"
        " nothing recorded, nothing run",
    )
