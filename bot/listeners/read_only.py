"""Handlers of the commands that only read the databases: help, targets, status, plan,
history.

Each runs on the worker (they start Alembic's child process and query the
database, which can take seconds) and answers the asker only. Identical plans
and statuses asked for at the same time share one computation (``SharedWork``).
"""

from __future__ import annotations

from bot.listeners.channels import ChannelNotAllowedError, targets_allowed_here
from bot.listeners.context import CommandContext, CommandHandler
from bot.views.blocks import Block
from bot.views.help import help_blocks
from bot.views.history import history_blocks
from bot.views.plan import plan_blocks, set_plan_blocks
from bot.views.status import status_blocks
from bot.views.targets import targets_blocks
from commands.config.targets_file import TargetConfig
from commands.fleet.planning import FleetAsk, plan_fleet
from commands.fleet.status import target_status
from commands.migration.planning import history, plan
from commands.slash import grammar
from commands.state.vocabulary import RequestKind


def help_command(_command: grammar.Help, ctx: CommandContext) -> None:
    ctx.reply.ephemeral("What /migrate can do", help_blocks())


def targets_command(_command: grammar.Targets, ctx: CommandContext) -> None:
    ctx.reply.ephemeral(f"{len(ctx.config.targets)} target(s)", targets_blocks(ctx.config))


def status_command(command: grammar.Status, ctx: CommandContext) -> None:
    """One answer per target: the named one, or every target allowed in this channel."""
    targets = [ctx.config.target(command.target)] if command.target else allowed_targets(ctx)
    for target in targets:
        ctx.reply.ephemeral(f"Status of {target.name}", target_status_blocks(target, ctx))


def target_status_blocks(target: TargetConfig, ctx: CommandContext) -> list[Block]:
    """Where a target stands; for a fleet, how many members at each revision, who is
    behind, who unreachable. Asked at the same time, one computation serves all."""
    result = ctx.shared.run(
        ("status", target.name), lambda: target_status(ctx.config, target, ctx.open_target)
    )
    return status_blocks(result)


def plan_command(command: grammar.Plan, ctx: CommandContext) -> None:
    target = ctx.config.target(command.target)
    if target.is_fleet:
        _fleet_plan(target, command, ctx)
        return
    result = ctx.shared.run(
        ("plan", target.name, command.to), lambda: plan(ctx.open_target(target), to=command.to)
    )
    sql_ref = ctx.plans.put(result) if result.sql else None
    ctx.reply.ephemeral(f"Plan for {result.target}", plan_blocks(result, sql_ref=sql_ref))


def _fleet_plan(target: TargetConfig, command: grammar.Plan, ctx: CommandContext) -> None:
    """A fleet's plan: its members grouped by revision, the SQL of each distinct revision."""
    ask = FleetAsk(RequestKind.UPGRADE, command.to)
    planned = ctx.shared.run(
        ("plan", target.name, command.to),
        lambda: plan_fleet(
            ctx.config,
            target=target.name,
            ask=ask,
            open_target=ctx.open_target,
            checks=False,
            sql=True,
        ),
    )
    sql_ref = ctx.plans.put(planned.plan) if planned.plan.sql else None
    blocks = set_plan_blocks(planned.plan, planned.fingerprint, sql_ref=sql_ref)
    ctx.reply.ephemeral(f"Plan for {target.name}", blocks)


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
