"""Plain-text and JSON renderings of domain objects for the terminal: targets, a
target's status and plan (a fleet's: its members by revision, its set plan), its
history. Pure functions."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from typing import Any

from commands.config.targets_file import Config, TargetConfig
from commands.fleet.member_status import FleetStatus
from commands.fleet.planning import FleetPlan
from commands.fleet.set_checks import names
from commands.fleet.set_plan import groups
from commands.migration.script.plan import HistoryEntry, Plan, Status
from commands.migration.script.revision_graph import Direction, Revision


def revisions_text(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "base (empty)"


def revision_json(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.id,
        "down_revisions": list(revision.down_revisions),
        "message": revision.message,
        "path": revision.path,
    }


def unset_variable(target: TargetConfig, environ: Mapping[str, str]) -> str | None:
    """The target's URL variable when the environment does not set it, else ``None``."""
    variable = target.database_url_env
    return variable if variable and not environ.get(variable) else None


def target_json(target: TargetConfig, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    return {
        "name": target.name,
        "description": target.description,
        "database": (
            f"embedded PostgreSQL in {target.embedded_postgres}"
            if target.embedded_postgres
            else f"${target.database_url_env}"
        ),
        "database_url_set": unset_variable(target, environ) is None,
        "alembic": str(target.alembic.config_file or target.alembic.script_location),
        "approvals": target.approvals,
        "approvers": list(target.approvers),
        "backup": target.backup,
    }


def targets_text(config: Config, environ: Mapping[str, str] = os.environ) -> str:
    lines = [f"Targets from {config.path}:"]
    for target in config.targets.values():
        data = target_json(target, environ)
        unset = unset_variable(target, environ)
        note = "  (not set in this environment: commands on it fail until it is)" if unset else ""
        lines.append(f"  {target.name:<12} {data['database']}{note}")
        lines.append(f"  {'':<12} alembic: {data['alembic']}")
        approvers = ", ".join(target.approvers)
        lines.append(
            f"  {'':<12} approvals: {target.approvals} from {approvers}; backup: {target.backup}"
        )
        if target.description:
            lines.append(f"  {'':<12} {target.description}")
    return "\n".join(lines)


def status_json(status: Status | FleetStatus) -> dict[str, Any]:
    if isinstance(status, FleetStatus):
        return fleet_status_json(status)
    return {
        "target": status.target,
        "database": status.database,
        "server_version": status.server_version,
        "current": list(status.current),
        "heads": list(status.heads),
        "at_head": status.at_head,
        "pending": [revision_json(r) for r in status.pending],
    }


def status_text(status: Status | FleetStatus) -> str:
    if isinstance(status, FleetStatus):
        return fleet_status_text(status)
    head_note = "  (at head)" if status.at_head else ""
    lines = [
        f"{status.target}: {status.database} (PostgreSQL {status.server_version})",
        f"  current: {revisions_text(status.current)}{head_note}",
        f"  heads:   {revisions_text(status.heads)}",
    ]
    if status.pending:
        lines.append(f"  pending: {len(status.pending)} revision(s)")
        lines += [f"    {r.id}  {r.message}" for r in status.pending]
    else:
        lines.append("  pending: none")
    return "\n".join(lines)


def fleet_status_text(status: FleetStatus) -> str:
    heads = revisions_text(status.heads) if status.heads else "unknown"
    total = len(status.members)
    lines = [
        f"{status.target}: {total} member(s), head {heads}",
        f"  at head: {status.at_head}   behind: {len(status.behind)}"
        f"   unreachable: {len(status.unreachable)}",
        "  by revision:",
    ]
    for revisions, members in status.by_revision:
        mark = "  (head)" if revisions == status.heads else ""
        lines.append(
            f"    {revisions_text(revisions):<24} {len(members):>4}{mark}  {names(members, 6)}"
        )
    for member in status.behind:
        assert member.status is not None
        lines.append(f"  behind: {member.name} by {len(member.status.pending)} revision(s)")
    lines += [f"  unreachable: {m.name}: {m.error}" for m in status.unreachable]
    return "\n".join(lines)


def fleet_status_json(status: FleetStatus) -> dict[str, Any]:
    return {
        "target": status.target,
        "heads": list(status.heads),
        "members": [
            {
                "name": m.name,
                "current": list(m.status.current) if m.status else None,
                "at_head": m.status.at_head if m.status else None,
                "pending": len(m.status.pending) if m.status else None,
                "error": m.error,
            }
            for m in status.members
        ],
        "by_revision": [
            {"revisions": list(revisions), "members": list(members)}
            for revisions, members in status.by_revision
        ],
        "behind": [m.name for m in status.behind],
        "unreachable": [m.name for m in status.unreachable],
    }


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
        for revision in planned.plan.revisions:
            sql = planned.plan.sql.get(revision.id)
            if sql:
                lines.append(f"\n-- {revision.id}  {revision.message}\n{sql.strip()}")
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
