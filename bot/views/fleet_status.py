"""``/migrate status`` of a fleet: how many members at each revision, who is behind, who
cannot be reached."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections, section
from bot.views.ids import BlockId
from bot.views.status import revisions_text
from commands.fleet.member_status import FleetStatus

NAMES_SHOWN = 6


def fleet_status_blocks(status: FleetStatus) -> list[Block]:
    total = len(status.members)
    behind, unreachable = status.behind, status.unreachable
    if not behind and not unreachable:
        verdict = f"✅ all {total} members at head"
    else:
        verdict = f"⏳ {status.at_head} of {total} members at head"
    blocks = [
        header(f"{status.target}: {verdict}", BlockId.HEADER),
        section(
            f"*Fleet* of {total} members · head {revisions_text(status.heads)}",
            fields=[
                f"*Behind*\n{len(behind)}",
                f"*Unreachable*\n{len(unreachable)}",
            ],
            block_id=BlockId.SUMMARY,
        ),
    ]
    lines = ["*Members by revision*"]
    for revisions, members in status.by_revision:
        mark = " (head)" if revisions == status.heads else ""
        lines.append(f"• {revisions_text(revisions)}{mark}: *{len(members)}* — {_names(members)}")
    if behind:
        lines.append("*Behind*")
        lines += [
            f"• {code(m.name)}: {len(m.status.pending)} revision(s) pending"
            for m in behind
            if m.status is not None
        ]
    if unreachable:
        lines.append("*Unreachable*")
        lines += [f"• {code(m.name)}: {escape(m.error or '')}" for m in unreachable]
    blocks += lines_in_sections(lines, max_blocks=10, block_id=BlockId.PENDING)
    if behind:
        blocks.append(
            context(
                f"`/migrate upgrade {status.target}` asks to bring every member to head,"
                " in waves, under one approval.",
                block_id=BlockId.FOOTER,
            )
        )
    return blocks


def _names(members: tuple[str, ...]) -> str:
    shown = ", ".join(code(m) for m in members[:NAMES_SHOWN])
    more = len(members) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
