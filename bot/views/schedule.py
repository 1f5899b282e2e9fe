"""Scheduled requests as Slack shows them: the slot on the request message, the
Schedule modal, the notices to stakeholders and ops (scheduled, moved, reminder,
starting, did not run) and the next windows under ``/migrate status``.

Pure functions: domain objects and the time now in, text and blocks out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.views.blocks import Block, code, context, escape, plain, section
from bot.views.ids import BlockId, ViewId
from bot.views.people import mention, people
from bot.views.status import revisions_text
from commands.config.targets_file import TargetConfig
from commands.requests.model import Request
from commands.requests.slots import Slot, target_zone, upcoming_slots
from commands.state.vocabulary import PENDING_STATES, RequestState
from commands.units import format_duration

Message = tuple[str, list[Block]]

SHOWN_SLOTS = 5
# The modal's inputs: block id → action id (Slack returns values under both)
WINDOW_INPUT, DATE_INPUT, TIME_INPUT = "window", "date", "time"


def in_words(delta: timedelta) -> str:
    """``3 days``, ``5 h 10 min``, ``12 min``: how far off a slot is."""
    seconds = delta.total_seconds()
    if seconds >= 2 * 86400:
        return f"{round(seconds / 86400)} days"
    return format_duration(max(seconds, 0.0))


def slot_text(slot: Slot) -> str:
    """The slot and what bounds the run: the window's end, or only ``max_duration``."""
    if slot.window is not None:
        return f"*{escape(slot.describe())}* (window {code(slot.window)})"
    return f"*{escape(slot.describe())}* (outside the windows: `max_duration` alone limits it)"


def schedule_line(request: Request) -> str | None:
    """The request message's line about its slot, or ``None`` when it runs on approval."""
    if request.schedule is None:
        return None
    line = f"📅 Scheduled for {slot_text(request.schedule.slot)} by {mention(request.schedule.by)}"
    if request.state is RequestState.APPROVED:
        return line + " · approved: it starts then"
    if request.state in PENDING_STATES:
        return line + " · it needs its approval before then, or it will not run"
    return line


def schedule_modal(request: Request, target: TargetConfig, *, now: datetime) -> dict[str, Any]:
    """The Schedule modal: the next windows to pick from, or a date and a time."""
    zone = target_zone(target).key
    slots = upcoming_slots(target, now=now, count=SHOWN_SLOTS)
    intro = (
        f"*{request.id}* · {request.kind.value} {code(request.target)}. Pick one of the next"
        f" windows, or a date and a time ({escape(zone)}). Approval must come before it opens."
    )
    if request.schedule is not None:
        intro += f"\nNow scheduled for {slot_text(request.schedule.slot)}; moving it voids"
        intro += " the approvals it has."
    blocks: list[Block] = [section(intro, block_id=BlockId.SUMMARY)]
    if slots:
        options = [{"text": plain(s.describe(), 75), "value": s.start.isoformat()} for s in slots]
        hint = plain("Pick a window")
        select = {"type": "static_select", "placeholder": hint, "options": options}
        blocks.append(_input(BlockId.SCHEDULE_WINDOW, WINDOW_INPUT, "Next windows", select))
    blocks.append(_input(BlockId.SCHEDULE_DATE, DATE_INPUT, "Or a date", {"type": "datepicker"}))
    time_picker = {"type": "timepicker", "timezone": zone}
    blocks.append(_input(BlockId.SCHEDULE_TIME, TIME_INPUT, f"and a time ({zone})", time_picker))
    blocks.append(context(_windows_text(target), block_id=BlockId.FOOTER))
    return {
        "type": "modal",
        "callback_id": ViewId.SCHEDULE,
        "private_metadata": request.id,
        "title": plain(f"Schedule {request.id}", 24),
        "submit": plain("Schedule"),
        "close": plain("Back"),
        "blocks": blocks,
    }


def _input(block_id: str, action_id: str, label: str, element: dict[str, Any]) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": plain(label, 2000),
        "element": {**element, "action_id": action_id},
    }


WINDOWS_NAMED = 3  # past this many, the windows are counted rather than all listed


