"""Block Kit building blocks: small pure constructors that keep to Slack's limits.

Text that comes from outside (revision messages, names, reasons) is escaped
for mrkdwn and clipped to the field's limit here, so a view can never build a
block Slack would refuse with ``invalid_blocks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.views import limits

Block = dict[str, Any]
SAFE_BACKTICK = "\u02cb"  # a look-alike that cannot end a code span


def escape(text: str) -> str:
    """``text`` safe inside mrkdwn: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(text: str) -> str:
    """Inline code for an id or a name (escaped; backticks cannot close it early)."""
    return f"`{escape(text).replace('`', SAFE_BACKTICK)}`"


def plain(text: str, limit: int = limits.PLAIN_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def header(text: str, block_id: str | None = None) -> Block:
    return _with_id({"type": "header", "text": plain(text, limits.HEADER_TEXT)}, block_id)


def section(
    text: str,
    *,
    fields: Iterable[str] = (),
    block_id: str | None = None,
    accessory: dict[str, Any] | None = None,
) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    shown = [mrkdwn(f, limits.SECTION_FIELD) for f in fields][: limits.SECTION_FIELDS]
    if shown:
        block["fields"] = shown
    if accessory is not None:
        block["accessory"] = accessory
    return _with_id(block, block_id)


def context(*texts: str, block_id: str | None = None) -> Block:
    elements = [mrkdwn(t, limits.CONTEXT_TEXT) for t in texts][: limits.CONTEXT_ELEMENTS]
    return _with_id({"type": "context", "elements": elements}, block_id)


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, limits.BUTTON_TEXT),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def confirm_dialog(
    title: str, text: str, *, confirm: str, deny: str = "Back", danger: bool = False
) -> dict[str, Any]:
    """The "are you sure?" Slack shows before sending a button's click; ``danger`` draws
    its confirm button red, for what cannot be undone."""
    return {
        "title": plain(title, limits.CONFIRM_TITLE),
        "text": plain(text, limits.CONFIRM_TEXT),
        "confirm": plain(confirm, limits.CONFIRM_BUTTON),
        "deny": plain(deny, limits.CONFIRM_BUTTON),
        "style": "danger" if danger else "primary",
    }


def checkboxes(
    *, action_id: str, options: Iterable[tuple[str, str]], checked: Iterable[str] = ()
) -> dict[str, Any]:
    """Checkboxes from ``(label, value)`` pairs; those whose value is in ``checked`` ticked."""
    shown = [
        {"text": plain(label, limits.OPTION_TEXT), "value": value}
        for label, value in list(options)[: limits.CHECKBOX_OPTIONS]
    ]
    ticked = set(checked)
    element: dict[str, Any] = {"type": "checkboxes", "action_id": action_id, "options": shown}
    initial = [o for o in shown if o["value"] in ticked]
    if initial:  # Slack refuses an empty initial_options
        element["initial_options"] = initial
    return element


def actions(*elements: dict[str, Any], block_id: str) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def lines_in_sections(
    lines: Iterable[str], *, max_blocks: int, block_id: str | None = None
) -> list[Block]:
    """Lines packed into as few sections as fit, at most ``max_blocks`` of them.

    Lines past what fits are summarised as "… and N more" in the last section.
    """
    chunks: list[list[str]] = [[]]
    all_lines = list(lines)
    for index, full_line in enumerate(all_lines):
        line = clip(full_line, limits.SECTION_TEXT - 40)
        if len("\n".join([*chunks[-1], line])) > limits.SECTION_TEXT - 40:
            if len(chunks) == max_blocks:
                chunks[-1].append(f"… and {len(all_lines) - index} more")
                break
            chunks.append([])
        chunks[-1].append(line)
    return [
        section("\n".join(chunk), block_id=f"{block_id}-{n}" if block_id else None)
        for n, chunk in enumerate(chunks)
        if chunk
    ]


def _with_id(block: Block, block_id: str | None) -> Block:
    if block_id is not None:
        block["block_id"] = block_id
    return block
