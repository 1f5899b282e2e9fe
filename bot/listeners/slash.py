"""The ``/migrate`` listener: parse, check the channel, ``ack()``, hand to the worker.

Parsing and the channel check are pure and take microseconds, so a mistake is
answered in the acknowledgement itself (through the error handler); the work
runs after the ack, on the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Ack, App

from bot.invocation import Invocation
from bot.listeners.channels import check_channel
from bot.listeners.context import CommandHandler
from bot.listeners.handoff import Handoff
from commands.config.targets_file import Config
from commands.errors import ExitCode, MigrateBotError
from commands.slash.grammar import parse

SLASH_COMMAND = "/migrate"


class NotAvailableError(MigrateBotError):
    """The command is valid but this bot does not do it (yet)."""

    exit_code = ExitCode.REFUSED


def register_slash_command(
    app: App,
    *,
    config: Config,
    handlers: Mapping[type, CommandHandler],
    handoff: Handoff,
    acknowledgement: Callable[[Any], str | None] = lambda _command: None,
) -> None:
    """``acknowledgement(command)`` is what the ack says (``None``: nothing, the answer follows)."""

    @app.command(SLASH_COMMAND)
    def migrate(ack: Ack, body: dict[str, Any]) -> None:
        invocation = Invocation.from_body(body)
        command = parse(str(body.get("text") or ""))
        target = getattr(command, "target", None)
        if target is not None:
            check_channel(config, target, invocation.channel_id)
        handler = handlers.get(type(command))
        if handler is None:
            raise NotAvailableError(f"`/migrate {command.verb}` is not available yet")
        said = acknowledgement(command)
        if said is None:
            ack()
        else:
            ack(text=said, response_type="ephemeral")
        handoff.submit(
            invocation,
            lambda ctx: handler(command, ctx),
            doing=f"running `/migrate {command.verb}`",
            body=body,
        )
