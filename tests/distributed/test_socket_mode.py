"""Socket Mode scales out too: several fronts hold connections, Slack gives each
envelope to one of them, and a request asked through one front's connection and
ticked and approved through the other's runs once, on a worker; a front whose
connection is closed mid-run reconnects, and envelopes given again act once (``--full``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.views.ids import ActionId
from commands.state.vocabulary import ChecklistItem, EventKind, RequestState
from tests.support.deployment_steps import RUN_TIMEOUT, target_toml
from tests.support.polling import wait_for
from tests.support.reliability.world import header
from tests.support.shared_deployment import ALICE, BOB, DEV, Deployment
from tests.support.socket_mode import SocketModeEndpoint, envelope_of

pytestmark = pytest.mark.slow


def test_two_socket_mode_fronts_share_the_envelopes_and_a_run_happens_once(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    deployment_factory: list[Deployment],
) -> None:
    with SocketModeEndpoint() as endpoint:
        deployment = Deployment(
            tmp_path,
            shared_state_url,
            target_toml("quick", project),
            environ=databases,
            socket=endpoint,
        )
        deployment_factory.append(deployment)
        first, second = deployment.start_socket_front(), deployment.start_socket_front()
        deployment.start_worker()
        rid, _given = ask_tick_and_approve(deployment, endpoint)

        done = wait_for(
            lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, "the end"
        )
        assert done.state is RequestState.SUCCEEDED
        assert len(deployment.events(rid, EventKind.RUN_STARTED)) == 1
        for front in (first, second):  # each connection was given envelopes, and enqueued them
            assert "enqueued a Slack request" in front.log(), front.log()[-2000:]


def test_a_socket_mode_front_dropped_mid_run_reconnects_and_acts_on_nothing_twice(
    tmp_path: Path,
    project: Path,
    databases: dict[str, str],
    shared_state_url: str,
    reliability: Callable[..., None],
) -> None:
    with SocketModeEndpoint() as endpoint:
        deployment = Deployment(
            tmp_path,
            shared_state_url,
            target_toml("quick", project),
            environ=databases,
            socket=endpoint,
        )
        try:
            dropped_mid_run(deployment, endpoint)
        finally:
            deployment.close()
    reliability(
        area="shared state",
        fault="a Socket Mode front's connection closed by Slack's side mid-run, then the"
        " approval and the tick given again (retry_attempt 1)",
        tried=1,
        outcome="the front reconnected and answered the next command; the envelopes given"
        " again were dropped as repeats; one approval, one run, succeeded",
    )


def dropped_mid_run(deployment: Deployment, endpoint: SocketModeEndpoint) -> None:
    """A request approved through the front's connection; the connection closed inside its
    first revision; the approval and the tick given again once the front is back."""
    front = deployment.start_socket_front()
    deployment.start_worker()
    sender = deployment.socket_sender()
    rid, (tick, approve) = ask_tick_and_approve(deployment, endpoint)
    wait_for(lambda: in_revision(deployment, rid), RUN_TIMEOUT, "the first revision")

    opened = endpoint.opened
    assert endpoint.drop() == 1
    wait_for(lambda: endpoint.opened > opened and endpoint.connections == 1, 60, "a reconnect")
    endpoint.send(*approve, retry_attempt=1)  # Slack gives an envelope it saw no ack for again
    endpoint.send(*tick, retry_attempt=1)
    asked = len(deployment.slack.workspace.ephemerals)
    endpoint.send(*envelope_of(sender.command_body("status quick", user=ALICE, channel=DEV)))
    wait_for(lambda: len(deployment.slack.workspace.ephemerals) > asked, 120, "the answer")

    done = wait_for(
        lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, "the end"
    )
    assert done.state is RequestState.SUCCEEDED
    for kind in (EventKind.RUN_STARTED, EventKind.APPROVAL_GRANTED, EventKind.RUN_FINISHED):
        assert len(deployment.events(rid, kind)) == 1, kind
    assert len(deployment.events(rid, EventKind.CHECKLIST_TICKED)) == 1
    assert front.alive(), front.log()[-2000:]


Envelope = tuple[str, dict[str, Any]]


def ask_tick_and_approve(
    deployment: Deployment, endpoint: SocketModeEndpoint
) -> tuple[str, tuple[Envelope, Envelope]]:
    """``upgrade quick`` asked, ticked and approved through the endpoint's connections; the
    request id, and the tick's and the approval's envelopes (to give them again)."""
    sender = deployment.socket_sender()
    endpoint.send(*envelope_of(sender.command_body("upgrade quick", user=ALICE, channel=DEV)))
    message = wait_for(
        lambda: next((m for m in deployment.messages(DEV) if "Approve" in str(m.blocks)), None),
        RUN_TIMEOUT,
        "the request message",
    )
    rid = header(message).split(" ")[0]
    ticks = {"type": "checkboxes", "selected_options": [{"value": "code_reviewed"}]}
    tick = envelope_of(
        deployment.click_body(sender, message, ActionId.CHECKLIST, user=ALICE, **ticks)
    )
    endpoint.send(*tick)
    wait_for(lambda: deployment.request(rid).tick_of(ChecklistItem.CODE_REVIEWED), 60)
    approve = envelope_of(deployment.click_body(sender, message, ActionId.APPROVE, user=BOB))
    endpoint.send(*approve)
    return rid, (tick, approve)


def in_revision(deployment: Deployment, rid: str) -> bool:
    return any(
        s.get("step") == "apply" and s.get("status") == "started"
        for s in deployment.events(rid, EventKind.RUN_STEP)
    )
