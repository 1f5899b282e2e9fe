"""``/migrate history``: every revision of a target's project, newest first."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections
from bot.views.ids import BlockId
from commands.planning import HistoryEntry


def history_blocks(target: str, entries: list[HistoryEntry]) -> list[Block]:
    lines = [_line(e) for e in entries] or ["_no revisions_"]
    applied = sum(e.applied for e in entries)
    return [
        header(f"{target}: {len(entries)} revisions, {applied} applied", BlockId.HEADER),
        *lines_in_sections(lines, max_blocks=40, block_id=BlockId.REVISIONS),
        context("✅ applied · ⬜ pending · 📍 current · 🔝 head", block_id=BlockId.FOOTER),
    ]


def _line(entry: HistoryEntry) -> str:
    marks = "".join(m for m, on in (("📍", entry.current), ("🔝", entry.head)) if on)
    state = "✅" if entry.applied else "⬜"
    return f"{state} {code(entry.revision.id)}  {escape(entry.revision.message)} {marks}".rstrip()
