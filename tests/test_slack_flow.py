"""The request flow end to end: the real Bolt app over real HTTP on signed requests,
the runtime ``serve`` starts (audit log, requests, notifier, pipeline, run worker),
the local Slack-compatible server and a real PostgreSQL.

`/migrate upgrade` → a message with the checks, the checklist and the buttons →
refusals for the wrong people → an approval → a run → the message, its thread,
the ops channel, the stakeholders and the requester told; and the ways a
request ends otherwise (rejected, cancelled, failed with ways back, stopped); the
runs a bot left behind when it stopped or died are in ``test_flow_recovery``.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.local_slack.workspace import Message, Workspace
from bot.views import limits
from bot.views.ids import ActionId, BlockId, ViewId
from commands.backup.listing import list_backups
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.migration.planning import status
from commands.pipeline import propose
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.state.audit_reading import verify
from commands.state.vocabulary import ChecklistItem, EventKind, RequestKind, RequestState
from tests.support.alembic_projects import Rev, table, write_project
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    CAROL,
    DEV,
    EVE,
    OPS,
    PM,
    STAKE,
    ask,
    click,
    command,
    dm_texts,
    elements,
    ephemeral_after,
    header,
    opened_modal,
    running_revision,
    text_of,
    thread_text,
    top_level,
    view_body,
)
from tests.support.polling import wait_for

TARGETS = ("shop", "small", "twice", "bad", "halted", "slow")
RUN_TIMEOUT = 240


Bot = FlowBot


def flow_config(tmp: Path) -> Config:
    small = write_project(tmp / "small", [table("t_one"), table("t_two", ("t_one",))])
    bad = write_project(
        tmp / "bad",
        [
            table("b_one"),
            Rev("b_two", ("b_one",), ("SELECT 1/0",), ("SELECT 1",), "divide by zero"),
        ],
    )
    slow = write_project(
        tmp / "slow", [Rev("s_one", (), ("SELECT pg_sleep(120)",), ("SELECT 1",), "sleeps")]
    )
    quick = 'checklist = []\napprovers = ["U0BOB", "@dbas"]\nbackup = "file://backups"'
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "{OPS}"

        [targets.shop]
        database_url_env = "SHOP_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB", "@dbas"]
        stakeholders = ["{STAKE}", "{PM}"]
        backup = "file://backups"
        """
    )
    projects = {"small": small, "twice": small, "bad": bad, "halted": small, "slow": slow}
    for name, project in projects.items():
        text += (
            f'\n[targets.{name}]\ndatabase_url_env = "{name.upper()}_DATABASE_URL"\n'
            f'script_location = "{project.as_posix()}"\n{quick}\n'
        )
    text += f'allowed_channels = ["{DEV}"]\n'  # the last target, slow, is asked for in DEV only
    return parse_config(text, source="flow.toml", base=tmp)


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    config = flow_config(tmp_path_factory.mktemp("flow"))
    workspace = Workspace(
        users={ALICE: "alice", BOB: "bob", CAROL: "carol", EVE: "eve", PM: "pm"},
        usergroups={"S0DBAS": ("dbas", [CAROL])},
    )
    with flow_bot(pg_server, config, TARGETS, workspace) as bot:
        yield bot


# --- helpers ------------------------------------------------------------------


def finished(bot: Bot, request_id: str) -> Request:
    return wait_for(
        lambda: (r := bot.request(request_id)).state.is_final and r, timeout=RUN_TIMEOUT
    )


def events(bot: Bot, request_id: str, kind: EventKind) -> int:
    return len(bot.runtime.store.events(request_id=request_id, kinds=[kind]))


# --- the flow -----------------------------------------------------------------


