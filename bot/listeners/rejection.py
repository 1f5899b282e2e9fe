"""Reject, with a reason: the button opens a modal, its Submit rejects the request.

The click is checked first (only an approver other than the requester may
reject a request that has not run), so nobody types a reason for nothing. The
Submit is acked at once with the modal closed (or an error under an empty
reason) and the rejection is recorded on the worker; a refusal then (someone
approved or cancelled meanwhile) is answered privately, as for any click.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.flows.home import HomeTab
from bot.flows.request_flow import RequestFlow
from bot.invocation import Invocation
from bot.listeners.context import CommandContext
from bot.listeners.decisions import request_id, user
from bot.listeners.handoff import Handoff
from bot.views.ids import ActionId, BlockId, ViewId
from bot.views.reject import reject_modal, submitted_reason
from commands.errors import MigrateBotError
from commands.requests import RequestRefused
from commands.requests.policy import check_approver
from commands.state.vocabulary import BEFORE_RUN_STATES


def register_rejection(
    app: App, *, flow: RequestFlow, handoff: Handoff, home: HomeTab | None = None
) -> None:
    """``home``: the rejecter's App Home tab is drawn again once it is done (the Reject
    button is on it too, and the request no longer waits for them)."""

    def open_form(action: dict[str, Any], ctx: CommandContext) -> None:
        request = flow.context.requests.get(request_id(action))
        if request.state not in BEFORE_RUN_STATES:
            raise RequestRefused(f"{request.id} can no longer be rejected: it is {request.state}.")
        check_approver(
            flow.context.requests.policy(request.target),
            user=user(ctx),
            requester=request.requester,
            request_id=request.id,
            lookup=flow.groups,
            action="reject",
        )
        ctx.reply.open_modal(reject_modal(request))

    handoff.on_action(app, ActionId.REJECT, doing="opening the Reject form", work=open_form)

    @app.view(ViewId.REJECT)
    def reject_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = submitted_reason(view)
        if not reason:
            ack(response_action="errors", errors={BlockId.REJECT_REASON: "Say why."})
            return
        ack()
        who = Invocation.from_body(body).user_id
        rejected = str(view.get("private_metadata") or "")
        try:
            channel = flow.context.requests.get(rejected).origin.get("channel") or who
        except MigrateBotError:
            channel = who  # a forged or stale form: the worker's answer says why

        def reject(_ctx: CommandContext) -> str:
            answer = flow.reject(rejected, user=who, reason=reason)
            if home is not None:
                home.publish(who)
            return answer

        handoff.submit(
            Invocation(user_id=who, channel_id=channel),
            reject,
            doing=f"rejecting {rejected}",
            request_id=rejected,
            body=body,
        )
