"""The live-use evidence on a request message: the approvers' acknowledgement checkbox
and the "View live use" button (the findings in full, in a modal)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.flows.request_flow import RequestFlow
from bot.listeners.context import CommandContext
from bot.listeners.decisions import request_id, user
from bot.listeners.handoff import Handoff
from bot.views.ids import ActionId, BlockId, tag_of
from bot.views.live_use import live_use_modal
from commands.requests.inputs import parse_request_id


def register_live_use(app: App, *, flow: RequestFlow, handoff: Handoff) -> None:
    def acknowledge(action: dict[str, Any], ctx: CommandContext) -> str:
        tagged = tag_of(action.get("block_id"), BlockId.LIVE_USE)
        return flow.acknowledge_live_use(parse_request_id(tagged or ""), user=user(ctx))

    def view(action: dict[str, Any], ctx: CommandContext) -> None:
        ctx.reply.open_modal(live_use_modal(flow.context.requests.get(request_id(action))))

    handoff.on_action(
        app, ActionId.LIVE_USE_ACK, doing="recording the acknowledgement", work=acknowledge
    )
    handoff.on_action(app, ActionId.VIEW_LIVE_USE, doing="showing the live use", work=view)