def test_a_request_goes_from_the_slash_command_to_a_verified_run(bot: Bot) -> None:
    message, request_id = ask(bot, "upgrade shop")
    assert limits.problems(message.blocks) == []
    text = text_of(message)
    pending = status(bot.open(bot.config.target("shop"))).pending
    assert all(r.id in text for r in pending)
    assert "Pre-flight" in text and "CREATE INDEX without CONCURRENTLY on segments" in text
    # the forecast: the total, the lock held longest and what it is based on; a line a revision
    assert f"*Forecast* under 1 s for {len(pending)} revisions; longest lock " in text
    assert "`e2f6a8c0d376`: instant; SHARE on `segments`" in text
    buttons = elements(message)
    assert buttons[ActionId.APPROVE]["value"] == request_id
    assert buttons[ActionId.REJECT]["value"] == request_id
    assert buttons[ActionId.REJECT]["style"] == "danger"  # it asks for a reason in a modal
    assert buttons[ActionId.VIEW_REQUEST_SQL]["value"] == request_id
    assert len(buttons[ActionId.CHECKLIST]["options"]) == len(ChecklistItem)
    # the approvers are told (the group's member too), the requester is not
    wait_for(lambda: dm_texts(bot, BOB) and dm_texts(bot, CAROL))
    assert request_id in dm_texts(bot, CAROL)[0]
    assert not any("needs your approval" in t for t in dm_texts(bot, ALICE))

    everything = [item.value for item in ChecklistItem]
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.CHECKLIST, user=EVE, selected=everything) == 200
    assert "your tick was not recorded" in ephemeral_after(bot, EVE, since)
    assert bot.request(request_id).checklist == ()

    assert click(bot, message, ActionId.CHECKLIST, user=ALICE, selected=everything) == 200
    wait_for(lambda: len(bot.request(request_id).checklist) == len(ChecklistItem))
    wait_for(lambda: len(elements(message)[ActionId.CHECKLIST].get("initial_options", [])) == 5)

    for user, refusal in ((ALICE, "so you cannot approve it"), (EVE, "is not one")):
        since = len(bot.slack.workspace.ephemerals)
        assert click(bot, message, ActionId.APPROVE, user=user) == 200
        assert refusal in ephemeral_after(bot, user, since)
    request = bot.request(request_id)
    assert request.state is RequestState.AWAITING_APPROVAL and request.approvals == ()

    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    assert "the run is starting" in ephemeral_after(bot, BOB, since)
    assert finished(bot, request_id).state is RequestState.SUCCEEDED

    final = wait_for(lambda: "Succeeded" in text_of(message) and message)
    assert limits.problems(final.blocks) == []
    updates = [c for c in bot.slack.calls("chat.update") if c.args.get("ts") == message.ts]
    assert "succeeded" in str(updates[-1].args["text"]) and len(updates) >= 3
    assert f"{len(pending)}/{len(pending)} revisions" in text_of(final)
    assert ActionId.APPROVE not in elements(final)
    thread = wait_for(
        lambda: "Verification" in thread_text(bot, message) and thread_text(bot, message)
    )
    assert "💾" in thread and f"{len(pending)}/{len(pending)} " in thread
    assert f"*Forecast vs actual* {len(pending)} revisions took " in thread
    assert "· forecast instant" in thread or "· forecast under 1 s" in thread

    ops = wait_for(lambda: [m for m in top_level(bot, OPS) if request_id in m.text])
    assert "succeeded" in ops[0].text and f"<@{BOB}>" in text_of(ops[0])
    wait_for(lambda: [m for m in top_level(bot, STAKE) if request_id in m.text])
    wait_for(lambda: any(request_id in t and "succeeded" in t for t in dm_texts(bot, PM)))
    wait_for(lambda: any(request_id in t and "succeeded" in t for t in dm_texts(bot, ALICE)))
    assert status(bot.open(bot.config.target("shop"))).at_head
    assert verify(bot.runtime.store).ok


