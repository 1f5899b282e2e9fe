"""CLI commands that read a target and move it between revisions."""

from __future__ import annotations

import click

from bot.cli import render
from bot.cli.options import open_named_target
from bot.cli.output import Output, output_option
from bot.cli.runs import break_glass_run
from commands.config.targets_file import load_config
from commands.migration.planning import history as load_history
from commands.migration.planning import plan as make_plan
from commands.migration.planning import status as load_status
from commands.state.vocabulary import RequestKind


@click.command()
@output_option
def targets(out: Output) -> None:
    """List the configured targets."""
    config = load_config()
    out.emit(
        config,
        render_json=lambda c: [render.target_json(t) for t in c.targets.values()],
        render_text=render.targets_text,
    )


@click.command()
@click.argument("target")
@output_option
def status(target: str, out: Output) -> None:
    """Show a target's current and head revisions and what is pending."""
    result = load_status(open_named_target(target))
    out.emit(result, render_json=render.status_json, render_text=render.status_text)


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--no-sql", is_flag=True, help="List revisions without their SQL.")
@output_option
def plan(target: str, to: str | None, no_sql: bool, out: Output) -> None:
    """Show the pending revisions of an upgrade, each with its SQL."""
    result = make_plan(open_named_target(target), to=to, with_sql=not no_sql)
    out.emit(
        result,
        render_json=render.plan_json,
        render_text=lambda p: render.plan_text(p, show_sql=not no_sql),
    )


reason_option = click.option(
    "--reason", default="", help="Why, for the audit log (e.g. the incident or ticket)."
)


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--yes", is_flag=True, help="Run without asking.")
@reason_option
@output_option
def upgrade(target: str, to: str | None, yes: bool, reason: str, out: Output) -> int:
    """Apply pending revisions through the full pipeline, as a break-glass request.

    Pre-flight, a verified backup, each revision under lock and statement
    timeouts with lock retries, verification; recorded under your OS user.
    """
    return break_glass_run(
        load_config(),
        kind=RequestKind.UPGRADE,
        target=target,
        goal=to,
        reason=reason,
        yes=yes,
        out=out,
    )


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Run without asking.")
@reason_option
@output_option
def downgrade(target: str, revision: str, yes: bool, reason: str, out: Output) -> int:
    """Undo revisions down to REVISION (an id, `base`, or -N), through the full pipeline."""
    return break_glass_run(
        load_config(),
        kind=RequestKind.DOWNGRADE,
        target=target,
        goal=revision,
        reason=reason,
        yes=yes,
        out=out,
    )


@click.command()
@click.argument("target")
@output_option
def history(target: str, out: Output) -> None:
    """List every revision of the target's project, newest first, marked applied or pending."""
    entries = load_history(open_named_target(target))
    out.emit(entries, render_json=render.history_json, render_text=render.history_text)
