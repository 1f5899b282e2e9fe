"""CLI commands that read a target and move it between revisions."""

from __future__ import annotations

import sys
import time

import click

from bot.cli import render
from bot.cli.options import echo_json, json_option, open_named_target
from commands.alembic_runner import StepResult
from commands.applying import StepStarted, run_plan
from commands.config import load_config
from commands.durations import format_duration
from commands.errors import ExitCode
from commands.planning import Plan
from commands.planning import history as load_history
from commands.planning import plan as make_plan
from commands.planning import status as load_status
from commands.revision_graph import Direction
from commands.targets import TargetHandle


@click.command()
@json_option
def targets(as_json: bool) -> None:
    """List the configured targets."""
    config = load_config()
    if as_json:
        echo_json([render.target_json(t) for t in config.targets.values()])
    else:
        click.echo(render.targets_text(config))


@click.command()
@click.argument("target")
@json_option
def status(target: str, as_json: bool) -> None:
    """Show a target's current and head revisions and what is pending."""
    result = load_status(open_named_target(target))
    if as_json:
        echo_json(render.status_json(result))
    else:
        click.echo(render.status_text(result))


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--no-sql", is_flag=True, help="List revisions without their SQL.")
@json_option
def plan(target: str, to: str | None, no_sql: bool, as_json: bool) -> None:
    """Show the pending revisions of an upgrade, each with its SQL."""
    result = make_plan(open_named_target(target), to=to, with_sql=not no_sql)
    if as_json:
        echo_json(render.plan_json(result))
    else:
        click.echo(render.plan_text(result, show_sql=not no_sql))


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@json_option
def upgrade(target: str, to: str | None, yes: bool, as_json: bool) -> int:
    """Apply pending revisions, one at a time, reporting each one's duration."""
    handle = open_named_target(target)
    return _apply(handle, make_plan(handle, to=to, with_sql=False), yes=yes, as_json=as_json)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@json_option
def downgrade(target: str, revision: str, yes: bool, as_json: bool) -> int:
    """Undo revisions down to REVISION (an id, `base`, or -N for N steps back)."""
    handle = open_named_target(target)
    result = make_plan(handle, direction=Direction.DOWN, to=revision, with_sql=False)
    return _apply(handle, result, yes=yes, as_json=as_json)


@click.command()
@click.argument("target")
@json_option
def history(target: str, as_json: bool) -> None:
    """List every revision of the target's project, newest first, marked applied or pending."""
    entries = load_history(open_named_target(target))
    if as_json:
        echo_json(render.history_json(entries))
    else:
        click.echo(render.history_text(entries))


def _apply(handle: TargetHandle, plan: Plan, *, yes: bool, as_json: bool) -> int:
    if plan.is_empty:
        if as_json:
            echo_json({**render.plan_json(plan), "steps": [], "current": list(plan.current)})
        else:
            click.echo(render.plan_text(plan))
        return int(ExitCode.OK)
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise click.UsageError("add --yes to apply without a prompt")
        click.echo(render.plan_text(plan, show_sql=False))
        click.confirm(f"Apply {len(plan.revisions)} revision(s) to {plan.target}?", abort=True)
    started = time.monotonic()
    results: list[StepResult] = []
    if not as_json:
        verb = "Upgrading" if plan.direction is Direction.UP else "Downgrading"
        click.echo(
            f"{verb} {plan.target}: {render.revisions_text(plan.current)}"
            f" -> {render.revisions_text(plan.destination)}, {len(plan.revisions)} revision(s)"
        )
    for event in run_plan(handle, plan):
        if isinstance(event, StepStarted):
            if not as_json:
                click.echo(render.step_started_text(event), nl=False)
            continue
        results.append(event)
        if not as_json:
            click.echo(render.step_text(event))
    current = handle.runner().current()
    if as_json:
        echo_json(
            {
                **render.plan_json(plan),
                "steps": [render.step_json(r) for r in results],
                "current": list(current),
                "elapsed_s": round(time.monotonic() - started, 3),
            }
        )
    else:
        elapsed = format_duration(time.monotonic() - started)
        click.echo(f"Done: {plan.target} is at {render.revisions_text(current)} ({elapsed})")
    return int(ExitCode.OK)
