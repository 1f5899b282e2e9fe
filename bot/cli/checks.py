"""``check``: run a target's pre-flight on its own and print the report."""

from __future__ import annotations

import click

from bot.cli.check_render import report_text
from bot.cli.forecasts import learned_for
from bot.cli.output import Output, output_option
from commands.checks import Verdict, run_preflight
from commands.config.targets_file import load_config
from commands.errors import ExitCode
from commands.schema.replay_cache import replay_cache
from commands.targets import open_target


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Check the move to this revision, not head.")
@output_option
def check(target: str, to: str | None, out: Output) -> int:
    """Run the pre-flight checks of an upgrade of TARGET and print the report.

    Exits 1 when a check fails (the bot would refuse to ask for approval).
    """
    config = load_config()
    handle = open_target(config.target(target))
    report = run_preflight(
        handle,
        to=to,
        open_other=lambda name: open_target(config.target(name)),
        learned=learned_for(config, target),
        schema_cache=replay_cache(config),
    )
    out.emit(report, render_json=lambda r: r.to_json(), render_text=report_text)
    return int(ExitCode.FAILED if report.verdict is Verdict.FAIL else ExitCode.OK)
