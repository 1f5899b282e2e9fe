"""A target's status for the terminal, as text or JSON (a fleet's: its members by
revision, which are behind, which unreachable). Pure functions that import nothing of
the planning, so ``migrate-bot status`` loads only what reading a status needs."""

from __future__ import annotations

from typing import Any

from commands.fleet.member_status import FleetStatus, names
from commands.migration.script.plan import Status, revisions_text
from commands.migration.script.revision_graph import Revision


def revision_json(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.id,
        "down_revisions": list(revision.down_revisions),
        "message": revision.message,
        "path": revision.path,
    }


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
