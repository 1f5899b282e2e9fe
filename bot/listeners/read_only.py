"""Handlers of the commands that only read the databases: help, targets, status, plan,
history.

Each runs on the worker (they start Alembic's child process and query the
database, which can take seconds) and answers the asker only. Identical plans
and statuses asked for at the same time share one computation (``SharedWork``).
"""

from __future__ import annotations

from bot.listeners.channels import ChannelNotAllowedError, targets_allowed_here
from bot.listeners.context import CommandContext, CommandHandler
from bot.views.help import help_blocks
from bot.views.history import history_blocks
from bot.views.plan import plan_blocks
from bot.views.status import status_blocks
from bot.views.targets import targets_blocks
from commands.config.targets_file import TargetConfig
from commands.migration.planning import history, plan, status
from commands.slash import grammar


def help_command(_command: grammar.Help, ctx: CommandContext) -> None:
    ctx.reply.ephemeral("What /migrate can do", help_blocks())


def targets_command(_command: grammar.Targets, ctx: CommandContext) -> None:
    ctx.reply.ephemeral(f"{len(ctx.config.targets)} target(s)", targets_blocks(ctx.config))


def status_command(command: grammar.Status, ctx: CommandContext) -> None:
    """One answer per target: the named one, or every target allowed in this channel."""
    targets = [ctx.config.target(command.target)] if command.target else allowed_targets(ctx)
    for target in targets:
        result = ctx.shared.run(
            ("status", target.name), lambda t=target: status(ctx.open_target(t))
        )
        ctx.reply.ephemeral(f"Status of {target.name}", status_blocks(result))


def plan_command(command: grammar.Plan, ctx: CommandContext) -> None:
    target = ctx.config.target(command.target)
    result = ctx.shared.run(
        ("plan", target.name, command.to), lambda: plan(ctx.open_target(target), to=command.to)
    )
    sql_ref = ctx.plans.put(result) if result.sql else None
    ctx.reply.ephemeral(f"Plan for {result.target}", plan_blocks(result, sql_ref=sql_ref))


def history_command(command: grammar.History, ctx: CommandContext) -> None:
    """The named target's revisions, or those of each target allowed in this channel."""
    targets = [ctx.config.target(command.target)] if command.target else allowed_targets(ctx)
    for target in targets:
        entries = history(ctx.open_target(target))
        ctx.reply.ephemeral(f"History of {target.name}", history_blocks(target.name, entries))


def allowed_targets(ctx: CommandContext) -> list[TargetConfig]:
    """Every target that may be asked for from the command's channel; raises
    ``ChannelNotAllowedError`` when there is none."""
    targets = targets_allowed_here(ctx.config, ctx.invocation.channel_id)
    if not targets:
        raise ChannelNotAllowedError("no target may be asked for from this channel")
    return targets


READ_ONLY_HANDLERS: dict[type, CommandHandler] = {
    grammar.Help: help_command,
    grammar.Targets: targets_command,
    grammar.Status: status_command,
    grammar.Plan: plan_command,
    grammar.History: history_command,
}
