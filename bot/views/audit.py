"""``/migrate audit verify``: the hash chain walked, and the head to keep elsewhere."""

from __future__ import annotations

from audit.chain import Head
from bot.views.blocks import Block, code, context, section
from bot.views.ids import BlockId


def audit_verified_blocks(*, events: int, head: Head | None) -> list[Block]:
    """From what ``verify`` found (its report is the store's, which a view does not import)."""
    shown = str(head) if head else "empty"
    return [
        section(
            f"✅ The audit log verifies: {events} events, each hashing the one before.",
            block_id=BlockId.SUMMARY,
        ),
        context(
            f"Head {code(shown)}. Keep it somewhere else (a ticket, a channel):"
            " `migrate-bot audit verify --expect-head` proves nothing was cut after it.",
            block_id=BlockId.FOOTER,
        ),
    ]
