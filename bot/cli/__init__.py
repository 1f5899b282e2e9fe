"""``migrate-bot``: the terminal door into the same commands the Slack front uses.

It is also the break-glass path when Slack is down. Errors are rendered here,
once: a ``MigrateBotError`` is a one-line message and its exit code; anything
else is a bug, reported with a redacted traceback.

It answers at once: a command's module (and what it needs: SQLAlchemy,
Alembic, psycopg, the pipeline) is imported only when that command runs
(``lazy_group.py``); ``--version`` and ``--help`` import none of them
(``tests/test_cli_imports.py`` keeps it so). The console script (``run``)
also leaves without the interpreter's teardown (``quick_exit.py``).
"""

from __future__ import annotations

import logging
import traceback

import click

from audit.redact import redact
from bot.cli.lazy_group import LazyGroup
from bot.cli.quick_exit import exit_quickly
from bot.logs.setup import LOG_FORMATS, configure_logging
from commands.errors import ExitCode, MigrateBotError

INTERNAL_ERROR = 70  # EX_SOFTWARE

# name → (where the command is, the first paragraph of its help, for --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "targets": ("bot.cli.targets:targets", "List the configured targets."),
    "status": (
        "bot.cli.status:status",
        "Show a target's current and head revisions and what is pending; for a fleet, how"
        " many members are at each revision, which are behind and which unreachable.",
    ),
    "plan": (
        "bot.cli.migrations:plan",
        "Show the pending revisions of an upgrade, each with its SQL, and what the lint"
        " finds in it (sized against the live tables, as the request in Slack shows it).",
    ),
    "check": (
        "bot.cli.checks:check",
        "Run the pre-flight checks of an upgrade of TARGET and print the report.",
    ),
    "forecast-report": (
        "bot.cli.forecasts:forecast_report",
        "Show how right the forecasts on TARGET were: each scored run and rehearsal (forecast,"
        " actual, ratio), the share within 2x, and the rates its runs taught.",
    ),
    "drift": (
        "bot.cli.drift:drift",
        "Compare TARGET's live schema with what its migration history says it should be.",
    ),
    "upgrade": (
        "bot.cli.break_glass:upgrade",
        "Apply pending revisions through the full pipeline, as a break-glass request.",
    ),
    "downgrade": (
        "bot.cli.break_glass:downgrade",
        "Undo revisions down to REVISION (an id, `base`, or -N), through the full pipeline.",
    ),
    "history": (
        "bot.cli.migrations:history",
        "List every revision of the target's project, newest first, marked applied or pending.",
    ),
    "requests": ("bot.cli.requests:requests", "List recent migration requests, or show one"),
    "freeze": (
        "bot.cli.requests:freeze",
        "Stop new runs on TARGET until it is unfrozen (break-glass, as your OS user).",
    ),
    "unfreeze": (
        "bot.cli.requests:unfreeze",
        "Let runs start on TARGET again (break-glass, as your OS user).",
    ),
    "backup": (
        "bot.cli.backups:backup",
        "Take a verified backup of TARGET now, recorded like the pipeline's.",
    ),
    "backups": (
        "bot.cli.backups:backups",
        "List TARGET's backups, newest first: id, time, revision, size, location.",
    ),
    "restore": (
        "bot.cli.backups:restore",
        "Restore backup BACKUP_ID into TARGET through the pipeline, as a break-glass request.",
    ),
    "change": (
        "bot.cli.changes:change",
        "Changes across deploys: start one from its file, show, confirm a deploy, check, abandon.",
    ),
    "changes": (
        "bot.cli.changes:changes",
        "Changes in flight (with --all, every change), newest first.",
    ),
    "backfill": (
        "bot.cli.backfills:backfill",
        "Backfills: ask for one, run one (break-glass), pause or stop one.",
    ),
    "backfills": ("bot.cli.backfills:backfills", "Backfill runs, newest first."),
    "audit": ("bot.cli.audit:audit", "Show the newest events of the audit log"),
    "demo-data": (
        "bot.cli.demo:demo_data",
        "Add realistic rows to the transcripts tables of TARGET (default: demo).",
    ),
    "serve": (
        "bot.cli.serve:serve",
        "Run the Slack bot: /migrate, its buttons and, in HTTP mode, GET /health.",
    ),
    "doctor": (
        "bot.cli.doctor:doctor",
        "Check the Slack app, the targets' databases, pg_dump, backups and the state.",
    ),
    "watch": (
        "bot.cli.watch:watch",
        "Keep the open watches (or ID's) until they end, printing each summary.",
    ),
    "worker": (
        "bot.cli.worker:worker",
        "Run the jobs the `serve` fronts enqueue: pre-flights, runs, backups, restores,"
        " and the Slack messages",
    ),
    "state": (
        "bot.cli.state:state",
        "The bot's state: the audit log, the outbox, the scheduler's jobs.",
    ),
}


@click.group(
    cls=LazyGroup,
    commands_at=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def run() -> None:
    """The console script: ``main``, then an exit that skips the interpreter's teardown."""
    exit_quickly(main())


if __name__ == "__main__":
    run()