def _windows_text(target: TargetConfig) -> str:
    if not target.windows:
        windows = "no maintenance windows"
    elif len(target.windows) > WINDOWS_NAMED + 1:
        named = ", ".join(code(w.text) for w in target.windows[:WINDOWS_NAMED])
        windows = f"{len(target.windows)} windows ({named}, …)"
    else:
        windows = "windows " + ", ".join(code(w.text) for w in target.windows)
    outside = "other times allowed" if target.allow_outside_windows else "other times refused"
    return f"{code(target.name)}: {windows}; {outside}."


# --- notices ---------------------------------------------------------------------


def _what(request: Request) -> str:
    return f"*{request.id}* {request.kind.value} of {code(request.target)}"


def _plan(request: Request) -> str:
    count = len(request.fingerprint.revisions)
    return (
        f"{revisions_text(request.from_revisions)} → {revisions_text(request.to_revisions)}"
        f" ({count} revision{'s' * (count != 1)})"
    )


def scheduled_notice(request: Request, *, previous: Slot | None = None) -> Message:
    """Told when a request is scheduled (or moved): when, what, and that it needs approval."""
    assert request.schedule is not None
    slot, by = request.schedule.slot, mention(request.schedule.by)
    if previous is None:
        head = f"📅 {_what(request)} is scheduled for {slot_text(slot)} by {by}"
    else:
        head = (
            f"📅 {_what(request)} moved from *{escape(previous.describe())}* to"
            f" {slot_text(slot)} by {by}; approvals given for the old time no longer count"
        )
    lines = [head, f"{_plan(request)}. Requested by {mention(request.requester)}."]
    if request.state is not RequestState.APPROVED:
        lines.append("It needs its approval before the slot opens, or it will not run.")
    return _message(lines)


def reminder_notice(request: Request, remaining: timedelta, missing: tuple[str, ...]) -> Message:
    """Before the slot: how long to go, and whether it is approved."""
    assert request.schedule is not None
    lines = [
        f"⏰ {_what(request)} starts in {in_words(remaining)}: {slot_text(request.schedule.slot)}.",
        _plan(request) + ".",
    ]
    if request.state is RequestState.APPROVED:
        lines.append(f"Approved by {people(a.approver for a in request.current_approvals)}.")
    else:
        needs = escape(", ".join(missing) or "its approval")
        lines.append(f"*Not approved yet*: it needs {needs} before then, or it will not run.")
    return _message(lines)


def starting_notice(request: Request) -> Message:
    assert request.schedule is not None
    slot = request.schedule.slot
    until = f", stopped at {slot.local(slot.end):%H:%M}" if slot.end else ""
    lines = [
        f"🚀 {_what(request)} is starting now, in its slot ({slot_text(slot)}{until}).",
        f"{_plan(request)}. Approved by {people(a.approver for a in request.current_approvals)}.",
    ]
    return _message(lines)


def did_not_run_notice(request: Request) -> Message:
    """A scheduled request closed without a run: not approved in time, missed, refused."""
    reason = request.closure.reason if request.closure else request.state.value
    return _message([f"⌛ {_what(request)} did not run: {escape(reason)}."])


def next_window_blocks(
    target: TargetConfig, *, now: datetime, scheduled: list[Request]
) -> list[Block]:
    """Under ``/migrate status``: the next window and the requests waiting for a slot."""
    slots = upcoming_slots(target, now=now, count=1)
    if slots:
        line = f"🗓️ Next window: {slot_text(slots[0])}, in {in_words(slots[0].start - now)}"
    else:
        line = "🗓️ No maintenance windows are configured"
    lines = [line]
    for request in scheduled:
        assert request.schedule is not None
        state = request.state.value.replace("_", " ")
        lines.append(
            f"📅 {_what(request)} scheduled for *{escape(request.schedule.slot.describe())}*"
            f" ({state})"
        )
    lines.append(_windows_text(target))
    return [section("\n".join(lines), block_id=BlockId.SCHEDULE)]


def _message(lines: list[str]) -> Message:
    text = "\n".join(lines)
    return lines[0].replace("*", "").replace("`", ""), [section(text, block_id=BlockId.SUMMARY)]
