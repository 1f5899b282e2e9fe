"""What the flow tests read and do on Slack's side of the local workspace: the
messages the bot posted (top level, thread replies, DMs), their buttons, the
ephemeral answers people got, and a ``/migrate`` or a click sent as Slack sends it.

The people and channels are those of every flow workspace: Alice asks, Bob and
the ``@dbas`` group approve, Eve is nobody in particular, the PM is a stakeholder.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from bot.local_slack.workspace import Message
from bot.views import limits
from bot.views.run_picture import run_picture
from commands.requests import Request
from tests.support.flow_bot import FlowBot
from tests.support.polling import wait_for

ALICE, BOB, CAROL, EVE, PM = "U0ALICE", "U0BOB", "U0CAROL", "U0EVE", "U0PM"
DEV, OPS, STAKE = "C0DEV", "C0OPS", "C0STAKE"


def top_level(bot: FlowBot, channel: str) -> list[Message]:
    messages = list(bot.slack.workspace.messages.get(channel, {}).values())
    return [m for m in messages if m.thread_ts in (None, m.ts)]


def replies(bot: FlowBot, parent: Message) -> list[Message]:
    messages = list(bot.slack.workspace.messages.get(parent.channel, {}).values())
    return [m for m in messages if m.thread_ts == parent.ts and m.ts != parent.ts]


def thread_text(bot: FlowBot, parent: Message) -> str:
    return "\n".join(text_of(m) for m in replies(bot, parent))


def header(message: Message) -> str:
    return str(message.blocks[0]["text"]["text"]) if message.blocks else ""


def text_of(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False) + message.text


def elements(message: Message) -> dict[str, dict[str, Any]]:
    """Interactive elements by action id, each with the block id it sits in."""
    found = {}
    for block in message.blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            found[element["action_id"]] = {**element, "block_id": block["block_id"]}
    return found


def ask(bot: FlowBot, text: str, *, user: str = ALICE, channel: str = DEV) -> tuple[Message, str]:
    """Send ``/migrate text``; the request message it posts, and the request id."""
    before = {m.ts for m in top_level(bot, channel)}
    code, body = bot.sender.post(bot.sender.command_body(text, user=user, channel=channel))
    assert code == 200 and "pre-flight" in json.loads(body)["text"]
    kind, target = text.split()[:2]

    def posted() -> Message | None:
        for message in top_level(bot, channel):
            if message.ts not in before and header(message).endswith(f" · {kind} {target}"):
                return message
        return None

    message = wait_for(posted)
    return message, header(message).split(" ")[0]


def click(
    bot: FlowBot,
    message: Message,
    action_id: str,
    *,
    user: str,
    selected: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    element = elements(message)[action_id]
    extra = None
    if selected is not None:
        extra = {"type": "checkboxes", "selected_options": [{"value": v} for v in selected]}
    body = bot.sender.action_body(
        action_id,
        element.get("value"),
        user=user,
        channel=message.channel,
        message_ts=message.ts,
        block_id=element["block_id"],
        element=extra,
    )
    return bot.sender.post(body, headers=headers)[0]


def ephemeral_after(bot: FlowBot, user: str, since: int) -> str:
    """The text of the first ephemeral message ``user`` got after ``since``."""
    found = wait_for(lambda: [e for e in bot.slack.workspace.ephemerals[since:] if e.user == user])
    return str(found[0].text)


def dm_texts(bot: FlowBot, user: str) -> list[str]:
    return [text_of(m) for m in top_level(bot, "D" + user[1:])]


def command(
    bot: FlowBot, text: str, *, user: str = ALICE, channel: str = DEV, count: int = 1
) -> Any:
    """Send ``/migrate text``: its first ephemeral answer (``count`` > 1: that many)."""
    since = len(bot.slack.workspace.ephemerals)
    code, _ = bot.sender.post(bot.sender.command_body(text, user=user, channel=channel))
    assert code == 200
    found = wait_for(
        lambda: (
            len(got := [e for e in bot.slack.workspace.ephemerals[since:] if e.user == user])
            >= count
            and got
        )
    )
    return found[0] if count == 1 else found[:count]


def running_revision(request: Request, revision: str) -> bool:
    """The request's live status shows it running ``revision``."""
    picture = run_picture(request)
    return picture is not None and picture.current_revision == revision


def view_body(bot: FlowBot, view: dict[str, Any], *, user: str, values: dict[str, Any]) -> bytes:
    """The Submit of the modal ``view`` with its inputs at ``values``, as Slack sends it."""
    trigger_id, _ = bot.sender.mint(DEV, user)
    payload = {
        "type": "view_submission",
        "team": {"id": "T0LOCAL"},
        "user": {"id": user},
        "trigger_id": trigger_id,
        "view": {**view, "state": {"values": values}},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def opened_modal(bot: FlowBot, message: Message, action_id: str, *, user: str) -> dict[str, Any]:
    """Click ``action_id`` on ``message``: the modal the bot opened for it (within limits)."""
    before = len(bot.slack.calls("views.open"))
    assert click(bot, message, action_id, user=user) == 200
    call = wait_for(lambda: bot.slack.calls("views.open")[before:])[0]
    view = call.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert limits.modal_problems(view) == []
    return view


def home_of(bot: FlowBot, user: str, *, after: int = 0) -> dict[str, Any]:
    """Open ``user``'s home tab as Slack does; the view the bot published for it."""
    calls = len(bot.slack.calls("views.publish"))
    body = bot.sender.event_body(
        {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
    )
    assert bot.sender.post(body) == (200, "")
    published = wait_for(
        lambda: [
            c
            for c in bot.slack.calls("views.publish")[max(calls, after) :]
            if c.args["user_id"] == user and c.status == 200
        ]
    )
    view = published[-1].args["view"]
    return json.loads(view) if isinstance(view, str) else view