def test_double_clicks_and_slack_retries_approve_once_and_run_once(bot: Bot) -> None:
    message, request_id = ask(bot, "upgrade twice")
    since = len(bot.slack.workspace.ephemerals)
    element = elements(message)[ActionId.APPROVE]
    bodies = [
        bot.sender.action_body(
            ActionId.APPROVE,
            request_id,
            user=CAROL,  # an approver as a member of @dbas
            channel=DEV,
            message_ts=message.ts,
            block_id=element["block_id"],
        )
        for _ in range(3)
    ]
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    sends = [lambda b=b: bot.sender.post(b) for b in bodies]
    sends.append(lambda: bot.sender.post(bodies[0], headers=retry))
    threads = [threading.Thread(target=send) for send in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert finished(bot, request_id).state is RequestState.SUCCEEDED
    assert bot.runtime.work_pool.drain(30)
    assert events(bot, request_id, EventKind.APPROVAL_GRANTED) == 1
    assert events(bot, request_id, EventKind.RUN_STARTED) == 1
    answers = [e.text for e in bot.slack.workspace.ephemerals[since:] if e.user == CAROL]
    assert len(answers) == 3 and sum("the run is starting" in a for a in answers) == 1

    since = len(bot.slack.workspace.ephemerals)  # a click on the message as it was, later
    old = bot.sender.action_body(
        ActionId.APPROVE,
        request_id,
        user=BOB,
        channel=DEV,
        message_ts=message.ts,
        block_id=element["block_id"],
    )
    assert bot.sender.post(old)[0] == 200
    assert "cannot be approved: it succeeded" in ephemeral_after(bot, BOB, since)
    assert events(bot, request_id, EventKind.APPROVAL_GRANTED) == 1


def test_reject_and_cancel_close_the_request_and_take_its_buttons_away(bot: Bot) -> None:
    message, rejected = ask(bot, "upgrade small")
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.REJECT, user=ALICE) == 200  # the requester cancels
    assert "so you cannot reject it" in ephemeral_after(bot, ALICE, since)
    modal = opened_modal(bot, message, ActionId.REJECT, user=BOB)
    assert modal["callback_id"] == ViewId.REJECT and modal["private_metadata"] == rejected
    blank = {BlockId.REJECT_REASON: {"reason": {"type": "plain_text_input", "value": "  "}}}
    code, body = bot.sender.post(view_body(bot, modal, user=BOB, values=blank))
    assert code == 200 and json.loads(body)["errors"] == {BlockId.REJECT_REASON: "Say why."}
    assert bot.request(rejected).state is RequestState.AWAITING_APPROVAL
    reason = {BlockId.REJECT_REASON: {"reason": {"type": "plain_text_input", "value": "sale"}}}
    code, body = bot.sender.post(view_body(bot, modal, user=BOB, values=reason))
    assert (code, body) == (200, "")
    assert wait_for(lambda: bot.request(rejected).state is RequestState.REJECTED)
    closing = bot.runtime.store.events(request_id=rejected, kinds=[EventKind.REQUEST_REJECTED])
    assert [(e.actor, e.data["reason"]) for e in closing] == [(BOB, "sale")]
    wait_for(lambda: "Rejected" in text_of(message) and ": sale" in text_of(message))
    assert not {ActionId.APPROVE, ActionId.REJECT} & set(elements(message))

    message, cancelled = ask(bot, "upgrade small")
    since = len(bot.slack.workspace.ephemerals)
    code, _ = bot.sender.post(
        bot.sender.command_body(f"cancel {cancelled}", user=ALICE, channel=DEV)
    )
    assert code == 200
    assert "is cancelled" in ephemeral_after(bot, ALICE, since)
    wait_for(lambda: "Cancelled" in text_of(message))
    assert ActionId.CANCEL not in elements(message)
    since = len(bot.slack.workspace.ephemerals)
    code, _ = bot.sender.post(
        bot.sender.command_body(f"cancel {cancelled}", user=ALICE, channel=DEV)
    )
    assert f"{cancelled} was cancelled by {ALICE}" in ephemeral_after(bot, ALICE, since)
    assert events(bot, cancelled, EventKind.REQUEST_CANCELLED) == 1


def test_a_failed_run_offers_the_ways_back_as_new_requests(bot: Bot) -> None:
    message, failed = ask(bot, "upgrade bad")
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    request = finished(bot, failed)
    assert request.state is RequestState.FAILED
    final = wait_for(lambda: ActionId.ROLL_BACK in elements(message) and message)
    assert "Failed" in text_of(final) and "division by zero" in text_of(final)
    assert limits.problems(final.blocks) == []
    assert {ActionId.ROLL_BACK, ActionId.RESTORE_BACKUP} <= set(elements(final))
    assert elements(final)[ActionId.ROLL_BACK]["value"] == failed
    ops = wait_for(lambda: [m for m in top_level(bot, OPS) if failed in m.text])
    assert "failed" in ops[0].text and ActionId.RESTORE_BACKUP in elements(ops[0])

    before = {m.ts for m in top_level(bot, DEV)}
    for _ in range(2):  # a double click asks once
        since = len(bot.slack.workspace.ephemerals)
        assert click(bot, final, ActionId.ROLL_BACK, user=ALICE) == 200
        answer = ephemeral_after(bot, ALICE, since)
        assert "downgrade bad to base" in answer
    new_id = answer.split("You asked for ")[1].split(" ")[0]
    new = bot.request(new_id)
    assert (new.kind, new.goal, new.requester) == (RequestKind.DOWNGRADE, "base", ALICE)
    assert new.state is RequestState.AWAITING_APPROVAL
    fresh = [m for m in top_level(bot, DEV) if m.ts not in before]
    assert [header(m) for m in fresh] == [f"{new_id} · downgrade bad"]
    assert elements(fresh[0])[ActionId.APPROVE]["value"] == new_id


