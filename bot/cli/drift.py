"""``drift``: check a target's live schema against its migration history now."""

from __future__ import annotations

import click

from bot.cli.drift_render import checks_text
from bot.cli.options import operator
from bot.cli.output import Output, output_option
from commands.config.targets_file import load_config
from commands.errors import ExitCode
from commands.scheduling.drift_sweep import fleet_summary, sweep_target
from commands.schema.drift_log import record_checks
from commands.schema.drift_report import DriftState
from commands.state.audit_log import open_audit_log


@click.command()
@click.argument("target")
@click.option(
    "--fresh",
    is_flag=True,
    help="Replay the history even when the replayed schema is cached.",
)
@output_option
def drift(target: str, fresh: bool, out: Output) -> int:
    """Compare TARGET's live schema with what its migration history says it should be.

    The history is replayed on an empty scratch database beside the target's
    (cached until the revision or the project's files change); each difference
    is one line, followed by the DDL that would make the database match. On a
    fleet, every member. The result is recorded in the audit log; a change
    from the last check is announced in the ops channel once. Exits 1 when a
    database drifted, 4 when one could not be checked.
    """
    config = load_config()
    reports = sweep_target(config, target, fresh=fresh)
    store = open_audit_log(config.bot.state)
    try:
        checks = record_checks(store, reports, actor=operator())
    finally:
        store.close()
    fleet = config.target(target).fleet is not None
    summary = fleet_summary(target, checks) if fleet else None
    out.emit(
        checks,
        render_json=lambda found: {
            "target": target,
            "summary": summary,
            "checks": [
                {**c.report.to_json(), "since": c.since.isoformat(), "changed": c.changed}
                for c in found
            ],
        },
        render_text=lambda found: checks_text(found, summary),
    )
    states = {c.report.state for c in checks}
    if DriftState.UNKNOWN in states:
        return int(ExitCode.UNAVAILABLE)
    return int(ExitCode.FAILED if DriftState.DRIFTED in states else ExitCode.OK)
