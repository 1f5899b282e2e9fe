"""CLI commands for backups: take one, list them, restore one."""

from __future__ import annotations

from collections.abc import Callable

import click

from bot.cli import backup_render as render
from bot.cli.options import echo_json, json_option, operator
from bot.cli.runs import break_glass_run
from commands.backup.records import Progress, list_backups
from commands.backup.take import take_backup
from commands.config.targets_file import load_config
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from commands.targets import open_target


def _progress(as_json: bool) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        if not as_json:
            click.echo(render.progress_text(progress), err=True)

    return show


@click.command()
@click.argument("target")
@json_option
def backup(target: str, as_json: bool) -> None:
    """Take a verified backup of TARGET now, recorded like the pipeline's."""
    config = load_config()
    handle = open_target(config.target(target))
    record = take_backup(
        handle,
        store=open_audit_log(config.bot.state_path),
        actor=operator(),
        on_progress=_progress(as_json),
    )
    if as_json:
        echo_json(render.backup_json(record))
    else:
        click.echo(render.backup_text(record))


@click.command()
@click.argument("target")
@json_option
def backups(target: str, as_json: bool) -> None:
    """List TARGET's backups, newest first: id, time, revision, size, location."""
    config = load_config()
    config.target(target)
    records = list_backups(open_audit_log(config.bot.state_path), target)
    if as_json:
        echo_json(render.backup_list_json(records))
    else:
        click.echo(render.backups_text(target, records))


@click.command()
@click.argument("target")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Restore without asking.")
@click.option("--reason", default="", help="Why, for the audit log (e.g. the incident).")
@json_option
def restore(target: str, backup_id: str, yes: bool, reason: str, as_json: bool) -> int:
    """Restore backup BACKUP_ID into TARGET through the pipeline, as a break-glass request.

    The current state is backed up first; then pg_restore --clean in one
    transaction, and the revision and row counts are checked against the backup's.
    """
    return break_glass_run(
        load_config(),
        kind=RequestKind.RESTORE,
        target=target,
        goal=backup_id,
        reason=reason,
        yes=yes,
        as_json=as_json,
    )
