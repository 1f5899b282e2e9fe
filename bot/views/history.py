"""``/migrate history``: every revision of a target's project, newest first, and its
recent requests with how they ended."""

from __future__ import annotations

from collections.abc import Sequence

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections
from bot.views.ids import BlockId
from bot.views.people import mention
from commands.migration.script.plan import HistoryEntry
from commands.requests.model import Request
from commands.requests.wording import format_time


def history_blocks(
    target: str, entries: list[HistoryEntry], requests: Sequence[Request] = ()
) -> list[Block]:
    lines = [_line(e) for e in entries] or ["_no revisions_"]
    applied = sum(e.applied for e in entries)
    blocks = [
        header(f"{target}: {len(entries)} revisions, {applied} applied", BlockId.HEADER),
        *lines_in_sections(lines, max_blocks=30, block_id=BlockId.REVISIONS),
        context("✅ applied · ⬜ pending · 📍 current · 🔝 head", block_id=BlockId.FOOTER),
    ]
    if requests:
        asked = ["*Recent requests*"] + [_request_line(r) for r in requests]
        blocks += lines_in_sections(asked, max_blocks=5, block_id=BlockId.PENDING)
    return blocks


def _line(entry: HistoryEntry) -> str:
    marks = "".join(m for m, on in (("📍", entry.current), ("🔝", entry.head)) if on)
    state = "✅" if entry.applied else "⬜"
    return f"{state} {code(entry.revision.id)}  {escape(entry.revision.message)} {marks}".rstrip()


def _request_line(request: Request) -> str:
    goal = code(request.goal)
    when = format_time(request.closure.at if request.closure else request.created_at)
    return (
        f"{code(request.id)} {request.kind.value} to {goal} · *{request.state.value}* · asked by"
        f" {mention(request.requester)} · {when}"
    )
