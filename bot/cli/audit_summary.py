"""The audit log as a person reads it: one line per event, who by name, what in words.

``migrate-bot audit`` prints these by default (``--full`` gives every field).
Pure functions: an event and the names known for Slack user ids in, a line
out. A kind without a sentence of its own still gets a line (its name and its
data, short), so a new kind of event is never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from audit.chain import Event
from bot.cli.audit_changes import CHANGE_SENTENCES
from bot.cli.audit_render import data_summary
from commands.pipeline.watch_report import WatchReport, verdict
from commands.state.vocabulary import CHECKLIST_LABELS, ChecklistItem, EventKind
from commands.units import format_bytes, format_duration

Sentence = Callable[[Mapping[str, Any], Event], str]
SHORT = 80


def who(actor: str, names: Mapping[str, str]) -> str:
    """A person as the operator knows them: their Slack name, ``alice (terminal)``."""
    if actor.startswith("os:"):
        return f"{actor.removeprefix('os:')} (terminal)"
    return names.get(actor, actor)


def summary_line(event: Event, names: Mapping[str, str]) -> str:
    when = event.ts[:19].replace("T", " ")
    sentence = SENTENCES.get(event.kind) or CHANGE_SENTENCES.get(event.kind)
    what = sentence(event.data, event) if sentence else f"{event.kind} {plain_fields(event.data)}"
    return (
        f"{when}  {event.request_id or '-':<6} {event.target or '-':<10}"
        f" {who(event.actor, names):<16} {what}"
    ).rstrip()


def summary_text(events: Iterable[Event], names: Mapping[str, str]) -> str:
    lines = [summary_line(e, names) for e in events]
    if not lines:
        return "no events"
    header = f"{'time (UTC)':<19}  {'req':<6} {'target':<10} {'who':<16} what"
    return "\n".join([header, *lines])


def plain_fields(data: Mapping[str, Any]) -> str:
    """A kind without a sentence: its plain fields as ``key=value``; a nested object or list
    is only counted (its content is for ``--full``, not for a line a person reads)."""
    shown = {
        key: value
        if isinstance(value, str | int | float | bool) or value is None
        else f"({len(value)} entries)"
        if isinstance(value, Mapping | list)
        else str(value)
        for key, value in data.items()
    }
    return data_summary(shown)


def _watch(data: Mapping[str, Any], _event: Event) -> str:
    report = WatchReport.from_json(data)
    ended = "watch ended" if report.final else "watch saw, during the watch"
    return f"{ended}: {_short(verdict(report))}"


def _sampled(data: Mapping[str, Any], _event: Event) -> str:
    return (
        f"sampled the application's statements before the run ({len(data.get('statements') or {})})"
    )


def _acknowledged(data: Mapping[str, Any], _event: Event) -> str:
    subjects = ", ".join(data.get("subjects") or []) or "the application's live use"
    return f"acknowledged the live use of {_short(subjects)} ({data.get('calls', 0):,} calls)"


def _short(value: object) -> str:
    text = str(value or "")
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def _reason(data: Mapping[str, Any]) -> str:
    return f": {_short(data['reason'])}" if data.get("reason") else ""


def _asked(data: Mapping[str, Any], event: Event) -> str:
    glass = " (break-glass)" if data.get("break_glass") else ""
    return f"asked to {data.get('kind')} {event.target} to {data.get('goal')}{glass}{_reason(data)}"


def _ticked(data: Mapping[str, Any], _event: Event) -> str:
    item = str(data.get("item"))
    label = CHECKLIST_LABELS.get(ChecklistItem(item)) if item in set(ChecklistItem) else item
    return f"confirmed “{label}”"


def _approved(data: Mapping[str, Any], _event: Event) -> str:
    still = data.get("still_needed") or []
    return "approved" + (f" (still needs {', '.join(still)})" if still else "")


def _step(data: Mapping[str, Any], _event: Event) -> str:
    revision = f" {data['revision']}" if data.get("revision") else ""
    took = data.get("duration_s")
    took_text = f" in {format_duration(float(took))}" if took is not None else ""
    detail = f": {_short(data['detail'])}" if data.get("detail") else ""
    return f"{data.get('step')}{revision} {data.get('status')}{took_text}{detail}"


def _check(data: Mapping[str, Any], _event: Event) -> str:
    verdict = str(data.get("verdict") or data.get("status") or "")
    return (
        f"{data.get('phase')} check {data.get('name')}: {verdict} — {_short(data.get('summary'))}"
    )


def _backup_taken(data: Mapping[str, Any], _event: Event) -> str:
    size = format_bytes(int(data.get("size_bytes") or 0))
    return f"backup {data.get('backup_id')} taken and verified: {size}, {_short(data.get('uri'))}"


def _hook(data: Mapping[str, Any], _event: Event) -> str:
    result = "ok" if data.get("ok") else "FAILED"
    return f"{data.get('phase')} hook {_short(data.get('hook'))}: {result} ({data.get('detail')})"


def _slot(data: Mapping[str, Any], _event: Event) -> str:
    slot = data.get("slot") or {}
    return f"scheduled for {str(slot.get('start', '?'))[:16].replace('T', ' ')} UTC"


SENTENCES: dict[str, Sentence] = {
    EventKind.REQUEST_CREATED: _asked,
    EventKind.PREFLIGHT_RECORDED: lambda d, _e: (
        f"pre-flight {'passed' if d.get('passed') else 'FAILED'}: {_short(d.get('summary'))}"
    ),
    EventKind.CHECKLIST_TICKED: _ticked,
    EventKind.APPROVAL_GRANTED: _approved,
    EventKind.BREAK_GLASS_APPROVAL: lambda d, _e: f"approved as break-glass{_reason(d)}",
    EventKind.REQUEST_REJECTED: lambda d, _e: f"rejected{_reason(d)}",
    EventKind.REQUEST_CANCELLED: lambda d, _e: f"cancelled{_reason(d)}",
    EventKind.REQUEST_EXPIRED: lambda d, _e: f"expired{_reason(d)}",
    EventKind.PLAN_CHANGED: lambda d, _e: (
        f"plan changed: {_short('; '.join(d.get('changes') or []))}"
    ),
    EventKind.ACTION_REFUSED: lambda d, _e: f"was refused to {d.get('action')}{_reason(d)}",
    EventKind.RUN_STARTED: lambda _d, _e: "run started",
    EventKind.RUN_STEP: _step,
    EventKind.RUN_FINISHED: lambda d, _e: f"run {d.get('outcome')}{_reason(d)}",
    EventKind.RUN_INTERRUPTED: lambda d, _e: f"run interrupted during {d.get('step') or '?'}",
    EventKind.TARGET_FROZEN: lambda d, e: f"froze {e.target}{_reason(d)}",
    EventKind.TARGET_UNFROZEN: lambda d, e: f"unfroze {e.target}{_reason(d)}",
    EventKind.REQUEST_SCHEDULED: _slot,
    EventKind.REQUEST_RESCHEDULED: lambda d, e: "re" + _slot(d, e),
    EventKind.REMINDER_SENT: lambda d, _e: (
        f"reminded {format_duration(float(d.get('before_s') or 0))} before"
    ),
    EventKind.SCHEDULE_MISSED: lambda d, _e: f"missed its slot{_reason(d)}",
    EventKind.HOOK_RAN: _hook,
    EventKind.CHECK_RESULT: _check,
    EventKind.BACKUP_STARTED: lambda d, _e: f"backup {d.get('backup_id')} started",
    EventKind.BACKUP_WRITING: lambda d, _e: (
        f"backup {d.get('backup_id')} writing to {_short(d.get('uri'))}"
    ),
    EventKind.BACKUP_SUCCEEDED: _backup_taken,
    EventKind.BACKUP_FAILED: lambda d, _e: (
        f"backup {d.get('backup_id')} FAILED: {_short(d.get('error'))}"
    ),
    EventKind.BACKUP_DELETED: lambda d, _e: f"backup {d.get('backup_id')} deleted{_reason(d)}",
    EventKind.BACKUP_CLEANED: lambda d, _e: (
        f"cleaned up after an interrupted backup {d.get('backup_id', '')}"
    ),
    EventKind.RESTORE_STARTED: lambda d, _e: f"restore of backup {d.get('backup_id')} started",
    EventKind.RESTORE_STAMPED: lambda d, _e: (
        f"restore stamped {d.get('revisions') or d.get('revision')}"
    ),
    EventKind.RESTORE_SUCCEEDED: lambda d, _e: f"backup {d.get('backup_id')} restored and checked",
    EventKind.RESTORE_FAILED: lambda d, _e: (
        f"restore of {d.get('backup_id')} FAILED: {_short(d.get('error'))}"
    ),
    EventKind.RUN_REFUSED: lambda d, _e: f"run refused{_reason(d)}",
    EventKind.LIVE_USE_ACKNOWLEDGED: _acknowledged,
    EventKind.WATCH_SAMPLED: _sampled,
    EventKind.WATCH_STARTED: lambda d, _e: (
        f"watch started for {format_duration(float(d.get('period_s') or 0))}"
    ),
    EventKind.WATCH_REGRESSED: _watch,
    EventKind.WATCH_FINISHED: _watch,
}
