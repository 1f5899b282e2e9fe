"""Hostile requests to the bot process, one kind at a time: buttons of other requests
and of old messages, approvals from the wrong people and the wrong workspace,
text built to inject SQL or shell commands, and replayed requests. What the
HTTP edge refuses before any listener (signatures, sizes, unknown buttons) is
in ``test_hostile_edge``.

The tests share one bot process and run in file order: the last ones approve
the pending request (the positive control of the refusals before them) and
restart the bot.
"""

from __future__ import annotations

import ast
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.local_slack.workspace import Message
from bot.middleware.workspace_guard import REFUSAL
from bot.views.ids import ActionId
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests.ledger import load
from commands.state.audit_reading import verify
from commands.state.vocabulary import EventKind, RequestState
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import TEAM, find_element
from tests.support.reliability.hostile_support import (
    ALICE,
    BOB,
    DEV,
    EVE,
    FOREIGN_TEAM,
    OPS,
    HostileBot,
    click_payload,
    hostile_bot,
    post_payload,
    refusals_only,
)

ROOT = Path(__file__).parents[2]
RUN_TIMEOUT = 180


@pytest.fixture(scope="module")
def target(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileBot]:
    with hostile_bot(pg_server, tmp_path_factory.mktemp("hostile")) as bot:
        yield bot


def click(
    target: HostileBot,
    message: Message,
    action_id: str,
    *,
    user: str,
    value: Any = ...,
    team: Any = None,
    user_team: str | None = None,
) -> tuple[int, str]:
    """A click on ``message``'s ``action_id`` element, its value and block id as drawn
    (or ``value`` instead), from ``team`` (default ours)."""
    element = find_element(message, action_id)
    payload = click_payload(
        action_id=element["action_id"],
        value=element.get("value") if value is ... else value,
        block_id=element["_block_id"],
        user=user,
        team=team or {"id": TEAM},
        element={},
        message_ts=message.ts,
    )
    if user_team:
        payload["user"]["team_id"] = user_team
    return post_payload(target, payload)


def answer_to(target: HostileBot, user: str, since: int) -> str:
    """The first ephemeral ``user`` got after ``since``."""
    found = wait_for(
        lambda: [e for e in target.bot.slack.workspace.ephemerals[since:] if e.user == user],
        60,
        f"an answer to {user}",
    )
    return str(found[0].text)


def ephemerals(target: HostileBot) -> int:
    return len(target.bot.slack.workspace.ephemerals)


def count(target: HostileBot, request_id: str, kind: EventKind) -> int:
    return len(target.store.events(request_id=request_id, kinds=[kind]))


# --- who clicks, and on what -------------------------------------------------


