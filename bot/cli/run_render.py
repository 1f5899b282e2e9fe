"""Terminal renderings of a break-glass run: its header, live lines and outcome. Pure."""

from __future__ import annotations

from typing import Any

from bot.cli.render import plan_json, plan_text, revisions_text
from commands.pipeline import RunOutcome, RunUpdate
from commands.pipeline.plans import RequestPlan
from commands.pipeline.progress import RunStep, UpdateKind
from commands.state.vocabulary import RequestKind
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


def update_text(update: RunUpdate) -> str | None:
    """One line for an update worth a line, or None (first attempts, the run's own end)."""
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
    if outcome.backup:
        lines.append(f"backup {outcome.backup['id']}: {outcome.backup['uri']}")
    lines += [f"  left behind: {item}" for item in outcome.leftovers]
    if outcome.rollback:
        lines.append("ways back (each is a new request):")
        lines += [f"  - {offer.description}" for offer in outcome.rollback]
    return "\n".join(lines)


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
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
    }


def nothing_to_do_text(planned: RequestPlan) -> str:
    return plan_text(planned.plan)


def nothing_to_do_json(planned: RequestPlan) -> dict[str, Any]:
    return {**plan_json(planned.plan), "steps": [], "current": list(planned.plan.current)}
