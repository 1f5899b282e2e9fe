"""``/migrate change …``, ``changes``, ``backfill``, ``backfills`` and the buttons of a
change's card and a backfill's message: payload → flow call → answer.

A card's buttons carry the phase they were drawn for (``C-3:2``), a backfill's
the run (``B-4``); anything else is bad input, answered politely.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.flows.change_flow import ChangeFlow
from bot.listeners.changes import asker
from bot.listeners.context import CommandContext, CommandHandler
from bot.listeners.handoff import ActionWork, Handoff
from bot.views.change_card import change_message
from bot.views.change_lists import backfills_blocks, changes_blocks
from bot.views.ids import ActionId
from commands.changes.card import change_card
from commands.requests import RequestInputError
from commands.slash import grammar

PHASE_REF = re.compile(r"C-[1-9][0-9]{0,9}:[0-9]{1,2}")
RUN_ID = re.compile(r"B-[1-9][0-9]{0,9}")


def change_phase_handlers(flow: ChangeFlow) -> dict[type, CommandHandler]:
    """The slash commands of changes and backfills, bound to ``flow``."""
    changes = flow.changes

    def start(command: grammar.ChangeStart, ctx: CommandContext) -> None:
        ctx.reply.ephemeral(flow.start(asker(ctx), target=command.target, name=command.name))

    def show(command: grammar.ChangeShow, ctx: CommandContext) -> None:
        change = changes.load(command.change)
        text, blocks = change_message(change_card(changes.store, change, changes.clock()))
        ctx.reply.ephemeral(text, blocks)

    def confirm(command: grammar.ChangeConfirm, ctx: CommandContext) -> None:
        user = ctx.invocation.user_id
        ctx.reply.ephemeral(flow.confirm_command(command.change, command.phase, user=user))

    def abandon(command: grammar.ChangeAbandon, ctx: CommandContext) -> None:
        user = ctx.invocation.user_id
        ctx.reply.ephemeral(flow.abandon(command.change, user=user, reason=command.reason))

    def listing(command: grammar.Changes, ctx: CommandContext) -> None:
        found = changes.ledger.changes(target=command.target, in_flight=True)
        ctx.reply.ephemeral("Changes in flight", changes_blocks(found, command.target))

    def backfill(command: grammar.Backfill, ctx: CommandContext) -> None:
        run = flow.backfills.ask(asker(ctx), target=command.target, name=command.name)
        ctx.reply.ephemeral(f"You asked for {run.id}: its message is in the channel.")

    def backfills(command: grammar.Backfills, ctx: CommandContext) -> None:
        runs = flow.backfills.backfills.ledger.runs(target=command.target)[:20]
        ctx.reply.ephemeral("Backfills", backfills_blocks(runs, command.target))

    return {
        grammar.ChangeStart: start,
        grammar.ChangeShow: show,
        grammar.ChangeConfirm: confirm,
        grammar.ChangeAbandon: abandon,
        grammar.Changes: listing,
        grammar.Backfill: backfill,
        grammar.Backfills: backfills,
    }


def register_change_buttons(app: App, *, flow: ChangeFlow, handoff: Handoff) -> None:
    """The card's Ask, Confirm, Check and Abandon; the backfill's decisions and controls."""

    def on(action_id: ActionId, doing: str, work: ActionWork) -> None:
        handoff.on_action(app, action_id, doing=doing, work=work)

    def ask(action: dict[str, Any], ctx: CommandContext) -> str:
        channel = ctx.invocation.channel_id or ctx.invocation.user_id
        return flow.ask_phase(phase_ref(action), user=user(ctx), channel=channel)

    runs = flow.backfills
    on(ActionId.CHANGE_ASK, "asking the phase", ask)
    on(ActionId.CHANGE_CONFIRM, "confirming the deploy", _on_phase(flow.confirm))
    on(ActionId.CHANGE_CHECK, "checking the gate", _on_phase(flow.check))
    on(ActionId.CHANGE_ABANDON, "abandoning the change", _on_phase(_abandoner(flow)))
    on(ActionId.BACKFILL_APPROVE, "approving the backfill", _on_run(runs.approve))
    on(ActionId.BACKFILL_REJECT, "rejecting the backfill", _on_run(runs.reject))
    on(ActionId.BACKFILL_PAUSE, "pausing the backfill", _on_run(runs.pause))
    on(ActionId.BACKFILL_RESUME, "resuming the backfill", _on_run(runs.resume))
    on(ActionId.BACKFILL_STOP, "stopping the backfill", _on_run(runs.stop))


def _on_phase(decide: Callable[..., str]) -> ActionWork:
    return lambda action, ctx: decide(phase_ref(action), user=user(ctx))


def _on_run(decide: Callable[..., str]) -> ActionWork:
    return lambda action, ctx: decide(run_id(action), user=user(ctx))


def _abandoner(flow: ChangeFlow) -> Callable[..., str]:
    return lambda ref, *, user: flow.abandon(ref, user=user, reason="abandoned from its card")


def phase_ref(action: dict[str, Any]) -> str:
    value = action.get("value")
    if not isinstance(value, str) or not PHASE_REF.fullmatch(value):
        raise RequestInputError("this button carries no change phase")
    return value


def run_id(action: dict[str, Any]) -> str:
    value = action.get("value")
    if not isinstance(value, str) or not RUN_ID.fullmatch(value):
        raise RequestInputError("this button carries no backfill run")
    return value


def user(ctx: CommandContext) -> str:
    return ctx.invocation.user_id
