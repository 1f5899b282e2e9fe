"""``/migrate help``: every form of the grammar with what it does."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, header, lines_in_sections
from bot.views.ids import BlockId
from commands.slash.grammar import USAGE


def help_blocks() -> list[Block]:
    lines = [f"• {code('/migrate ' + form)}  {what}" for form, what in USAGE.values()]
    return [
        header("/migrate: what it can do", BlockId.HEADER),
        *lines_in_sections(lines, max_blocks=5, block_id=BlockId.COMMANDS),
        context(
            "Changes need a second engineer's approval. Revisions may be named by a unique"
            " prefix of at least four characters.",
            block_id=BlockId.FOOTER,
        ),
    ]
