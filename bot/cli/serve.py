"""``migrate-bot serve``: run the Slack bot (HTTP mode or Socket Mode)."""

from __future__ import annotations

import logging

import click

from bot.logs import configure_logging
from bot.serve import serve as run_bot
from bot.slack_settings import Mode

MODES = {"auto": None, "http": Mode.HTTP, "socket": Mode.SOCKET}


@click.command()
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    default="auto",
    show_default=True,
    help="auto: Socket Mode when $SLACK_APP_TOKEN is set, else HTTP mode.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: address to bind.")
@click.option("--port", type=int, help="HTTP mode: port (default $PORT, else 3000).")
def serve(mode: str, host: str, port: int | None) -> None:
    """Run the Slack bot: /migrate, its buttons and, in HTTP mode, GET /health."""
    configure_logging(logging.INFO)
    run_bot(mode=MODES[mode], host=host, port=port)
