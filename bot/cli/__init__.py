"""``migrate-bot``: the terminal door into the same commands the Slack front uses.

It is also the break-glass path when Slack is down. Errors are rendered here,
once: a ``MigrateBotError`` is a one-line message and its exit code; anything
else is a bug, reported with a redacted traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from audit.redact import redact
from bot.cli.audit import audit
from bot.cli.backups import backup, backups, restore
from bot.cli.checks import check
from bot.cli.demo import demo_data
from bot.cli.forecasts import forecast_report
from bot.cli.migrations import downgrade, history, plan, status, targets, upgrade
from bot.cli.requests import freeze, requests, unfreeze
from bot.cli.serve import serve
from bot.cli.state import state
from bot.cli.watch import watch
from bot.cli.worker import worker
from bot.logs.setup import LOG_FORMATS, configure_logging
from commands.errors import ExitCode, MigrateBotError

INTERNAL_ERROR = 70  # EX_SOFTWARE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="migrate-bot", prog_name="migrate-bot")
@click.option("-v", "--verbose", is_flag=True, help="Log what is being done to stderr.")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    envvar="MIGRATE_BOT_LOG_FORMAT",
    help="text for a person; json: one object per line (time, level, request id, target,"
    " event) for a log pipeline. Also $MIGRATE_BOT_LOG_FORMAT.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, log_format: str) -> None:
    """Apply Alembic migrations to PostgreSQL the way a careful release engineer would.

    Targets come from $MIGRATE_BOT_CONFIG (default ./migrate-bot.toml); with no
    such file there is one target, `demo`: the bundled example migrations on an
    embedded PostgreSQL.
    """
    ctx.obj = {"log_format": log_format}
    configure_logging(logging.INFO if verbose else logging.WARNING, log_format)


for command in (
    targets,
    status,
    plan,
    check,
    forecast_report,
    upgrade,
    downgrade,
    history,
    requests,
    freeze,
    unfreeze,
    backup,
    backups,
    restore,
    audit,
    demo_data,
    serve,
    watch,
    worker,
    state,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    try:
        result = cli.main(args=argv, prog_name="migrate-bot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return int(ExitCode.FAILED)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except MigrateBotError as exc:
        click.echo(f"error: {redact(str(exc))}", err=True)
        return int(exc.exit_code)
    except Exception:
        click.echo("internal error (a bug in migrate-bot, please report it):", err=True)
        click.echo(redact(traceback.format_exc()), err=True)
        return INTERNAL_ERROR
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
