"""A shared deployment as real processes: two fronts, two workers, one PostgreSQL state.

A request asked through one front is ticked and approved through the other,
and run once, on a worker; the same click delivered to both fronts, and a
second click, have one effect; the App Home tab opened on a front is drawn by
a worker, and the names the workers recorded reach the terminal; a worker's
metrics count the deployment's requests. The rest (a
worker killed mid-revision, a queue of its own, the scheduler's holder killed)
is long, behind ``--full``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from bot.views.ids import ActionId
from commands.state.vocabulary import ChecklistItem, EventKind, RequestState
from tests.support.deployment_steps import (
    RUN_TIMEOUT,
    ask,
    audit_verifies,
    cli,
    target_toml,
)
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import free_port
from tests.support.shared_deployment import ALICE, BOB, OPS, Deployment


def test_asked_on_one_front_approved_on_another_run_once_on_a_worker(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    deployment = Deployment(
        tmp_path, shared_state_url, target_toml("quick", project), environ=databases
    )
    deployment_factory.append(deployment)
    front_a, front_b = deployment.start_front(), deployment.start_front()
    deployment.start_worker(metrics_port=(metrics_port := free_port()))
    deployment.start_worker()

    message, rid = ask(deployment, front_a, "upgrade quick")
    ticks = {"type": "checkboxes", "selected_options": [{"value": "code_reviewed"}]}
    tick = deployment.click_body(front_b, message, ActionId.CHECKLIST, user=ALICE, **ticks)
    assert deployment.sender(front_b).post(tick)[0] == 200
    wait_for(lambda: deployment.request(rid).tick_of(ChecklistItem.CODE_REVIEWED), 60, "the tick")

    click = deployment.click_body(front_b, message, ActionId.APPROVE, user=BOB)
    for front in (front_b, front_a):  # Slack's retry reaching the other front, say
        assert deployment.sender(front).post(click)[0] == 200
    again = deployment.click_body(front_a, message, ActionId.APPROVE, user=BOB)  # a double click
    assert deployment.sender(front_a).post(again)[0] == 200

    done = wait_for(
        lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, "the outcome"
    )
    assert done.state is RequestState.SUCCEEDED, deployment.events(rid, EventKind.RUN_FINISHED)
    assert len(deployment.events(rid, EventKind.APPROVAL_GRANTED)) == 1
    assert len(deployment.events(rid, EventKind.RUN_STARTED)) == 1
    assert deployment.worker_running(rid) in deployment.workers  # not a front
    outcome = wait_for(
        lambda: [m for m in deployment.messages(OPS) if rid in m.text and "succeeded" in m.text],
        60,
        "the outcome in the ops channel",
    )
    assert len(outcome) == 1
    answers = [e.text for e in deployment.slack.workspace.ephemerals if e.user == BOB]
    assert any("already" in str(text).lower() for text in answers), answers
    assert "ok: " in audit_verifies(deployment)

    opened = {"type": "app_home_opened", "user": BOB, "channel": "D0BOB", "tab": "home"}
    assert deployment.sender(front_a).post(deployment.sender(front_a).event_body(opened))[0] == 200
    home = wait_for(lambda: deployment.slack.workspace.home(BOB), 60, "Bob's App Home tab")
    assert rid in json.dumps(home["blocks"])  # drawn by a worker, from the shared log
    whole = cli(deployment, "audit", "--request", rid, "--limit", "500")  # its first event too
    assert re.search(rf"{rid} +quick +alice +asked", whole)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as got:
        scraped = got.read().decode()  # whichever worker ran it: the counters are the log's
    assert 'migrate_bot_requests_total{kind="upgrade",outcome="succeeded"} 1.0' in scraped
