"""``forecast-report``: how right the forecasts on a target have been, run after run; and the
learned rates the terminal's pre-flights use, read from the same audit log as the bot's."""

from __future__ import annotations

import click

from bot.cli.forecast_render import report_json, report_text
from bot.cli.output import Output, output_option
from commands.checks.forecast.accuracy import accuracy, scored_runs
from commands.checks.forecast.learned import Learned, learned_from, learned_rates
from commands.config.targets_file import Config, load_config
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind


def learned_for(config: Config, target: str) -> Learned | None:
    """What the target's scored runs taught, or None before the state exists (a read-only
    command does not create it)."""
    location = config.bot.state
    if not location.shared and not location.path.exists():
        return None
    return learned_rates(open_audit_log(location), target)


@click.command("forecast-report")
@click.argument("target")
@output_option
def forecast_report(target: str, out: Output) -> None:
    """Show how right the forecasts on TARGET were: each scored run and rehearsal (forecast,
    actual, ratio), the share within 2x, and the rates its runs taught."""
    config = load_config()
    config.target(target)  # an unknown target is an error, not an empty report
    location = config.bot.state
    events = []
    if location.shared or location.path.exists():
        store = open_audit_log(location)
        events = store.events(target=target, kinds=[EventKind.FORECAST_SCORED])
    runs = scored_runs(events)
    score = accuracy(runs)
    learned = learned_from(target, reversed(events))
    out.emit(
        (runs, score, learned),
        render_json=lambda r: report_json(target, *r),
        render_text=lambda r: report_text(target, *r),
    )
