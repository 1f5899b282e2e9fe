"""``audit``: read, verify and export the audit log (the bot's state and its record)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from audit.store import EventStore
from bot.cli import audit_render
from bot.cli.audit_summary import summary_text
from bot.cli.output import Output, output_option
from commands.config.targets_file import load_config
from commands.requests.inputs import parse_request_id
from commands.state.audit_log import open_audit_log
from commands.state.audit_reading import AuditLogBrokenError, open_existing, parse_head, verify
from commands.state.location import StateLocation
from commands.state.people import known_names

file_option = click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this audit log file instead of the configured state_path (e.g. a copy).",
)


def _location(path: Path | None) -> StateLocation:
    """The state to read: ``--file``, else the configured one (shared or the file)."""
    return StateLocation(path) if path is not None else load_config().bot.state


def _store(location: StateLocation) -> EventStore:
    return open_audit_log(location) if location.shared else open_existing(location.path)


@click.group(invoke_without_command=True)
@click.option("--target", metavar="T", help="Only events of this target.")
@click.option(
    "--request",
    "request_id",
    metavar="ID",
    help="Only events of this request (M-3), change (C-2) or backfill run (B-4).",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--full", is_flag=True, help="Every field: seq, actor id, kind and data, not the summary."
)
@file_option
@output_option
@click.pass_context
def audit(
    ctx: click.Context,
    *,
    target: str | None,
    request_id: str | None,
    limit: int,
    full: bool,
    path: Path | None,
    out: Output,
) -> None:
    """Show the newest events of the audit log, oldest of them first: one line each,
    time, request, target, who (by name where Slack told it) and what happened.

    `audit verify` proves the log intact; `audit export` writes all of it.
    """
    if ctx.invoked_subcommand is not None:
        return
    request_id = _log_id(request_id) if request_id else None
    location = _location(path)
    store = _store(location)
    events = store.events(target=target, request_id=request_id, newest_first=True, limit=limit)
    events.reverse()
    names = known_names(location)
    out.emit(
        events,
        render_json=lambda es: [audit_render.event_json(e) for e in es],
        render_text=audit_render.events_text if full else lambda es: summary_text(es, names),
    )


@audit.command("verify")
@click.option(
    "--expect-head",
    "heads",
    metavar="SEQ:HASH",
    multiple=True,
    help="A head recorded elsewhere that the log must still contain (repeatable).",
)
@click.option(
    "--new",
    "new_only",
    is_flag=True,
    help="Rehash only the events appended since the last walk that verified (its head must"
    " still be there, unchanged): quick, for a frequent check; a full walk also catches an"
    " older event edited in place.",
)
@file_option
@output_option
def verify_command(heads: tuple[str, ...], new_only: bool, path: Path | None, out: Output) -> None:
    """Walk the hash chain; fail naming the first edited, deleted, moved or cut event."""
    store = _store(_location(path))
    try:
        report = verify(store, [parse_head(h) for h in heads], incremental=new_only)
    except AuditLogBrokenError as broken:  # as text, the error line says it
        out.emit(broken.report, render_json=audit_render.verify_json, render_text=None)
        raise
    out.emit(report, render_json=audit_render.verify_json, render_text=audit_render.verify_text)


@audit.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="A JSON array of events, or CSV with data as a JSON column.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here instead of standard output.",
)
@file_option
def export(fmt: str, output: Path | None, path: Path | None) -> None:
    """Write every event, in order, with its hashes (for auditors and spreadsheets)."""
    store = _store(_location(path))
    events = store.iter_events()
    if fmt == "json":
        chunks = audit_render.json_array(audit_render.event_json(e) for e in events)
    else:
        chunks = audit_render.csv_rows(events)
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)


_CHANGE_OR_RUN = re.compile(r"^[CcBb]-[1-9][0-9]{0,9}$")


def _log_id(text: str) -> str:
    """A request's id as ``parse_request_id`` reads it, or a change's or backfill run's."""
    cleaned = text.strip()
    return cleaned.upper() if _CHANGE_OR_RUN.match(cleaned) else parse_request_id(cleaned)
