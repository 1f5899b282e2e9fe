"""``migrate-bot backfill …`` and ``migrate-bot backfills``: backfills from a terminal.

``backfill ask`` records a run for an approver to approve in Slack. ``backfill run``
is the break-glass door: it approves the run as the operator (said so in the
log), or resumes it if it was paused, interrupted or failed, and walks it in the
foreground; Ctrl-C pauses it at its checkpoint.
"""

from __future__ import annotations

import click

from bot.cli.change_render import backfill_json, backfill_text, progress_line
from bot.cli.options import operator
from bot.cli.output import Output, output_option
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.service import Backfills
from commands.config.targets_file import load_config
from commands.errors import ExitCode, MigrateBotError
from commands.state.audit_log import open_audit_log


class ConfirmationNeededError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT


def _backfills() -> Backfills:
    config = load_config()
    return Backfills(config, open_audit_log(config.bot.state))


@click.group()
def backfill() -> None:
    """Backfills: ask for one, run one (break-glass), pause or stop one."""


@backfill.command("ask")
@click.argument("target")
@click.argument("name")
@output_option
def ask(target: str, name: str, out: Output) -> None:
    """Pre-flight [targets.TARGET.backfills.NAME] and record it, awaiting an approval."""
    backfills = _backfills()
    run = backfills.ask(target, backfills.spec(target, name), requester=operator())
    out.emit(run, render_json=backfill_json, render_text=backfill_text)


@backfill.command("run")
@click.argument("run_id", metavar="B-N")
@click.option("--yes", is_flag=True, help="Run it without asking (break-glass: recorded so).")
@output_option
def run(run_id: str, yes: bool, out: Output) -> None:
    """Approve (as break-glass) or resume run B-N, and walk it here until it ends.

    Ctrl-C pauses it: the batch in flight is rolled back, the checkpoint stays.
    """
    if not yes:
        raise ConfirmationNeededError(f"say --yes to run {run_id} from this terminal")
    backfills = _backfills()
    ledger = backfills.ledger
    found = ledger.load(run_id)
    if found.state is BackfillState.AWAITING_APPROVAL:
        ledger.approve(run_id, approver=operator(), break_glass=True)
    elif found.state.resumable:
        ledger.resume(run_id, by=operator())
    engine = backfills.engine(run_id, notify=lambda r: out.say(progress_line(r)))
    try:
        ended = engine.run(run_id)
    except KeyboardInterrupt:
        ended = ledger.pause(run_id, by=operator())
        out.say(f"{run_id} paused at {ended.progress.checkpoint}: `backfill run {run_id} --yes`")
    out.emit(ended, render_json=backfill_json, render_text=backfill_text)
    if ended.state is BackfillState.FAILED:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


@backfill.command("pause")
@click.argument("run_id", metavar="B-N")
def pause(run_id: str) -> None:
    """Pause a running backfill after the batch in flight (wherever it runs)."""
    click.echo(_said(_backfills().ledger.pause(run_id, by=operator())))


@backfill.command("stop")
@click.argument("run_id", metavar="B-N")
def stop(run_id: str) -> None:
    """End a backfill where it is (the rows done stay done)."""
    click.echo(_said(_backfills().ledger.stop(run_id, by=operator())))


def _said(run: BackfillRun) -> str:
    return f"{run.id} is {run.state.value} (checkpoint {run.progress.checkpoint or '-'})."


@click.command()
@click.option("--target", metavar="T", help="Only this target's backfills.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@output_option
def backfills(target: str | None, limit: int, out: Output) -> None:
    """Backfill runs, newest first."""
    found = _backfills().ledger.runs(target=target)[:limit]
    out.emit(
        found,
        render_json=lambda rs: [backfill_json(r) for r in rs],
        render_text=lambda rs: "\n\n".join(backfill_text(r) for r in rs) or "no backfill yet",
    )
