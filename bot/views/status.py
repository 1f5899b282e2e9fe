"""``/migrate status``: where a target's database stands against its project."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, lines_in_sections, section
from bot.views.ids import BlockId
from commands.migration.script.plan import Status
from commands.migration.script.revision_graph import Revision


def revisions_text(revisions: tuple[str, ...]) -> str:
    return ", ".join(code(r) for r in revisions) if revisions else "_base (empty)_"


def revision_line(revision: Revision, index: int | None = None) -> str:
    number = f"{index}. " if index is not None else "• "
    return f"{number}{code(revision.id)}  {escape(revision.message)}"


def status_blocks(status: Status) -> list[Block]:
    verdict = "✅ at head" if status.at_head else f"⏳ {len(status.pending)} revision(s) pending"
    blocks = [
        header(f"{status.target}: {verdict}", BlockId.HEADER),
        section(
            f"*Database* {escape(status.database)} (PostgreSQL {escape(status.server_version)})",
            fields=[
                f"*Current*\n{revisions_text(status.current)}",
                f"*Head*\n{revisions_text(status.heads)}",
            ],
            block_id=BlockId.SUMMARY,
        ),
    ]
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
