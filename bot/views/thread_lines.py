"""The lines a request's thread gets as its run goes: a revision done, a step that
matters, a hook's result, a lock wait or a retry; for a fleet, a member that ended badly
or was skipped (at once), a run that stops starting members, and each wave's summary.
``None`` for what the live status shows alone. Pure functions."""

from __future__ import annotations

import statistics

from bot.views.blocks import SAFE_BACKTICK, code, escape
from bot.views.run import counts_line
from commands.pipeline.hook_steps import HOOK_EVENT
from commands.pipeline.progress import (
    FleetUpdate,
    FleetUpdateKind,
    RunStep,
    RunUpdate,
    Update,
    UpdateKind,
)
from commands.requests.model import Request
from commands.state.vocabulary import MemberState
from commands.units import format_duration

ERROR_CHARS = 400
ENDED_BADLY = (MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)


def thread_line(update: Update) -> str | None:
    """The thread's line for one update of a run, or ``None``."""
    if isinstance(update, FleetUpdate):
        return member_thread_line(update)
    return update_thread_line(update)


def update_thread_line(update: RunUpdate) -> str | None:
    """The thread's line for one run update, or ``None`` for the live status only."""
    if update.kind is UpdateKind.REVISION_DONE:
        seconds = update.data.get("duration_s")
        took = f" in {format_duration(float(seconds))}" if seconds is not None else ""
        return f"✅ {update.index}/{update.total} {code(update.revision or '?')} done{took}"
    if update.kind is UpdateKind.SUCCEEDED and update.step in (RunStep.PREFLIGHT, RunStep.BACKUP):
        return f"{'💾' if update.step is RunStep.BACKUP else '✅'} {escape(update.message)}"
    if update.kind is UpdateKind.PROGRESS and update.data.get("event") == HOOK_EVENT:
        return hook_line(update)
    if update.kind is UpdateKind.PROGRESS and update.data.get("event") in (
        "retrying",
        "queue_cancelled",
    ):
        return f"🔁 {code(update.revision or '?')}: {escape(update.message)}"
    if update.kind is UpdateKind.PROGRESS and update.data.get("blockers"):
        return f"⏳ {code(update.revision or '?')} {escape(update.message)}"
    return None


def hook_line(update: RunUpdate) -> str:
    """A ``before_run``/``after_run`` hook's result and the end of what it printed."""
    data = update.data
    icon = "🪝" if data.get("ok") else "⚠️"
    took = format_duration(float(data.get("duration_s") or 0))
    hook, detail = code(str(data.get("hook"))), escape(str(data.get("detail")))
    line = f"{icon} {update.step.value} {hook} {detail} in {took}"
    output = str(data.get("output") or "")
    if output:
        line += f"\n```{escape(output).replace('```', SAFE_BACKTICK * 3)}```"
    return line


def member_thread_line(update: FleetUpdate) -> str | None:
    """The thread's line for a member that ended badly or was skipped (at once), or for a
    run that stops starting members; ``None`` for what the live status shows alone."""
    if update.kind is FleetUpdateKind.STOPPING:
        return f"⏹️ {escape(update.message)}; members already running finish."
    if update.kind is not FleetUpdateKind.MEMBER_ENDED or update.member is None:
        return None
    state = update.state
    error = escape(clip(str(update.data.get("error") or "")))
    step = update.data.get("failed_step")
    at = f" at {escape(str(step))}" if step else ""
    backup = update.data.get("backup_id")
    kept = f" Backup {code(str(backup))}." if backup else ""
    if state in ENDED_BADLY:
        icon = "❌" if state is MemberState.FAILED else "🛑"
        return f"{icon} {code(update.member)} {state.value}{at} (wave {update.wave}): {error}{kept}"
    if state is MemberState.SKIPPED:
        return f"↷ {code(update.member)} skipped (wave {update.wave}): {error}"
    return None


def wave_summary(request: Request, wave: int, waves_total: int) -> str:
    """One line per wave: its counts, and for the members that succeeded the median and the
    slowest time."""
    members = [m for m in request.members.values() if m.wave == wave]
    counted: dict[MemberState, int] = {}
    for member in members:
        counted[member.state] = counted.get(member.state, 0) + 1
    line = f"🌊 *Wave {wave} of {waves_total}* done: {counts_line(counted) or 'no member ran'}"
    timed = [
        (m.duration_s(m.finished_at), m.name)
        for m in members
        if m.state is MemberState.SUCCEEDED and m.finished_at is not None
    ]
    durations = [(seconds, name) for seconds, name in timed if seconds is not None]
    if durations:
        median = statistics.median(seconds for seconds, _ in durations)
        slowest = max(durations)
        line += (
            f" · median {format_duration(median)}, slowest {code(slowest[1])}"
            f" {format_duration(slowest[0])}"
        )
    return line


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"
