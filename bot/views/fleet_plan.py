"""``/migrate plan`` of a fleet: its members grouped by where they start, the revisions
each group runs, and the SQL of each distinct revision once (View SQL)."""

from __future__ import annotations

from bot.views.blocks import Block, actions, button, code, context, header, lines_in_sections
from bot.views.ids import ActionId, BlockId
from bot.views.status import revision_line, revisions_text
from commands.fleet.set_plan import groups
from commands.migration.script.fingerprint import PlanFingerprint
from commands.migration.script.plan import Plan

NAMES_SHOWN = 6


def fleet_plan_blocks(
    plan: Plan, fingerprint: PlanFingerprint, *, sql_ref: str | None
) -> list[Block]:
    verb = fingerprint.action
    blocks = [header(f"Plan for {fingerprint.target} (fleet): {verb}", BlockId.HEADER)]
    lines = [f"*{len(fingerprint.members)} members*, {len(plan.revisions)} distinct revision(s)"]
    for group in groups(fingerprint):
        names = ", ".join(code(m) for m in group.members[:NAMES_SHOWN])
        more = len(group.members) - NAMES_SHOWN
        names += f" and {more} more" if more > 0 else ""
        what = f"{len(group.revisions)} revision(s)" if group.revisions else "nothing to do"
        lines.append(
            f"• *{len(group.members)}* at {revisions_text(group.from_revisions)}: {what} — {names}"
        )
    lines.append("*Revisions*")
    lines += [revision_line(r, n) for n, r in enumerate(plan.revisions, start=1)]
    blocks += lines_in_sections(lines, max_blocks=30, block_id=BlockId.REVISIONS)
    if sql_ref is not None and plan.sql:
        blocks.append(
            actions(
                button("View SQL", action_id=ActionId.VIEW_SQL, value=sql_ref),
                block_id=BlockId.ACTIONS,
            )
        )
    blocks.append(
        context(
            f"`/migrate {verb} {fingerprint.target}` asks for one approval for every member.",
            block_id=BlockId.FOOTER,
        )
    )
    return blocks
