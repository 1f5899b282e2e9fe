"""Handlers of the commands that ask for a change or act on requests and targets:
upgrade, downgrade, restore, cancel, freeze, unfreeze; and backups, audit verify
and history, which read the audit log. They run on the worker after the ack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.store import EventStore
from bot.flows.asker import Asker
from bot.flows.request_flow import RequestFlow
from bot.listeners.context import CommandContext, CommandHandler
from bot.listeners.read_only import allowed_targets
from bot.views.audit import audit_verified_blocks
from bot.views.backups import backups_blocks
from bot.views.history import history_blocks
from commands.backup.listing import list_backups
from commands.migration.planning import history
from commands.slash import grammar
from commands.state.audit_reading import verify
from commands.state.vocabulary import RequestKind

RECENT_REQUESTS = 10


def asker(ctx: CommandContext) -> Asker:
    """The user and channel of the command; its trigger id makes a retried ask one request."""
    invocation = ctx.invocation
    return Asker(
        invocation.user_id, invocation.channel_id or invocation.user_id, invocation.trigger_id
    )


def change_handlers(flow: RequestFlow) -> dict[type, CommandHandler]:
    """The handlers bound to ``flow``, to pass to ``build_app(handlers=...)``."""
    store: EventStore = flow.context.store

    def ask(kind: RequestKind, goal: Callable[[Any], str | None]) -> CommandHandler:
        def handler(command: Any, ctx: CommandContext) -> None:
            flow.asking.ask(asker(ctx), kind=kind, target=command.target, goal=goal(command))

        return handler

    def cancel(command: grammar.Cancel, ctx: CommandContext) -> None:
        ctx.reply.ephemeral(flow.cancel(command.request_id, user=ctx.invocation.user_id))

    def freeze(command: grammar.Freeze, ctx: CommandContext) -> None:
        user = ctx.invocation.user_id
        ctx.reply.ephemeral(flow.freeze(command.target, user=user, reason=command.reason))

    def unfreeze(command: grammar.Unfreeze, ctx: CommandContext) -> None:
        ctx.reply.ephemeral(flow.unfreeze(command.target, user=ctx.invocation.user_id))

    def backups(command: grammar.Backups, ctx: CommandContext) -> None:
        records = list_backups(store, command.target)
        ctx.reply.ephemeral(f"Backups of {command.target}", backups_blocks(command.target, records))

    def audit_verify(_command: grammar.AuditVerify, ctx: CommandContext) -> None:
        report = verify(store)
        blocks = audit_verified_blocks(events=report.events, head=report.head)
        ctx.reply.ephemeral("The audit log verifies", blocks)

    def history_command(command: grammar.History, ctx: CommandContext) -> None:
        """Revisions and recent requests of the named target, or of each one allowed here."""
        targets = [ctx.config.target(command.target)] if command.target else allowed_targets(ctx)
        for target in targets:
            entries = history(ctx.open_target(target))
            recent = flow.context.requests.requests(target=target.name, limit=RECENT_REQUESTS)
            blocks = history_blocks(target.name, entries, recent)
            ctx.reply.ephemeral(f"History of {target.name}", blocks)

    return {
        grammar.Upgrade: ask(RequestKind.UPGRADE, lambda c: c.to),
        grammar.Downgrade: ask(RequestKind.DOWNGRADE, lambda c: c.to),
        grammar.Restore: ask(RequestKind.RESTORE, lambda c: c.backup),
        grammar.Cancel: cancel,
        grammar.Freeze: freeze,
        grammar.Unfreeze: unfreeze,
        grammar.Backups: backups,
        grammar.AuditVerify: audit_verify,
        grammar.History: history_command,
    }


def acknowledgement(command: object) -> str | None:
    """What the ack itself says for a command whose answer takes seconds to come."""
    asks = grammar.Upgrade | grammar.Downgrade | grammar.Restore | grammar.Schedule
    if isinstance(command, asks):
        return (
            f"⏳ Checking `{command.render()}`: the pre-flight takes a few seconds; the request"
            " will appear in this channel."
        )
    return None
