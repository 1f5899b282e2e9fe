"""CLI commands that read a target and move it between revisions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from bot.cli import render
from bot.cli.check_render import findings_text, report_text
from bot.cli.options import open_named_target
from bot.cli.output import Output, output_option
from bot.cli.runs import break_glass_run
from commands.checks import run_preflight
from commands.checks.framework import CheckResult
from commands.config.checks import OPTIONAL_CHECKS
from commands.config.targets_file import Config, load_config
from commands.fleet.planning import FleetAsk, plan_fleet
from commands.migration.planning import history as load_history
from commands.migration.planning import plan as make_plan
from commands.migration.script.plan import Plan
from commands.state.vocabulary import RequestKind
from commands.targets import TargetHandle


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--no-sql", is_flag=True, help="List revisions without their SQL (and no lint).")
@output_option
def plan(target: str, to: str | None, no_sql: bool, out: Output) -> None:
    """Show the pending revisions of an upgrade, each with its SQL, and what the lint
    finds in it (sized against the live tables, as the request in Slack shows it).
    For a fleet: its members grouped by revision, each group's revisions, the SQL of
    each distinct revision once and the set's pre-flight."""
    config = load_config()
    if config.target(target).is_fleet:
        _fleet_plan(config, target, to, show_sql=not no_sql, out=out)
        return
    handle = open_named_target(target)
    if no_sql:
        result, lint = make_plan(handle, to=to, with_sql=False), None
    else:
        result, lint = _linted_plan(handle, to)
    out.emit(
        (result, lint),
        render_json=lambda pl: {**render.plan_json(pl[0]), "lint": _lint_json(pl[1])},
        render_text=lambda pl: _plan_text(pl[0], pl[1], show_sql=not no_sql),
    )


def _fleet_plan(
    config: Config, target: str, to: str | None, *, show_sql: bool, out: Output
) -> None:
    planned = plan_fleet(config, target=target, ask=FleetAsk(RequestKind.UPGRADE, to))
    out.emit(
        planned,
        render_json=lambda p: {
            **render.plan_json(p.plan),
            "fingerprint": p.fingerprint.to_json(),
            "preflight": p.report.to_json(),
        },
        render_text=lambda p: (
            f"{render.set_plan_text(p, show_sql=show_sql)}\n\n{report_text(p.report)}"
        ),
    )


def _linted_plan(handle: TargetHandle, to: str | None) -> tuple[Plan, CheckResult | None]:
    """The plan and its lint, from one pre-flight that runs the lint alone. Where that
    pre-flight cannot plan, planning again raises the error that says why."""
    checks = handle.config.checks
    if not checks.enabled("lint"):
        return make_plan(handle, to=to), None
    lint_only = replace(checks, skip=frozenset(OPTIONAL_CHECKS) - {"lint"})
    report = run_preflight(replace(handle, config=replace(handle.config, checks=lint_only)), to=to)
    if report.plan is None:
        return make_plan(handle, to=to), None
    return report.plan, report.result("lint")


def _plan_text(plan: Plan, lint: CheckResult | None, *, show_sql: bool) -> str:
    text = render.plan_text(plan, show_sql=show_sql)
    findings = findings_text([lint.to_json()]) if lint is not None else ""
    return f"{text}\n\nLint:\n{findings}" if findings else text


def _lint_json(lint: CheckResult | None) -> dict[str, Any] | None:
    return lint.to_json() if lint is not None else None


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
