"""``state copy``: move the SQLite state into a shared PostgreSQL (docs/deployment.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.cli.output import Output, output_option
from commands.config.alembic_project import ENV_NAME
from commands.config.targets_file import load_config
from commands.errors import ConfigError
from commands.state.copy import CopyReport, copy_state
from commands.state.location import StateLocation
from commands.state.shared import shared_state


@click.group()
def state() -> None:
    """The bot's state: the audit log, the outbox, the scheduler's jobs."""


@state.command("copy")
@click.option(
    "--to-url-env",
    "url_env",
    required=True,
    metavar="VAR",
    help="Environment variable holding the PostgreSQL URL to copy into (the URL is never an"
    " argument: it would show in the process list).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite state file to copy (default: the configured state_path).",
)
@output_option
def copy(*, url_env: str, source: Path | None, out: Output) -> None:
    """Copy the SQLite state into PostgreSQL, chain intact, and verify it there.

    Then set `[bot] state_url_env = "VAR"` and start `migrate-bot serve` and
    `migrate-bot worker` on it. The destination must hold no state yet.
    """
    if not ENV_NAME.match(url_env):
        raise ConfigError("--to-url-env", None, f"{url_env!r} is not an environment variable name")
    path = source or load_config().bot.state_path
    destination = shared_state(StateLocation(path, url_env), os.environ)
    assert destination is not None
    report = copy_state(path, destination)
    out.emit(report, render_json=_json, render_text=lambda r: _text(r, path))


def _json(report: CopyReport) -> dict[str, object]:
    return {
        "events": report.events,
        "head": str(report.head) if report.head else None,
        "notifications": report.notifications,
        "verified": True,
    }


def _text(report: CopyReport, path: Path) -> str:
    head = f", head {report.head}" if report.head else ""
    return (
        f"copied {path}: {report.events} events{head} and {report.notifications} notifications;"
        " the copy verifies against the file's head"
    )
