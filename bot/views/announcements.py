"""What the bot tells people outside the request message: the approvers when a
request needs them, the ops channel and stakeholders when a run ends (or was
interrupted), the requester in a direct message, and the request's thread as
the run goes. Pure functions: domain objects in, text and blocks out."""

from __future__ import annotations

from typing import Protocol

from bot.views.blocks import (
    SAFE_BACKTICK,
    Block,
    code,
    context,
    escape,
    lines_in_sections,
    section,
)
from bot.views.ids import BlockId
from bot.views.outcome import ways_back_buttons
from bot.views.people import mention, people
from bot.views.status import revisions_text
from commands.pipeline.hook_steps import HOOK_EVENT
from commands.pipeline.progress import RollbackOffer, RunOutcome, RunStep, RunUpdate, UpdateKind
from commands.requests.model import Freeze, Request
from commands.state.vocabulary import RequestState
from commands.units import format_bytes, format_duration

Message = tuple[str, list[Block]]


class DeadRun(Protocol):
    """What the announcement shows of a run found dead at start-up (``commands.pipeline.
    recovery.InterruptedRun``, read here without importing the recovery, which opens
    targets and takes their run locks)."""

    @property
    def request(self) -> Request: ...
    @property
    def step(self) -> str | None: ...
    @property
    def last_revision_applied(self) -> str | None: ...
    @property
    def database_revisions(self) -> tuple[str, ...] | None: ...


OUTCOME_ICONS = {
    RequestState.SUCCEEDED: "✅",
    RequestState.FAILED: "❌",
    RequestState.ABORTED: "🛑",
    RequestState.INTERRUPTED: "⚠️",
}
THREAD_LINES = 40


REQUEST_LINK = "{request_link}"
"""Where the approver's direct message links to the request message; the notifier puts
the link there once the message is posted (``chat.getPermalink``)."""


def approval_wanted(request: Request, channel: str | None, channel_name: str | None) -> Message:
    """The direct message an approver gets when a request needs them: what is asked, and
    a link to the request message (``REQUEST_LINK``) in its channel, by name (a mention,
    which Slack draws as the name, when the name is unknown)."""
    if channel_name:
        where = f" in #{escape(channel_name)}"
    else:
        where = f" in <#{channel}>" if channel and channel[0] in "CG" else ""
    text = (
        f"{mention(request.requester)} asks for your approval of *{request.id}*:"
        f" {request.kind.value} {code(request.target)}"
        f" {revisions_text(request.from_revisions)} → {revisions_text(request.to_revisions)}"
        f" ({len(request.fingerprint.revisions)} revisions). The checks, the SQL and the"
        f" Approve button are on {REQUEST_LINK}{where}."
    )
    plain = f"{request.id} needs your approval" + (f" (in #{channel_name})" if channel_name else "")
    return plain, [section(text, block_id=BlockId.SUMMARY)]


def outcome_announcement(
    outcome: RunOutcome, request: Request, offers: tuple[RollbackOffer, ...] = ()
) -> Message:
    """For the ops channel: target, revisions, duration, backup, who asked and approved."""
    headline = _headline(outcome)
    fields = [
        f"*Target*\n{code(outcome.target)}",
        f"*Revisions*\n{_revision_change(outcome)}",
        f"*Duration*\n{format_duration(outcome.duration_s)}",
        f"*Backup*\n{_backup(outcome.backup)}",
        f"*Requested by*\n{mention(request.requester)}",
        f"*Approved by*\n{people(a.approver for a in request.current_approvals)}",
    ]
    blocks = [section(headline, fields=fields, block_id=BlockId.OUTCOME)]
    if outcome.error:
        blocks.append(context(escape(outcome.error[:2500]), block_id=BlockId.STATE))
    blocks += ways_back_buttons(request, offers)
    return _plain(headline), blocks


def outcome_note(outcome: RunOutcome, request: Request, *, for_requester: bool) -> Message:
    """For stakeholders and the requester: the outcome in two lines."""
    headline = _headline(outcome)
    lines = [headline, f"{_revision_change(outcome)} in {format_duration(outcome.duration_s)}."]
    if for_requester and not outcome.succeeded:
        lines.append("The request's message has the ways back; each needs a new approval.")
    return _plain(headline), [section("\n".join(lines), block_id=BlockId.OUTCOME)]