def test_a_running_request_can_be_stopped_by_its_requester_not_by_others(bot: Bot) -> None:
    code, body = bot.sender.post(bot.sender.command_body("upgrade slow", user=ALICE, channel=OPS))
    assert code == 200 and "can only be asked for in <#C0DEV>" in json.loads(body)["text"]
    message, request_id = ask(bot, "upgrade slow")
    assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
    wait_for(lambda: running_revision(bot.request(request_id), "s_one"), timeout=RUN_TIMEOUT)
    wait_for(lambda: ActionId.CANCEL in elements(message) and "Running" in text_of(message))
    since = len(bot.slack.workspace.ephemerals)
    assert click(bot, message, ActionId.CANCEL, user=EVE) == 200
    assert "is not one" in ephemeral_after(bot, EVE, since)
    assert bot.request(request_id).state is RequestState.RUNNING
    assert click(bot, message, ActionId.CANCEL, user=ALICE) == 200
    assert "Stopping" in ephemeral_after(bot, ALICE, since)
    assert finished(bot, request_id).state is RequestState.ABORTED
    wait_for(lambda: "Aborted" in text_of(message))
    assert status(bot.open(bot.config.target("slow"))).current == ()


def test_backups_history_status_and_audit_verify_answer_the_asker(bot: Bot) -> None:
    answer = command(bot, "backups bad")
    recorded = list_backups(bot.runtime.store, "bad")
    assert answer.blocks[0]["text"]["text"] == f"Backups of bad ({len(recorded)})"
    assert all(r.id in json.dumps(answer.blocks) for r in recorded)
    assert limits.problems(answer.blocks) == []
    answer = command(bot, "audit verify")
    assert "The audit log verifies" in json.dumps(answer.blocks)
    answers = command(bot, "history", count=len(TARGETS))
    assert sorted(a.blocks[0]["text"]["text"].split(":")[0] for a in answers) == sorted(TARGETS)
    assert any("Recent requests" in json.dumps(a.blocks) for a in answers)
    answers = command(bot, "status", count=len(TARGETS))
    assert all(limits.problems(a.blocks) == [] for a in answers)


def test_freezing_is_for_approvers_and_stops_approved_runs_from_starting(bot: Bot) -> None:
    assert "is not one" in command(bot, "freeze small backups first", user=EVE).text
    assert "is frozen" in command(bot, "freeze small backups first", user=BOB).text
    wait_for(lambda: [m for m in top_level(bot, OPS) if "frozen by" in m.text])
    try:
        message, request_id = ask(bot, "upgrade small")
        assert click(bot, message, ActionId.APPROVE, user=BOB) == 200
        wait_for(lambda: "Not started" in thread_text(bot, message))
        assert bot.request(request_id).state is RequestState.REFUSED  # ended, not left approved
        wait_for(lambda: "Not run" in text_of(message) and "frozen" in text_of(message))
    finally:
        assert "is unfrozen" in command(bot, "unfreeze small", user=BOB).text


