"""Where a request stands, in one line, and the ways back once a run went wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views.blocks import Block, actions, button, confirm_dialog, escape
from bot.views.ids import ActionId, BlockId
from bot.views.people import mention, people
from bot.views.request_card import RequestCard
from bot.views.status import revisions_text
from commands.pipeline.ways_back import FleetOffer, FleetWayBack, WayBack
from commands.requests.model import Request
from commands.requests.wording import format_time
from commands.state.vocabulary import RequestState
from commands.units import format_duration

REASON_CHARS = 600


def state_line(card: RequestCard) -> str:
    """One line that changes as the request moves: who must act next, or how it ended."""
    request = card.request
    state = request.state
    if state is RequestState.REQUESTED:
        return _requested(request)
    if state is RequestState.AWAITING_APPROVAL:
        return _awaiting(card)
    approvers = people(a.approver for a in request.current_approvals)
    if state is RequestState.APPROVED:
        waits = " · waits for its slot" if request.schedule else " · starting the run"
        note = f" · not started: {escape(card.note)}" if card.note else waits
        return f"👍 *Approved* by {approvers}{note}"
    if state is RequestState.RUNNING:
        started = request.run.started_at if request.run else request.created_at
        return f"🏃 *Running* since {format_time(started)} · approved by {approvers}"
    return _closed(request)


def _requested(request: Request) -> str:
    if request.preflight is None:
        return "⏳ Running the pre-flight checks…"
    if not request.preflight.passed:
        return "❌ *Pre-flight failed*: nobody can approve it. Fix what failed and ask again."
    changes = "; ".join(request.plan_changes) or "it was planned again"
    return f"🔁 *The plan changed* ({escape(changes)}): ask again for a fresh approval."


def _awaiting(card: RequestCard) -> str:
    request = card.request
    line = f"⏳ *Awaiting approval* from {people(card.approvers, as_approvers=True)}"
    line += f" · needs {escape(', '.join(card.missing) or 'nothing more')}"
    unticked = [item for item in card.checklist if request.tick_of(item) is None]
    if unticked:
        line += (
            f" · checklist {len(card.checklist) - len(unticked)}/{len(card.checklist)}:"
            f" {mention(request.requester)} ticks it before anyone can approve"
        )
    return line


def _closed(request: Request) -> str:
    closure = request.closure
    assert closure is not None
    reason = escape(_clip(closure.reason))
    by = mention(closure.by)
    details = closure.details
    if request.state is RequestState.SUCCEEDED:
        took = details.get("duration_s")
        took_text = f" in {format_duration(float(took))}" if took is not None else ""
        approved = people(a.approver for a in request.current_approvals)
        return f"✅ *Succeeded*{took_text} · approved by {approved}"
    if request.state is RequestState.FAILED:
        step = details.get("failed_step")
        return f"❌ *Failed*{f' at {escape(str(step))}' if step else ''}: {reason}"
    if request.state is RequestState.ABORTED:
        return f"🛑 *Aborted*: {reason}"
    if request.state is RequestState.INTERRUPTED:
        step = details.get("step")
        held = details.get("database_revisions")
        at = revisions_text(tuple(held)) if isinstance(held, list) else "_unknown_"
        during = f" during {escape(str(step))}" if step else ""
        return (
            f"⚠️ *Interrupted*: the bot stopped while it ran{during}; the database is at {at}."
            " Nothing resumes by itself."
        )
    word = {
        RequestState.REJECTED: "🚫 *Rejected*",
        RequestState.CANCELLED: "✖️ *Cancelled*",
        RequestState.EXPIRED: "⌛ *Expired*",
        RequestState.REFUSED: "⛔ *Not run*",
    }[request.state]
    tail = f": {reason}" if reason else ""
    return f"{word} by {by} at {format_time(closure.at)}{tail}"


def ways_back_buttons(request: Request, offers: Sequence[WayBack]) -> list[Block]:
    """One button per way back, each asking for a new request with its own approval: "Roll
    back to REV" / "Restore backup", or a fleet's "Back to start" / "Retry" over members."""
    elements = [_way_back_button(request, offer) for offer in offers]
    return [actions(*elements, block_id=BlockId.WAYS_BACK)] if elements else []


def _way_back_button(request: Request, offer: WayBack) -> dict[str, Any]:
    if isinstance(offer, FleetOffer):
        back = offer.way is FleetWayBack.BACK_TO_START
        label = (
            f"Back to start: {len(offer.members)} member(s)"
            if back
            else f"Retry {len(offer.members)} member(s)"
        )
        action = ActionId.FLEET_BACK_TO_START if back else ActionId.FLEET_RETRY
        what = "its members get their pre-flight and it needs"
    else:
        restore = offer.kind == "restore"
        label = f"Restore backup {offer.goal}" if restore else f"Roll back to {offer.goal}"
        action = ActionId.RESTORE_BACKUP if restore else ActionId.ROLL_BACK
        what = "it runs its pre-flight and needs"
    return button(
        label,
        action_id=action,
        value=request.id,
        confirm=confirm_dialog(
            f"{label}?",
            f"This asks to {offer.description}. It is a new request: {what} an approval like"
            " any other.",
            confirm="Ask for it",
        ),
    )


def _clip(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
