"""``watch``: keep the watches after successful runs from a terminal, and print them.

``migrate-bot serve`` keeps them itself; this is for a target with no bot
serving it (a break-glass run while Slack is down). It reads the same audit
log, so a bot and a terminal never record one watch twice.
"""

from __future__ import annotations

import time

import click

from bot.cli.output import Output, output_option
from commands.config.targets_file import load_config
from commands.errors import ExitCode, MigrateBotError
from commands.pipeline import RunContext
from commands.pipeline.watch_keeper import WatchKeeper
from commands.pipeline.watch_report import WatchReport, describe, verdict
from commands.requests import open_requests
from commands.requests.inputs import parse_request_id
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind

POLL_S = 1.0


class NoWatchError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT


def report_text(report: WatchReport) -> str:
    head = f"Watch of {report.request_id} on {report.target}: {verdict(report)}"
    lines = [head, *(f"  {line}" for line in describe(report))]
    return "\n".join(lines + [f"  note: {note}" for note in report.notes])


@click.command()
@click.argument("request_id", required=False, metavar="[ID]")
@output_option
def watch(request_id: str | None, out: Output) -> int:
    """Keep the open watches (or ID's) until they end, printing each summary.

    A watch follows a successful run on a target with `watch` set. Exits 1 if a
    watch found a regression.
    """
    config = load_config()
    store = open_audit_log(config.bot.state)
    context = RunContext(config=config, requests=open_requests(config), store=store)
    wanted = parse_request_id(request_id) if request_id else None
    if wanted is not None:
        done = store.events(request_id=wanted, kinds=[EventKind.WATCH_FINISHED])
        if done:
            report = WatchReport.from_json(done[-1].data)
            out.emit(report, render_json=WatchReport.to_json, render_text=report_text)
            return int(ExitCode.FAILED if report.regressed else ExitCode.OK)
    keeper = WatchKeeper(context)
    keeper.tick()
    if wanted is not None and wanted not in keeper.open_watches():
        raise NoWatchError(f"{wanted} has no watch: it did not succeed on a watched target")
    if not keeper.open_watches():
        out.say("no watch is open")
        return int(ExitCode.OK)
    regressed = False
    while keeper.open_watches() and (wanted is None or wanted in keeper.open_watches()):
        out.say(f"watching {', '.join(keeper.open_watches())}…", err=True)
        for report in _until_some_end(keeper):
            regressed |= report.regressed
            out.emit(report, render_json=WatchReport.to_json, render_text=report_text)
    return int(ExitCode.FAILED if regressed else ExitCode.OK)


def _until_some_end(keeper: WatchKeeper) -> list[WatchReport]:
    while True:
        time.sleep(POLL_S)
        finished = keeper.tick()
        if finished or not keeper.open_watches():
            return finished