def test_view_sql_opens_the_requests_sql_even_when_it_was_forgotten(bot: Bot) -> None:
    proposal = propose(
        bot.runtime.flow.context,
        kind=RequestKind.UPGRADE,
        target="halted",
        goal="t_one",
        requester=ALICE,
        origin={"channel": DEV},
    )
    bot.runtime.flow.messages.post(proposal.request, DEV)  # posted, but its plan not kept
    message = wait_for(
        lambda: [m for m in top_level(bot, DEV) if header(m).startswith(proposal.request.id)]
    )[0]
    opened, updated = len(bot.slack.calls("views.open")), len(bot.slack.calls("views.update"))
    assert click(bot, message, ActionId.VIEW_REQUEST_SQL, user=EVE) == 200
    wait_for(lambda: len(bot.slack.calls("views.update")) > updated)
    assert "Reading the SQL" in json.dumps(bot.slack.calls("views.open")[opened].args["view"])
    view = bot.slack.calls("views.update")[-1].args["view"]
    assert limits.modal_problems(view) == [] and "CREATE TABLE t_one" in json.dumps(view)
    bot.runtime.requests.cancel(proposal.request.id, actor=ALICE)


# --- what must change nothing -------------------------------------------------


@pytest.fixture(scope="module")
def pending(bot: Bot) -> tuple[Message, str]:
    """A request waiting for approval, that the tests below must leave as it is."""
    return ask(bot, "upgrade halted")


def unchanged(request: Request) -> tuple[Any, ...]:
    return (request.state, request.approvals, request.checklist, request.closure)


def test_a_forged_or_stale_approve_click_gets_401_and_changes_nothing(
    bot: Bot, pending: tuple[Message, str]
) -> None:
    message, request_id = pending
    before = unchanged(bot.request(request_id))
    element = elements(message)[ActionId.APPROVE]
    body = bot.sender.action_body(
        ActionId.APPROVE, request_id, user=BOB, channel=DEV, block_id=element["block_id"]
    )
    # the request's own messages (its DMs to the approvers) sent before counting
    assert bot.runtime.work_pool.drain(30) and bot.runtime.notifier.flush(30)
    calls = len(bot.slack.calls())
    assert bot.sender.post(body, secret="not-the-signing-secret")[0] == 401
    assert bot.sender.post(body, timestamp=int(time.time()) - 600)[0] == 401
    assert bot.runtime.work_pool.drain(30) and bot.runtime.notifier.flush(30)
    assert unchanged(bot.request(request_id)) == before
    assert len(bot.slack.calls()) == calls


ITEMS = {item.value for item in ChecklistItem}


CLICKS = st.fixed_dictionaries(
    {
        "action_id": st.sampled_from([ActionId.APPROVE, ActionId.REJECT, ActionId.CHECKLIST]),
        "value": st.one_of(
            st.none(), st.text(max_size=30), st.sampled_from(["M-1", "M-999999", "m7"])
        ),
        "block_id": st.one_of(
            st.text(max_size=60),
            st.sampled_from([f"{BlockId.DECIDE}:{'0' * 64}", f"{BlockId.CHECKLIST}:M-1", "x:"]),
        ),
        "user": st.sampled_from([ALICE, EVE, "U0NOBODY"]),
        "selected": st.lists(st.text(max_size=20).filter(lambda v: v not in ITEMS), max_size=3),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fuzz=CLICKS)
def test_fuzzed_clicks_never_escape_and_never_change_a_request(
    bot: Bot, pending: tuple[Message, str], fuzz: dict[str, Any]
) -> None:
    """Junk values and block ids, and the real request id clicked by the wrong people."""
    _message, request_id = pending
    before = unchanged(bot.request(request_id))
    since = len(bot.slack.workspace.ephemerals)
    action_id = fuzz["action_id"]
    checklist = action_id == ActionId.CHECKLIST
    element = {"type": "checkboxes", "selected_options": [{"value": v} for v in fuzz["selected"]]}
    real_block = f"{BlockId.CHECKLIST}:{request_id}" if checklist else fuzz["block_id"]
    for value, block_id in ((fuzz["value"], fuzz["block_id"]), (request_id, real_block)):
        body = bot.sender.action_body(
            action_id,
            value,
            user=fuzz["user"],
            channel=DEV,
            block_id=block_id,
            element=element if checklist else None,
        )
        assert bot.sender.post(body)[0] == 200
    assert bot.runtime.work_pool.drain(30)
    assert unchanged(bot.request(request_id)) == before
    said = [e.text for e in bot.slack.workspace.ephemerals[since:]]
    assert not any("Something went wrong" in text for text in said), said
