"""The notifier against the local Slack server: coalescing, 429s, 5xx, timeouts, restarts.

Slack is real HTTP; only the notifier's clock is driven by the test, so
Retry-After and back-off are checked without sleeping through them.
"""

from __future__ import annotations

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

TOKEN = "xoxb-notifier-test-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[LocalSlackServer]:
    with LocalSlackServer(Workspace(users={"U0ALICE": "alice"}), bot_token=TOKEN) as slack:
        yield slack


@pytest.fixture
def slack(server: LocalSlackServer) -> LocalSlackServer:
    server.clear_faults()
    return server


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_notifier(
    slack: LocalSlackServer, path: Path, clock: Clock, *, timeout: float = 10.0
) -> Notifier:
    """A notifier on the test's clock; ``timeout`` short only where a test wants one to pass."""
    client = WebClient(token=TOKEN, base_url=slack.api_url, timeout=timeout, retry_handlers=[])
    return Notifier(
        client, Outbox(path), clock=clock, backoff=Backoff(base=2, cap=60), draw=lambda: 1.0
    )


def text_of(slack: LocalSlackServer, notifier: Notifier, key: str) -> str:
    where = notifier.location(key)
    assert where is not None
    return slack.workspace.messages[where[0]][where[1]].text


def test_rapid_updates_to_one_message_are_coalesced_and_throttled(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    notifier = make_notifier(slack, tmp_path / "state.sqlite3", clock)
    updates_before = len(slack.calls("chat.update"))
    message = notifier.post("C0OPS", "step 0")
    for step in range(1, 4):
        notifier.update(message, f"step {step}")
    assert notifier.deliver_due() == 2
    for step in range(4, 10):
        notifier.update(message, f"step {step}")
        assert notifier.deliver_due() == 0  # within a second of the last update
    clock.now += 1.0
    assert notifier.deliver_due() == 1
    updates = slack.calls("chat.update")[updates_before:]
    assert [c.args["text"] for c in updates] == ["step 3", "step 9"]
    assert text_of(slack, notifier, message) == "step 9"


def test_a_429_waits_for_retry_after_then_delivers(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    notifier = make_notifier(slack, tmp_path / "state.sqlite3", clock)
    slack.inject(Fault("chat.postMessage", status=429, retry_after=30))
    first = notifier.post("C0OPS", "one")
    second = notifier.post("C0OPS", "two")
    assert notifier.deliver_due() == 0
    assert len([c for c in slack.calls("chat.postMessage") if c.status == 429]) >= 1
    clock.now += 29
    assert notifier.deliver_due() == 0  # the method stays paused: nothing was sent
    clock.now += 1
    assert notifier.deliver_due() == 2
    assert (text_of(slack, notifier, first), text_of(slack, notifier, second)) == ("one", "two")


def test_5xx_and_timeouts_back_off_and_nothing_is_lost(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    outbox_path = tmp_path / "state.sqlite3"
    notifier = make_notifier(slack, outbox_path, clock, timeout=0.5)
    slack.inject(Fault("chat.postMessage", status=500, times=2))
    slack.inject(Fault("chat.postMessage", status=503, delay=1.0))  # answered after our timeout
    key = notifier.post("C0OPS", "announcement", key="M-1:outcome:ops")
    delays = []
    for _ in range(3):
        assert notifier.deliver_due() == 0
        due = Outbox(outbox_path).due(clock.now + 10_000)
        delays.append(due[0].not_before - clock.now)
        clock.now = due[0].not_before
    assert delays == [2, 4, 8]
    assert notifier.deliver_due() == 1
    assert text_of(slack, notifier, key) == "announcement"
    state = Outbox(outbox_path).state_of(key)
    assert state is not None and state[:2] == (State.DELIVERED, 4)


def test_the_same_key_is_announced_once(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    notifier = make_notifier(slack, tmp_path / "state.sqlite3", clock)
    for _ in range(3):
        notifier.post("C0OPS", "M-7 succeeded", key="M-7:outcome:ops")
        notifier.deliver_due()
    # counted by text: a call an earlier test left in flight (its fault's delay) may land now
    posted = [c for c in slack.calls("chat.postMessage") if c.args.get("text") == "M-7 succeeded"]
    assert len(posted) == 1


def test_pending_notifications_survive_a_restart_while_slack_is_down(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "state.sqlite3"
    slack.inject(Fault(status=503, times=None))
    down = make_notifier(slack, path, clock)
    parent = down.post("C0OPS", "run started")
    reply = down.post("C0OPS", "backup done", thread=parent)
    down.update(parent, "run finished")
    down.ephemeral("C0OPS", "U0ALICE", "only you")
    down.post("U0ALICE", "your request finished", key="dm")
    assert down.deliver_due() == 0
    del down  # the bot dies; its outbox stays on disk
    slack.clear_faults()
    clock.now += 3600
    again = make_notifier(slack, path, clock)
    assert again.deliver_due() == 5
    assert text_of(slack, again, parent) == "run finished"
    (channel, reply_ts) = again.location(reply) or ("", "")
    assert slack.workspace.messages[channel][reply_ts].thread_ts == again.location(parent)[1]
    assert again.location("dm")[0] == "D0ALICE"
    assert slack.workspace.ephemerals[-1].text == "only you"


def test_an_undeliverable_notification_is_kept_dead_and_does_not_block_others(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "state.sqlite3"
    notifier = make_notifier(slack, path, clock)
    doomed = notifier.post("nonsense-channel", "lost?")
    child = notifier.post("C0OPS", "reply", thread=doomed)
    fine = notifier.post("C0OPS", "fine")
    assert notifier.deliver_due() == 1
    notifier.deliver_due()
    outbox = Outbox(path)
    assert outbox.state_of(doomed) == (State.DEAD, 1, "channel_not_found")
    assert outbox.state_of(child)[0] is State.DEAD
    assert notifier.location(fine) is not None


def test_the_delivery_thread_sends_as_soon_as_slack_answers(
    slack: LocalSlackServer, tmp_path: Path
) -> None:
    client = WebClient(token=TOKEN, base_url=slack.api_url, timeout=2, retry_handlers=[])
    notifier = Notifier(client, Outbox(tmp_path / "s.sqlite3"), backoff=Backoff(base=0.05))
    slack.inject(Fault("chat.postMessage", status=500, times=3))
    notifier.start(poll=0.05)
    try:
        key = notifier.post("C0OPS", "eventually")
        assert notifier.flush(timeout=20)
        assert text_of(slack, notifier, key) == "eventually"
    finally:
        notifier.stop()


def test_a_failed_update_never_puts_an_older_picture_back(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    notifier = make_notifier(slack, tmp_path / "state.sqlite3", clock)
    message = notifier.post("C0OPS", "running")
    assert notifier.deliver_due() == 1
    notifier.update(message, "still running")
    used = len(slack.faults.used)
    slack.inject(Fault("chat.update", status=500, delay=0.3))  # fails while the run ends
    sending = threading.Thread(target=notifier.deliver_due)
    sending.start()
    deadline = time.monotonic() + 10
    while len(slack.faults.used) == used and time.monotonic() < deadline:
        time.sleep(0.01)
    notifier.update(message, "succeeded")  # queued while the older update is being sent
    sending.join()
    assert notifier.deliver_due() == 1  # the newer one
    clock.now += 60
    notifier.deliver_due()  # the older one's retry is dropped, not sent
    assert text_of(slack, notifier, message) == "succeeded"


def test_an_update_replaced_while_earlier_ones_are_sent_goes_out_as_replaced(
    slack: LocalSlackServer, tmp_path: Path, clock: Clock
) -> None:
    """The round reads what is due, then sends it one by one: an update coalesced into a
    waiting one meanwhile must go out with its newest content, not the content read."""
    notifier = make_notifier(slack, tmp_path / "state.sqlite3", clock)
    card = notifier.post("C0OPS", "phase 3 of 6")
    assert notifier.deliver_due() == 1
    used = len(slack.faults.used)
    slack.inject(Fault("chat.postMessage", delay=0.3, text_contains="slow"))
    notifier.post("C0OPS", "a slow post, due before the update")
    notifier.update(card, "phase 3 of 6, copying")
    sending = threading.Thread(target=notifier.deliver_due)
    sending.start()
    deadline = time.monotonic() + 10
    while len(slack.faults.used) == used and time.monotonic() < deadline:
        time.sleep(0.01)
    notifier.update(card, "phase 4 of 6")  # coalesced into the update not sent yet
    sending.join()
    clock.now += 1.0
    notifier.deliver_due()
    assert text_of(slack, notifier, card) == "phase 4 of 6"
