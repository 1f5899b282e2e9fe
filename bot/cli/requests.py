"""``requests``, ``freeze``, ``unfreeze``: requests and emergency stops from a terminal.

The terminal is the break-glass door: a freeze or unfreeze made here is
recorded under the operator's OS user and marked break-glass.
"""

from __future__ import annotations

import click

from bot.cli import audit_render
from bot.cli.options import operator
from bot.cli.output import Output, output_option
from bot.cli.schema_diff import show_schema_diffs
from commands.config.targets_file import load_config
from commands.errors import ExitCode
from commands.requests import RequestService, open_requests
from commands.state.people import known_names
from commands.state.vocabulary import RequestState


def _service() -> RequestService:
    return open_requests(load_config())


@click.command()
@click.argument("request_id", required=False, metavar="[ID]")
@click.option("--target", metavar="T", help="Only requests for this target.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in RequestState]),
    help="Only requests in this state (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--schema-diff",
    is_flag=True,
    help="With ID: what the run did to the schema, as a unified diff (--json: the stored diff),"
    " checked against the sha256 its audit event recorded.",
)
@output_option
def requests(
    *,
    request_id: str | None,
    target: str | None,
    states: tuple[str, ...],
    limit: int,
    schema_diff: bool,
    out: Output,
) -> int:
    """List recent migration requests, or show one (ID, e.g. M-3) in full."""
    config = load_config()
    service = open_requests(config)
    names = known_names(config.bot.state)
    if schema_diff:
        if not request_id:
            raise click.UsageError("--schema-diff shows one request's diff: give its ID")
        service.get(request_id)  # an unknown id is refused, as without the flag
        return show_schema_diffs(config, request_id, out)
    if request_id:
        out.emit(
            service.get(request_id),
            render_json=audit_render.request_json,
            render_text=lambda r: audit_render.request_text(r, names),
        )
        return int(ExitCode.OK)
    found = service.requests(
        target=target, states=[RequestState(s) for s in states] or None, limit=limit
    )
    out.emit(
        found,
        render_json=lambda rs: [audit_render.request_json(r) for r in rs],
        render_text=lambda rs: audit_render.requests_text(rs, names),
    )
    return int(ExitCode.OK)


@click.command()
@click.argument("target")
@click.option("--reason", required=True, help="Why: shown to whoever tries to run.")
def freeze(target: str, reason: str) -> None:
    """Stop new runs on TARGET until it is unfrozen (break-glass, as your OS user)."""
    done = _service().freeze(target, actor=operator(), reason=reason, break_glass=True)
    click.echo(f"{done.target} is frozen: nothing new runs on it until `migrate-bot unfreeze`.")


@click.command()
@click.argument("target")
@click.option("--reason", default="", help="Why it is safe again.")
def unfreeze(target: str, reason: str) -> None:
    """Let runs start on TARGET again (break-glass, as your OS user)."""
    lifted = _service().unfreeze(target, actor=operator(), reason=reason, break_glass=True)
    click.echo(f"{lifted.target} is unfrozen (it was frozen by {lifted.by}).")
