"""CLI commands that read a target and move it between revisions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from bot.cli import render
from bot.cli.check_render import findings_text, report_text
from bot.cli.forecast_render import forecast_text
from bot.cli.forecasts import learned_for
from bot.cli.options import open_named_target
from bot.cli.output import Output, output_option
from commands.checks import run_preflight
from commands.checks.forecast.learned import Learned
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
@click.option(
    "--forecast",
    "with_forecast",
    is_flag=True,
    help="Also forecast each revision's time and locks, as the request in Slack shows it.",
)
@output_option
def plan(target: str, to: str | None, no_sql: bool, with_forecast: bool, out: Output) -> None:
    """Show the pending revisions of an upgrade, each with its SQL, and what the lint
    finds in it (sized against the live tables, as the request in Slack shows it);
    with --forecast, how long each will take and which locks it holds, statement by
    statement. For a fleet: its members grouped by revision, each group's revisions,
    the SQL of each distinct revision once and the set's pre-flight."""
    config = load_config()
    if config.target(target).is_fleet:
        _fleet_plan(config, target, to, show_sql=not no_sql, out=out)
        return
    handle = open_named_target(target)
    wanted = ({"lint"} if not no_sql else set()) | ({"forecast"} if with_forecast else set())
    result, checked = _checked_plan(handle, to, wanted, learned_for(config, target))
    out.emit(
        (result, checked),
        render_json=lambda pl: {
            **render.plan_json(pl[0]),
            "lint": _result_json(pl[1].get("lint")),
            **({"forecast": _result_json(pl[1].get("forecast"))} if with_forecast else {}),
        },
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


def _checked_plan(
    handle: TargetHandle, to: str | None, wanted: set[str], learned: Learned | None
) -> tuple[Plan, dict[str, CheckResult]]:
    """The plan and the ``wanted`` checks (lint, forecast) the target does not skip, from one
    pre-flight that runs those alone. Where that pre-flight cannot plan, planning again
    raises the error that says why."""
    checks = handle.config.checks
    names = {name for name in wanted if checks.enabled(name)}
    if not names:
        return make_plan(handle, to=to, with_sql=bool(wanted)), {}
    only = replace(checks, skip=frozenset(OPTIONAL_CHECKS) - names)
    report = run_preflight(
        replace(handle, config=replace(handle.config, checks=only)), to=to, learned=learned
    )
    if report.plan is None:
        return make_plan(handle, to=to), {}
    return report.plan, {name: report.result(name) for name in names}


def _plan_text(plan: Plan, checked: dict[str, CheckResult], *, show_sql: bool) -> str:
    text = render.plan_text(plan, show_sql=show_sql)
    lint = checked.get("lint")
    findings = findings_text([lint.to_json()]) if lint is not None else ""
    if findings:
        text += f"\n\nLint:\n{findings}"
    forecast = checked.get("forecast")
    if forecast is not None:
        text += f"\n\n{forecast_text(forecast.to_json())}"
    return text


def _result_json(result: CheckResult | None) -> dict[str, Any] | None:
    return result.to_json() if result is not None else None


@click.command()
@click.argument("target")
@output_option
def history(target: str, out: Output) -> None:
    """List every revision of the target's project, newest first, marked applied or pending."""
    entries = load_history(open_named_target(target))
    out.emit(entries, render_json=render.history_json, render_text=render.history_text)
