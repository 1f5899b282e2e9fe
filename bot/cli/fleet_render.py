"""Terminal renderings of fleets: where the members stand, a fleet run's lines and its
outcome, a fleet request's members. Pure functions."""

from __future__ import annotations

from typing import Any

from bot.cli.render import revisions_text
from commands.fleet.member_status import FleetStatus
from commands.fleet.planning import FleetPlan
from commands.fleet.set_checks import names
from commands.fleet.set_plan import groups
from commands.pipeline.progress import FleetOutcome, FleetUpdate, FleetUpdateKind, MemberOutcome
from commands.requests import Request
from commands.requests.members import MemberRun
from commands.state.vocabulary import MemberState
from commands.units import format_duration

MARKS = {
    MemberState.SUCCEEDED: "✓",
    MemberState.FAILED: "✗",
    MemberState.ABORTED: "■",
    MemberState.INTERRUPTED: "!",
    MemberState.SKIPPED: "↷",
    MemberState.NOT_STARTED: "·",
    MemberState.PENDING: "·",
    MemberState.RUNNING: "…",
}
BAR_WIDTH = 30


def status_text(status: FleetStatus) -> str:
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


def status_json(status: FleetStatus) -> dict[str, Any]:
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


def plan_text(planned: FleetPlan, *, show_sql: bool = True) -> str:
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


def update_text(update: FleetUpdate) -> str | None:
    """One line for a fleet update worth one (a member's start is implied by its end)."""
    if update.kind is FleetUpdateKind.MEMBER_STARTED:
        return None
    if update.kind is FleetUpdateKind.MEMBER_PROGRESS:
        return f"    {update.message}"
    if update.kind is FleetUpdateKind.MEMBER_ENDED and update.state is not None:
        took = update.data.get("duration_s")
        took_text = f" in {format_duration(float(took))}" if took is not None else ""
        backup = f" (backup {update.data['backup_id']})" if update.data.get("backup_id") else ""
        return f"  {MARKS[update.state]} {update.message}{took_text}{backup}"
    if update.kind is FleetUpdateKind.WAVE_FINISHED:
        return f"{update.message}"
    return update.message


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total}"


def outcome_text(outcome: FleetOutcome) -> str:
    took = format_duration(outcome.duration_s)
    head = outcome.state.value.capitalize()
    lines = [f"{head}: {outcome.target}, {outcome.error or 'every member succeeded'} ({took})"]
    ended = len(outcome.members) - len(outcome.of_state(MemberState.NOT_STARTED))
    lines.append(f"  {progress_bar(ended, len(outcome.members))} members had their turn")
    counts = outcome.counts
    lines.append("  " + ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in counts.items()))
    width = max((len(m.name) for m in outcome.members), default=4)
    for member in outcome.members:
        lines.append(f"  {MARKS[member.state]} {member.name:<{width}}  {_member_line(member)}")
    return "\n".join(lines)


def _member_line(member: MemberOutcome) -> str:
    now = revisions_text(member.database_revisions) if member.database_revisions else "?"
    parts = [f"{member.state.value:<11}", f"at {now}"]
    if member.backup_id:
        parts.append(f"backup {member.backup_id}")
    if member.failed_step:
        parts.append(f"at {member.failed_step}")
    if member.error and member.state is not MemberState.SUCCEEDED:
        parts.append(member.error.splitlines()[0][:160])
    return "  ".join(parts)


def outcome_json(outcome: FleetOutcome) -> dict[str, Any]:
    return {
        "request_id": outcome.request_id,
        "target": outcome.target,
        "kind": outcome.kind,
        "state": outcome.state.value,
        "error": outcome.error,
        "elapsed_s": round(outcome.duration_s, 3),
        "counts": outcome.counts,
        "members": [
            {
                "name": m.name,
                "state": m.state.value,
                "wave": m.wave,
                "from": list(m.from_revisions),
                "current": list(m.database_revisions) if m.database_revisions is not None else None,
                "failed_step": m.failed_step,
                "error": m.error,
                "backup_id": m.backup_id,
                "duration_s": m.duration_s,
            }
            for m in outcome.members
        ],
    }


def members_text(request: Request) -> list[str]:
    """A fleet request's members, one line each: state, revision, backup, error."""
    if not request.members:
        return []
    width = max(len(name) for name in request.members)
    lines = [f"  members ({len(request.members)}):"]
    for member in request.members.values():
        lines.append(f"    {MARKS[member.state]} {member.name:<{width}}  {_run_line(member)}")
    return lines


def _run_line(member: MemberRun) -> str:
    now = member.revision_now
    parts = [f"{member.state.value:<11}", f"at {revisions_text(now) if now is not None else '?'}"]
    if member.wave is not None:
        parts.append(f"wave {member.wave}")
    if member.backup_id:
        parts.append(f"backup {member.backup_id}")
    if member.error:
        parts.append(member.error.splitlines()[0][:160])
    return "  ".join(parts)


def members_json(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "state": m.state.value,
            "wave": m.wave,
            "from": list(m.from_revisions),
            "to": list(m.to_revisions),
            "current": list(m.revision_now) if m.revision_now is not None else None,
            "backup_id": m.backup_id,
            "error": m.error or None,
        }
        for m in request.members.values()
    ]
