"""The "View SQL" button: the plan's SQL in a modal, or as a file when too long."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.listeners.context import CommandContext
from bot.listeners.handoff import Handoff
from bot.views.ids import ActionId
from bot.views.plan import sql_expired_modal, sql_file, sql_modal, sql_sent_as_file_modal
from commands.migration.script.plan import Plan

log = logging.getLogger(__name__)


def show_sql(ref: str, ctx: CommandContext) -> None:
    """Open the modal first: the interaction's trigger id lives three seconds."""
    plan = ctx.plans.get(ref)
    if plan is None:
        ctx.reply.open_modal(sql_expired_modal())
        return
    show_plan_sql(plan, ctx)


def show_plan_sql(plan: Plan, ctx: CommandContext, *, view_id: str | None = None) -> None:
    """The plan's SQL in a modal (``view_id``: one already open), or as a file in a DM."""
    modal = sql_modal(plan)
    filename = f"{plan.target}-plan.sql"
    shown = modal or sql_sent_as_file_modal(plan.target, filename)
    if view_id is None:
        ctx.reply.open_modal(shown)
    else:
        ctx.reply.update_modal(view_id, shown)
    if modal is None:
        ctx.reply.send_file(
            content=sql_file(plan),
            filename=filename,
            title=f"SQL of the plan for {plan.target}",
            comment=f"The SQL of the plan for `{plan.target}` ({len(plan.revisions)} revisions).",
        )


def register_actions(app: App, *, handoff: Handoff) -> None:
    """The "View SQL" button of ``/migrate plan``: its value is the plan's short id."""

    def view_sql(action: dict[str, Any], ctx: CommandContext) -> None:
        show_sql(str(action.get("value") or ""), ctx)

    handoff.on_action(app, ActionId.VIEW_SQL, doing="showing the SQL", work=view_sql)


def register_unknown_actions(app: App) -> None:
    """Last: a button this bot does not know (an old message, a forged payload) is ignored."""

    @app.action(re.compile(".*"))
    def unknown_action(ack: Ack, action: dict[str, Any]) -> None:
        ack()
        log.info("ignored an unknown action %r", str(action.get("action_id"))[:64])
