"""A post whose answer never came is looked for in Slack before it is sent again.

Slack may take a message and the answer be lost (a timeout, the bot killed
mid-call): the notifier finds it by the outbox key in its metadata, so the
ops channel is told once. The crash itself is in tests/reliability.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.local_slack.faults import Fault
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.slack_api.notifier import Backoff, Notifier
from commands.state.outbox import Outbox, State
from tests.support.reliability.bot_process import wait_for

TOKEN = "xoxb-uncertain-test-token"
HOLD_S = 1.0  # the server holds the call this long; the client gives up at 0.3 s


@pytest.fixture(scope="module")
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer(Workspace(users={"U0ALICE": "alice"}), bot_token=TOKEN) as server:
        yield server


def notifier_on(slack: LocalSlackServer, path: Path) -> Notifier:
    client = WebClient(token=TOKEN, base_url=slack.api_url, timeout=0.3, retry_handlers=[])
    return Notifier(client, Outbox(path), backoff=Backoff(base=0.01, cap=0.01))


def held_then_retried(slack: LocalSlackServer, notifier: Notifier, text: str) -> None:
    """The first send times out while Slack holds (then takes) the call; then a retry."""
    before = len(slack.calls("chat.postMessage"))
    assert notifier.deliver_due() == 0  # no answer in time
    wait_for(lambda: len(slack.calls("chat.postMessage")) > before, 10, f"{text!r} taken")
    wait_for(notifier.deliver_due, 10, f"{text!r} settled")


def test_a_post_that_timed_out_but_was_taken_is_not_posted_again(
    slack: LocalSlackServer, tmp_path: Path
) -> None:
    notifier = notifier_on(slack, tmp_path / "state.sqlite3")
    slack.inject(Fault("chat.postMessage", delay=HOLD_S, channel="C0OPS"))
    key = notifier.post("C0OPS", "M-3 succeeded", key="M-3:outcome:ops")
    held_then_retried(slack, notifier, "M-3 succeeded")
    found = [m for m in slack.workspace.messages["C0OPS"].values() if m.text == "M-3 succeeded"]
    assert len(found) == 1
    assert notifier.location(key) == ("C0OPS", found[0].ts)


def test_a_thread_reply_is_looked_for_in_its_thread(
    slack: LocalSlackServer, tmp_path: Path
) -> None:
    notifier = notifier_on(slack, tmp_path / "state.sqlite3")
    parent = notifier.post("C0DEV", "M-4 is running")
    wait_for(notifier.deliver_due, 10, "the parent posted")  # retried if slow to answer
    slack.inject(Fault("chat.postMessage", delay=HOLD_S, text_contains="M-4 details"))
    notifier.post("C0DEV", "M-4 details", thread=parent)
    held_then_retried(slack, notifier, "M-4 details")
    replies = [m for m in slack.workspace.messages["C0DEV"].values() if m.text == "M-4 details"]
    assert len(replies) == 1


def test_a_post_that_never_reached_slack_is_sent(slack: LocalSlackServer, tmp_path: Path) -> None:
    notifier = notifier_on(slack, tmp_path / "state.sqlite3")
    slack.inject(Fault("chat.postMessage", status=503, delay=HOLD_S, channel="C0OPS"))
    notifier.post("C0OPS", "M-5 failed", key="M-5:outcome:ops")
    held_then_retried(slack, notifier, "M-5 failed")
    found = [m for m in slack.workspace.messages["C0OPS"].values() if m.text == "M-5 failed"]
    assert len(found) == 1


def test_a_post_caught_mid_send_by_a_restart_is_not_posted_again(
    slack: LocalSlackServer, tmp_path: Path
) -> None:
    path = tmp_path / "state.sqlite3"
    client = WebClient(token=TOKEN, base_url=slack.api_url, timeout=10, retry_handlers=[])
    dying = Notifier(client, Outbox(path))
    held = Fault("chat.postMessage", delay=HOLD_S, text_contains="M-6 succeeded")
    slack.inject(held)
    key = dying.post("C0OPS", "M-6 succeeded", key="M-6:outcome:ops")
    sending = threading.Thread(target=lambda: _die_quietly(dying), daemon=True)
    sending.start()
    wait_for(lambda: held in slack.faults.used, 10, "the post to be in flight")
    dying._outbox.close()  # the process dies: it never hears Slack's answer

    now = [time.time()]
    restarted = Notifier(client, Outbox(path), clock=lambda: now[0], uncertain_wait=30)
    assert Outbox(path).state_of(key)[0] is State.PENDING  # type: ignore[index]
    assert restarted.deliver_due() == 0  # it waits for a call still in flight to land
    sending.join(HOLD_S + 5)
    now[0] += 30
    assert restarted.deliver_due() == 1
    found = [m for m in slack.workspace.messages["C0OPS"].values() if m.text == "M-6 succeeded"]
    assert len(found) == 1
    assert restarted.location(key) == ("C0OPS", found[0].ts)


def _die_quietly(notifier: Notifier) -> None:
    with contextlib.suppress(Exception):  # its outbox is gone: as good as dead
        notifier.deliver_due()
