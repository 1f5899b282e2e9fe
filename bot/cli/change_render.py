"""A change and a backfill run for the terminal: text for a person, JSON for a pipeline.
Pure functions."""

from __future__ import annotations

from typing import Any

from commands.backfill.model import BackfillRun
from commands.backfill.pacing import eta_seconds
from commands.backfill.wal_advice import wal_line
from commands.changes.model import Change
from commands.units import format_duration

MARKS = {"done": "✓", "current": "▶", "waiting": "·"}


def change_text(change: Change) -> str:
    index = change.current
    where = (
        f"phase {index + 1} of {len(change.phases)}"
        if index is not None
        else change.state.value.replace("_", " ")
    )
    lines = [
        f"{change.id}  {change.name} on {change.target}: {where}",
        f"  {change.spec.description}",
    ]
    for number, record in enumerate(change.phases):
        state = "done" if record.done else "current" if number == index else "waiting"
        spec = record.spec
        line = f"  {MARKS[state]} {number + 1}. {spec.name} ({spec.kind.value})"
        if record.done is not None:
            line += f": {record.done.data.get('how', '')}"
        elif state == "current":
            line += f": waits for {spec.waits_for}"
        lines.append(line)
        if state == "current" and record.checks:
            for condition in record.checks[-1].data.get("conditions", []):
                mark = "✓" if condition["held"] else "✗"
                lines.append(f"      {mark} {condition['what']}: {condition['detail']}")
    return "\n".join(lines)


def change_json(change: Change) -> dict[str, Any]:
    return {
        "id": change.id,
        "name": change.name,
        "target": change.target,
        "state": change.state.value,
        "current_phase": change.current + 1 if change.current is not None else None,
        "phases": [
            {
                "name": record.spec.name,
                "kind": record.spec.kind.value,
                "waits_for": record.spec.waits_for,
                "asked": [mark.data.get("id") for mark in record.asked],
                "confirmed_by": record.confirmed.by if record.confirmed else None,
                "done": record.done.data.get("how") if record.done else None,
                "conditions": record.checks[-1].data.get("conditions") if record.checks else [],
            }
            for record in change.phases
        ],
    }


def backfill_text(run: BackfillRun) -> str:
    progress, estimate = run.progress, run.estimate
    state = "holding" if run.hold else run.state.value.replace("_", " ")
    lines = [
        f"{run.id}  backfill {run.name} on {run.target}: {state}",
        f"  UPDATE {run.spec.table} SET {run.spec.set} WHERE {run.spec.where}",
        f"  {progress.rows:,} rows updated of {estimate.rows_to_do:,} to do;"
        f" checkpoint {progress.checkpoint or '-'}; {progress.batches} batches,"
        f" longest {format_duration(progress.longest_batch_s)}",
    ]
    wal = wal_line(estimate)
    if wal and not run.state.is_final:
        lines.append(f"  pre-flight: {wal}")
    if run.hold is not None:
        lines.append(f"  holding: {run.hold.detail}")
    if run.error:
        lines.append(f"  error: {run.error}")
    return "\n".join(lines)


def progress_line(run: BackfillRun) -> str:
    """One line per batch for a person watching the terminal."""
    progress, total = run.progress, run.estimate.table_rows
    eta = eta_seconds(walked=progress.walked, total=total, seconds=progress.running_s)
    left = f", about {format_duration(eta)} left" if eta is not None else ""
    if run.hold is not None:
        return f"{run.id} holds: {run.hold.detail}"
    return f"{run.id}: {progress.rows:,} rows, up to {progress.checkpoint}{left}"


def backfill_json(run: BackfillRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "target": run.target,
        "state": run.state.value,
        "holding": run.hold.detail if run.hold else None,
        "checkpoint": run.progress.checkpoint,
        "rows": run.progress.rows,
        "batches": run.progress.batches,
        "rows_to_do": run.estimate.rows_to_do,
        "estimate_s": run.estimate.seconds,
        "error": run.error,
        "change": run.change,
    }
