"""Slack's Block Kit limits, and a checker that lists every breach in a view.

Slack refuses a whole message (``invalid_blocks``) for one field too long, so
every view is unit-tested with ``problems()``; the constructors in
``blocks.py`` clip to the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELD = 2000
SECTION_FIELDS = 10
HEADER_TEXT = 150
PLAIN_TEXT = 3000
CONTEXT_TEXT = 3000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
ACTION_VALUE = 255
ACTION_ID = 255
BLOCK_ID = 255
MODAL_TITLE = 24
MODAL_BUTTON = 24
OPTION_TEXT = 75
OPTION_VALUE = 150
CHECKBOX_OPTIONS = 10
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30


def problems(blocks: Iterable[dict[str, Any]], *, surface: str = "message") -> list[str]:
    """Every Block Kit limit ``blocks`` breaks on ``surface`` (``message`` or ``modal``)."""
    blocks = list(blocks)
    found: list[str] = []
    most = MODAL_BLOCKS if surface == "modal" else MESSAGE_BLOCKS
    if len(blocks) > most:
        found.append(f"{len(blocks)} blocks (a {surface} holds {most})")
    block_ids: list[str] = []
    action_ids: list[str] = []
    for index, block in enumerate(blocks):
        where = f"block {index} ({block.get('type')})"
        if "block_id" in block:
            block_ids.append(block["block_id"])
            found += _too_long(where, "block_id", block["block_id"], BLOCK_ID)
        found += _block_problems(where, block, action_ids)
    found += _duplicates("block_id", block_ids) + _duplicates("action_id", action_ids)
    return found


def modal_problems(view: dict[str, Any]) -> list[str]:
    """``problems`` for a modal's blocks plus its title and buttons."""
    found = problems(view.get("blocks", []), surface="modal")
    if view.get("type") != "modal":
        found.append("a modal's type must be 'modal'")
    for key, most in (("title", MODAL_TITLE), ("close", MODAL_BUTTON), ("submit", MODAL_BUTTON)):
        if key in view:
            found += _text_object(f"modal {key}", view[key], most, plain_only=True)
    if "title" not in view:
        found.append("a modal needs a title")
    return found


def _block_problems(where: str, block: dict[str, Any], action_ids: list[str]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return _text_object(where, block.get("text"), HEADER_TEXT, plain_only=True)
    if kind == "section":
        return _section(where, block, action_ids)
    if kind == "context":
        elements = block.get("elements", [])
        found = [f"{where}: {len(elements)} elements"] if len(elements) > CONTEXT_ELEMENTS else []
        for element in elements:
            found += _text_object(where, element, CONTEXT_TEXT)
        return found
    if kind == "actions":
        elements = block.get("elements", [])
        found = [f"{where}: {len(elements)} elements"] if len(elements) > ACTIONS_ELEMENTS else []
        for element in elements:
            found += _element(where, element, action_ids)
        return found
    if kind in ("divider", "image", "rich_text", "input"):
        return []
    return [f"{where}: unknown block type"]


def _section(where: str, block: dict[str, Any], action_ids: list[str]) -> list[str]:
    found: list[str] = []
    if "text" not in block and "fields" not in block:
        found.append(f"{where}: a section needs text or fields")
    if "text" in block:
        found += _text_object(where, block["text"], SECTION_TEXT)
    fields = block.get("fields", [])
    if len(fields) > SECTION_FIELDS:
        found.append(f"{where}: {len(fields)} fields (at most {SECTION_FIELDS})")
    for field in fields:
        found += _text_object(f"{where} field", field, SECTION_FIELD)
    if "accessory" in block:
        found += _element(where, block["accessory"], action_ids)
    return found


def _element(where: str, element: dict[str, Any], action_ids: list[str]) -> list[str]:
    found: list[str] = []
    if "action_id" in element:
        action_ids.append(element["action_id"])
        found += _too_long(where, "action_id", element["action_id"], ACTION_ID)
    if element.get("type") == "button":
        found += _text_object(f"{where} button", element.get("text"), BUTTON_TEXT, plain_only=True)
        found += _too_long(where, "button value", element.get("value", ""), ACTION_VALUE)
    if element.get("type") == "checkboxes":
        found += _options(where, element)
    if "confirm" in element:
        found += _confirm(where, element["confirm"])
    return found


def _options(where: str, element: dict[str, Any]) -> list[str]:
    options = element.get("options", [])
    found = [f"{where}: {len(options)} options"] * (not 0 < len(options) <= CHECKBOX_OPTIONS)
    values = []
    for option in options:
        found += _text_object(f"{where} option", option.get("text"), OPTION_TEXT)
        found += _too_long(where, "option value", option.get("value", ""), OPTION_VALUE)
        values.append(option.get("value"))
    for option in element.get("initial_options", []):
        if option not in options:
            found.append(f"{where}: an initial option is not one of the options")
    if "initial_options" in element and not element["initial_options"]:
        found.append(f"{where}: initial_options is empty")
    return found + _duplicates("option value", values)


def _confirm(where: str, confirm: Any) -> list[str]:
    if not isinstance(confirm, dict):
        return [f"{where}: confirm is not an object"]
    found = _text_object(
        f"{where} confirm title", confirm.get("title"), CONFIRM_TITLE, plain_only=True
    )
    found += _text_object(f"{where} confirm text", confirm.get("text"), CONFIRM_TEXT)
    for key in ("confirm", "deny"):
        found += _text_object(
            f"{where} confirm {key}", confirm.get(key), CONFIRM_BUTTON, plain_only=True
        )
    return found


def _text_object(where: str, text: Any, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"{where}: missing text object"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    found = [] if text.get("type") in allowed else [f"{where}: text type {text.get('type')!r}"]
    if not text["text"]:
        found.append(f"{where}: empty text")
    return found + _too_long(where, "text", text["text"], limit)


def _too_long(where: str, what: str, value: str, limit: int) -> list[str]:
    return [f"{where}: {what} is {len(value)} characters (limit {limit})"] * (len(value) > limit)


def _duplicates(what: str, values: list[str]) -> list[str]:
    return [f"{what} {v!r} is used more than once" for v, n in Counter(values).items() if n > 1]
