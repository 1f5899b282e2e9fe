"""``state copy``: move the SQLite state into a shared PostgreSQL (docs/deployment.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.cli.options import operator
from bot.cli.output import Output, output_option
from commands.config.alembic_project import ENV_NAME
from commands.config.state_replica import parse_state_replica
from commands.config.table import ConfigTable
from commands.config.targets_file import load_config
from commands.errors import ConfigError
from commands.state.audit_reading import parse_head
from commands.state.copy import CopyReport, copy_state
from commands.state.location import StateLocation, StateReplica
from commands.state.restore import RestoreReport, restore_state
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


def replica_option(
    url: str | None, endpoint_url: str | None, configured: StateReplica | None
) -> StateReplica:
    """``--from``/``--endpoint-url`` checked as the config's keys are, else the config's."""
    if url is None:
        if configured is None:
            raise ConfigError("--from", None, "give the replica: [bot] state_replica is not set")
        return configured if endpoint_url is None else StateReplica(configured.url, endpoint_url)
    keys = {"state_replica": url}
    if endpoint_url is not None:
        keys["state_replica_endpoint_url"] = endpoint_url
    table = ConfigTable("--from", "", keys, Path.cwd())
    replica = parse_state_replica(table, shared=False)
    assert replica is not None
    return replica


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


@state.command("restore")
@click.option(
    "--from",
    "source",
    metavar="REPLICA",
    help="s3://bucket/prefix or file://folder (default: the configured [bot] state_replica).",
)
@click.option(
    "--to",
    "destination",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to put the state file (default: the configured state_path); must not exist.",
)
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="An S3-compatible store's endpoint (default: [bot] state_replica_endpoint_url).",
)
@click.option(
    "--expect-head",
    "heads",
    metavar="SEQ:HASH",
    multiple=True,
    help="A head recorded elsewhere that the restored log must reach (repeatable).",
)
@click.option(
    "--accept-loss",
    is_flag=True,
    help="Restore even though the replica ends before an expected head (the loss is recorded).",
)
@output_option
def restore(
    *,
    source: str | None,
    destination: Path | None,
    endpoint_url: str | None,
    heads: tuple[str, ...],
    accept_loss: bool,
    out: Output,
) -> None:
    """Bring the SQLite state back from its replica, verify its chain, then put it in place.

    The file is checked (SQLite's integrity check, then the hash chain against the
    expected heads) before it is moved to its place; until then nothing is there
    for the bot to start on. It never overwrites a state. See docs/operations.md.
    """
    config = load_config()
    replica = replica_option(source, endpoint_url, config.bot.state_replica)
    report = restore_state(
        replica,
        destination or config.bot.state_path,
        expected=[parse_head(h) for h in heads],
        accept_loss=accept_loss,
        actor=operator(),
    )
    out.emit(report, render_json=_restore_json, render_text=_restore_text)


def _restore_json(report: RestoreReport) -> dict[str, object]:
    return {
        "path": str(report.path),
        "replica": report.replica,
        "events": report.events,
        "head": str(report.head) if report.head else None,
        "checked_heads": [str(h) for h in report.checked],
        "lost_after": str(report.lost_after) if report.lost_after else None,
        "verified": True,
    }


def _restore_text(report: RestoreReport) -> str:
    head = f" up to {report.head}" if report.head else ""
    lines = [f"restored {report.path} from {report.replica}: {report.events} events{head}"]
    if report.checked:
        lines.append(f"the chain verifies and reaches {', '.join(map(str, report.checked))}")
    else:
        lines.append(
            "the chain verifies; with no head recorded elsewhere, events written after the"
            " replica's last copy cannot be ruled out (the replication lag when it was lost)"
        )
    if report.lost_after is not None:
        lost = report.lost_after.seq - (report.head.seq if report.head else 0)
        lines.append(f"LOST: {lost} event(s) up to {report.lost_after} (accepted, recorded)")
    lines.append("a state_restored event records this; the bot may start on it")
    return "\n".join(lines)
