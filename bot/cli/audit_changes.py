"""``migrate-bot audit``'s sentences for changes and backfills (``audit_summary`` has the
others): one line per event, what happened in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from audit.chain import Event
from commands.state.vocabulary import EventKind
from commands.units import format_duration

Sentence = Callable[[Mapping[str, Any], Event], str]


def _phase(data: Mapping[str, Any]) -> str:
    return f"phase {int(data.get('phase', 0)) + 1}"


def _change_started(data: Mapping[str, Any], _event: Event) -> str:
    spec = data.get("spec") or {}
    return f"started change {spec.get('name')} ({len(spec.get('phases') or [])} phases)"


def _backfill_asked(data: Mapping[str, Any], _event: Event) -> str:
    spec, estimate = data.get("spec") or {}, data.get("estimate") or {}
    return f"asked backfill {spec.get('name')}: {estimate.get('rows_to_do', '?')} rows to do"


def _batch(data: Mapping[str, Any], _event: Event) -> str:
    took = format_duration(float(data.get("seconds") or 0))
    return f"batch up to {data.get('upto')}: {data.get('rows')} rows in {took}"


def _finished(data: Mapping[str, Any], _event: Event) -> str:
    if data.get("outcome") == "failed":
        return f"backfill FAILED: {data.get('error')}"
    return f"backfill done: {data.get('rows')} rows, {data.get('remaining')} left"


CHANGE_SENTENCES: dict[str, Sentence] = {
    EventKind.CHANGE_STARTED: _change_started,
    EventKind.CHANGE_PHASE_ASKED: lambda d, _e: f"asked {_phase(d)}: {d.get('id')}",
    EventKind.DEPLOY_CONFIRMED: lambda d, _e: (
        f"confirmed the deploy of {_phase(d)} ({d.get('via')})"
    ),
    EventKind.GATE_SAMPLED: lambda d, _e: f"sampled the use of {d.get('column')} ({_phase(d)})",
    EventKind.GATE_CHECKED: lambda d, _e: (
        f"checked the gate of {_phase(d)}: {'held' if d.get('held') else 'not yet'}"
    ),
    EventKind.CHANGE_PHASE_DONE: lambda d, _e: f"{_phase(d)} done: {d.get('how')}",
    EventKind.CHANGE_REMINDED: lambda d, _e: f"reminded: {_phase(d)} is stale",
    EventKind.CHANGE_FINISHED: lambda _d, _e: "change finished",
    EventKind.CHANGE_ABANDONED: lambda d, _e: f"abandoned the change: {d.get('reason')}",
    EventKind.BACKFILL_ASKED: _backfill_asked,
    EventKind.BACKFILL_APPROVED: lambda d, _e: (
        "approved the backfill" + (" as break-glass" if d.get("break_glass") else "")
    ),
    EventKind.BACKFILL_CANCELLED: lambda d, _e: f"cancelled the backfill: {d.get('reason')}",
    EventKind.BACKFILL_STARTED: lambda d, _e: f"backfill started ({d.get('owner')})",
    EventKind.BACKFILL_BATCH: _batch,
    EventKind.BACKFILL_RETRIED: lambda d, _e: f"batch redone smaller: {d.get('error')}",
    EventKind.BACKFILL_HELD: lambda d, _e: f"backfill holds: {d.get('detail')}",
    EventKind.BACKFILL_RELEASED: lambda d, _e: (
        f"backfill goes on after {format_duration(float(d.get('held_s') or 0))}"
    ),
    EventKind.BACKFILL_PAUSED: lambda _d, _e: "paused the backfill",
    EventKind.BACKFILL_RESUMED: lambda _d, _e: "resumed the backfill",
    EventKind.BACKFILL_STOPPED: lambda _d, _e: "stopped the backfill",
    EventKind.BACKFILL_FINISHED: _finished,
    EventKind.BACKFILL_INTERRUPTED: lambda d, _e: f"backfill interrupted: {d.get('reason')}",
}
