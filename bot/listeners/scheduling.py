"""Scheduling's listeners: ``/migrate schedule``, ``/migrate status`` with the next
window, the request message's Schedule button and its modal's submission.

The button acks at once and opens the modal from the worker. The modal's
answer is checked in the ack itself (pure: the form and the target's
windows), so a wrong time keeps the modal open with the sentence under the
input; a good one closes it and the worker records the schedule.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.flows.schedule_flow import ScheduleFlow
from bot.flows.schedule_form import FormError, read_form, slot_from_form
from bot.invocation import Invocation
from bot.listeners.changes import asker
from bot.listeners.context import CommandContext, CommandHandler
from bot.listeners.decisions import request_id
from bot.listeners.handoff import Handoff
from bot.listeners.read_only import allowed_targets, target_status_blocks
from bot.views.ids import ActionId, BlockId, ViewId
from bot.views.schedule import schedule_modal
from commands.errors import MigrateBotError
from commands.slash import grammar


def schedule_handlers(scheduling: ScheduleFlow) -> dict[type, CommandHandler]:
    """``schedule``, and ``status`` answered with the target's next window."""

    def schedule(command: grammar.Schedule, ctx: CommandContext) -> None:
        request = scheduling.schedule_command(asker(ctx), command)
        assert request.schedule is not None
        ctx.reply.ephemeral(
            f"{request.id} is scheduled for {request.schedule.slot.describe()}:"
            " it needs its approval before then."
        )

    def status_command(command: grammar.Status, ctx: CommandContext) -> None:
        targets = [ctx.config.target(command.target)] if command.target else allowed_targets(ctx)
        for target in targets:
            blocks = target_status_blocks(target, ctx) + scheduling.status_blocks(target)
            ctx.reply.ephemeral(f"Status of {target.name}", blocks)

    return {grammar.Schedule: schedule, grammar.Status: status_command}


def register_scheduling(app: App, *, scheduling: ScheduleFlow, handoff: Handoff) -> None:
    def open_form(action: dict[str, Any], ctx: CommandContext) -> None:
        request = scheduling.request_to_schedule(request_id(action))
        target = scheduling.context.config.target(request.target)
        ctx.reply.open_modal(schedule_modal(request, target, now=scheduling.context.clock()))

    handoff.on_action(app, ActionId.SCHEDULE, doing="opening the Schedule form", work=open_form)

    @app.view(ViewId.SCHEDULE)
    def schedule_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            request = scheduling.context.requests.get(str(view.get("private_metadata") or ""))
            target = scheduling.context.config.target(request.target)
        except MigrateBotError as bad:  # a forged or stale form: say so, change nothing
            ack(response_action="errors", errors={BlockId.SCHEDULE_DATE: str(bad)})
            return
        try:
            slot = slot_from_form(read_form(view), target, now=scheduling.context.clock())
        except FormError as wrong:
            ack(response_action="errors", errors=wrong.errors)
            return
        ack()
        user = Invocation.from_body(body).user_id
        channel = request.origin.get("channel") or user

        def schedule(_ctx: CommandContext) -> None:
            scheduling.schedule_existing(request.id, user=user, slot=slot)

        handoff.submit(
            Invocation(user_id=user, channel_id=channel),
            schedule,
            doing=f"scheduling {request.id}",
            body=body,
        )
