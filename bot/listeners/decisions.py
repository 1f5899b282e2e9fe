"""The request message's buttons and checkboxes: approve, cancel or stop, tick the
checklist, view the SQL, and the ways back after a failed run, a fleet's member by
member (reject, which asks for a reason, is in ``rejection``).

Each click is acked at once and its work runs on the worker (``Handoff``). A
button's value is only a request id; anything else in a payload is read
defensively (a forged or stale click is bad input: a polite answer, nothing
changes).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.flows.asker import Asker
from bot.flows.request_flow import RequestFlow
from bot.listeners.channels import check_channel
from bot.listeners.context import CommandContext
from bot.listeners.handoff import ActionWork, Handoff
from bot.listeners.sql import show_plan_sql
from bot.views.ids import ActionId, BlockId, fingerprint_shown, tag_of
from bot.views.plan import loading_modal
from commands.pipeline.ways_back import FleetWayBack
from commands.requests import RequestInputError
from commands.requests.inputs import parse_request_id


def register_decisions(app: App, *, flow: RequestFlow, handoff: Handoff) -> None:
    def on(action_id: ActionId, doing: str, work: ActionWork) -> None:
        handoff.on_action(app, action_id, doing=doing, work=work)

    def approve(action: dict[str, Any], ctx: CommandContext) -> str:
        seen = fingerprint_shown(action.get("block_id"))
        return flow.approve(request_id(action), user=user(ctx), fingerprint_seen=seen)

    def tick(action: dict[str, Any], ctx: CommandContext) -> str | None:
        tagged = tag_of(action.get("block_id"), BlockId.CHECKLIST)
        return flow.tick(parse_request_id(tagged or ""), user=user(ctx), selected=selected(action))

    def roll_back(restore: bool) -> ActionWork:
        def work(action: dict[str, Any], ctx: CommandContext) -> str:
            failed = flow.context.requests.get(request_id(action))
            channel = failed.origin.get("channel") or ctx.invocation.channel_id
            check_channel(flow.context.config, failed.target, channel)
            proposal = flow.asking.roll_back(
                failed.id, Asker(user(ctx), channel or user(ctx)), restore=restore
            )
            new = proposal.request
            state = new.state.value.replace("_", " ")
            return f"You asked for {new.id} ({new.kind.value} {new.target} to {new.goal}): {state}."

        return work

    def fleet_way_back(way: FleetWayBack) -> ActionWork:
        def work(action: dict[str, Any], ctx: CommandContext) -> str:
            ended = flow.context.requests.get(request_id(action))
            channel = ended.origin.get("channel") or ctx.invocation.channel_id
            check_channel(flow.context.config, ended.target, channel)
            asker = Asker(user(ctx), channel or user(ctx))
            new = flow.asking.fleet_way_back(ended.id, asker, way=way).request
            state = new.state.value.replace("_", " ")
            count = len(new.members)
            what = f"{new.kind.value} {count} member(s) of {new.target}"
            return f"You asked for {new.id} ({what}): {state}."

        return work

    def view_sql(action: dict[str, Any], ctx: CommandContext) -> None:
        """The modal opens at once (the trigger lasts three seconds); the plan follows."""
        wanted = request_id(action)
        kept = flow.asking.plans.get(wanted)
        view_id = None if kept is not None else ctx.reply.open_modal(loading_modal(wanted))
        show_plan_sql(kept or flow.asking.request_plan(wanted), ctx, view_id=view_id)

    on(ActionId.APPROVE, "approving", approve)
    on(ActionId.CANCEL, "cancelling", lambda a, c: flow.cancel(request_id(a), user=user(c)))
    on(ActionId.CHECKLIST, "recording the checklist", tick)
    on(ActionId.VIEW_REQUEST_SQL, "showing the SQL", view_sql)
    on(ActionId.ROLL_BACK, "asking to roll back", roll_back(restore=False))
    on(ActionId.RESTORE_BACKUP, "asking to restore the backup", roll_back(restore=True))
    back, retry = FleetWayBack.BACK_TO_START, FleetWayBack.RETRY
    on(ActionId.FLEET_BACK_TO_START, "asking to take members back", fleet_way_back(back))
    on(ActionId.FLEET_RETRY, "asking to retry members", fleet_way_back(retry))


def request_id(action: dict[str, Any]) -> str:
    """The request id a button carries; raises ``RequestInputError`` for anything else."""
    value = action.get("value")
    if not isinstance(value, str):
        raise RequestInputError("this button carries no request id")
    return parse_request_id(value)


def user(ctx: CommandContext) -> str:
    return ctx.invocation.user_id


def selected(action: dict[str, Any]) -> list[str]:
    """The values of the ticked checkboxes (the whole set Slack sends on each click)."""
    options = action.get("selected_options")
    if not isinstance(options, list):
        return []
    return [str(o.get("value")) for o in options if isinstance(o, dict)]