def outcome_thread(outcome: RunOutcome) -> Message:
    """The details for the request's thread: each revision's time, checks, leftovers."""
    lines = [
        f"*{outcome.request_id} {outcome.state.value}* after {format_duration(outcome.duration_s)}"
    ]
    if outcome.error:
        lines.append(f"Error: {escape(outcome.error)}")
    if outcome.backup:
        lines.append(f"💾 {_backup(outcome.backup)}")
    for applied in outcome.applied:
        lines.append(
            f"• {code(applied.revision)} {escape(applied.message)} —"
            f" {format_duration(applied.duration_s)}"
        )
    if outcome.verification:
        lines.append("*Verification*")
        lines += [f"• {escape(line)}" for line in outcome.verification]
    if outcome.leftovers:
        lines.append("*Left behind by the failed revision*")
        lines += [f"• {escape(line)}" for line in outcome.leftovers]
    if outcome.database_revisions is not None:
        lines.append(f"Database now at {revisions_text(outcome.database_revisions)}.")
    blocks = lines_in_sections(lines[:THREAD_LINES], max_blocks=10)
    return f"{outcome.request_id} {outcome.state.value}: details", blocks


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


def interrupted_announcement(run: DeadRun, offers: tuple[RollbackOffer, ...]) -> Message:
    """A run found dead at start-up: where it stopped, where the database is, the ways back."""
    request = run.request
    held = (
        revisions_text(run.database_revisions)
        if run.database_revisions is not None
        else "_unknown (the database could not be read)_"
    )
    last = code(run.last_revision_applied) if run.last_revision_applied else "none"
    headline = (
        f"⚠️ *{request.id}* {request.kind.value} of {code(request.target)} was interrupted:"
        f" the bot stopped while it ran{f' ({escape(run.step)})' if run.step else ''}."
    )
    text = (
        f"{headline}\nLast revision applied: {last}. The database is at {held}. Nothing"
        f" resumes by itself. Requested by {mention(request.requester)}."
    )
    blocks = [section(text, block_id=BlockId.OUTCOME), *ways_back_buttons(request, offers)]
    return _plain(headline), blocks


def freeze_announcement(freeze: Freeze, *, lifted_by: str | None = None) -> Message:
    if lifted_by is not None:
        text = (
            f"🔓 {code(freeze.target)} was unfrozen by {mention(lifted_by)}: runs may start again."
        )
    else:
        text = (
            f"🧊 {code(freeze.target)} was frozen by {mention(freeze.by)}:"
            f" {escape(freeze.reason)}. Nothing runs on it until an approver unfreezes it."
        )
    return _plain(text), [section(text, block_id=BlockId.SUMMARY)]


def _headline(outcome: RunOutcome) -> str:
    icon = OUTCOME_ICONS.get(outcome.state, "•")
    where = (
        f" at {outcome.failed_step.value}" if outcome.failed_step and not outcome.succeeded else ""
    )
    what = f"{outcome.kind} of {code(outcome.target)} {outcome.state.value}"
    return f"{icon} *{outcome.request_id}* {what}{where}"


def _revision_change(outcome: RunOutcome) -> str:
    start = revisions_text(outcome.from_revisions)
    end = (
        revisions_text(outcome.database_revisions)
        if outcome.database_revisions is not None
        else "_unknown_"
    )
    if outcome.kind == "restore":
        return f"{start} → {end} (restored)"
    return f"{start} → {end}, {len(outcome.applied)}/{len(outcome.planned_revisions)} revisions"


def _backup(backup: dict | None) -> str:
    if not backup:
        return "none"
    size = format_bytes(int(backup.get("size") or 0))
    return f"{code(str(backup.get('id')))}, {size}, {escape(str(backup.get('uri')))}"


def _plain(mrkdwn: str) -> str:
    """Notification text: the headline without its formatting marks."""
    return mrkdwn.replace("*", "").replace("`", "")
