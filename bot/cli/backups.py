"""CLI commands for backups: take one, list them, restore one."""

from __future__ import annotations

from collections.abc import Callable

import click

from bot.cli import backup_render as render
from bot.cli.options import operator
from bot.cli.output import Output, output_option
from commands.backup.listing import list_backups
from commands.backup.records import Progress
from commands.backup.take import take_backup
from commands.config.targets_file import load_config
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from commands.targets import open_target


def _progress(out: Output) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        out.say(render.progress_text(progress), err=True)

    return show


@click.command()
@click.argument("target")
@output_option
def backup(target: str, out: Output) -> None:
    """Take a verified backup of TARGET now, recorded like the pipeline's."""
    config = load_config()
    handle = open_target(config.target(target))
    record = take_backup(
        handle,
        store=open_audit_log(config.bot.state),
        actor=operator(),
        on_progress=_progress(out),
    )
    out.emit(record, render_json=render.backup_json, render_text=render.backup_text)


@click.command()
@click.argument("target")
@output_option
def backups(target: str, out: Output) -> None:
    """List TARGET's backups, newest first: id, time, revision, size, location."""
    config = load_config()
    config.target(target)
    records = list_backups(open_audit_log(config.bot.state), target)
    out.emit(
        records,
        render_json=render.backup_list_json,
        render_text=lambda rs: render.backups_text(target, rs),
    )


@click.command()
@click.argument("target")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Restore without asking.")
@click.option("--reason", default="", help="Why, for the audit log (e.g. the incident).")
@output_option
def restore(target: str, backup_id: str, yes: bool, reason: str, out: Output) -> int:
    """Restore backup BACKUP_ID into TARGET through the pipeline, as a break-glass request.

    The current state is backed up first; then pg_restore --clean in one
    transaction, and the revision and row counts are checked against the backup's.
    """
    from bot.cli.runs import break_glass_run  # the run path: seconds of imports `backup` skips

    return break_glass_run(
        load_config(),
        kind=RequestKind.RESTORE,
        target=target,
        goal=backup_id,
        reason=reason,
        yes=yes,
        out=out,
    )
