"""A backfill run's message: what it updates, the pre-flight's count and estimate, the
progress with rate and ETA, why it holds, and the buttons approvers use. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.views.blocks import (
    Block,
    actions,
    button,
    code,
    confirm_dialog,
    context,
    escape,
    header,
    section,
)
from bot.views.ids import ActionId, BlockId
from bot.views.people import mention, people
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.pacing import eta_seconds
from commands.backfill.wal_advice import wal_line
from commands.requests.wording import format_time
from commands.units import format_duration

STATE_WORDS = {
    BackfillState.AWAITING_APPROVAL: "awaiting approval",
    BackfillState.APPROVED: "starting",
    BackfillState.RUNNING: "running",
    BackfillState.PAUSED: "paused",
    BackfillState.INTERRUPTED: "interrupted",
    BackfillState.FAILED: "failed",
    BackfillState.DONE: "done",
    BackfillState.STOPPED: "stopped",
    BackfillState.CANCELLED: "cancelled",
}


RUN_LINK = "{run_link}"
"""Where an approver's direct message links to the run's message (filled in once posted)."""


def approval_wanted(run: BackfillRun) -> tuple[str, list[Block]]:
    """The direct message an approver gets: what the backfill is, and a link to it."""
    text = (
        f"{mention(run.requester)} asks for your approval of *{run.id}*, the backfill"
        f" {code(run.name)} of {code(run.spec.table)} on {code(run.target)}"
        f" ({run.estimate.rows_to_do:,} rows to do). The estimate and the Approve button"
        f" are on {RUN_LINK}."
    )
    return f"{run.id} needs your approval", [section(text, block_id=BlockId.SUMMARY)]


def backfill_message(run: BackfillRun, now: datetime) -> tuple[str, list[Block]]:
    return headline(run), backfill_blocks(run, now)


def headline(run: BackfillRun) -> str:
    """'Backfill copy on demo (B-1): running, 41%'."""
    state = "holding" if run.hold is not None else STATE_WORDS[run.state]
    share = _share(run)
    tail = f", {share}" if share and not run.state.is_final else ""
    return f"Backfill {run.name} on {run.target} ({run.id}): {state}{tail}"


def backfill_blocks(run: BackfillRun, now: datetime) -> list[Block]:
    spec = run.spec
    statement = f"UPDATE {spec.table} SET {spec.set} WHERE {spec.where}"
    blocks = [
        header(headline(run)),
        section(
            f"{code(statement)}\nWalked by {code(spec.key)} in batches of about"
            f" {format_duration(spec.batch_time)}, each its own transaction",
            block_id=BlockId.SUMMARY,
        ),
        section(_preflight(run), fields=_fields(run), block_id=BlockId.PROGRESS),
    ]
    note = _note(run, now)
    if note:
        blocks.append(section(note, block_id=BlockId.STATE))
    blocks += _buttons(run)
    asked = f"Asked by {mention(run.requester)} at {format_time(run.asked_at)}"
    approved = f" · approved by {people(run.approved_by)}" if run.approved_by else ""
    part = ""
    if run.change is not None and run.phase is not None:
        part = f" · phase {run.phase + 1} of change {code(run.change)}"
    blocks.append(context(asked + approved + part, block_id=BlockId.FOOTER))
    return blocks


def _share(run: BackfillRun) -> str | None:
    total = run.estimate.table_rows
    if not total or not run.progress.walked:
        return None
    return f"{min(run.progress.walked / total, 1.0):.0%}"


def _preflight(run: BackfillRun) -> str:
    estimate = run.estimate
    about = f", about {format_duration(estimate.seconds)}" if estimate.seconds else ""
    wal = wal_line(estimate)
    return f"*Pre-flight*: {estimate.rows_to_do:,} of {estimate.table_rows:,} rows to do{about}" + (
        f"; {wal}" if wal else ""
    )


def _fields(run: BackfillRun) -> list[str]:
    estimate, progress = run.estimate, run.progress
    fields: list[str] = []
    if progress.batches:
        rate = progress.rows / progress.running_s if progress.running_s else 0.0
        eta = eta_seconds(
            walked=progress.walked, total=estimate.table_rows, seconds=progress.running_s
        )
        fields += [
            f"*Done*\n{progress.rows:,} rows in {progress.batches:,} batches"
            f" ({_share(run) or '?'} of the table), up to {code(progress.checkpoint or '')}",
            f"*Rate*\n{rate:,.0f} rows/s;"
            f" longest batch {format_duration(progress.longest_batch_s)}",
        ]
        if eta is not None and not run.state.is_final:
            fields.append(f"*Left*\nabout {format_duration(eta)} at this pace")
        if progress.held_s or progress.waiters:
            fields.append(
                f"*Throttled*\nheld {format_duration(progress.held_s)};"
                f" {progress.waiters} session(s) seen waiting on a batch"
            )
    return fields


def _note(run: BackfillRun, now: datetime) -> str | None:
    if run.hold is not None:
        since = format_duration((now - run.hold.since).total_seconds())
        return f"⏸️ *Holding* for {since}: {escape(run.hold.detail)}. It goes on by itself."
    checkpoint = code(run.progress.checkpoint or "the start")
    who = mention(run.ended_by or "?")
    took = format_duration(run.progress.running_s + run.progress.held_s)
    notes = {
        BackfillState.INTERRUPTED: (
            f"⚠️ *Interrupted* at {checkpoint}: the bot stopped while it ran. It is never"
            " resumed on its own: Resume goes on from there (the batch that was in flight is"
            " done again, which changes nothing for rows already done)."
        ),
        BackfillState.PAUSED: f"⏸️ *Paused* at {checkpoint} by {who}.",
        BackfillState.FAILED: (
            f"❌ *Failed* at {checkpoint}: {escape(run.error or 'no error recorded')}"
        ),
        BackfillState.STOPPED: f"⏹️ *Stopped* by {who} at {checkpoint}.",
        BackfillState.CANCELLED: f"⏹️ *Cancelled* by {who}.",
        BackfillState.DONE: f"✅ *Done*: {run.progress.rows:,} rows updated in {took}.",
    }
    return notes.get(run.state)


def _buttons(run: BackfillRun) -> list[Block]:
    state, value = run.state, run.id
    elements = []
    if state is BackfillState.AWAITING_APPROVAL:
        elements += [
            button("Approve", action_id=ActionId.BACKFILL_APPROVE, value=value, style="primary"),
            button("Reject", action_id=ActionId.BACKFILL_REJECT, value=value, style="danger"),
        ]
    if state in (BackfillState.RUNNING, BackfillState.APPROVED):
        elements.append(button("Pause", action_id=ActionId.BACKFILL_PAUSE, value=value))
    if state.resumable:
        elements.append(
            button("Resume", action_id=ActionId.BACKFILL_RESUME, value=value, style="primary")
        )
    if not state.is_final and state is not BackfillState.AWAITING_APPROVAL:
        stop = confirm_dialog(
            "Stop the backfill",
            "It ends where it is: the rows done stay done, the others stay as they are.",
            confirm="Stop it",
            danger=True,
        )
        elements.append(button("Stop", action_id=ActionId.BACKFILL_STOP, value=value, confirm=stop))
    return [actions(*elements, block_id=BlockId.ACTIONS)] if elements else []
