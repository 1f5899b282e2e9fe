"""CLI commands for backups: take one, list them, restore one."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

import click

from bot.cli import backup_render as render
from bot.cli.options import echo_json, json_option
from commands.audit_log import open_audit_log
from commands.backup_records import Progress, find_backup, list_backups
from commands.backups import take_backup
from commands.config import load_config
from commands.restore import restore_backup
from commands.targets import open_target


def cli_actor() -> str:
    """Who the audit log says acted, for a command typed at a terminal."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


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
        handle, store=open_audit_log(config), actor=cli_actor(), on_progress=_progress(as_json)
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
    records = list_backups(open_audit_log(config), target)
    if as_json:
        echo_json(render.backup_list_json(records))
    else:
        click.echo(render.backups_text(target, records))


@click.command()
@click.argument("target")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Restore without asking.")
@json_option
def restore(target: str, backup_id: str, yes: bool, as_json: bool) -> None:
    """Restore backup BACKUP_ID into TARGET (pg_restore --clean, in one transaction),
    then check its revision and row counts against the backup's."""
    config = load_config()
    handle = open_target(config.target(target))
    store = open_audit_log(config)
    record = find_backup(store, target, backup_id)
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise click.UsageError("add --yes to restore without a prompt")
        click.echo(render.backup_text(record))
        click.confirm(f"Replace the contents of {target} with backup {record.id}?", abort=True)
    result = restore_backup(
        handle, record.id, store=store, actor=cli_actor(), on_progress=_progress(as_json)
    )
    if as_json:
        echo_json(render.restore_json(result))
    else:
        click.echo(render.restore_text(result))
