"""``/migrate status``: where a target's database stands against its project; for a
fleet, how many members at each revision, who is behind, who cannot be reached."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections, section
from bot.views.ids import BlockId
from commands.fleet.member_status import FleetStatus
from commands.migration.script.plan import AT_BASE, Status
from commands.migration.script.revision_graph import Revision


def revisions_text(revisions: tuple[str, ...]) -> str:
    return ", ".join(code(r) for r in revisions) if revisions else f"_{AT_BASE}_"


def revision_line(revision: Revision, index: int | None = None) -> str:
    number = f"{index}. " if index is not None else "• "
    return f"{number}{code(revision.id)}  {escape(revision.message)}"


def status_blocks(status: Status | FleetStatus) -> list[Block]:
    """A target's status; a fleet's: its members by revision (``fleet_status_blocks``)."""
    if isinstance(status, FleetStatus):
        return fleet_status_blocks(status)
    verdict = "✅ at head" if status.at_head else f"⏳ {len(status.pending)} revision(s) pending"
    blocks = _top(
        f"{status.target}: {verdict}",
        f"*Database* {escape(status.database)} (PostgreSQL {escape(status.server_version)})",
        current=revisions_text(status.current),
        head=revisions_text(status.heads),
    )
    if status.pending:
        lines = [revision_line(r, n) for n, r in enumerate(status.pending, start=1)]
        blocks += lines_in_sections(lines, max_blocks=20, block_id=BlockId.PENDING)
        blocks.append(
            context(
                f"`/migrate plan {status.target}` shows their SQL;"
                f" `/migrate upgrade {status.target}` asks to apply them.",
                block_id=BlockId.FOOTER,
            )
        )
    return blocks


NAMES_SHOWN = 6


def _top(title: str, summary: str, **fields: str) -> list[Block]:
    """The header and the summary with its fields (``Current``, ``Head``…), in order."""
    named = [f"*{name.capitalize()}*\n{value}" for name, value in fields.items()]
    return [
        header(title, BlockId.HEADER),
        section(summary, fields=named, block_id=BlockId.SUMMARY),
    ]


def fleet_status_blocks(status: FleetStatus) -> list[Block]:
    total = len(status.members)
    behind, unreachable = status.behind, status.unreachable
    if not behind and not unreachable:
        verdict = f"✅ all {total} members at head"
    else:
        verdict = f"⏳ {status.at_head} of {total} members at head"
    blocks = _top(
        f"{status.target}: {verdict}",
        f"*Fleet* of {total} members · head {revisions_text(status.heads)}",
        behind=str(len(behind)),
        unreachable=str(len(unreachable)),
    )
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
