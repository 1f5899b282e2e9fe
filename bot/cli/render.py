"""Plain-text and JSON renderings of domain objects for the terminal: a target's plan
(a fleet's: its members by revision, its set plan) and its history. Pure functions;
a status's are in ``status_render.py``, which ``status`` loads without the planning."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.cli.status_render import revision_json
from commands.fleet.member_status import names
from commands.fleet.planning import FleetPlan
from commands.fleet.set_plan import groups
from commands.migration.script.plan import HistoryEntry, Plan, revisions_text
from commands.migration.script.revision_graph import Direction


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "target": plan.target,
        "direction": plan.direction.value,
        "from": list(plan.current),
        "to": list(plan.destination),
        "revisions": [
            {**revision_json(r), "sql": plan.sql.get(r.id), "sql_unavailable": plan.sql_note(r)}
            for r in plan.revisions
        ],
    }


def plan_text(plan: Plan, *, show_sql: bool = True) -> str:
    verb = "upgrade" if plan.direction is Direction.UP else "downgrade"
    header = (
        f"Plan for {plan.target}: {verb} {revisions_text(plan.current)}"
        f" -> {revisions_text(plan.destination)}"
    )
    if plan.is_empty:
        return f"{header}\n  nothing to do"
    lines = [f"{header}, {len(plan.revisions)} revision(s)", ""]
    total = len(plan.revisions)
    for index, revision in enumerate(plan.revisions, start=1):
        lines.append(f"[{index}/{total}] {revision.id}  {revision.message}")
        lines.append(f"      {revision.path}")
        sql, note = plan.sql.get(revision.id), plan.sql_note(revision)
        if show_sql and note:
            lines.append(f"      | -- {note}")
        elif show_sql and sql:
            lines.append(textwrap.indent(sql.strip(), "      | ", lambda _line: True))
        lines.append("")
    return "\n".join(lines).rstrip()


def set_plan_text(planned: FleetPlan, *, show_sql: bool = True) -> str:
    """The groups, each with the revisions it runs; each distinct revision's SQL once."""
    fingerprint = planned.fingerprint
    verb = fingerprint.action
    lines = [f"Plan for {fingerprint.target}: {verb} {len(fingerprint.members)} member(s)"]
    messages = {r.id: r.message for r in planned.plan.revisions}
    for group in groups(fingerprint):
        start = revisions_text(group.from_revisions)
        lines.append(f"\n{len(group.members)} member(s) at {start}: {names(group.members, 6)}")
        if not group.revisions:
            lines.append("  nothing to do")
        for index, revision in enumerate(group.revisions, start=1):
            lines.append(
                f"  [{index}/{len(group.revisions)}] {revision}  {messages.get(revision, '')}"
            )
    if show_sql:
        for planned_revision in planned.plan.revisions:
            sql = planned.plan.sql.get(planned_revision.id)
            if sql:
                what = f"{planned_revision.id}  {planned_revision.message}"
                lines.append(f"\n-- {what}\n{sql.strip()}")
    return "\n".join(lines)


def history_text(entries: list[HistoryEntry]) -> str:
    lines = []
    for entry in entries:
        marks = [m for m, on in (("current", entry.current), ("head", entry.head)) if on]
        state = "applied" if entry.applied else "pending"
        parents = ", ".join(entry.revision.down_revisions) or "base"
        suffix = f"  ({', '.join(marks)})" if marks else ""
        lines.append(f"{entry.revision.id}  {state:<8} <- {parents}{suffix}")
        lines.append(f"    {entry.revision.message}")
    return "\n".join(lines) if lines else "no revisions"


def history_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [
        {**revision_json(e.revision), "applied": e.applied, "current": e.current, "head": e.head}
        for e in entries
    ]
