"""What Slack sends the bot when someone types a command, clicks, ticks or submits.

Pure functions: the sandbox page says only *which* element a person used
(the block's position and the element's ``action_id``) and the raw values of
the inputs it shows (option values, a date, some text); the payload is built
here from the message or view the workspace holds, in the shapes Slack
documents for slash commands, ``block_actions`` and ``view_submission``. So
the bot meets the same fields it meets in Slack, and the page cannot make
up a button the bot never sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.listeners.slash import SLASH_COMMAND
from bot.sandbox.people import Person

APP_ID = "A0SANDBOX"
VERIFICATION_TOKEN = "sandbox-verification-token"  # Slack's deprecated token; Bolt ignores it

Block = Mapping[str, Any]
RawState = Mapping[str, Mapping[str, Any]]  # block position -> action_id -> raw value

# Element type -> the key its value takes in ``state.values`` and in an action.
MULTI_OPTION = {"checkboxes", "multi_static_select"}
ONE_OPTION = {"static_select", "radio_buttons", "overflow"}
PLAIN_VALUE = {
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}
INITIAL_KEY = {
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "value": "initial_value",
    "selected_user": "initial_user",
    "selected_conversation": "initial_conversation",
    "selected_channel": "initial_channel",
}
NOT_STATE = {"button", "overflow", "workflow_button"}  # clicked, never held in state


class ElementNotFoundError(LookupError):
    """The message or view no longer has the element the page clicked (it was updated)."""


@dataclass(frozen=True)
class Located:
    """An interactive element found in a list of blocks."""

    position: int
    block_id: str
    element: Mapping[str, Any]


def block_id_of(block: Block, position: int) -> str:
    """The block's id; Slack gives a block sent without one an id of its own."""
    return str(block.get("block_id") or f"sandbox-block-{position}")


def interactive_elements(blocks: list[Block]) -> Iterator[Located]:
    """Every element that has an ``action_id``: in actions, section accessories, inputs."""
    for position, block in enumerate(blocks):
        candidates: list[Any] = []
        if block.get("type") == "actions":
            candidates = list(block.get("elements") or [])
        elif block.get("type") == "section" and block.get("accessory"):
            candidates = [block["accessory"]]
        elif block.get("type") == "input" and block.get("element"):
            candidates = [block["element"]]
        for element in candidates:
            if isinstance(element, Mapping) and element.get("action_id"):
                yield Located(position, block_id_of(block, position), element)


def find_element(blocks: list[Block], position: int, action_id: str) -> Located:
    """The element ``action_id`` in the block at ``position`` (or, if the message
    moved its blocks since the page drew it, anywhere); raises ``ElementNotFoundError``."""
    found = [e for e in interactive_elements(blocks) if e.element["action_id"] == action_id]
    for located in found:
        if located.position == position:
            return located
    if found:
        return found[0]
    raise ElementNotFoundError(f"no element {action_id!r}: the message has changed")


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    groups = element.get("option_groups") or []
    return [*(element.get("options") or []), *(o for g in groups for o in g.get("options") or [])]


def _value_of(element: Mapping[str, Any], raw: Any) -> dict[str, Any]:
    """The element's value in Slack's shape, from the page's raw value (``None``: initial)."""
    kind = str(element.get("type"))
    if kind in MULTI_OPTION:
        return {"selected_options": _chosen_options(element, raw)}
    if kind in ONE_OPTION:
        if raw is None:
            return {"selected_option": element.get("initial_option")}
        match = [o for o in _options(element) if o.get("value") == raw]
        return {"selected_option": match[0] if match else None}
    key = PLAIN_VALUE.get(kind)
    if key is None:
        return {}
    return {key: element.get(INITIAL_KEY[key]) if raw is None else str(raw)}


def _chosen_options(element: Mapping[str, Any], raw: Any) -> list[Any]:
    if raw is None:
        return list(element.get("initial_options") or [])
    chosen = {str(v) for v in raw} if isinstance(raw, list) else set()
    return [o for o in _options(element) if o.get("value") in chosen]


def state_values(blocks: list[Block], raw: RawState) -> dict[str, dict[str, Any]]:
    """``state.values``: every input-like element's current value, by block and action id."""
    values: dict[str, dict[str, Any]] = {}
    for located in interactive_elements(blocks):
        element = located.element
        if element.get("type") in NOT_STATE:
            continue
        shown = raw.get(str(located.position), {}).get(element["action_id"])
        value = {"type": element.get("type"), **_value_of(element, shown)}
        values.setdefault(located.block_id, {})[element["action_id"]] = value
    return values


def action_of(located: Located, raw: Any, *, action_ts: str) -> dict[str, Any]:
    """One entry of ``actions``: what was clicked or changed, and its new value."""
    element = located.element
    action: dict[str, Any] = {
        "type": element.get("type"),
        "action_id": element["action_id"],
        "block_id": located.block_id,
        "action_ts": action_ts,
    }
    for key in ("text", "value", "style", "url"):
        if key in element and element.get("type") == "button":
            action[key] = element[key]
    return {**action, **_value_of(element, raw)}


def user_object(person: Person, team_id: str) -> dict[str, Any]:
    handle = person.name.lower().replace(" ", ".")
    return {"id": person.id, "username": handle, "name": handle, "team_id": team_id}


def slash_command_form(
    *,
    text: str,
    person: Person,
    channel: tuple[str, str],
    team_id: str,
    trigger_id: str,
    response_url: str,
    command: str = SLASH_COMMAND,
) -> dict[str, str]:
    """The form Slack posts for ``/migrate text`` typed in ``channel`` (id, name)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "sandbox",
        "channel_id": channel[0],
        "channel_name": channel[1],
        "user_id": person.id,
        "user_name": user_object(person, team_id)["name"],
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_payload(
    *,
    person: Person,
    team_id: str,
    container: dict[str, Any],
    actions: list[dict[str, Any]],
    values: dict[str, dict[str, Any]],
    trigger_id: str,
    channel: tuple[str, str] | None = None,
    message: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload; ``message`` for a (non-ephemeral) message, ``view``
    for a modal, as Slack includes them."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user_object(person, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "sandbox"},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": actions,
    }
    if channel is not None:
        payload["channel"] = {"id": channel[0], "name": channel[1]}
    if message is not None:
        payload["message"] = dict(message)
    if view is not None:
        payload["view"] = {**view, "state": {"values": values}}
    else:
        payload["state"] = {"values": values}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission_payload(
    *,
    person: Person,
    team_id: str,
    view: Mapping[str, Any],
    values: dict[str, dict[str, Any]],
    trigger_id: str,
) -> dict[str, Any]:
    """A ``view_submission`` payload for the modal ``view`` with these input values."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "sandbox"},
        "user": user_object(person, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {
            "team_id": team_id,
            "app_id": APP_ID,
            "private_metadata": "",
            "callback_id": "",
            **view,
            "state": {"values": values},
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def home_opened_event(
    *, person: Person, team_id: str, channel: str, event_ts: str
) -> dict[str, Any]:
    """The Events API callback Slack sends when ``person`` opens the app's Home tab."""
    return {
        "type": "event_callback",
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event_id": f"Ev{event_ts.replace('.', '')}",
        "event_time": int(float(event_ts)),
        "event": {
            "type": "app_home_opened",
            "user": person.id,
            "channel": channel,
            "tab": "home",
            "event_ts": event_ts,
        },
    }
