"""CLI commands that read a target and move it between revisions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import click

from audit.redact import redact
from bot.cli import render
from bot.cli.check_render import findings_text, report_text
from bot.cli.options import open_named_target
from bot.cli.output import Output, output_option
from bot.cli.runs import break_glass_run
from commands.checks import run_preflight
from commands.checks.framework import CheckResult
from commands.config.checks import OPTIONAL_CHECKS
from commands.config.targets_file import Config, load_config
from commands.errors import ExitCode, MigrateBotError
from commands.fleet.member_status import FleetStatus
from commands.fleet.planning import FleetAsk, plan_fleet
from commands.fleet.status import target_status
from commands.migration.planning import history as load_history
from commands.migration.planning import plan as make_plan
from commands.migration.script.plan import Plan, Status
from commands.state.vocabulary import RequestKind
from commands.targets import TargetHandle, open_target


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
        out.emit(result, render_json=render.status_json, render_text=render.status_text)
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
    return render.status_json(shown)


def _every_text(found: list[Status | FleetStatus | _Unreadable]) -> str:
    return "\n\n".join(
        f"{s.target}: cannot be read: {s.error}"
        if isinstance(s, _Unreadable)
        else render.status_text(s)
        for s in found
    )


@click.command()
@click.argument("target")
@click.option("--to", "to", metavar="REV", help="Stop at this revision instead of head.")
@click.option("--no-sql", is_flag=True, help="List revisions without their SQL (and no lint).")
@output_option
def plan(target: str, to: str | None, no_sql: bool, out: Output) -> None:
    """Show the pending revisions of an upgrade, each with its SQL, and what the lint
    finds in it (sized against the live tables, as the request in Slack shows it).
    For a fleet: its members grouped by revision, each group's revisions, the SQL of
    each distinct revision once and the set's pre-flight."""
    config = load_config()
    if config.target(target).is_fleet:
        _fleet_plan(config, target, to, show_sql=not no_sql, out=out)
        return
    handle = open_named_target(target)
    if no_sql:
        result, lint = make_plan(handle, to=to, with_sql=False), None
    else:
        result, lint = _linted_plan(handle, to)
    out.emit(
        (result, lint),
        render_json=lambda pl: {**render.plan_json(pl[0]), "lint": _lint_json(pl[1])},
        render_text=lambda pl: _plan_text(pl[0], pl[1], show_sql=not no_sql),
    )


def _fleet_plan(
    config: Config, target: str, to: str | None, *, show_sql: bool, out: Output
) -> None:
    planned = plan_fleet(config, target=target, ask=FleetAsk(RequestKind.UPGRADE, to))
    out.emit(
        planned,
        render_json=lambda p: {
            **render.plan_json(p.plan),
            "fingerprint": p.fingerprint.to_json(),
            "preflight": p.report.to_json(),
        },
        render_text=lambda p: (
            f"{render.set_plan_text(p, show_sql=show_sql)}\n\n{report_text(p.report)}"
        ),
    )


def _linted_plan(handle: TargetHandle, to: str | None) -> tuple[Plan, CheckResult | None]:
    """The plan and its lint, from one pre-flight that runs the lint alone. Where that
    pre-flight cannot plan, planning again raises the error that says why."""
    checks = handle.config.checks
    if not checks.enabled("lint"):
        return make_plan(handle, to=to), None
    lint_only = replace(checks, skip=frozenset(OPTIONAL_CHECKS) - {"lint"})
    report = run_preflight(replace(handle, config=replace(handle.config, checks=lint_only)), to=to)
    if report.plan is None:
        return make_plan(handle, to=to), None
    return report.plan, report.result("lint")


def _plan_text(plan: Plan, lint: CheckResult | None, *, show_sql: bool) -> str:
    text = render.plan_text(plan, show_sql=show_sql)
    findings = findings_text([lint.to_json()]) if lint is not None else ""
    return f"{text}\n\nLint:\n{findings}" if findings else text


def _lint_json(lint: CheckResult | None) -> dict[str, Any] | None:
    return lint.to_json() if lint is not None else None


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
    return break_glass_run(
        load_config(),
        kind=RequestKind.UPGRADE,
        target=target,
        goal=to,
        reason=reason,
        yes=yes,
        out=out,
    )


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Run without asking.")
@reason_option
@output_option
def downgrade(target: str, revision: str, yes: bool, reason: str, out: Output) -> int:
    """Undo revisions down to REVISION (an id, `base`, or -N), through the full pipeline."""
    return break_glass_run(
        load_config(),
        kind=RequestKind.DOWNGRADE,
        target=target,
        goal=revision,
        reason=reason,
        yes=yes,
        out=out,
    )


@click.command()
@click.argument("target")
@output_option
def history(target: str, out: Output) -> None:
    """List every revision of the target's project, newest first, marked applied or pending."""
    entries = load_history(open_named_target(target))
    out.emit(entries, render_json=render.history_json, render_text=render.history_text)
