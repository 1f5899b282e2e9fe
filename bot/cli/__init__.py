"""``migrate-bot``: the terminal door into the same commands the Slack front uses.

It is also the break-glass path when Slack is down. Errors are rendered here,
once: a ``MigrateBotError`` is a one-line message and its exit code; anything
else is a bug, reported with a redacted traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

import click

from audit.redact import redact
from bot.logs.setup import LOG_FORMATS, configure_logging
from commands.errors import ExitCode, MigrateBotError

# Each command's module, imported when the command runs (or --help lists it): `migrate-bot
# serve` prints its first line before the rest of the bot is loaded, and `--version` and a
# typo answer at once.
COMMANDS = {
    "targets": "bot.cli.migrations:targets",
    "status": "bot.cli.migrations:status",
    "plan": "bot.cli.migrations:plan",
    "check": "bot.cli.checks:check",
    "drift": "bot.cli.drift:drift",
    "upgrade": "bot.cli.migrations:upgrade",
    "downgrade": "bot.cli.migrations:downgrade",
    "history": "bot.cli.migrations:history",
    "requests": "bot.cli.requests:requests",
    "freeze": "bot.cli.requests:freeze",
    "unfreeze": "bot.cli.requests:unfreeze",
    "backup": "bot.cli.backups:backup",
    "backups": "bot.cli.backups:backups",
    "restore": "bot.cli.backups:restore",
    "audit": "bot.cli.audit:audit",
    "demo-data": "bot.cli.demo:demo_data",
    "serve": "bot.cli.serve:serve",
    "doctor": "bot.cli.doctor:doctor",
    "watch": "bot.cli.watch:watch",
    "worker": "bot.cli.worker:worker",
    "state": "bot.cli.state:state",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command

    def every_command(self) -> dict[str, click.Command]:
        """Every command, imported (for the docs-as-tests and help)."""
        with click.Context(self) as ctx:
            return {name: found for name in COMMANDS if (found := self.get_command(ctx, name))}


INTERNAL_ERROR = 70  # EX_SOFTWARE


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


if __name__ == "__main__":
    sys.exit(main())
