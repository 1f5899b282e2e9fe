"""Schema evidence on a request message: **View drift** (its pre-flight's drift report)
and, after the run, **Schema changes** (the stored before/after diff, a page at a time)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.flows.request_flow import RequestFlow
from bot.listeners.context import CommandContext
from bot.listeners.decisions import request_id
from bot.listeners.handoff import Handoff
from bot.views.ids import ActionId
from bot.views.schema_evidence import (
    no_schema_changes_modal,
    request_drift_modal,
    schema_changes_modal,
)
from commands.requests.inputs import parse_request_id
from commands.schema.evidence import schema_diffs_of
from commands.state.schema_diffs import SchemaDiffs


def register_schema_evidence(app: App, *, flow: RequestFlow, handoff: Handoff) -> None:
    context = flow.context

    def view_drift(action: dict[str, Any], ctx: CommandContext) -> None:
        ctx.reply.open_modal(request_drift_modal(context.requests.get(request_id(action))))

    def changes_modal(wanted: str, page: int) -> dict[str, Any]:
        context.requests.get(wanted)  # an unknown id is refused, as for any button
        found = schema_diffs_of(context.store, SchemaDiffs(context.config.bot.state), wanted)
        if not found:
            return no_schema_changes_modal(wanted, f"{wanted} recorded no schema diff.")
        stored = found[0]
        if stored.changes is None:
            return no_schema_changes_modal(wanted, f"{wanted}'s schema diff: {stored.problem}")
        return schema_changes_modal(stored.changes, request_id=wanted, page=page)

    def view_changes(action: dict[str, Any], ctx: CommandContext) -> None:
        ctx.reply.open_modal(changes_modal(request_id(action), 1))

    def turn_page(action: dict[str, Any], ctx: CommandContext) -> None:
        view_id = ctx.invocation.view_id
        wanted = parse_request_id(ctx.invocation.view_metadata or "")
        value = str(action.get("value", ""))
        if view_id:
            ctx.reply.update_modal(
                view_id, changes_modal(wanted, int(value) if value.isdigit() else 1)
            )

    handoff.on_action(app, ActionId.VIEW_DRIFT, doing="showing the drift", work=view_drift)
    handoff.on_action(
        app, ActionId.VIEW_SCHEMA_CHANGES, doing="showing the schema changes", work=view_changes
    )
    handoff.on_action(app, ActionId.SCHEMA_CHANGES_PAGE, doing="turning the page", work=turn_page)
