"""``/migrate backups T``: the target's recorded backups, newest first."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections, section
from bot.views.ids import BlockId
from bot.views.status import revisions_text
from commands.backup.records import BackupRecord
from commands.units import format_bytes


def backups_blocks(target: str, records: list[BackupRecord]) -> list[Block]:
    blocks = [header(f"Backups of {target} ({len(records)})", BlockId.HEADER)]
    if not records:
        blocks.append(section("_No backup recorded yet._", block_id=BlockId.BACKUPS))
        return blocks
    lines = [
        f"{code(r.id)}  {r.created_at[:19].replace('T', ' ')} UTC · at"
        f" {revisions_text(r.revisions)} · {format_bytes(r.size)} {r.format} · {escape(r.uri)}"
        for r in records
    ]
    blocks += lines_in_sections(lines, max_blocks=40, block_id=BlockId.BACKUPS)
    blocks.append(
        context(
            f"`/migrate restore {target} ID` asks to restore one (it needs an approval).",
            block_id=BlockId.FOOTER,
        )
    )
    return blocks
