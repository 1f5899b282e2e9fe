"""Socket Mode scales out too: several fronts hold connections, Slack gives each
envelope to one of them, and a request asked through one front's connection and
ticked and approved through the other's runs once, on a worker (``--full``)."""

from __future__ import annotations

from pathlib import Path

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
        sender = deployment.socket_sender()

        endpoint.send(*envelope_of(sender.command_body("upgrade quick", user=ALICE, channel=DEV)))
        message = wait_for(
            lambda: next((m for m in deployment.messages(DEV) if "Approve" in str(m.blocks)), None),
            RUN_TIMEOUT,
            "the request message",
        )
        rid = header(message).split(" ")[0]
        ticks = {"type": "checkboxes", "selected_options": [{"value": "code_reviewed"}]}
        tick = deployment.click_body(sender, message, ActionId.CHECKLIST, user=ALICE, **ticks)
        endpoint.send(*envelope_of(tick))
        wait_for(lambda: deployment.request(rid).tick_of(ChecklistItem.CODE_REVIEWED), 60)
        endpoint.send(
            *envelope_of(deployment.click_body(sender, message, ActionId.APPROVE, user=BOB))
        )

        done = wait_for(
            lambda: (r := deployment.request(rid)).state.is_final and r, RUN_TIMEOUT, "the end"
        )
        assert done.state is RequestState.SUCCEEDED
        assert len(deployment.events(rid, EventKind.RUN_STARTED)) == 1
        for front in (first, second):  # each connection was given envelopes, and enqueued them
            assert "enqueued a Slack request" in front.log(), front.log()[-2000:]
