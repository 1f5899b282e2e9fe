"""``/migrate audit verify``: the hash chain walked, and the head to keep elsewhere."""

from __future__ import annotations

from audit.store import VerifyReport
from bot.views.blocks import Block, code, context, section
from bot.views.ids import BlockId


def audit_verified_blocks(report: VerifyReport) -> list[Block]:
    head = str(report.head) if report.head else "empty"
    return [
        section(
            f"✅ The audit log verifies: {report.events} events, each hashing the one before.",
            block_id=BlockId.SUMMARY,
        ),
        context(
            f"Head {code(head)}. Keep it somewhere else (a ticket, a channel):"
            " `migrate-bot audit verify --expect-head` proves nothing was cut after it.",
            block_id=BlockId.FOOTER,
        ),
    ]
