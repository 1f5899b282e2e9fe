"""``/migrate plan``: the pending revisions, and their SQL in a modal or a file; for a
fleet, its members grouped by where they start, the revisions each group runs, and
the SQL of each distinct revision once (View SQL)."""

from __future__ import annotations

from typing import Any

from bot.views.blocks import (
    SAFE_BACKTICK,
    Block,
    actions,
    button,
    code,
    context,
    escape,
    header,
    lines_in_sections,
    plain,
    section,
)
from bot.views.ids import ActionId, BlockId
from bot.views.limits import MODAL_BLOCKS, SECTION_TEXT
from bot.views.status import revision_line, revisions_text
from commands.fleet.set_plan import groups
from commands.migration.script.fingerprint import PlanFingerprint
from commands.migration.script.plan import Plan, revision_file_name
from commands.migration.script.revision_graph import Direction, Revision

SQL_CHUNK = SECTION_TEXT - 100  # room for the code fences and escaping headroom
NAMES_SHOWN = 6


def plan_blocks(plan: Plan, *, sql_ref: str | None = None) -> list[Block]:
    """The plan; with ``sql_ref`` (an id to find the SQL again) a "View SQL" button."""
    verb = "upgrade" if plan.direction is Direction.UP else "downgrade"
    blocks = [header(f"Plan for {plan.target}: {verb}", BlockId.HEADER)]
    route = f"{revisions_text(plan.current)} → {revisions_text(plan.destination)}"
    if plan.is_empty:
        blocks.append(section(f"Nothing to do: {route}", block_id=BlockId.SUMMARY))
        return blocks
    blocks.append(
        section(f"{route}, *{len(plan.revisions)} revision(s)*", block_id=BlockId.SUMMARY)
    )
    lines = [revision_line(r, n) for n, r in enumerate(plan.revisions, start=1)]
    blocks += lines_in_sections(lines, max_blocks=40, block_id=BlockId.REVISIONS)
    if plan.unrendered:
        blocks.append(context(_unavailable_text(plan)))
    has_sql = bool(plan.sql or plan.unavailable)
    footer = f"`/migrate {verb} {plan.target}` asks for approval to run it."
    return blocks + _actions(sql_ref if has_sql else None, footer)


def set_plan_blocks(
    plan: Plan, fingerprint: PlanFingerprint, *, sql_ref: str | None
) -> list[Block]:
    """A fleet's plan: each group of members, then every distinct revision once."""
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
    footer = f"`/migrate {verb} {fingerprint.target}` asks for one approval for every member."
    return blocks + _actions(sql_ref if plan.sql else None, footer)


def _actions(sql_ref: str | None, footer: str) -> list[Block]:
    """The "View SQL" button (with ``sql_ref``, an id to find the SQL again) and the footer
    naming the command that asks for it."""
    blocks: list[Block] = []
    if sql_ref is not None:
        blocks.append(
            actions(
                button("View SQL", action_id=ActionId.VIEW_SQL, value=sql_ref),
                block_id=BlockId.ACTIONS,
            )
        )
    return [*blocks, context(footer, block_id=BlockId.FOOTER)]


def sql_modal(plan: Plan) -> dict[str, Any] | None:
    """A modal with each revision's SQL, or ``None`` when it is too long for one."""
    blocks: list[Block] = []
    total = len(plan.revisions)
    for index, revision in enumerate(plan.revisions, start=1):
        blocks.append(section(f"*{index}/{total}* {code(revision.id)}  {escape(revision.message)}"))
        blocks += [section(f"```{_fenced(chunk)}```") for chunk in _chunks(_sql_of(plan, revision))]
        if len(blocks) > MODAL_BLOCKS:
            return None  # known now: the rest would not be shown
    return _modal(f"SQL: {plan.target}", blocks)


def sql_file(plan: Plan) -> str:
    """The whole plan's SQL as one ``.sql`` file, each revision under a comment."""
    parts = [f"-- {plan.target}: {plan.direction.value}grade, {len(plan.revisions)} revision(s)"]
    for index, revision in enumerate(plan.revisions, start=1):
        parts.append(f"\n-- [{index}/{len(plan.revisions)}] {revision.id}  {revision.message}")
        parts.append(_sql_of(plan, revision))
    return "\n".join(parts) + "\n"


def _sql_of(plan: Plan, revision: Revision) -> str:
    """The revision's SQL, or why there is none to show."""
    note = plan.sql_note(revision)
    if note:
        return f"-- {note}"
    return plan.sql.get(revision.id, "").strip() or "-- no SQL"


def _unavailable_text(plan: Plan) -> str:
    """The approver's warning: these revisions run online like any other, read their files."""
    shown = [
        f"{code(r.id)}: {escape(plan.unavailable[r.id])}; read {code(revision_file_name(r))}"
        for r in plan.unrendered[:5]
    ]
    more = f" (and {len(plan.unrendered) - 5} more)" if len(plan.unrendered) > 5 else ""
    return (
        f"⚠️ SQL not available offline for {len(plan.unrendered)} revision(s){more}:"
        f" {' · '.join(shown)}"
    )[:2900]


def sql_sent_as_file_modal(target: str, filename: str) -> dict[str, Any]:
    return _modal(
        f"SQL: {target}",
        [section(f"The SQL is too long to show here: it was sent to you as {code(filename)}.")],
    )


def loading_modal(request_id: str) -> dict[str, Any]:
    """Shown at once while the request's plan is made again (the trigger lasts 3 s)."""
    return _modal(f"SQL: {request_id}", [section(f"Reading the SQL of {request_id}…")])


def sql_expired_modal() -> dict[str, Any]:
    return _modal(
        "SQL",
        [section("This plan is gone from memory (the bot restarted): run `/migrate plan` again.")],
    )


def _modal(title: str, blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(title, 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def _fenced(sql: str) -> str:
    return escape(sql).replace("```", SAFE_BACKTICK * 3)


def _chunks(sql: str) -> list[str]:
    """``sql`` cut at line ends into pieces that fit one section once escaped.

    Escaping maps each character on its own (the backtick's look-alike is one character),
    so a piece's escaped length is the sum of its lines': counted as it grows, not by
    escaping the piece again for every line (32,000 lines took 0.4 s, under load past the
    three seconds a trigger id lives)."""
    chunks: list[str] = [""]
    size = 0  # len(_fenced(chunks[-1]))
    for whole_line in sql.splitlines(keepends=True):
        line, grown = whole_line, len(_fenced(whole_line))
        while grown > SQL_CHUNK:
            chunks.append(line[: SQL_CHUNK // 5])  # '&' grows fivefold when escaped
            size = len(_fenced(chunks[-1]))
            line = line[SQL_CHUNK // 5 :]
            grown = len(_fenced(line))
        if size + grown > SQL_CHUNK:
            chunks.append("")
            size = 0
        chunks[-1] += line
        size += grown
    return [c.rstrip("\n") for c in chunks if c.strip()]
