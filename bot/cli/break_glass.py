"""``migrate-bot upgrade`` and ``downgrade``: a break-glass run of one target, started at once.

Before the run's own modules load (the pipeline, the checks, the requests:
most of the command's 0.9 s of imports), the target's Alembic child is
started, and beside it the drift check's replay child (``replay_ahead.py``):
their interpreters and the project's imports start while this process is
still loading, instead of one after the other. The run itself is
``runs.database_run``, as for any break-glass request; a fleet goes through
``runs.break_glass_run``.
"""

from __future__ import annotations

import click

from bot.cli.lazy_group import collection_paused
from bot.cli.output import Output, output_option
from commands.config.targets_file import load_config
from commands.migration.runtime.runner import AlembicRunner
from commands.schema.replay_cache import replay_cache
from commands.state.vocabulary import RequestKind
from commands.targets import open_target

reason_option = click.option(
    "--reason", default="", help="Why, for the audit log (e.g. the incident or ticket)."
)


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--yes", is_flag=True, help="Run without asking.")
@reason_option
@output_option
def upgrade(target: str, to: str | None, yes: bool, reason: str, out: Output) -> int:
    """Apply pending revisions through the full pipeline, as a break-glass request.

    Pre-flight, a verified backup, each revision under lock and statement
    timeouts with lock retries, verification; recorded under your OS user.
    """
    return _run(RequestKind.UPGRADE, target, to, reason=reason, yes=yes, out=out)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Run without asking.")
@reason_option
@output_option
def downgrade(target: str, revision: str, yes: bool, reason: str, out: Output) -> int:
    """Undo revisions down to REVISION (an id, `base`, or -N), through the full pipeline."""
    return _run(RequestKind.DOWNGRADE, target, revision, reason=reason, yes=yes, out=out)


def _run(
    kind: RequestKind, target: str, goal: str | None, *, reason: str, yes: bool, out: Output
) -> int:
    config = load_config()
    if config.target(target).is_fleet:
        from bot.cli.runs import break_glass_run

        return break_glass_run(
            config, kind=kind, target=target, goal=goal, reason=reason, yes=yes, out=out
        )
    handle = open_target(config.target(target))
    with AlembicRunner.for_target(handle).session() as session:  # the run goes on in it
        from commands.schema.replay_ahead import replay_ahead  # psycopg: after the child starts

        with replay_ahead(handle, replay_cache(config), early=True) as ahead:
            with collection_paused():  # loaded while both children start
                from bot.cli.runs import Ask, database_run

            ask = Ask(kind, goal, reason, yes, out)
            return database_run(config, handle, session, ask, ahead=ahead)
