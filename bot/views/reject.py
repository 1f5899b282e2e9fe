"""The Reject modal: an approver says why a request is turned down.

The reason goes into the ``request_rejected`` event and onto the request
message ("Rejected by @bob: not during the sale"), so the requester knows
what to change before asking again.
"""

from __future__ import annotations

from typing import Any

from bot.views.blocks import code, plain, section
from bot.views.ids import BlockId, ViewId
from commands.requests.model import Request

REASON_INPUT = "reason"
MAX_REASON = 500


def reject_modal(request: Request) -> dict[str, Any]:
    """The modal; its ``private_metadata`` is the request id only."""
    intro = (
        f"*{request.id}* · {request.kind.value} {code(request.target)} will not run;"
        " the requester has to ask again. Your reason is shown on the request and kept in"
        " the audit log."
    )
    reason = {
        "type": "input",
        "block_id": BlockId.REJECT_REASON,
        "label": plain("Why is it rejected?"),
        "element": {
            "type": "plain_text_input",
            "action_id": REASON_INPUT,
            "multiline": True,
            "max_length": MAX_REASON,
            "placeholder": plain("e.g. not during the sale; split the backfill first"),
        },
    }
    return {
        "type": "modal",
        "callback_id": ViewId.REJECT,
        "private_metadata": request.id,
        "title": plain(f"Reject {request.id}", 24),
        "submit": plain("Reject", 24),
        "close": plain("Back", 24),
        "blocks": [section(intro, block_id=BlockId.SUMMARY), reason],
    }


def submitted_reason(view: dict[str, Any]) -> str:
    """The reason typed in the modal (stripped; empty if none came)."""
    values = (view.get("state") or {}).get("values") or {}
    typed = (values.get(BlockId.REJECT_REASON) or {}).get(REASON_INPUT) or {}
    value = typed.get("value") if isinstance(typed, dict) else None
    return value.strip() if isinstance(value, str) else ""
