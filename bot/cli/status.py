"""``migrate-bot status``: where each target stands. It loads what reading a status
needs (the config, the target's URL, the Alembic child's runner), none of the planning
or the checks, so it costs little more than ``alembic current``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from audit.redact import redact
from bot.cli.output import Output, output_option
from bot.cli.status_render import status_json, status_text
from commands.config.targets_file import Config, load_config
from commands.errors import ExitCode, MigrateBotError
from commands.fleet.member_status import FleetStatus
from commands.fleet.status import target_status
from commands.migration.script.plan import Status
from commands.targets import open_target


@click.command()
@click.argument("target", required=False)
@output_option
def status(target: str | None, out: Output) -> int:
    """Show a target's current and head revisions and what is pending; for a fleet, how
    many members are at each revision, which are behind and which unreachable. Without
    TARGET, every target in turn (exit 4 when one cannot be read)."""
    config = load_config()
    if target is not None:
        result = target_status(config, config.target(target), open_target)
        out.emit(result, render_json=status_json, render_text=status_text)
        return int(ExitCode.OK)
    found = [_status_or_why(config, name) for name in config.targets]
    out.emit(found, render_json=lambda f: [_json(s) for s in f], render_text=_every_text)
    unread = any(isinstance(shown, _Unreadable) for shown in found)
    return int(ExitCode.UNAVAILABLE if unread else ExitCode.OK)


@dataclass(frozen=True)
class _Unreadable:
    """A target whose status could not be read, and why (the others are still shown)."""

    target: str
    error: str


def _status_or_why(config: Config, name: str) -> Status | FleetStatus | _Unreadable:
    try:
        return target_status(config, config.target(name), open_target)
    except MigrateBotError as exc:
        return _Unreadable(name, redact(str(exc)))


def _json(shown: Status | FleetStatus | _Unreadable) -> dict[str, Any]:
    if isinstance(shown, _Unreadable):
        return {"target": shown.target, "error": shown.error}
    return status_json(shown)


def _every_text(found: list[Status | FleetStatus | _Unreadable]) -> str:
    return "\n\n".join(
        f"{s.target}: cannot be read: {s.error}" if isinstance(s, _Unreadable) else status_text(s)
        for s in found
    )
