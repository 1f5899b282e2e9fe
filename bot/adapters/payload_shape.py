"""What a Slack request must look like before the Bolt app is given it.

The bot serves these kinds of request: the ``/migrate`` slash command,
``block_actions`` (the buttons and checkboxes of its messages and home tab),
``view_submission`` (the Submit of its modals), the ``app_home_opened`` event
and, when its Events URL is set up, Slack's ``url_verification``. Bolt reads a
payload's fields the way Slack sends them (``body["actions"][0]["action_id"]``,
``body["view"]["type"]``…), so a payload of another kind, or with a list where
Slack puts an object, raises inside Bolt before any listener or error handler
of ours runs. The HTTP edge asks ``payload_problem`` first and answers 400 to
anything it names: nothing is done, and the log gets one line, no traceback.
Slack sends none of these; only someone holding the signing secret can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.views.ids import ViewId

NONE = type(None)

# block_actions and view_submission: each field Bolt's context or our listeners
# read, and the types Slack gives it (absent is fine unless required below).
INTERACTION_FIELDS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "user": (dict,),
    "actions": (list,),
    "team": (dict, NONE),
    "enterprise": (dict, str, NONE),
    "channel": (dict, NONE),
    "container": (dict, NONE),
    "message": (dict, NONE),
    "view": (dict, NONE),
    "state": (dict, NONE),
    "authorizations": (list, NONE),
    "trigger_id": (str,),
    "response_url": (str,),
    "api_app_id": (str,),
    "token": (str,),
    "response_urls": (list, NONE),
    "is_enterprise_install": (bool, str, NONE),
    "thread_ts": (str, NONE),
    "function_data": (dict, NONE),
    "function_execution_id": (str, NONE),
    "bot_access_token": (str, NONE),
}
# objects inside an interaction payload: the text fields of each
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("id", "team_id", "username", "name"),
    "team": ("id", "domain", "enterprise_id"),
    "enterprise": ("id", "name"),
    "channel": ("id", "name"),
    "container": ("type", "channel_id", "message_ts", "thread_ts", "view_id"),
    "message": ("ts", "thread_ts", "text"),
    "view": ("id", "app_installed_team_id", "team_id", "callback_id", "type", "private_metadata"),
    "function_data": ("execution_id",),
}
ACTION_TEXT = ("action_id", "block_id", "value", "type", "action_ts")
MAX_ACTIONS = 10
SERVED_VIEWS = frozenset(ViewId)
SERVED_EVENTS = frozenset({"app_home_opened"})
EVENT_TEXT = ("type", "user", "channel", "tab", "event_ts")


def payload_problem(body: object) -> str | None:
    """Why ``body`` (the parsed request) is not one this bot serves; ``None`` if it is."""
    if not isinstance(body, dict):
        return "the payload is not an object"
    if body.get("ssl_check") == "1":
        return None  # Slack checking the certificate: Bolt answers it and does nothing else
    if "command" in body:
        return _slash_command_problem(body)
    check = _CHECKS.get(str(body.get("type")))
    if check is None:
        return f"a payload of type {_shown(body.get('type'))} is not served here"
    return check(body)


def _block_actions_problem(body: Mapping[str, Any]) -> str | None:
    return _interaction_problem(body) or _actions_problem(body.get("actions"))


def _view_submission_problem(body: Mapping[str, Any]) -> str | None:
    return _interaction_problem(body) or _view_problem(body.get("view"))


def _url_verification_problem(body: Mapping[str, Any]) -> str | None:
    """Slack checking the Events URL: Bolt answers the challenge and does nothing else."""
    return None if isinstance(body.get("challenge"), str) else "a challenge that is no text"


def _event_problem(body: Mapping[str, Any]) -> str | None:
    """An Events API callback of a kind the bot listens to, its fields text."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") not in SERVED_EVENTS:
        kind = event.get("type") if isinstance(event, dict) else None
        return f"an event of type {_shown(kind)} is not served here"
    for key in ("team_id", "api_app_id", "event_id"):
        if not isinstance(body.get(key), str | NONE):
            return f"{key} is not text"
    return _text_fields_problem(event, EVENT_TEXT, "event")


def _slash_command_problem(body: Mapping[str, Any]) -> str | None:
    """Slack posts slash commands as a form: every value is text."""
    odd = [key for key, value in body.items() if not isinstance(value, str)]
    if odd:
        return f"slash command field {_shown(odd[0])} is not text"
    for key in ("user_id", "channel_id", "command"):
        if not body.get(key):
            return f"slash command without {key}"
    return None


def _interaction_problem(body: Mapping[str, Any]) -> str | None:
    """The fields block_actions and view_submission share."""
    for key, types in INTERACTION_FIELDS.items():
        if key in body and not isinstance(body[key], types):
            return f"{key} is not a {' or '.join(t.__name__ for t in types)}"
    if not isinstance(body.get("user"), dict) or not body["user"].get("id"):
        return f"{body['type']} without a user id"
    for key, fields in TEXT_FIELDS.items():
        problem = _text_fields_problem(body.get(key), fields, key)
        if problem:
            return problem
    for entry in body.get("authorizations") or []:
        if not isinstance(entry, dict):
            return "authorizations holds something other than objects"
        problem = _text_fields_problem(entry, ("team_id", "enterprise_id", "user_id"), "auth")
        if problem:
            return problem
    return None


def _actions_problem(actions: object) -> str | None:
    if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
        return "block_actions needs one action (a list of at most ten)"
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            return "an action without a text action_id"
        problem = _text_fields_problem(action, ACTION_TEXT, "action")
        if problem:
            return problem
        options = action.get("selected_options", [])
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            return "selected_options is not a list of objects"
        if not isinstance(action.get("selected_option"), dict | NONE):
            return "selected_option is not an object"
    return None


def _view_problem(view: object) -> str | None:
    """A submitted modal of ours (Bolt would answer 404 to another callback_id); the
    form reads state.values as blocks of inputs (objects of objects)."""
    if not isinstance(view, dict) or not isinstance(view.get("callback_id"), str):
        return "view_submission without a view callback_id"
    if view["callback_id"] not in SERVED_VIEWS:
        return f"a view {_shown(view['callback_id'])} is not served here"
    state = view.get("state") or {}
    values = (state.get("values") or {}) if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
        isinstance(block, dict) and all(isinstance(entry, dict) for entry in block.values())
        for block in values.values()
    ):
        return "view.state.values is not blocks of input objects"
    return None


def _text_fields_problem(value: object, fields: tuple[str, ...], where: str) -> str | None:
    """``None`` when ``value`` is absent, or an object whose ``fields`` are text or null."""
    if not isinstance(value, dict):
        return None
    for field in fields:
        if not isinstance(value.get(field), str | NONE):
            return f"{where}.{field} is not text"
    return None


def _shown(value: object) -> str:
    """Someone else's value, safe for a log line: short, quoted, escaped."""
    return repr(value)[:40]


_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "block_actions": _block_actions_problem,
    "view_submission": _view_submission_problem,
    "event_callback": _event_problem,
    "url_verification": _url_verification_problem,
}
