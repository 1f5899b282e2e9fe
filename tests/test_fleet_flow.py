"""A fleet end to end in Slack: the real Bolt app on signed requests, the runtime ``serve``
starts, the local Slack-compatible server, six member databases on a real PostgreSQL.

``/migrate status tenants`` → ``/migrate upgrade tenants``: one request, members grouped
by revision, one approval → a canary wave, then a wave in which one member drifted
before its turn (skipped) and one fails (the run stops at ``max_failures``; the last
wave never starts) → the live status, the thread, the ops channel → both ways back,
each a new request with its own approval, run to its end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.local_slack.workspace import Message, Workspace
from bot.views import limits
from bot.views.ids import ActionId
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.state.audit_reading import verify
from commands.state.vocabulary import EventKind, MemberState, RequestKind, RequestState
from tests.support.fleet_support import Fleet, fleet_target
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    DEV,
    OPS,
    click,
    command,
    elements,
    header,
    text_of,
    thread_text,
    top_level,
)
from tests.support.polling import wait_for

MEMBERS = ("m1", "m2", "m3", "m4", "m5", "m6")
RUN_TIMEOUT = 300
KEYS = """
waves = ["1", "50%", "100%"]
concurrency = 2
max_failures = 1
"""


@pytest.fixture(scope="module")
def fleet(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    made = fleet_target(tmp_path_factory.mktemp("fleet"), pg_server, MEMBERS, keys=KEYS)
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, fleet: Fleet) -> Iterator[FlowBot]:
    workspace = Workspace(users={ALICE: "alice", BOB: "bob"})
    with flow_bot(pg_server, fleet.config, (), workspace) as bot:
        yield bot


def ask_fleet(bot: FlowBot, text: str, *, user: str = ALICE) -> tuple[Message, str]:
    before = {m.ts for m in top_level(bot, DEV)}
    code, _ = bot.sender.post(bot.sender.command_body(text, user=user, channel=DEV))
    assert code == 200
    return posted_request(bot, before)


def posted_request(bot: FlowBot, before: set[str]) -> tuple[Message, str]:
    def posted() -> Message | None:
        found = [m for m in top_level(bot, DEV) if m.ts not in before and "(fleet)" in header(m)]
        return found[0] if found else None

    message = wait_for(posted, timeout=120, what="the fleet request message")
    return message, header(message).split(" ")[0]


def finished(bot: FlowBot, request_id: str) -> Request:
    return wait_for(
        lambda: (r := bot.request(request_id)).state.is_final and r,
        timeout=RUN_TIMEOUT,
        what=f"{request_id} to end",
    )


def approve(bot: FlowBot, message: Message, request_id: str) -> Request:
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    return finished(bot, request_id)


def states(request: Request) -> dict[str, MemberState]:
    return {name: member.state for name, member in request.members.items()}


# Long case: six members up and back through Slack, 60-90 s.
# Fleets run in CI through test_fleet_cli and test_fleet_stop.
@pytest.mark.slow
def test_a_fleet_upgrade_runs_in_waves_stops_at_max_failures_and_offers_both_ways_back(
    bot: FlowBot, fleet: Fleet
) -> None:
    for member in ("m4", "m5", "m6"):  # a second group, one revision ahead
        fleet.move(member, "accounts")
    fleet.execute("m4", "CREATE TABLE payments (note text)")  # its last revision will fail

    status = command(bot, "status tenants")
    status_text = str(status.blocks)
    assert "0 of 6 members at head" in status_text and "*3*" in status_text

    message, request_id = ask_fleet(bot, "upgrade tenants")
    assert limits.problems(message.blocks) == []
    text = text_of(message)
    assert "6 of 6 members" in text and "2 group(s)" in text
    assert "*3* at _base (no revision applied)_: 3 revision(s) (#1 to #3)" in text
    assert "*3* at `accounts`: 2 revision(s) (#2 to #3)" in text
    assert "1. `accounts`  create accounts" in text
    assert "sized against" in text and "the largest member" in text
    # the forecast, once for the set, sized against its largest member as the lint is
    forecast = r"\*Forecast\* [^*]+ for 3 revisions; .* \(sized against m\d, the largest"
    assert re.search(forecast, text)
    assert "Waves: 1, then 50% (3), then the rest (2); 2 at a time" in text

    fleet.move("m2", "accounts")  # m2 drifts after the plan was approved, before its turn
    request = approve(bot, message, request_id)

    assert request.state is RequestState.FAILED
    assert states(request) == {
        "m1": MemberState.SUCCEEDED,
        "m2": MemberState.SKIPPED,
        "m3": MemberState.SUCCEEDED,
        "m4": MemberState.FAILED,
        "m5": MemberState.NOT_STARTED,
        "m6": MemberState.NOT_STARTED,
    }
    assert [w.members for w in request.waves] == [("m1",), ("m2", "m3", "m4")]
    assert request.members["m4"].revision_now == ("invoices",)
    assert request.members["m2"].revision_now == ("accounts",)  # never run: as it was
    assert fleet.revision_of("m5") == ("accounts",)
    assert "max_failures (1) reached: 2 not started" in (request.closure.reason or "")

    final = wait_for(lambda: "Failed" in text_of(message) and message)
    assert limits.problems(final.blocks) == []
    assert "2 succeeded" in text_of(final) and "2 not started" in text_of(final)
    thread = wait_for(lambda: "details" in thread_text(bot, message) and thread_text(bot, message))
    assert "`m4` failed at apply" in thread and "already exists" in thread
    assert "`m2` skipped" in thread and "moved since" in thread
    assert "Wave 1 of 3" in thread
    ops = wait_for(lambda: [m for m in top_level(bot, OPS) if request_id in m.text])
    assert "failed" in ops[0].text

    updates = [c for c in bot.slack.calls("chat.update") if c.args.get("ts") == message.ts]
    run = request.run
    assert run is not None and request.closure is not None
    seconds = (request.closure.at - run.started_at).total_seconds()
    assert len(updates) <= seconds / 0.2 + 10  # coalesced: at most one a min_update_interval

    buttons = elements(final)
    assert buttons[ActionId.FLEET_BACK_TO_START]["text"]["text"] == "Back to start: 2 member(s)"
    assert buttons[ActionId.FLEET_RETRY]["text"]["text"] == "Retry 4 member(s)"

    # both ways back are new requests with their own pre-flight and approval
    back_message, back_id = way_back(bot, final, ActionId.FLEET_BACK_TO_START)
    back = bot.request(back_id)
    assert back.kind is RequestKind.DOWNGRADE and list(back.members) == ["m1", "m3"]
    assert {m.to_revisions for m in back.fingerprint.members} == {()}  # each to where it began
    fleet.execute("m4", "DROP TABLE payments")  # the cause of m4's failure, fixed
    retry_message, retry_id = way_back(bot, final, ActionId.FLEET_RETRY)
    retry = bot.request(retry_id)
    assert retry.kind is RequestKind.UPGRADE and list(retry.members) == ["m2", "m4", "m5", "m6"]
    assert back.state is retry.state is RequestState.AWAITING_APPROVAL

    assert approve(bot, back_message, back_id).state is RequestState.SUCCEEDED
    assert fleet.revision_of("m1") == () and fleet.revision_of("m3") == ()
    done = approve(bot, retry_message, retry_id)
    assert done.state is RequestState.SUCCEEDED
    assert set(states(done).values()) == {MemberState.SUCCEEDED}
    assert all(fleet.revision_of(m) == ("payments",) for m in ("m2", "m4", "m5", "m6"))

    store = bot.runtime.store
    member_kinds = [k for k in EventKind if k.value.startswith("member_")]
    for event in store.events(kinds=member_kinds):
        assert event.target == f"tenants.{event.data['member']}"
    backups = store.events(request_id=request_id, kinds=[EventKind.BACKUP_SUCCEEDED])
    assert sorted(e.target for e in backups) == ["tenants.m1", "tenants.m3", "tenants.m4"]
    assert verify(store).ok


def way_back(bot: FlowBot, message: Message, action_id: str) -> tuple[Message, str]:
    """Click a way back on a fleet's message: the new request's message and id."""
    before = {m.ts for m in top_level(bot, DEV)}
    assert click(bot, message, action_id, user=ALICE) == 200
    return posted_request(bot, before)
