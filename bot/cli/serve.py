"""``migrate-bot serve``: run the Slack bot (HTTP mode or Socket Mode), or the sandbox.

The only command that reaches the Slack side: it imports ``bot.serve``
when it runs, so the other commands (the break-glass door when Slack is down)
load nothing of Slack's.
"""

from __future__ import annotations

import logging
import os

import click

from bot.adapters.slack_settings import DEFAULT_PORT, LOOPBACK, Mode, SlackSettings
from bot.logs.setup import LOG_FORMATS, configure_logging
from bot.sandbox.people import DEFAULT_APPROVER, DEFAULT_REQUESTER, People, Person
from bot.sandbox.settings import DEFAULT_ROWS, SandboxSettings, first_line, sandbox_url
from commands.config.targets_file import DEMO_SOURCE, load_config

MODES = {"auto": None, "http": Mode.HTTP, "socket": Mode.SOCKET, "sandbox": Mode.NO_SLACK}


@click.command()
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    default="auto",
    show_default=True,
    help="auto: Socket Mode when $SLACK_APP_TOKEN is set, else HTTP mode when"
    " $SLACK_SIGNING_SECRET/$SLACK_BOT_TOKEN are, else the sandbox (a local Slack in the browser).",
)
@click.option(
    "--host",
    help="Address to bind (default 0.0.0.0 in HTTP mode, 127.0.0.1 for the sandbox).",
)
@click.option("--port", type=int, help="HTTP mode and sandbox: port (default $PORT, else 3000).")
@click.option(
    "--requester",
    default=DEFAULT_REQUESTER,
    show_default=True,
    metavar="USER_ID[:NAME]",
    help="Sandbox: the person who asks for migrations.",
)
@click.option(
    "--approver",
    default=DEFAULT_APPROVER,
    show_default=True,
    metavar="USER_ID[:NAME]",
    help="Sandbox: the person who approves them (made an approver of the demo target).",
)
@click.option(
    "--demo-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_ROWS,
    show_default=True,
    help="Sandbox: segments to put in the demo database at start.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus metrics on this port too (HTTP mode has GET /metrics on --port).",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    help="text, or json: one object per line (default: migrate-bot's --log-format).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    *,
    mode: str,
    host: str | None,
    port: int | None,
    requester: str,
    approver: str,
    demo_rows: int,
    metrics_port: int | None,
    log_format: str | None,
) -> None:
    """Run the Slack bot: /migrate, its buttons and, in HTTP mode, GET /health.

    With no Slack credentials (and no targets file), or with --mode sandbox,
    it runs the sandbox instead: the real bot on the demo target, with a page
    at http://127.0.0.1:3000 that plays Slack. The demo database is reset at
    each start of the sandbox.
    """
    configure_logging(logging.INFO, log_format or (ctx.obj or {}).get("log_format", "text"))
    people = People(
        requester=Person.parse(requester, role="requester"),
        approver=Person.parse(approver, role="approver"),
    )
    announced = announce_sandbox(MODES[mode], host, port)
    sandbox = SandboxSettings(people=people, rows=demo_rows, announced=announced)
    from bot.serve import serve as run_bot  # the bot itself: seconds to load

    run_bot(mode=MODES[mode], host=host, port=port, sandbox=sandbox, metrics_port=metrics_port)


def announce_sandbox(mode: Mode | None, host: str | None, port: int | None) -> bool:
    """Print the sandbox's address at once, before the bot is loaded, when this start will
    be the sandbox (``serve``'s own rules, read early) and its port is known; whether it
    was printed."""
    if SlackSettings.from_env(os.environ).mode is not Mode.NO_SLACK and mode is None:
        return False
    if mode not in (None, Mode.NO_SLACK):
        return False
    config = load_config()
    if mode is None and config.path != DEMO_SOURCE:
        return False  # serve refuses this one, saying why
    chosen = port if port is not None else int(os.environ.get("PORT") or DEFAULT_PORT)
    if chosen == 0:
        return False  # a free port: known once bound, printed then
    url = sandbox_url(host or LOOPBACK, chosen)
    click.echo(first_line(url, on_demo=config.path == DEMO_SOURCE, source=config.path))
    return True
