"""Terminal renderings of a break-glass run: its header, live lines and outcome; a
fleet's lines as its members end, and its outcome member by member. Pure."""

from __future__ import annotations

from typing import Any

from bot.cli.render import plan_json, plan_text
from commands.checks.forecast.wording import score_words, scored_words
from commands.migration.script.plan import revisions_text
from commands.pipeline import RunOutcome, RunUpdate
from commands.pipeline.plans import RequestPlan
from commands.pipeline.progress import (
    FleetOutcome,
    FleetUpdate,
    FleetUpdateKind,
    MemberOutcome,
    RunStep,
    Update,
    UpdateKind,
)
from commands.state.vocabulary import MemberState, RequestKind
from commands.units import format_bytes, format_duration


def header_text(request_id: str, kind: RequestKind, planned: RequestPlan) -> str:
    plan = planned.plan
    what = (
        f"restore backup {planned.backup.id}"
        if kind is RequestKind.RESTORE and planned.backup
        else f"{len(plan.revisions)} revision(s)"
    )
    return (
        f"{request_id} (break-glass) {kind.value} {plan.target}: {revisions_text(plan.current)}"
        f" -> {revisions_text(plan.destination)}, {what}"
    )


def preview_text(planned: RequestPlan, kind: RequestKind) -> str:
    if kind is RequestKind.RESTORE and planned.backup is not None:
        record = planned.backup
        return (
            f"Restore {planned.plan.target} from backup {record.id} ({record.created_at[:19]},"
            f" {revisions_text(record.revisions)}, {format_bytes(record.size)}): every table"
            " goes back to the backup; rows written since are lost. The current state is"
            " backed up first."
        )
    return plan_text(planned.plan, show_sql=False)


def update_text(update: Update) -> str | None:
    """One line for an update worth a line, or None (first attempts, the run's own end)."""
    if isinstance(update, FleetUpdate):
        return _member_update_text(update)
    if update.step is RunStep.APPLY and update.revision:
        return _revision_line(update)
    if update.kind is UpdateKind.STARTED or update.message.startswith(f"{update.request_id} "):
        return None  # a step's start is implied by its result; the outcome is printed in full
    if update.kind is UpdateKind.PROGRESS:
        return f"  {update.message}"
    return update.message


def _revision_line(update: RunUpdate) -> str | None:
    position = f"[{update.index}/{update.total}] "
    first_attempt = update.data.get("event") == "attempt" and update.message.startswith(
        "attempt 1/"
    )
    lines = {
        UpdateKind.REVISION_DONE: f"{position}{update.message}",
        UpdateKind.FAILED: f"{position}FAILED: {update.message}",
        UpdateKind.PROGRESS: None if first_attempt else f"  {update.message}",
    }
    return lines.get(update.kind)


def outcome_text(outcome: RunOutcome) -> str:
    if isinstance(outcome, FleetOutcome):
        return _fleet_outcome_text(outcome)
    now = (
        revisions_text(outcome.database_revisions)
        if outcome.database_revisions is not None
        else "unknown"
    )
    took = format_duration(outcome.duration_s)
    if outcome.succeeded:
        lines = [f"Succeeded: {outcome.target} is at {now} ({took})"]
    else:
        where = f" at {outcome.failed_step.value}" if outcome.failed_step else ""
        lines = [
            f"{outcome.state.value.capitalize()}{where}: {outcome.error}",
            f"{outcome.target} is at {now} ({took})",
        ]
    lines += [f"  {line}" for line in outcome.verification if not line.startswith("SKIP")]
    if outcome.forecast is not None:
        lines.append(f"forecast vs actual: {score_words(outcome.forecast)}")
        lines += [f"  {scored_words(r)}" for r in outcome.forecast.revisions]
    if outcome.backup:
        lines.append(f"backup {outcome.backup['id']}: {outcome.backup['uri']}")
    lines += [f"  left behind: {item}" for item in outcome.leftovers]
    if outcome.rollback:
        lines.append("ways back (each is a new request):")
        lines += [f"  - {offer.description}" for offer in outcome.rollback]
    return "\n".join(lines)


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    if isinstance(outcome, FleetOutcome):
        return _fleet_outcome_json(outcome)
    return {
        "request_id": outcome.request_id,
        "target": outcome.target,
        "kind": outcome.kind,
        "state": outcome.state.value,
        "failed_step": outcome.failed_step.value if outcome.failed_step else None,
        "error": outcome.error,
        "from": list(outcome.from_revisions),
        "current": list(outcome.database_revisions)
        if outcome.database_revisions is not None
        else None,
        "steps": [
            {"revision": a.revision, "message": a.message, "duration_s": round(a.duration_s, 4)}
            for a in outcome.applied
        ],
        "backup": outcome.backup,
        "verification": list(outcome.verification),
        "leftovers": list(outcome.leftovers),
        "rollback": [
            {"kind": o.kind, "goal": o.goal, "description": o.description} for o in outcome.rollback
        ],
        "elapsed_s": round(outcome.duration_s, 3),
        "forecast": outcome.forecast.to_json() if outcome.forecast is not None else None,
    }


def nothing_to_do_text(planned: RequestPlan) -> str:
    return plan_text(planned.plan)


def nothing_to_do_json(planned: RequestPlan) -> dict[str, Any]:
    return {**plan_json(planned.plan), "steps": [], "current": list(planned.plan.current)}


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


def _member_update_text(update: FleetUpdate) -> str | None:
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


def _fleet_outcome_text(outcome: FleetOutcome) -> str:
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


def _fleet_outcome_json(outcome: FleetOutcome) -> dict[str, Any]:
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