def test_approvals_from_the_wrong_people_and_workspaces_are_refused(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    message, request_id = target.message, target.pending
    before = target.snapshot()
    refused = count(target, request_id, EventKind.ACTION_REFUSED)

    since = ephemerals(target)
    assert click(target, message, ActionId.APPROVE, user=EVE)[0] == 200
    assert "is not one" in answer_to(target, EVE, since)
    since = ephemerals(target)
    assert click(target, message, ActionId.APPROVE, user=ALICE)[0] == 200
    assert "so you cannot approve it" in answer_to(target, ALICE, since)
    target.idle()
    assert count(target, request_id, EventKind.ACTION_REFUSED) == refused + 2
    refusals_only(before, target.snapshot())

    # BOB may approve; not from another workspace, however the payload says so
    before, offset, since = target.snapshot(), target.log_offset(), ephemerals(target)
    calls = len(target.bot.slack.calls())
    foreign = [
        click(target, message, ActionId.APPROVE, user=BOB, team={"id": FOREIGN_TEAM}),
        click(target, message, ActionId.APPROVE, user=BOB, user_team=FOREIGN_TEAM),
        click(target, message, ActionId.REJECT, user=BOB, team={"id": FOREIGN_TEAM}),
        click(target, message, ActionId.APPROVE, user=BOB, team=...),  # no team at all
    ]
    sender = target.bot.sender
    sender.team_id = FOREIGN_TEAM
    try:
        status, ack = sender.post(sender.command_body("upgrade app", user=BOB, channel=DEV))
    finally:
        sender.team_id = TEAM
    assert [status for status, _ in foreign] == [200] * len(foreign)
    assert status == 200 and json.loads(ack)["text"] == REFUSAL
    target.quiet_since(offset)
    assert target.snapshot() == before  # not even a refusal: it never reached our code
    assert len(target.bot.slack.calls()) == calls and ephemerals(target) == since
    log = target.bot.log_text()[offset:]
    assert log.count(f"refused a request from workspace {FOREIGN_TEAM}") == 4
    assert log.count("refused a request from workspace (none given)") == 1
    reliability(
        area="hostile input",
        fault="approvals from a non-approver and from the requester",
        tried=2,
        outcome="refused with a reason, recorded as action_refused; the request unchanged",
    )
    reliability(
        area="hostile input",
        fault="an approver's approve/reject and /migrate from another workspace's team id"
        " (team, user.team_id, or none)",
        tried=len(foreign) + 1,
        outcome="refused before any listener (decision: one workspace per bot); nothing"
        " recorded, no Slack call; the command told why",
    )


def test_clicks_on_other_requests_and_old_messages_change_nothing(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    """Request A (to t_one) and the pending request B (to head) have different plans."""
    message_a, request_a = target.ask("upgrade app to t_one")
    message_a = copy.deepcopy(message_a)  # as it was drawn: the local Slack redraws it in place
    message_b, request_b = target.message, target.pending
    since = ephemerals(target)
    assert target.bot.command(f"cancel {request_a}", user=ALICE, channel=DEV) == 200
    assert "is cancelled" in answer_to(target, ALICE, since)
    target.idle()
    before = target.snapshot()

    tried: list[tuple[str, str]] = []

    def refused(user: str, send: Callable[[], tuple[int, str]], expected: str) -> None:
        since = ephemerals(target)
        assert send()[0] == 200
        answer = answer_to(target, user, since)
        assert expected in answer, answer
        tried.append((user, answer))

    # B's id on A's approve button, which carries A's plan fingerprint in its block id
    refused(
        BOB,
        lambda: click(target, message_a, ActionId.APPROVE, user=BOB, value=request_b),
        "changed since you saw it",
    )
    # A's buttons, on the message of a request that was cancelled since
    refused(BOB, lambda: click(target, message_a, ActionId.APPROVE, user=BOB), "cancelled")
    refused(BOB, lambda: click(target, message_a, ActionId.REJECT, user=BOB), "cancelled")
    # ways back from a request that never ran; the SQL of a request that does not exist
    refused(
        ALICE,
        lambda: click(target, message_b, ActionId.CANCEL, user=ALICE, value="M-99999"),
        "There is no request M-99999",
    )
    rollback = click_payload(
        action_id=ActionId.ROLL_BACK,
        value=request_b,
        block_id="ways_back",
        user=ALICE,
        team={"id": TEAM},
        element={},
        message_ts=message_b.ts,
    )
    refused(ALICE, lambda: post_payload(target, rollback), "has no revision to go back to")
    restore = {**rollback, "actions": [{**rollback["actions"][0], "action_id": "rollback_restore"}]}
    refused(ALICE, lambda: post_payload(target, restore), "has no backup to restore")
    target.idle()
    refusals_only(before, target.snapshot())
    assert load(target.store, request_b).state is RequestState.AWAITING_APPROVAL
    assert load(target.store, request_a).approvals == ()
    reliability(
        area="hostile input",
        fault="clicks on buttons of other requests (another plan's fingerprint) and of old"
        " messages (a cancelled request; ways back from a request that never ran)",
        tried=len(tried),
        outcome="each refused with a reason; no request changed",
    )


# --- injection ----------------------------------------------------------------


def injected_tables(target: HostileBot) -> list[str]:
    with connect(target.database) as conn:
        rows = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'pwned%'").fetchall()
    return [r[0] for r in rows]


def test_quotes_semicolons_newlines_and_shell_text_reach_no_sql_and_no_shell(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    marker = target.workdir / "pwned_shell"
    texts = [
        "plan app to x';CREATE TABLE pwned_sql(i int);--",
        'plan app to "t_one"',
        f"upgrade app to $(touch {marker})",
        f"downgrade app t_one;touch {marker}",
        f"downgrade app `touch {marker}`",
        f"restore app b|touch {marker}",
        "restore app ../../../etc/passwd",
        "status 'app'",
        "status app;DROP TABLE alembic_version",
        "upgrade app\nto t_one\nupgrade app",
        "cancel M-1';DELETE FROM events;--",
        "history app' OR '1'='1",
    ]
    before, offset = target.snapshot(), target.log_offset()
    for text in texts:
        status, ack = target.bot.sender.post(
            target.bot.sender.command_body(text, user=EVE, channel=DEV)
        )
        assert status == 200 and json.loads(ack)["text"].startswith("⚠️"), (text, ack)

    since = ephemerals(target)  # a revision id of the right form that is no revision
    assert target.bot.command("plan app to ffff_0000", user=EVE, channel=DEV) == 200
    assert "ffff_0000" in answer_to(target, EVE, since)

    clicks = [
        (ActionId.APPROVE, BOB, "M-1'; DROP TABLE events; --", "b", {}),
        (ActionId.CANCEL, ALICE, f"M-1$(touch {marker})", "b", {}),
        (ActionId.VIEW_REQUEST_SQL, EVE, "M-1;rm -rf /", "b", {}),
        (
            ActionId.CHECKLIST,
            ALICE,
            None,
            f"checklist:{target.pending}",
            {
                "type": "checkboxes",
                "selected_options": [{"value": f"$(touch {marker})"}, {"value": "';--"}],
            },
        ),
    ]
    for action_id, user, value, block_id, element in clicks:
        since = ephemerals(target)
        payload = click_payload(
            action_id=action_id,
            value=value,
            block_id=block_id,
            user=user,
            team={"id": TEAM},
            element=element,
            message_ts=target.message.ts,
        )
        assert post_payload(target, payload)[0] == 200
        assert answer_to(target, user, since).startswith("⚠️")
    target.quiet_since(offset)
    refusals_only(before, target.snapshot())

    # a freeze reason is free text: it is stored as given, shown escaped, and runs nothing
    reason = f"x'); DROP TABLE events; -- $(touch {marker}) <!channel> <https://evil.example|ok>"
    since = ephemerals(target)
    assert target.bot.command(f"freeze app {reason}", user=BOB, channel=DEV) == 200
    assert "is frozen" in answer_to(target, BOB, since)
    since = ephemerals(target)
    assert target.bot.command("unfreeze app", user=BOB, channel=DEV) == 200
    assert "is unfrozen" in answer_to(target, BOB, since)
    frozen = target.store.events(kinds=[EventKind.TARGET_FROZEN])
    assert frozen[-1].data["reason"] == reason
    announced = wait_for(lambda: [m for m in target.bot.messages(OPS) if "frozen" in m.text])
    shown = json.dumps([m.blocks for m in announced]) + "".join(m.text for m in announced)
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in shown

    assert injected_tables(target) == []
    assert not marker.exists() and not list(target.workdir.glob("pwned*"))
    assert verify(target.store).ok
    reliability(
        area="hostile input",
        fault="target names, revision and request ids with quotes, semicolons, newlines,"
        " $(…), backquotes and pipes (slash commands and clicks); SQL and mentions in a"
        " freeze reason",
        tried=len(texts) + 1 + len(clicks) + 1,
        outcome="refused by the grammar or the id checks, or stored verbatim and shown"
        " escaped; no table or file created, audit chain verifies",
    )


SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput")}
SHELL_CALLS |= {("subprocess", "getstatusoutput")}
PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def child_process_calls(path: Path) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            yield node, f"{owner}.{node.func.attr}"


def test_child_processes_take_argument_lists_never_shell_strings(
    reliability: Callable[..., None],
) -> None:
    """Read from the source: every subprocess call passes a list, and none asks for a shell."""
    found, bad = 0, []
    for package in ("bot", "commands", "audit"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for call, name in child_process_calls(path):
                owner, _, attr = name.partition(".")
                where = f"{path.relative_to(ROOT)}:{call.lineno} {name}"
                if (owner, attr) in SHELL_CALLS:
                    bad.append(where)
                if owner != "subprocess" or attr not in PROCESS_CALLS:
                    continue
                found += 1
                shell = [k for k in call.keywords if k.arg == "shell"]
                literal = call.args and isinstance(call.args[0], ast.Constant | ast.JoinedStr)
                if shell or literal or isinstance(call.args[0], ast.BinOp):
                    bad.append(where)
    assert found >= 5 and bad == []
    reliability(
        area="hostile input",
        fault="child processes started with a shell string (source read for every call)",
        tried=found,
        outcome="none: every subprocess call takes an argument list, no shell=True or os.system",
    )


# --- replays: the positive control comes last --------------------------------


def send_together(sends: list[Callable[[], tuple[int, str]]]) -> list[int]:
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda s=s: statuses.append(s()[0])) for s in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def retries(body: bytes, stamp: int, sender: Any) -> list[Callable[[], tuple[int, str]]]:
    """The same signed bytes four times, and as Slack's retries 1 to 3."""
    same = [lambda: sender.post(body, timestamp=stamp)] * 4
    return same + [
        lambda n=n: sender.post(
            body,
            timestamp=stamp,
            headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"},
        )
        for n in (1, 2, 3)
    ]


def test_a_replayed_approval_approves_once_and_runs_once(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    """The approve refused above from the wrong people and workspaces, now from BOB,
    replayed: one approval, one run, one answer."""
    sender, request_id = target.bot.sender, target.pending
    element = find_element(target.message, ActionId.APPROVE)
    trigger_id, response_url = sender.mint(DEV, BOB)
    payload = click_payload(
        action_id=ActionId.APPROVE,
        value=request_id,
        block_id=element["_block_id"],
        user=BOB,
        team={"id": TEAM},
        element={},
        message_ts=target.message.ts,
    )
    payload.update(trigger_id=trigger_id, response_url=response_url)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    since = ephemerals(target)
    statuses = send_together(retries(body, int(time.time()), sender))
    assert statuses == [200] * 7
    done = wait_for(
        lambda: (r := load(target.store, request_id)).state.is_final and r, RUN_TIMEOUT, "the run"
    )
    assert done.state is RequestState.SUCCEEDED
    target.idle()
    assert count(target, request_id, EventKind.APPROVAL_GRANTED) == 1
    assert count(target, request_id, EventKind.RUN_STARTED) == 1
    answers = [e.text for e in target.bot.slack.workspace.ephemerals[since:] if e.user == BOB]
    assert len(answers) == 1 and "the run is starting" in answers[0]
    reliability(
        area="hostile input",
        fault="a valid approve replayed: the same signed bytes 4 times and as Slack retries 1-3,"
        " at once",
        tried=7,
        outcome="one approval, one run (succeeded), one answer",
    )


@pytest.mark.slow
def test_a_replayed_slash_command_asks_once_even_after_a_restart(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    sender = target.bot.sender
    stamp = int(time.time())
    body = sender.command_body("downgrade app t_one", user=ALICE, channel=DEV)
    created = len(target.store.events(kinds=[EventKind.REQUEST_CREATED]))
    statuses = send_together(retries(body, stamp, sender))
    assert statuses == [200] * 7
    wait_for(lambda: len(target.store.events(kinds=[EventKind.REQUEST_CREATED])) == created + 1)
    target.idle()
    target.bot.kill()  # a new process remembers no request ids: the audit log does
    target.bot.start()
    assert send_together(retries(body, stamp, sender)) == [200] * 7
    target.idle()
    assert len(target.store.events(kinds=[EventKind.REQUEST_CREATED])) == created + 1
    assert time.time() - stamp < 300  # all of it inside the signature's five minutes
    reliability(
        area="hostile input",
        fault="a signed /migrate downgrade replayed 7 times at once, and 7 more after a"
        " SIGKILL and restart",
        tried=14,
        outcome="one request created",
    )
