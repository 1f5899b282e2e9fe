"""Plain-text and JSON renderings of domain objects for the terminal. Pure functions."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from typing import Any

from commands.config.targets_file import Config, TargetConfig
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


def status_json(status: Status) -> dict[str, Any]:
    return {
        "target": status.target,
        "database": status.database,
        "server_version": status.server_version,
        "current": list(status.current),
        "heads": list(status.heads),
        "at_head": status.at_head,
        "pending": [revision_json(r) for r in status.pending],
    }


def status_text(status: Status) -> str:
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
