"""A request message's frame, a single target's and a fleet's alike: the header, summary,
state and schedule; then what the request's kind shows; then the pre-flight, the
checklist, the acknowledgements, the buttons and the footer. Pure functions.

Contract: the approve button's ``action_id`` starts with ``approve``, reject's with
``reject``, and each button's ``value`` is only the request id.
"""

from __future__ import annotations

from typing import Any

from bot.views import limits
from bot.views.blocks import (
    Block,
    actions,
    button,
    checkboxes,
    code,
    confirm_dialog,
    context,
    escape,
    header,
    mrkdwn,
    section,
)
from bot.views.ids import ActionId, BlockId, decide_block_id, tagged
from bot.views.live_use import acknowledgement_blocks, evidence_line, has_live_use
from bot.views.outcome import ways_back_buttons
from bot.views.people import mention
from bot.views.preflight import request_preflight_blocks
from bot.views.request_card import RequestCard
from bot.views.schedule import schedule_line
from bot.views.schema_evidence import drifted
from commands.state.vocabulary import (
    BEFORE_RUN_STATES,
    PENDING_STATES,
    ChecklistItem,
    RequestKind,
    RequestState,
)
from commands.units import format_duration


def card_blocks(
    card: RequestCard,
    *,
    title: str,
    summary: str,
    state: str,
    body: list[Block],
    buttons: list[Block],
) -> list[Block]:
    """A request message's frame, a single target's and a fleet's alike: header, summary,
    state and schedule; then ``body``; then pre-flight, checklist, acknowledgements,
    ``buttons`` and the footer."""
    request = card.request
    blocks = [
        header(f"{request.id} · {title}", BlockId.HEADER),
        section(summary, block_id=BlockId.SUMMARY),
        context(state, block_id=BlockId.STATE),
    ]
    scheduled = schedule_line(request)
    if scheduled is not None:
        blocks.append(context(scheduled, block_id=BlockId.SCHEDULE))
    blocks += body
    blocks += request_preflight_blocks(request)
    blocks += checklist_blocks(card)
    blocks += acknowledgement_blocks(request)
    blocks += buttons
    blocks.append(context(footer(card), block_id=BlockId.FOOTER))
    return blocks


def checklist_blocks(card: RequestCard) -> list[Block]:
    """The runbook's checklist: boxes the requester ticks, or who confirmed what."""
    request = card.request
    if not card.checklist:
        return []
    ticks = {item: request.tick_of(item) for item in card.checklist}
    confirmed = sum(tick is not None for tick in ticks.values())
    title = (
        f"*Checklist* · {confirmed}/{len(card.checklist)} confirmed by"
        f" {mention(request.requester)} (only the requester's ticks count)"
    )
    evidence = evidence_line(request) if ChecklistItem.APP_COMPATIBLE in ticks else None
    if request.state in PENDING_STATES:
        element = checkboxes(
            action_id=ActionId.CHECKLIST,
            options=[(item.label, item.value) for item in card.checklist],
            checked=[item.value for item, tick in ticks.items() if tick is not None],
        )
        for option in element["options"]:  # what the database says, beside the item
            if option["value"] == ChecklistItem.APP_COMPATIBLE and evidence is not None:
                option["description"] = mrkdwn(evidence, limits.OPTION_TEXT)
        return [
            section(title),
            actions(element, block_id=tagged(BlockId.CHECKLIST, request.id)),
        ]
    unticked = [item.label for item, tick in ticks.items() if tick is None]
    if unticked:
        title += f"; not confirmed: {escape('; '.join(unticked))}"
    if evidence is not None:
        title += f"\n{ChecklistItem.APP_COMPATIBLE.label}: {evidence}"
    return [context(title, block_id=BlockId.CHECKLIST)]


def buttons(card: RequestCard, stop_consequence: str) -> list[Block]:
    """Before the run, the decision's; while it runs, Stop (saying what stopping does);
    after it, the ways back and the run's schema changes."""
    request = card.request
    if request.state in BEFORE_RUN_STATES:
        return decision_buttons(card)
    if request.state is RequestState.RUNNING:
        return [actions(stop_button(request.id, stop_consequence), block_id=BlockId.ACTIONS)]
    return [*ways_back_buttons(request, card.ways_back), *evidence_buttons(card)]


def evidence_buttons(card: RequestCard) -> list[Block]:
    """After a run: **Schema changes**, the before/after diff it kept."""
    request = card.request
    if request.run is None or request.kind is RequestKind.RESTORE:
        return []
    element = button("Schema changes", action_id=ActionId.VIEW_SCHEMA_CHANGES, value=request.id)
    return [actions(element, block_id=BlockId.EVIDENCE)]


def stop_button(request_id: str, consequence: str) -> dict[str, Any]:
    """The running request's **Stop the run** (requester or an approver), confirmed."""
    return button(
        "Stop the run",
        action_id=ActionId.CANCEL,
        value=request_id,
        style="danger",
        confirm=confirm_dialog(f"Stop {request_id}?", consequence, confirm="Stop it", danger=True),
    )


def decision_buttons(card: RequestCard) -> list[Block]:
    """Before the run: View SQL, View live use, Approve, Reject, Schedule and Cancel request."""
    request = card.request
    value = request.id
    elements = []
    if request.kind is not RequestKind.RESTORE and request.fingerprint.revisions:
        elements.append(button("View SQL", action_id=ActionId.VIEW_REQUEST_SQL, value=value))
    if has_live_use(request):
        elements.append(button("View live use", action_id=ActionId.VIEW_LIVE_USE, value=value))
    if drifted(request):
        elements.append(button("View drift", action_id=ActionId.VIEW_DRIFT, value=value))
    if request.state is not RequestState.APPROVED:
        elements += [
            button("Approve", action_id=ActionId.APPROVE, value=value, style="primary"),
            button("Reject", action_id=ActionId.REJECT, value=value, style="danger"),
        ]
    if card.can_schedule:  # never offered where it cannot succeed
        label = "Reschedule" if request.schedule else "Schedule"
        elements.append(button(label, action_id=ActionId.SCHEDULE, value=value))
    elements.append(
        button(
            "Cancel request",
            action_id=ActionId.CANCEL,
            value=value,
            confirm=confirm_dialog(
                f"Cancel {request.id}?", "It will not run.", confirm="Cancel it", danger=True
            ),
        )
    )
    # The fingerprint shown rides in the block id: a click on a message
    # drawn for an older plan is refused instead of approving the new one.
    return [actions(*elements, block_id=decide_block_id(request.fingerprint.digest))]


def footer(card: RequestCard) -> str:
    """The plan's short fingerprint; before the run, how long approvals last."""
    request = card.request
    parts = [f"plan {code(request.fingerprint.short)}"]
    if request.state in BEFORE_RUN_STATES:
        parts.append(f"approvals last {format_duration(card.approval_ttl_s)}")
        parts.append(f"`/migrate cancel {request.id}`")
    return " · ".join(parts)
